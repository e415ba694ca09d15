//! Wiring: binds the configured listeners, runs the signalling loop that
//! drives the sans-IO `Core`, and routes its transmits to sockets.

mod compile;
mod control;
mod history;
mod hook;
mod lines;
pub mod linesim;
mod listener_plan;
mod listeners;
mod mqtt;
mod notify;
mod resolve;
mod signalling;
mod sip_tls;
pub mod update;
pub mod web;
pub mod webhook;

pub use compile::{
    check_line_support, compile, compile_toml, compile_toml_with, compile_with, Compiled, Options,
};
pub use control::restart_requested;
pub use history::HistoryWriter;
pub use listeners::RETIRED_LINGER;
pub use notify::Notifier;

use listeners::{Slot, Slots};

pub use crate::app::{Snapshot, StatusBoard};
pub use signalling::Inbound;

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::app::{ControlRequest, Core, CoreConfig};
use crate::call::{B2buaConfig, ListenerInfo};
use crate::config::{Config, ConfigStore};
use crate::sip::ids::{IdGenerator, RandomError};
use crate::sip::message::{Host, SipUri};
use crate::sip::registration::RegistrationClient;
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::Transport;
use crate::sip::transport::{tcp, ListenerId};

/// A listener as bound: where it really listens (port 0 resolved).
#[derive(Clone, Debug)]
pub struct BoundListener {
    pub name: String,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Random(#[from] RandomError),
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
    slots: Slots,
    compiled: Compiled,
    status: StatusBoard,
    /// Keyed from the OS: every tag, Call-ID and branch the gateway makes
    /// comes from it.
    ids: IdGenerator,
    /// The call history's writer (`start_history`).
    history: Option<HistoryWriter>,
    /// The webhook senders, on the same data directory (`start_history`).
    webhooks: Option<webhook::Webhooks>,
    /// Where saves from the web page are written (`set_config_store`).
    config_store: Option<ConfigStore>,
    /// The configuration in force, as the web server reads it.
    shared_config: Arc<RwLock<Config>>,
    control_tx: smol::channel::Sender<ControlRequest>,
    control_rx: smol::channel::Receiver<ControlRequest>,
}

impl Gateway {
    /// Binds every listener, so that a port clash is reported before
    /// anything runs.
    pub fn bind(compiled: Compiled) -> Result<Gateway, StartError> {
        let ids = IdGenerator::from_os()?;
        let config = &compiled.config;
        let mut slots = Slots::default();
        for (index, l) in config.listeners.iter().enumerate() {
            slots.push(Slot::bind(index, l)?);
        }
        let listeners = slots.active().map(|(_, s)| s.bound.clone()).collect();
        let shared_config = Arc::new(RwLock::new(compiled.config.clone()));
        // Bounded: a page that floods saves waits rather than growing a
        // queue; each request is answered in microseconds to milliseconds.
        let (control_tx, control_rx) = smol::channel::bounded(64);
        Ok(Gateway {
            listeners,
            slots,
            compiled,
            status: StatusBoard::default(),
            ids,
            history: None,
            webhooks: None,
            config_store: None,
            shared_config,
            control_tx,
            control_rx,
        })
    }

    /// Where calls' media goes, for the start-up lines.
    pub fn media_summary(&self) -> String {
        let m = &self.compiled.config.media;
        match self.compiled.config.calls.sdp {
            crate::config::SdpMode::Anchor => format!(
                "udp {}-{} on each listener's address (anchored), {} media thread(s), sources: {}",
                m.port_min,
                m.port_max,
                m.thread_count(),
                m.source_mode().name()
            ),
            crate::config::SdpMode::Passthrough => {
                "not anchored ([calls] sdp = \"passthrough\"): the ends exchange RTP directly"
                    .into()
            }
        }
    }

