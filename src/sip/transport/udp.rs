//! The UDP shell: one socket per listener, a receive task feeding the
//! signalling loop, and sends on the same socket (so responses leave from
//! the port the request arrived on).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use smol::channel::Sender;
use smol::Async;
use tracing::{debug, warn};

use super::{ListenerId, Peer, Transport, TransportEvent};

/// The largest UDP payload there can be; a SIP message is refused above
/// 64 KiB by the parser anyway.
const RECV_BUFFER: usize = 65_536;

pub fn bind(addr: SocketAddr) -> std::io::Result<Arc<Async<UdpSocket>>> {
    Ok(Arc::new(Async::<UdpSocket>::bind(addr)?))
}

/// Reads datagrams until `inbound` closes, handing each on as a
/// `TransportEvent::Datagram` (in the shell's own message type `T`).
pub async fn receive_loop<T: From<TransportEvent>>(
    socket: Arc<Async<UdpSocket>>,
    listener: ListenerId,
    inbound: Sender<T>,
) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, remote)) => {
                let from = Peer {
                    listener,
                    transport: Transport::Udp,
                    remote,
                    connection: None,
                };
                if inbound
                    .send(T::from(TransportEvent::Datagram {
                        bytes: buf[..n].to_vec(),
                        from,
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // An ICMP error from an earlier send surfaces here on Linux
            // (ECONNREFUSED); it says nothing about this socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                debug!(error = %e, "UDP peer unreachable")
            }
            Err(e) => {
                warn!(error = %e, "UDP receive failed");
                smol::Timer::after(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

pub async fn send(socket: &Async<UdpSocket>, to: SocketAddr, bytes: &[u8]) {
    if let Err(e) = socket.send_to(bytes, to).await {
        debug!(error = %e, %to, "UDP send failed");
    }
}
