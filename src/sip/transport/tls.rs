//! SIP over TLS (RFC 3261 §26.2.1): the TLS handshake in front of the
//! stream shell (`tcp.rs`), which then frames and writes as for TCP.
//!
//! Accepting: a handshake costs the box far more CPU than it costs a peer
//! that opens a connection and stalls, so handshakes in progress are
//! limited per source address and in all, each within a timeout; a
//! connection over a limit is closed before any TLS work. Connecting: the
//! far end's certificate is checked against the trusted roots and the name
//! the box looked up for that address (a registrar's or target's host
//! name), or its IP address when it was given as one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::FutureExt;
use futures_rustls::rustls;
use futures_rustls::{TlsAcceptor, TlsConnector};
use rustls::pki_types::ServerName;
use smol::channel::Sender;
use smol::Async;
use tracing::{debug, info, warn};

use super::tcp::{self, Connections};
use super::{ListenerId, Transport, TransportEvent};

/// What the box counts of TLS, for the status page and `/metrics`.
#[derive(Debug, Default)]
pub struct TlsCounters {
    pub accepted: AtomicU64,
    pub connected: AtomicU64,
    /// Handshakes that failed for another reason than a certificate.
    pub handshake_failures: AtomicU64,
    /// A far end's certificate the box refused (untrusted, wrong name,
    /// expired).
    pub certificate_failures: AtomicU64,
    /// Connections closed unshaken: a source over its handshake limit.
    pub over_limit: AtomicU64,
    pub timeouts: AtomicU64,
}

/// A snapshot of `TlsCounters`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    pub accepted: u64,
    pub connected: u64,
    pub handshake_failures: u64,
    pub certificate_failures: u64,
    pub over_limit: u64,
    pub timeouts: u64,
}

impl TlsCounters {
    pub fn snapshot(&self) -> TlsStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TlsStats {
            accepted: r(&self.accepted),
            connected: r(&self.connected),
            handshake_failures: r(&self.handshake_failures),
            certificate_failures: r(&self.certificate_failures),
            over_limit: r(&self.over_limit),
            timeouts: r(&self.timeouts),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Handshakes in progress, per source and in all.
#[derive(Debug)]
struct HandshakeLimits {
    per_source: u32,
    total: u32,
    in_progress: Mutex<(u32, HashMap<IpAddr, u32>)>,
}

impl HandshakeLimits {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u32, HashMap<IpAddr, u32>)> {
        self.in_progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a handshake from `ip`, released when the guard drops.
    fn begin(self: &Arc<Self>, ip: IpAddr) -> Option<HandshakeSlot> {
        let mut g = self.lock();
        let (total, per) = &mut *g;
        let mine = per.entry(ip).or_insert(0);
        if *total >= self.total || *mine >= self.per_source {
            if *mine == 0 {
                per.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(HandshakeSlot {
            limits: self.clone(),
            ip,
        })
    }
}

struct HandshakeSlot {
    limits: Arc<HandshakeLimits>,
    ip: IpAddr,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut g = self.limits.lock();
        let (total, per) = &mut *g;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
    }
}

/// The box's TLS side: its server and client configurations, limits,
/// the names it expects of the addresses it connects to, and counters.
pub struct TlsEndpoint {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    handshake_timeout: Duration,
    limits: Arc<HandshakeLimits>,
    /// By IP: a name's SRV ports differ per transport, its host does not.
    names: Mutex<HashMap<IpAddr, String>>,
    pub counters: TlsCounters,
}

impl TlsEndpoint {
    pub fn new(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        handshake_timeout: Duration,
        per_source: u32,
        total: u32,
    ) -> TlsEndpoint {
        TlsEndpoint {
            acceptor: TlsAcceptor::from(server),
            connector: TlsConnector::from(client),
            handshake_timeout,
            limits: Arc::new(HandshakeLimits {
                per_source,
                total,
                in_progress: Mutex::new((0, HashMap::new())),
            }),
            names: Mutex::new(HashMap::new()),
            counters: TlsCounters::default(),
        }
    }

    /// `addr` was found for host `name`: a connection to it must show a
    /// certificate for that name.
    pub fn expect_name(&self, addr: SocketAddr, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if names.len() >= 4096 && !names.contains_key(&addr.ip()) {
            names.clear();
        }
        names.insert(addr.ip(), name.to_ascii_lowercase());
    }

    fn name_for(&self, addr: SocketAddr) -> Result<ServerName<'static>, String> {
        let name = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr.ip())
            .cloned();
        match name {
            Some(n) => ServerName::try_from(n.clone())
                .map_err(|_| format!("'{n}' is not a name a certificate can be checked against")),
            None => Ok(ServerName::IpAddress(addr.ip().into())),
        }
    }
}

/// Why a handshake failed, in words for the log, and whether it was the
/// certificate.
fn describe(e: &std::io::Error) -> (String, bool) {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => (format!("certificate refused: {c:?}"), true),
        Some(rustls::Error::AlertReceived(a)) => (format!("the peer sent alert {a:?}"), false),
        Some(other) => (other.to_string(), false),
        None => (e.to_string(), false),
    }
}