    /// Makes the SIP TLS endpoint when the configuration uses TLS (its
    /// certificate in `data_dir` unless configured); returns what the
    /// start banner says of it.
    pub fn start_tls(&mut self, data_dir: &std::path::Path) -> Result<Option<String>, String> {
        if !sip_tls::uses_tls(&self.compiled.config, &self.compiled.router) {
            return Ok(None);
        }
        let addresses: Vec<std::net::IpAddr> = self
            .listeners
            .iter()
            .filter_map(|b| b.tls.or(b.udp).or(b.tcp))
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified())
            .collect();
        let (endpoint, summary) = sip_tls::endpoint(&self.compiled.config, data_dir, &addresses)?;
        self.slots.set_tls(Some(endpoint));
        self.status.set_tls_certificate(summary.fingerprint.clone());
        Ok(Some(format!(
            "certificate SHA-256 {}{}",
            summary.fingerprint,
            if summary.made {
                " (self-signed, made now)"
            } else {
                ""
            }
        )))
    }

    /// Opens the call history in `data_dir` and starts its writer; returns
    /// what the start banner says about it. A history that cannot be
    /// opened (a damaged file, a full disk) is logged and the gateway runs
    /// without one.
    pub fn start_history(&mut self, data_dir: &std::path::Path) -> String {
        let config = &self.compiled.config;
        let sinks = crate::events::EventSinks::from_config(config);
        match HistoryWriter::open(data_dir, &config.history, sinks, &config.events.headers) {
            Ok((writer, summary)) => {
                self.history = Some(writer);
                // Each on its own thread: a slow receiver never holds a call.
                self.webhooks = Some(webhook::Webhooks::start(
                    data_dir,
                    self.shared_config.clone(),
                    self.status.clone(),
                ));
                summary
            }
            Err(e) => {
                tracing::error!("the call history is not kept: {e}");
                format!("not kept: {e}")
            }
        }
    }

    /// Starts the MQTT sink when `[mqtt]` is set, reading the outbox in
    /// `data_dir`; returns what the start banner says about it (None: no
    /// `[mqtt]`). A sink that cannot start is logged; calls go on.
    pub fn start_mqtt(&mut self, data_dir: &std::path::Path) -> Option<String> {
        let config = self.compiled.config.mqtt.as_ref()?;
        Some(match mqtt::start(config, data_dir, self.status.clone()) {
            Ok(summary) => summary,
            Err(e) => {
                tracing::error!("mqtt: not started: {e}");
                format!("not started: {e}")
            }
        })
    }

    /// Saves from the web page and the API are written to `store` (the
    /// file the configuration was loaded from). Without one they are
    /// refused.
    pub fn set_config_store(&mut self, store: ConfigStore) {
        self.config_store = Some(store);
    }

    /// The configuration in force; replaced after each save.
    pub fn shared_config(&self) -> Arc<RwLock<Config>> {
        self.shared_config.clone()
    }

    /// Where the web server sends its requests to the running core.
    pub fn control(&self) -> smol::channel::Sender<ControlRequest> {
        self.control_tx.clone()
    }

    /// What the gateway is doing, refreshed as it runs.
    pub fn status(&self) -> StatusBoard {
        self.status.clone()
    }

