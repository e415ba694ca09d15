//! The signalling loop: the only owner of the `Core`. Transports send
//! it `Inbound` items; it steps the endpoint with the current time and
//! sends what the endpoint wants sent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use smol::channel::{Receiver, Sender};
use tracing::{debug, info, warn};

use crate::app::StatusBoard;

use crate::app::{Core, Output};
use crate::sip::transport::{tcp, tls, udp, Transmit, Transport, TransportEvent};

/// What the transports hand to the signalling loop.
#[derive(Debug)]
pub enum Inbound {
    /// From a UDP socket or a TCP connection.
    Transport(TransportEvent),
    /// A registrar's addresses were found.
    RegistrationTargets {
        index: usize,
        local: SocketAddr,
        targets: Vec<SocketAddr>,
    },
    RegistrationResolveFailed {
        index: usize,
        reason: String,
    },
    /// A call target's host name resolved.
    CallTargetAddresses {
        host: String,
        addrs: Vec<SocketAddr>,
    },
    /// From the media thread.
    Media(Box<crate::media::messages::MediaEvent>),
    /// From the web page or the API.
    Control(crate::app::ControlRequest),
    /// What a routing hook answered (`Output::Hook`).
    HookAnswer {
        call: u64,
        outcome: Result<crate::routing::HookDecision, String>,
    },
    /// A local line's board or audio reported something.
    Line {
        line: usize,
        input: crate::app::lines::LineInput,
    },
    /// SIGTERM or SIGINT: un-register and stop.
    Shutdown,
}

impl From<TransportEvent> for Inbound {
    fn from(ev: TransportEvent) -> Inbound {
        Inbound::Transport(ev)
    }
}

/// How long a clean shutdown waits for un-REGISTER answers.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

enum Wake {
    Input(Inbound),
    Timer,
    Closed,
}

/// Where the signalling loop's outputs go.
pub struct Outlets {
    /// The listeners' sockets by `ListenerId`.
    pub slots: super::listeners::Slots,
    pub connections: tcp::Connections,
    pub status: StatusBoard,
    pub media: crate::media::engine::MediaEngine,
    /// Where call records go; None: no history is kept. Dropped (which
    /// writes what is queued) when the loop ends.
    pub history: Option<super::HistoryWriter>,
    /// The configuration in force, for saves from the web page.
    pub config: super::control::ConfigState,
    /// The local lines' serial links and audio.
    pub lines: super::lines::LineShells,
}

