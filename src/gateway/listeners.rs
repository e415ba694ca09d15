//! The listeners' sockets by `ListenerId`, and their receive tasks. A
//! saved configuration that moves a listener binds a new slot; the old
//! one is retired, keeps its sockets while a call or registration uses it
//! and for a transaction's lifetime after that, then is closed.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::channel::Sender;
use smol::Async;
use tracing::info;

use crate::app::Core;
use crate::config::{ListenerConfig, TransportName};
use crate::sip::transport::tls::TlsEndpoint;
use crate::sip::transport::{tcp, tls, udp, ListenerId};

use super::{BindError, BoundListener, Inbound};

/// How long a retired listener's sockets stay after its last call: long
/// enough for a final retransmission and the transactions to end (64·T1
/// with the default T1 of 500 ms, RFC 3261 §17).
pub const RETIRED_LINGER: Duration = Duration::from_secs(32);

pub struct Slot {
    pub bound: BoundListener,
    /// The configuration the sockets were bound with.
    pub config: ListenerConfig,
    udp: Option<Arc<Async<UdpSocket>>>,
    /// Until the accept task takes it.
    tcp: Option<Async<TcpListener>>,
    /// The TLS socket (`tls_bind`), until its accept task takes it.
    tls: Option<Async<TcpListener>>,
    idle: Duration,
    tasks: Vec<smol::Task<()>>,
    retired_at: Option<Instant>,
    /// When the last user of a retired slot was gone.
    unused_since: Option<Instant>,
    closed: bool,
}

impl Slot {
    /// Binds listener `l` (`index` is its place in the file, for errors).
    pub fn bind(index: usize, l: &ListenerConfig) -> Result<Slot, BindError> {
        let err = |transport, source| BindError {
            name: l.name.clone(),
            index,
            transport,
            addr: l.bind,
            source,
        };
        let mut bound = BoundListener {
            name: l.name.clone(),
            udp: None,
            tcp: None,
            tls: None,
        };
        let mut udp_socket = None;
        let mut tcp_socket = None;
        let mut tls_socket = None;
        if l.transports.contains(&TransportName::Udp) {
            let s = udp::bind(l.bind).map_err(|e| err("udp", e))?;
            bound.udp = s.get_ref().local_addr().ok();
            udp_socket = Some(s);
        }
        if l.transports.contains(&TransportName::Tcp) {
            // With port 0, TCP takes the port UDP was given, so one
            // listener is one address.
            let addr = match (l.bind.port(), bound.udp) {
                (0, Some(u)) => SocketAddr::new(l.bind.ip(), u.port()),
                _ => l.bind,
            };
            let s = tcp::bind(addr).map_err(|e| err("tcp", e))?;
            bound.tcp = s.get_ref().local_addr().ok();
            tcp_socket = Some(s);
        }
        if l.transports.contains(&TransportName::Tls) {
            let addr = l.tls_addr();
            let s = tcp::bind(addr).map_err(|e| BindError {
                name: l.name.clone(),
                index,
                transport: "tls",
                addr,
                source: e,
            })?;
            bound.tls = s.get_ref().local_addr().ok();
            tls_socket = Some(s);
        }
        Ok(Slot {
            bound,
            config: l.clone(),
            udp: udp_socket,
            tcp: tcp_socket,
            tls: tls_socket,
            idle: Duration::from_secs(l.tcp_idle_timeout_s),
            tasks: Vec::new(),
            retired_at: None,
            unused_since: None,
            closed: false,
        })
    }

    pub fn retired(&self) -> bool {
        self.retired_at.is_some()
    }
}

#[derive(Default)]
pub struct Slots {
    slots: Vec<Slot>,
    /// The TLS endpoint, when the configuration uses TLS.
    tls: Option<Arc<TlsEndpoint>>,
}

impl Slots {
    pub fn push(&mut self, slot: Slot) -> ListenerId {
        self.slots.push(slot);
        ListenerId((self.slots.len() - 1) as u16)
    }