    /// Runs until the process ends.
    pub async fn run(mut self) {
        let (tx, rx) = smol::channel::bounded::<Inbound>(4096);
        let connections = tcp::Connections::default();
        let ids: Vec<ListenerId> = self.slots.active().map(|(id, _)| id).collect();
        for id in ids {
            self.slots.start(id, &connections, &tx);
        }
        let sip = &self.compiled.config.sip;
        let mut endpoint = Core::new(
            CoreConfig {
                user_agent: sip.user_agent.clone(),
                timers: TimerConfig {
                    t1: sip.t1(),
                    t2: sip.t2(),
                    t4: sip.t4(),
                },
                listener_sides: self
                    .compiled
                    .config
                    .listeners
                    .iter()
                    .map(|l| l.side)
                    .collect(),
                inbound_auth: self.compiled.config.inbound_auth.clone(),
                // The digest nonces' HMAC key: 256 bits a peer cannot guess.
                auth_secret: self.ids.bytes(),
                calls: self.call_config(),
                admission: std::mem::take(&mut self.compiled.admission),
                counters_interval: Some(Duration::from_secs(
                    self.compiled.config.log.counters_interval_s,
                ))
                .filter(|d| !d.is_zero()),
            },
            self.ids.fork(),
            std::time::Instant::now(),
            std::time::SystemTime::now(),
        );
        endpoint.set_event_headers(self.compiled.config.events.headers.clone());
        endpoint.set_clock_synced(crate::events::clock::synced());
        for name in endpoint.call_target_names() {
            smol::spawn(resolve::call_target_loop(
                name,
                self.compiled.config.dns.clone(),
                tx.clone(),
                self.slots.tls().cloned(),
            ))
            .detach();
        }
        self.start_registrations(&mut endpoint, &tx);
        let lines = lines::LineShells::start(
            &self.compiled.lines,
            &self.compiled.config.emergency.numbers,
            &mut endpoint,
            &tx,
            self.ids.fork(),
        );
        smol::spawn(watch_signals(tx.clone())).detach();
        let (media_ev_tx, media_ev_rx) = smol::channel::unbounded();
        let threads = self.compiled.config.media.thread_count();
        let media = match crate::media::engine::MediaEngine::start(media_ev_tx, threads) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, threads, "cannot start the media threads; anchored calls will fail");
                crate::media::engine::MediaEngine::none()
            }
        };
        let forward = tx.clone();
        smol::spawn(async move {
            while let Ok(ev) = media_ev_rx.recv().await {
                if forward.send(Inbound::Media(Box::new(ev))).await.is_err() {
                    return;
                }
            }
        })
        .detach();
        let forward = tx.clone();
        let control_rx = self.control_rx.clone();
        smol::spawn(async move {
            while let Ok(req) = control_rx.recv().await {
                if forward.send(Inbound::Control(req)).await.is_err() {
                    return;
                }
            }
        })
        .detach();
        let config = control::ConfigState {
            current: self.compiled.config.clone(),
            store: self.config_store.take(),
            shared: self.shared_config.clone(),
            options: self.compiled.options.clone(),
        };
        // Kept for as long as the gateway runs.
        let _webhooks = self.webhooks.take();
        let outlets = signalling::Outlets {
            slots: self.slots,
            connections,
            status: self.status,
            media,
            history: self.history.take(),
            config,
            lines,
        };
        signalling::run(endpoint, rx, tx, outlets).await;
    }

    /// The B2BUA's view of the configuration and of the bound listeners.
    fn call_config(&self) -> B2buaConfig {
        let listeners = self
            .compiled
            .config
            .listeners
            .iter()
            .zip(&self.listeners)
            .map(|(l, b)| listener_info(l, b))
            .collect();
        let sip = &self.compiled.config.sip;
        B2buaConfig {
            user_agent: sip.user_agent.clone(),
            calls: self.compiled.config.calls.clone(),
            listeners,
            router: self.compiled.router.clone(),
            accounts: self.compiled.config.accounts.clone(),
            media: self.compiled.config.media.clone(),
            t1: sip.t1(),
            t2: sip.t2(),
        }
    }

    /// Adds a registration per enabled account and starts finding its
    /// registrar (or outbound proxy).
    fn start_registrations(&mut self, endpoint: &mut Core, tx: &smol::channel::Sender<Inbound>) {
        for (account_index, plan) in self.compiled.registrations.clone() {
            let account = &self.compiled.config.accounts[account_index];
            let Some(listener_index) = self
                .compiled
                .config
                .listeners
                .iter()
                .position(|l| l.name == account.listener)
            else {
                continue;
            };
            let transport = plan.params.transport;
            let bound = &self.listeners[listener_index];
            let listener_addr = match transport {
                Transport::Udp => bound.udp,
                Transport::Tcp => bound.tcp,
                // A TLS registration leaves on a connection of its own
                // and is reached back on it (RFC 5626 §4.2), so the
                // listener need not serve TLS itself.
                Transport::Tls => bound.tls.or(bound.tcp).or(bound.udp),
            };
            let Some(listener_addr) = listener_addr else {
                tracing::warn!(account = %account.name, listener = %account.listener, "the listener does not speak {transport}; account not started");
                continue;
            };
            let index = endpoint.add_registration(
                RegistrationClient::new(plan.params, self.ids.fork()),
                ListenerId(listener_index as u16),
            );
            smol::spawn(find_registrar(
                index,
                plan.next_hop,
                transport,
                listener_addr,
                self.compiled.config.dns.nameservers.clone(),
                tx.clone(),
                self.slots.tls().cloned(),
            ))
            .detach();
        }
    }
}

