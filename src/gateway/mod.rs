//! Wiring: binds the configured listeners, runs the signalling loop that
//! drives the sans-IO `Endpoint`, and routes its transmits to sockets.

mod signalling;

pub use signalling::Inbound;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use smol::Async;

use crate::config::{Config, TransportName};
use crate::sip::endpoint::{Endpoint, EndpointConfig};
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::{tcp, udp, ListenerId};

/// A listener as bound: where it really listens (port 0 resolved).
#[derive(Clone, Debug)]
pub struct BoundListener {
    pub name: String,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot bind listener '{name}' ({transport} {addr}): {source}; change listener[{index}].bind in the config")]
pub struct BindError {
    pub name: String,
    pub index: usize,
    pub transport: &'static str,
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

pub struct Gateway {
    pub listeners: Vec<BoundListener>,
    sockets: Vec<Option<Arc<Async<UdpSocket>>>>,
    tcp_listeners: Vec<Option<Async<std::net::TcpListener>>>,
    idle: Vec<Duration>,
    config: Config,
}

impl Gateway {
    /// Binds every listener, so that a port clash is reported before
    /// anything runs.
    pub fn bind(config: Config) -> Result<Gateway, BindError> {
        let mut listeners = Vec::new();
        let mut sockets = Vec::new();
        let mut tcp_listeners = Vec::new();
        let mut idle = Vec::new();
        for (index, l) in config.listeners.iter().enumerate() {
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
            };
            let mut udp_socket = None;
            let mut tcp_socket = None;
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
            listeners.push(bound);
            sockets.push(udp_socket);
            tcp_listeners.push(tcp_socket);
            idle.push(Duration::from_secs(l.tcp_idle_timeout_s));
        }
        Ok(Gateway {
            listeners,
            sockets,
            tcp_listeners,
            idle,
            config,
        })
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        let (tx, rx) = smol::channel::bounded::<Inbound>(4096);
        let connections = tcp::Connections::default();
        for (i, socket) in self.sockets.iter().enumerate() {
            if let Some(s) = socket {
                smol::spawn(udp::receive_loop(
                    s.clone(),
                    ListenerId(i as u16),
                    tx.clone(),
                ))
                .detach();
            }
        }
        for (i, l) in self.tcp_listeners.into_iter().enumerate() {
            if let Some(l) = l {
                smol::spawn(tcp::accept_loop(
                    l,
                    ListenerId(i as u16),
                    self.idle[i],
                    connections.clone(),
                    tx.clone(),
                ))
                .detach();
            }
        }
        let sip = &self.config.sip;
        let endpoint = Endpoint::new(
            EndpointConfig {
                user_agent: sip.user_agent.clone(),
                timers: TimerConfig {
                    t1: sip.t1(),
                    t2: sip.t2(),
                    t4: sip.t4(),
                },
            },
            fastrand::u64(..),
        );
        signalling::run(endpoint, rx, tx, self.sockets, self.idle, connections).await;
    }
}