    pub fn set_tls(&mut self, tls: Option<Arc<TlsEndpoint>>) {
        self.tls = tls;
    }

    pub fn tls(&self) -> Option<&Arc<TlsEndpoint>> {
        self.tls.as_ref()
    }

    /// Starts the receive tasks of slot `id`.
    pub fn start(&mut self, id: ListenerId, connections: &tcp::Connections, tx: &Sender<Inbound>) {
        let Some(slot) = self.slots.get_mut(id.0 as usize) else {
            return;
        };
        if let Some(s) = &slot.udp {
            slot.tasks
                .push(smol::spawn(udp::receive_loop(s.clone(), id, tx.clone())));
        }
        if let Some(l) = slot.tcp.take() {
            slot.tasks.push(smol::spawn(tcp::accept_loop(
                l,
                id,
                slot.idle,
                connections.clone(),
                tx.clone(),
            )));
        }
        if let Some(l) = slot.tls.take() {
            match &self.tls {
                Some(endpoint) => slot.tasks.push(smol::spawn(tls::accept_loop(
                    l,
                    id,
                    slot.idle,
                    connections.clone(),
                    tx.clone(),
                    endpoint.clone(),
                ))),
                None => {
                    tracing::error!(listener = %slot.bound.name, "TLS socket bound but no TLS endpoint was made; TLS not served")
                }
            }
        }
    }

    pub fn udp(&self, id: ListenerId) -> Option<&Arc<Async<UdpSocket>>> {
        self.slots.get(id.0 as usize).and_then(|s| s.udp.as_ref())
    }

    /// TCP idle timeout of listener `id`, for connections opened to send.
    pub fn idle(&self, id: ListenerId) -> Duration {
        self.slots
            .get(id.0 as usize)
            .map_or(Duration::from_secs(300), |s| s.idle)
    }

    /// The slots new calls may use, with their ids.
    pub fn active(&self) -> impl Iterator<Item = (ListenerId, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.retired())
            .map(|(i, s)| (ListenerId(i as u16), s))
    }

    /// The active slots as a listener plan reads them: id, configuration,
    /// the addresses really bound.
    pub fn running(&self) -> Vec<(ListenerId, &ListenerConfig, Vec<SocketAddr>)> {
        self.active()
            .map(|(id, s)| {
                let bound = s
                    .bound
                    .udp
                    .into_iter()
                    .chain(s.bound.tcp)
                    .chain(s.bound.tls)
                    .collect();
                (id, &s.config, bound)
            })
            .collect()
    }

    /// Every slot's listener name by id; "" for a retired one, so that
    /// rules saved by name reach only the active slot of that name.
    pub fn names_by_id(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| {
                if s.retired() {
                    String::new()
                } else {
                    s.config.name.clone()
                }
            })
            .collect()
    }

    pub fn bound(&self, id: ListenerId) -> Option<&BoundListener> {
        self.slots.get(id.0 as usize).map(|s| &s.bound)
    }

    pub fn retire(&mut self, id: ListenerId, now: Instant) {
        if let Some(s) = self.slots.get_mut(id.0 as usize) {
            s.retired_at.get_or_insert(now);
        }
    }

    /// Closes each retired slot nothing has used for `RETIRED_LINGER`.
    pub fn sweep(&mut self, core: &Core, now: Instant) {
        for (i, s) in self.slots.iter_mut().enumerate() {
            if s.closed || !s.retired() {
                continue;
            }
            let id = ListenerId(i as u16);
            if core.listener_in_use(id) {
                s.unused_since = None;
                continue;
            }
            let since = *s.unused_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= RETIRED_LINGER {
                info!(listener = %s.bound.name, udp = ?s.bound.udp, tcp = ?s.bound.tcp, "old address of the listener closed: its last call has ended");
                s.tasks.clear();
                s.udp = None;
                s.tcp = None;
                s.tls = None;
                s.closed = true;
            }
        }
    }
}