pub async fn run(
    mut endpoint: Core,
    inbound: Receiver<Inbound>,
    inbound_tx: Sender<Inbound>,
    outlets: Outlets,
) {
    let Outlets {
        mut slots,
        connections,
        status,
        media,
        mut history,
        config: mut config_state,
        mut lines,
    } = outlets;
    let mut stop_by: Option<Instant> = None;
    let mut calls_published = Instant::now()
        .checked_sub(CALLS_PUBLISH_INTERVAL)
        .unwrap_or_else(Instant::now);
    loop {
        if let Some(stop) = stop_by {
            if endpoint.shutdown_done() || Instant::now() >= stop {
                info!("stopped");
                return;
            }
        }
        let deadline = match (endpoint.poll_timeout(), stop_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Idle or not, the loop turns this often, so `/healthz` can tell
        // a stuck loop from a quiet one.
        let heartbeat = Instant::now() + crate::app::HEARTBEAT_EVERY;
        let deadline = Some(deadline.map_or(heartbeat, |d| d.min(heartbeat)));
        let recv = async {
            match inbound.recv().await {
                Ok(i) => Wake::Input(i),
                Err(_) => Wake::Closed,
            }
        };
        let wake = match deadline {
            Some(d) => {
                recv.or(async {
                    smol::Timer::at(d).await;
                    Wake::Timer
                })
                .await
            }
            None => recv.await,
        };
        let now = Instant::now();
        status.beat(now, media.running());
        match wake {
            Wake::Input(Inbound::Transport(ev)) => match ev {
                TransportEvent::Datagram { bytes, from } => {
                    endpoint.handle_datagram(&bytes, from, now)
                }
                TransportEvent::StreamMessage { bytes, from } => {
                    endpoint.handle_stream_message(&bytes, from, now)
                }
                TransportEvent::StreamError { err, from } => {
                    endpoint.handle_parse_error(&err, from)
                }
                TransportEvent::KeepAlive => endpoint.note_keepalive(),
                TransportEvent::Pong { remote } => endpoint.pong_received(remote, now),
                TransportEvent::ConnectionClosed { id, remote } => {
                    connections.close(id);
                    endpoint.connection_lost(remote, now);
                }
            },
            Wake::Input(Inbound::RegistrationTargets {
                index,
                local,
                targets,
            }) => endpoint.set_registration_targets(index, local, targets, now),
            Wake::Input(Inbound::RegistrationResolveFailed { index, reason }) => {
                endpoint.registration_resolution_failed(index, reason, now)
            }
            Wake::Input(Inbound::CallTargetAddresses { host, addrs }) => {
                endpoint.set_call_target_addresses(&host, addrs)
            }
            Wake::Input(Inbound::Media(ev)) => endpoint.handle_media_event(*ev, now),
            Wake::Input(Inbound::Line { line, input }) => {
                endpoint.handle_line_input(line, input, now)
            }
            Wake::Input(Inbound::HookAnswer { call, outcome }) => {
                endpoint.hook_answered(call, outcome, now)
            }
            Wake::Input(Inbound::Control(req)) => {
                let stop = super::control::handle(
                    req,
                    &mut endpoint,
                    &mut config_state,
                    super::control::Shell {
                        history: history.as_mut(),
                        slots: &mut slots,
                        connections: &connections,
                        inbound: &inbound_tx,
                    },
                    now,
                );
                if stop {
                    // A restart stops as SIGTERM does; main.rs starts again.
                    let _ = inbound_tx.try_send(Inbound::Shutdown);
                }
            }
            Wake::Input(Inbound::Shutdown) => {
                if stop_by.is_none() {
                    endpoint.log_summary();
                    info!("shutting down: un-registering accounts");
                    endpoint.shutdown(now);
                    stop_by = Some(now + SHUTDOWN_GRACE);
                }
            }
            Wake::Timer => {}
            Wake::Closed => return,
        }
        if endpoint.poll_timeout().is_some_and(|d| d <= now) {
            endpoint.handle_timeout(now);
        }
        // The core queues a step's outputs in the order they are to be
        // done; a message only leaves once the media commands before it are
        // applied (a 200 or an ACK lets its peer start RTP at once).
        let mut media_unconfirmed = false;
        while let Some(out) = endpoint.poll_output() {
            match out {
                Output::CloseConnection(remote) => connections.close_to(remote),
                Output::Media(cmd) => {
                    // Unbounded: a command is never dropped, and the media
                    // thread drains them faster than calls produce them.
                    let session = cmd.session();
                    if media.send(cmd) {
                        media_unconfirmed = true;
                    } else {
                        tracing::error!(
                            session,
                            "media command refused: no media thread is running (see the start-up error)"
                        );
                    }
                }
                Output::Transmit(t) => {
                    if std::mem::take(&mut media_unconfirmed)
                        && !media.barrier(MEDIA_BARRIER_LIMIT).await
                    {
                        warn!(
                            "a media thread did not confirm its commands within {} ms; sending on",
                            MEDIA_BARRIER_LIMIT.as_millis()
                        );
                    }
                    send(t, &slots, &connections, &inbound_tx).await;
                }
                Output::CallRecord(r, events) => {
                    if let Some(h) = history.as_mut() {
                        h.record(r, events);
                    }
                }
                Output::Events(events) => {
                    if let Some(h) = history.as_mut() {
                        h.events(events);
                    }
                }
                Output::Line { line, action } => lines.apply(line, action),
                Output::Hook(call) => super::hook::ask(
                    call,
                    config_state.current.dns.nameservers.clone(),
                    inbound_tx.clone(),
                ),
            }
        }
        status.update_registrations(endpoint.registration_status());
        // Call records change with every packet; copying them that often
        // would cost more than the calls. Once a second is enough for a page.
        if now.saturating_duration_since(calls_published) >= CALLS_PUBLISH_INTERVAL {
            calls_published = now;
            endpoint.set_clock_synced(crate::events::clock::synced());
            status.update_calls(endpoint.call_records(), endpoint.call_stats().clone());
            status.update_counters(&endpoint);
            status.update_tls(slots.tls().map(|t| t.counters.snapshot()));
            status.update_lines(endpoint.line_statuses());
            slots.sweep(&endpoint, now);
        }
    }
}

const CALLS_PUBLISH_INTERVAL: Duration = Duration::from_secs(1);
/// Longest the signalling waits for the media threads to apply what it
/// sent them (they take microseconds unless the host is starved).
const MEDIA_BARRIER_LIMIT: Duration = Duration::from_millis(200);

async fn send(
    t: Transmit,
    slots: &super::listeners::Slots,
    connections: &tcp::Connections,
    inbound_tx: &Sender<Inbound>,
) {
    debug!(to = %t.to, "sending:\n{}", crate::logging::Dump(&t.bytes));
    match t.to.transport {
        Transport::Udp => match slots.udp(t.to.listener) {
            Some(s) => udp::send(s, t.to.remote, &t.bytes).await,
            None => warn!(to = %t.to, "no UDP socket on that listener; message not sent"),
        },
        Transport::Tcp => {
            if let Err(bytes) =
                connections.send(t.to.connection, t.to.remote, Transport::Tcp, t.bytes)
            {
                debug!(to = %t.to, "connection gone; opening a new one");
                tcp::connect_and_send(
                    t.to.remote,
                    t.to.listener,
                    slots.idle(t.to.listener),
                    bytes,
                    connections.clone(),
                    inbound_tx.clone(),
                );
            }
        }
        Transport::Tls => {
            let Err(bytes) =
                connections.send(t.to.connection, t.to.remote, Transport::Tls, t.bytes)
            else {
                return;
            };
            match slots.tls() {
                Some(endpoint) => {
                    debug!(to = %t.to, "no TLS connection; opening one");
                    tls::connect_and_send(
                        t.to.remote,
                        t.to.listener,
                        slots.idle(t.to.listener),
                        bytes,
                        connections.clone(),
                        inbound_tx.clone(),
                        endpoint.clone(),
                    );
                }
                None => warn!(to = %t.to, "no TLS endpoint; message not sent"),
            }
        }
    }
}
