//! The TCP shell: accepts connections, frames them with `StreamFramer`,
//! closes idle ones, and writes through a per-connection queue so that
//! responses reuse the connection their request came on (RFC 3261 §18.2.2).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use smol::channel::{Receiver, Sender};
use smol::Async;
use tracing::{debug, info, warn};

use super::{ConnectionId, ListenerId, Peer, Transport, TransportEvent};
use crate::sip::message::{StreamFramer, StreamItem};

/// Connections beyond this are refused, so a flood cannot exhaust memory.
pub const MAX_CONNECTIONS: usize = 1024;

/// The write side of every open connection.
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Mutex<ConnectionTable>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Default)]
struct ConnectionTable {
    writers: HashMap<ConnectionId, (SocketAddr, Sender<Vec<u8>>)>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnectionTable> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().writers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn register(&self, remote: SocketAddr) -> Option<(ConnectionId, Receiver<Vec<u8>>)> {
        let mut t = self.lock();
        if t.writers.len() >= MAX_CONNECTIONS {
            return None;
        }
        let id = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = smol::channel::bounded(256);
        t.writers.insert(id, (remote, tx));
        Some((id, rx))
    }

    /// Drops the writer queue: the writer task sends what is queued, then
    /// closes the socket.
    pub fn close(&self, id: ConnectionId) {
        self.lock().writers.remove(&id);
    }

    /// Closes every connection to `remote` (it stopped answering keep-alives).
    pub fn close_to(&self, remote: SocketAddr) {
        self.lock().writers.retain(|_, (addr, _)| *addr != remote);
    }

    /// Queues bytes on the connection, or on another open one to the same
    /// address. Gives the bytes back when there is none.
    pub fn send(
        &self,
        id: Option<ConnectionId>,
        remote: SocketAddr,
        bytes: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        let t = self.lock();
        let writer = id
            .and_then(|id| t.writers.get(&id))
            .or_else(|| t.writers.values().find(|(addr, _)| *addr == remote));
        match writer {
            Some((_, tx)) => tx.try_send(bytes).map_err(|e| e.into_inner()),
            None => Err(bytes),
        }
    }
}

pub fn bind(addr: SocketAddr) -> std::io::Result<Async<TcpListener>> {
    Async::<TcpListener>::bind(addr)
}

pub async fn accept_loop<T: From<TransportEvent> + Send + 'static>(
    listener_socket: Async<TcpListener>,
    listener: ListenerId,
    idle: Duration,
    connections: Connections,
    inbound: Sender<T>,
) {
    loop {
        match listener_socket.accept().await {
            Ok((stream, remote)) => {
                serve(stream, remote, listener, idle, &connections, &inbound);
            }
            Err(e) => {
                warn!(error = %e, "TCP accept failed");
                smol::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Opens a connection for a message that has none (the original one closed)
/// and sends the message on it.
pub fn connect_and_send<T: From<TransportEvent> + Send + 'static>(
    remote: SocketAddr,
    listener: ListenerId,
    idle: Duration,
    bytes: Vec<u8>,
    connections: Connections,
    inbound: Sender<T>,
) {
    smol::spawn(async move {
        let connect = Async::<TcpStream>::connect(remote).or(async {
            smol::Timer::after(Duration::from_secs(5)).await;
            Err(std::io::ErrorKind::TimedOut.into())
        });
        match connect.await {
            Ok(stream) => {
                if let Some(id) = serve(stream, remote, listener, idle, &connections, &inbound) {
                    let _ = connections.send(Some(id), remote, bytes);
                }
            }
            Err(e) => warn!(%remote, error = %e, "TCP connect failed; message not sent"),
        }
    })
    .detach();
}

fn serve<T: From<TransportEvent> + Send + 'static>(
    stream: Async<TcpStream>,
    remote: SocketAddr,
    listener: ListenerId,
    idle: Duration,
    connections: &Connections,
    inbound: &Sender<T>,
) -> Option<ConnectionId> {
    let Some((id, queue)) = connections.register(remote) else {
        warn!(%remote, "TCP connection refused: {MAX_CONNECTIONS} connections open");
        return None;
    };
    debug!(%remote, connection = id.0, "TCP connection open");
    let stream = Arc::new(stream);
    let peer = Peer {
        listener,
        transport: Transport::Tcp,
        remote,
        connection: Some(id),
    };
    smol::spawn(write_loop(stream.clone(), queue)).detach();
    smol::spawn(read_loop(
        stream,
        peer,
        idle,
        connections.clone(),
        inbound.clone(),
    ))
    .detach();
    Some(id)
}

async fn write_loop(stream: Arc<Async<TcpStream>>, queue: Receiver<Vec<u8>>) {
    let mut writer = &*stream;
    while let Ok(bytes) = queue.recv().await {
        if let Err(e) = writer.write_all(&bytes).await {
            debug!(error = %e, "TCP write failed");
            break;
        }
    }
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}

async fn read_loop<T: From<TransportEvent> + Send + 'static>(
    stream: Arc<Async<TcpStream>>,
    peer: Peer,
    idle: Duration,
    connections: Connections,
    inbound: Sender<T>,
) {
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut reader = &*stream;
    'read: loop {
        let read = reader.read(&mut buf).or(async {
            smol::Timer::after(idle).await;
            Err(std::io::ErrorKind::TimedOut.into())
        });
        let n = match read.await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                info!(peer = %peer, "closing idle TCP connection");
                break;
            }
            Err(e) => {
                debug!(peer = %peer, error = %e, "TCP read failed");
                break;
            }
        };
        framer.push(&buf[..n]);
        while let Some(item) = framer.next_item() {
            let msg = match item {
                StreamItem::Message(bytes) => TransportEvent::StreamMessage { bytes, from: peer },
                StreamItem::Ping => {
                    // RFC 5626 §4.4.1: answer a double-CRLF ping with one CRLF.
                    let _ = connections.send(peer.connection, peer.remote, b"\r\n".to_vec());
                    TransportEvent::KeepAlive
                }
                StreamItem::Pong => TransportEvent::Pong {
                    remote: peer.remote,
                },
                StreamItem::Error(err) => {
                    let _ = inbound
                        .send(T::from(TransportEvent::StreamError { err, from: peer }))
                        .await;
                    break 'read;
                }
            };
            if inbound.send(T::from(msg)).await.is_err() {
                break 'read;
            }
        }
    }
    if let Some(id) = peer.connection {
        let _ = inbound
            .send(T::from(TransportEvent::ConnectionClosed {
                id,
                remote: peer.remote,
            }))
            .await;
    }
}