pub async fn accept_loop<T: From<TransportEvent> + Send + 'static>(
    socket: Async<TcpListener>,
    listener: ListenerId,
    idle: Duration,
    connections: Connections,
    inbound: Sender<T>,
    tls: Arc<TlsEndpoint>,
) {
    loop {
        let (stream, remote) = match socket.accept().await {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "TLS accept failed");
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = tls.limits.begin(remote.ip()) else {
            bump(&tls.counters.over_limit);
            debug!(%remote, "TLS connection closed: too many handshakes in progress");
            continue;
        };
        let (tls, connections, inbound) = (tls.clone(), connections.clone(), inbound.clone());
        smol::spawn(async move {
            let shake = async { tls.acceptor.accept(stream).await.map(Some) }.or(async {
                smol::Timer::after(tls.handshake_timeout).await;
                Ok(None)
            });
            let result = shake.await;
            drop(slot);
            match result {
                Ok(Some(stream)) => {
                    bump(&tls.counters.accepted);
                    tcp::serve(
                        stream,
                        remote,
                        listener,
                        Transport::Tls,
                        idle,
                        &connections,
                        &inbound,
                    );
                }
                Ok(None) => {
                    bump(&tls.counters.timeouts);
                    debug!(%remote, "TLS handshake not done within {:?}; closed", tls.handshake_timeout);
                }
                Err(e) => {
                    let (why, certificate) = describe(&e);
                    bump(if certificate {
                        &tls.counters.certificate_failures
                    } else {
                        &tls.counters.handshake_failures
                    });
                    info!(%remote, "TLS handshake from a peer failed: {why}");
                }
            }
        })
        .detach();
    }
}

/// Opens a TLS connection for a message that has none and sends it.
pub fn connect_and_send<T: From<TransportEvent> + Send + 'static>(
    remote: SocketAddr,
    listener: ListenerId,
    idle: Duration,
    bytes: Vec<u8>,
    connections: Connections,
    inbound: Sender<T>,
    tls: Arc<TlsEndpoint>,
) {
    smol::spawn(async move {
        let name = match tls.name_for(remote) {
            Ok(n) => n,
            Err(why) => {
                warn!(%remote, "TLS connection not opened: {why}; message not sent");
                return;
            }
        };
        let tcp = match tcp::connect(remote).await {
            Ok(s) => s,
            Err(e) => {
                warn!(%remote, error = %e, "TCP connect for TLS failed; message not sent");
                return;
            }
        };
        let shake = async { tls.connector.connect(name.clone(), tcp).await.map(Some) }.or(async {
            smol::Timer::after(tls.handshake_timeout).await;
            Ok(None)
        });
        match shake.await {
            Ok(Some(stream)) => {
                bump(&tls.counters.connected);
                let served = tcp::serve(
                    stream,
                    remote,
                    listener,
                    Transport::Tls,
                    idle,
                    &connections,
                    &inbound,
                );
                if let Some(id) = served {
                    let _ = connections.send(Some(id), remote, Transport::Tls, bytes);
                }
            }
            Ok(None) => {
                bump(&tls.counters.timeouts);
                warn!(%remote, "TLS handshake not done within {:?}; message not sent", tls.handshake_timeout);
            }
            Err(e) => {
                let (why, certificate) = describe(&e);
                bump(if certificate {
                    &tls.counters.certificate_failures
                } else {
                    &tls.counters.handshake_failures
                });
                warn!(%remote, server = ?name, "TLS connection failed: {why}; message not sent");
            }
        }
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_slots_are_limited_per_source_and_in_all_and_given_back() {
        let limits = Arc::new(HandshakeLimits {
            per_source: 2,
            total: 3,
            in_progress: Mutex::new((0, HashMap::new())),
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = limits.begin(a).expect("first");
        let a2 = limits.begin(a).expect("second");
        assert!(limits.begin(a).is_none(), "a third from one source");
        let b1 = limits.begin(b).expect("another source");
        assert!(limits.begin(b).is_none(), "the total is reached");
        drop(a1);
        let b2 = limits.begin(b).expect("a slot came back");
        drop((a2, b1, b2));
        assert_eq!(limits.lock().0, 0);
        assert!(limits.lock().1.is_empty(), "no source is remembered");
    }
}
