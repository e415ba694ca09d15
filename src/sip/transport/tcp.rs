//! The stream shell (TCP, and TLS over it: `tls.rs`): accepts
//! connections, frames them with `StreamFramer`, closes idle ones, and
//! writes through a per-connection queue so that responses reuse the
//! connection their request came on (RFC 3261 §18.2.2).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt};
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
    writers: HashMap<ConnectionId, Writer>,
}

struct Writer {
    remote: SocketAddr,
    transport: Transport,
    queue: Sender<Vec<u8>>,
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

    fn register(
        &self,
        remote: SocketAddr,
        transport: Transport,
    ) -> Option<(ConnectionId, Receiver<Vec<u8>>)> {
        let mut t = self.lock();
        if t.writers.len() >= MAX_CONNECTIONS {
            return None;
        }
        let id = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = smol::channel::bounded(256);
        t.writers.insert(
            id,
            Writer {
                remote,
                transport,
                queue: tx,
            },
        );
        Some((id, rx))
    }

    /// Drops the writer queue: the writer task sends what is queued, then
    /// closes the socket.
    pub fn close(&self, id: ConnectionId) {
        self.lock().writers.remove(&id);
    }

    /// Closes every connection to `remote` (it stopped answering keep-alives).
    pub fn close_to(&self, remote: SocketAddr) {
        self.lock().writers.retain(|_, w| w.remote != remote);
    }

    /// Queues bytes on the connection, or on another open one to the same
    /// address over the same transport. Gives the bytes back when there
    /// is none.
    pub fn send(
        &self,
        id: Option<ConnectionId>,
        remote: SocketAddr,
        transport: Transport,
        bytes: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        let t = self.lock();
        let writer = id.and_then(|id| t.writers.get(&id)).or_else(|| {
            t.writers
                .values()
                .find(|w| w.remote == remote && w.transport == transport)
        });
        match writer {
            Some(w) => w.queue.try_send(bytes).map_err(|e| e.into_inner()),
            None => Err(bytes),
        }
    }

    /// Open connections over `transport`.
    pub fn count(&self, transport: Transport) -> usize {
        self.lock()
            .writers
            .values()
            .filter(|w| w.transport == transport)
            .count()
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
                serve(
                    stream,
                    remote,
                    listener,
                    Transport::Tcp,
                    idle,
                    &connections,
                    &inbound,
                );
            }
            Err(e) => {
                warn!(error = %e, "TCP accept failed");
                smol::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Connects to `remote` within 5 s.
pub async fn connect(remote: SocketAddr) -> std::io::Result<Async<TcpStream>> {
    Async::<TcpStream>::connect(remote)
        .or(async {
            smol::Timer::after(Duration::from_secs(5)).await;
            Err(std::io::ErrorKind::TimedOut.into())
        })
        .await
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
        match connect(remote).await {
            Ok(stream) => {
                let served = serve(
                    stream,
                    remote,
                    listener,
                    Transport::Tcp,
                    idle,
                    &connections,
                    &inbound,
                );
                if let Some(id) = served {
                    let _ = connections.send(Some(id), remote, Transport::Tcp, bytes);
                }
            }
            Err(e) => warn!(%remote, error = %e, "TCP connect failed; message not sent"),
        }
    })
    .detach();
}

/// Serves an open stream (TCP, or TLS once its handshake is done): a
/// writer task draining its queue, a reader task framing what arrives.
pub fn serve<S, T>(
    stream: S,
    remote: SocketAddr,
    listener: ListenerId,
    transport: Transport,
    idle: Duration,
    connections: &Connections,
    inbound: &Sender<T>,
) -> Option<ConnectionId>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: From<TransportEvent> + Send + 'static,
{
    let Some((id, queue)) = connections.register(remote, transport) else {
        warn!(%remote, "{transport} connection refused: {MAX_CONNECTIONS} connections open");
        return None;
    };
    debug!(%remote, connection = id.0, "{transport} connection open");
    let peer = Peer {
        listener,
        transport,
        remote,
        connection: Some(id),
    };
    let (reader, writer) = futures_lite::io::split(stream);
    // The writer ends when the connection is closed (its queue dropped);
    // it drops `done`, which ends the reader too.
    let (done_tx, done_rx) = smol::channel::bounded::<()>(1);
    smol::spawn(write_loop(writer, queue, done_tx)).detach();
    smol::spawn(read_loop(
        reader,
        done_rx,
        peer,
        idle,
        connections.clone(),
        inbound.clone(),
    ))
    .detach();
    Some(id)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    queue: Receiver<Vec<u8>>,
    _done: Sender<()>,
) {
    while let Ok(bytes) = queue.recv().await {
        let written = async {
            writer.write_all(&bytes).await?;
            writer.flush().await
        };
        if let Err(e) = written.await {
            debug!(error = %e, "stream write failed");
            break;
        }
    }
    // TLS: close_notify; TCP: FIN.
    let _ = writer.close().await;
}

async fn read_loop<R: AsyncRead + Unpin, T: From<TransportEvent> + Send + 'static>(
    mut reader: R,
    done: Receiver<()>,
    peer: Peer,
    idle: Duration,
    connections: Connections,
    inbound: Sender<T>,
) {
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let read = reader
            .read(&mut buf)
            .or(async {
                smol::Timer::after(idle).await;
                Err(std::io::ErrorKind::TimedOut.into())
            })
            .or(async {
                // The writer is gone: the connection was closed.
                let _ = done.recv().await;
                Ok(0)
            });
        let n = match read.await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                info!(peer = %peer, "closing idle {} connection", peer.transport);
                break;
            }
            Err(e) => {
                debug!(peer = %peer, error = %e, "stream read failed");
                break;
            }
        };
        framer.push(&buf[..n]);
        while let Some(item) = framer.next_item() {
            let msg = match item {
                StreamItem::Message(bytes) => TransportEvent::StreamMessage { bytes, from: peer },
                StreamItem::Ping => {
                    // RFC 5626 §4.4.1: answer a double-CRLF ping with one CRLF.
                    let _ = connections.send(
                        peer.connection,
                        peer.remote,
                        peer.transport,
                        b"\r\n".to_vec(),
                    );
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