/// The outbox's sinks the configuration names: each webhook (by name) and
/// "mqtt" when `[mqtt]` is set. Every event is appended once per sink.
pub fn sinks_of(config: &Config) -> Vec<String> {
    crate::events::EventSinks::from_config(config)
        .sinks
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Resolves a registrar until it succeeds (every 30 s), and tells the
/// signalling loop.
async fn find_registrar(
    index: usize,
    uri: SipUri,
    transport: Transport,
    listener: SocketAddr,
    nameservers: Vec<SocketAddr>,
    tx: smol::channel::Sender<Inbound>,
    tls: Option<Arc<crate::sip::transport::tls::TlsEndpoint>>,
) {
    loop {
        let found = resolve::targets(&uri, transport, &nameservers).await;
        // RFC 5922 §4: the registrar's certificate must be for its domain.
        if let (Ok(addrs), Some(tls), Host::Domain(name)) = (&found, &tls, &uri.host) {
            for a in addrs {
                tls.expect_name(*a, name);
            }
        }
        // Only targets of the listener's address family can be reached from
        // its socket.
        let found = found.map(|t| {
            t.into_iter()
                .filter(|a| a.is_ipv4() == listener.is_ipv4())
                .collect::<Vec<_>>()
        });
        let (msg, again) = match found {
            Ok(targets) if !targets.is_empty() => {
                let local = resolve::local_address(listener, targets[0]);
                let msg = Inbound::RegistrationTargets {
                    index,
                    local,
                    targets,
                };
                // Providers move their servers: look again now and then.
                (msg, Duration::from_secs(300))
            }
            Ok(_) => (
                Inbound::RegistrationResolveFailed {
                    index,
                    reason: format!("{} has no address reachable from {listener}", uri.host),
                },
                Duration::from_secs(30),
            ),
            Err(reason) => (
                Inbound::RegistrationResolveFailed { index, reason },
                Duration::from_secs(30),
            ),
        };
        if tx.send(msg).await.is_err() {
            return;
        }
        smol::Timer::after(again).await;
    }
}

/// The first SIGTERM/SIGINT starts a clean shutdown; a second one ends the
/// process at once.
async fn watch_signals(tx: smol::channel::Sender<Inbound>) {
    use async_signal::{Signal, Signals};
    use futures_lite::StreamExt;
    let Ok(mut signals) = Signals::new([Signal::Term, Signal::Int]) else {
        tracing::warn!("cannot watch SIGTERM/SIGINT; no clean shutdown");
        return;
    };
    if signals.next().await.is_some() {
        let _ = tx.send(Inbound::Shutdown).await;
    }
    if signals.next().await.is_some() {
        std::process::exit(130);
    }
}

/// The address to put in Via and Contact for a listener bound to `bound`.
/// A wildcard bind (0.0.0.0, ::) is replaced by the address the host would
/// send from on its default route; connecting a UDP socket sends nothing.
fn advertised_address(bound: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let probe: SocketAddr = if bound.is_ipv4() {
        SocketAddr::from(([192, 0, 2, 1], 9))
    } else {
        SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 9))
    };
    let any: SocketAddr = if bound.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let ip = UdpSocket::bind(any)
        .and_then(|s| s.connect(probe).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(if bound.is_ipv4() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            std::net::IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
        });
    SocketAddr::new(ip, bound.port())
}

/// The call layer's view of a bound listener.
pub(crate) fn listener_info(l: &crate::config::ListenerConfig, b: &BoundListener) -> ListenerInfo {
    ListenerInfo {
        name: l.name.clone(),
        side: l.side,
        advertised: advertised_address(b.udp.or(b.tcp).unwrap_or(l.bind)),
        public: l.public_address,
        tls_port: b.tls.map(|a| a.port()),
        srtp: l.srtp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Gateway {
        let compiled = compile_toml(
            "[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"127.0.140.1:0\"\ntransports = [\"udp\"]\n",
        )
        .expect("config");
        Gateway::bind(compiled).expect("bind")
    }

    /// The shell keys its generator from the OS: two starts share no
    /// identifier (a seeded or time-based start could repeat them).
    #[test]
    fn each_start_keys_its_identifiers_from_the_os() {
        let (mut a, mut b) = (gateway(), gateway());
        assert_ne!(a.ids.tag(), b.ids.tag());
        assert_ne!(a.ids.fork().call_id(), b.ids.fork().call_id());
    }
}
