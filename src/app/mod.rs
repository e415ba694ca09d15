//! The application core, sans-IO: bytes in, bytes out. It admits sources
//! (allow lists, rate limits, inbound digest), parses, answers malformed
//! requests statelessly, stamps Via, runs the transaction layer and gives
//! each new request to its transaction user: the B2BUA for calls and their
//! dialogs, the registration clients for theirs, `local_uas` for the rest
//! (OPTIONS for monitors, clean answers for requests that belong to
//! nothing). It maps the configuration into the SIP stack's own types.

mod accounts;
mod call_row;
mod capabilities;
mod control;
mod counters;
mod emergency;
mod events;
mod inbound_auth;
pub mod lines;
mod listeners;
mod local_uas;
mod metrics;
pub mod network;
mod registrations;
mod sinks;
mod stats;
mod status;
mod update;
pub mod view;

#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod tests;

pub use accounts::{registration_plan, RegistrationPlan};
pub use call_row::call_row;
pub use capabilities::{precheck, ACCEPT, ALLOW, SUPPORTED};
pub use control::{parse_pasted_invite, Actor, ControlError, ControlRequest, SaveReport};
pub use metrics::{render as render_metrics, ProcessStats};
pub use sinks::{SinkStats, WebhookAnswer, WebhookTestFuture, WebhookTester};
pub use stats::{CoreStats, MediaTotals};
pub use status::{
    Health, ListenerCounters, Snapshot, StatusBoard, TlsStats, HEARTBEAT_EVERY, HEARTBEAT_LIMIT,
};
pub use update::{BundleInfo, SharedUpdater, SlotInfo, Slots, UpdateError, Updater};

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, info, trace};

use crate::call::{B2bua, B2buaConfig, CallControlError, CallRecord, CallStats, ListenerInfo};
use crate::config::{AdmitMode, CallsConfig, InboundAuthConfig, Side};
use crate::logging::{Dump, Escaped};
use crate::media::messages::MediaCommand;
use crate::policy::{
    drop_hint, Admission, AdmissionVerdict, DenyReason, DropKey, DropLine, DropLog, HintContext,
};
use crate::routing::{Explanation, Router};
use crate::sip::ids::IdGenerator;
use crate::sip::message::{parse_message, Framing, HeaderName, ParseError, Response, SipMessage};
use crate::sip::registration::{RegistrationClient, RegistrationStatus};
use crate::sip::transaction::{TimerConfig, TransactionEvent, TransactionLayer};
use crate::sip::transport::{response_target, stamp_received, ListenerId, Peer, Transmit};

#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub user_agent: String,
    pub timers: TimerConfig,
    /// The side of each listener, by `ListenerId`.
    pub listener_sides: Vec<Side>,
    pub inbound_auth: InboundAuthConfig,
    /// Secret for the digest server's nonces; random per start.
    pub auth_secret: [u8; 32],
    /// The call path: routes, limits and the addresses calls use.
    pub calls: B2buaConfig,
    /// Admission per listener (by `ListenerId`); a listener without one
    /// admits every source.
    pub admission: Vec<Admission>,
    /// Admission, call and media counters are logged this often; `None` =
    /// only at shutdown (`log_summary`).
    pub counters_interval: Option<Duration>,
}

impl CoreConfig {
    /// A configuration for tests and tools: default timers, one WAN listener,
    /// no inbound authentication.
    pub fn basic(user_agent: &str) -> Self {
        CoreConfig {
            user_agent: user_agent.into(),
            timers: TimerConfig::default(),
            listener_sides: vec![Side::Wan],
            inbound_auth: InboundAuthConfig::default(),
            auth_secret: [7; 32],
            calls: B2buaConfig {
                user_agent: user_agent.into(),
                calls: CallsConfig::default(),
                listeners: vec![ListenerInfo {
                    name: "wan".into(),
                    side: Side::Wan,
                    advertised: std::net::SocketAddr::from(([127, 0, 0, 1], 5060)),
                    public: None,
                    tls_port: None,
                    srtp: Default::default(),
                }],
                router: Default::default(),
                accounts: Vec::new(),
                media: crate::config::MediaConfig::default(),
                t1: TimerConfig::default().t1,
                t2: TimerConfig::default().t2,
            },
            admission: Vec::new(),
            counters_interval: None,
        }
    }
}

pub struct Core {
    transactions: TransactionLayer,
    ids: IdGenerator,
    stats: CoreStats,
    user_agent: String,
    registrations: registrations::Registrations,
    listener_sides: Vec<Side>,
    inbound_auth: inbound_auth::InboundAuth,
    calls: B2bua,
    admission: Vec<Admission>,
    /// Addresses the gateway sent to, and when: their answers and requests
    /// are admitted whatever the allowlist says (a registrar, a target).
    contacted: HashMap<IpAddr, Instant>,
    last_now: Instant,
    /// Which admission drops get a log line.
    drop_log: DropLog,
    /// Listener names by `ListenerId`, for log lines.
    listener_names: Vec<String>,
    /// Listeners moved or removed by a saved configuration, by id.
    retired_listeners: std::collections::HashSet<u16>,
    /// The first LAN listener (name, port): where a PBX trunk belongs.
    lan_listener: Option<(String, u16)>,
    counters_clock: counters::CountersClock,
    media_totals: MediaTotals,
    /// TCP connections of sources the allowlist drops, to close.
    closing: VecDeque<SocketAddr>,
    /// What the shell is to do next (`poll_output`).
    outputs: VecDeque<Output>,
    /// Events derived from record and registration changes.
    events: events::EventTracker,
    /// The box's local lines, each an in-process SIP user agent.
    lines: lines::Lines,
}

/// What a saved configuration changes in a running core.
pub struct Reconfiguration {
    pub router: std::sync::Arc<Router>,
    pub calls: CallsConfig,
    pub accounts: Vec<crate::config::AccountConfig>,
    pub media: crate::config::MediaConfig,
    /// Per running listener, in the order they were bound (a saved file
    /// may list them in another order): the new rules, or None to keep
    /// the running ones (a listener the file no longer has runs on until
    /// the restart that removes it).
    pub admission: Vec<Option<Admission>>,
    pub inbound_auth: InboundAuthConfig,
}

/// What the core wants done, in the order it is to be done (`poll_output`).
/// Each `handle_*` queues a step's outputs: connections to close first (so
/// what follows to the same peer goes out on a new one), then media
/// commands, then messages to send. The shell applies media commands
/// before it sends any later message: a 200 or an ACK lets a peer start
/// its RTP, which must find its leg set up.
#[derive(Debug)]
pub enum Output {
    /// A connection that stopped answering keep-alives (half-open), or one
    /// from a source the allow list drops.
    CloseConnection(SocketAddr),
    /// A command for the media threads.
    Media(MediaCommand),
    Transmit(Transmit),
    /// A call's record as it is now, after it changed (start, new target,
    /// answer, transfer, end, media counters): for the history writer,
    /// with the events the change made (docs/events.md), which are written
    /// with the row in one transaction. Queued after the step's messages;
    /// a few per call.
    CallRecord(Box<CallRecord>, Vec<crate::events::Event>),
    /// Events that belong to no call (registration up/down): written to
    /// the outbox by the history writer too.
    Events(Vec<crate::events::Event>),
    /// A call waits for its route's hook: POST `body` with `settings`
    /// and report with `Core::hook_answered`. Nothing waits on it; the
    /// call goes on by itself at the hook's timeout.
    Hook(HookCall),
    /// Something for a local line's shells: a board command or audio.
    Line {
        line: usize,
        action: lines::LineAction,
    },
}

/// A routing hook request (docs/routing.md).
#[derive(Clone, Debug)]
pub struct HookCall {
    pub call: u64,
    pub settings: std::sync::Arc<crate::config::WebhookConfig>,
    /// The newCall fields as JSON.
    pub body: String,
}

/// Message exchanges between the B2BUA and the lines per step; a handful
/// are needed (INVITE, 180, 200, ACK), the bound only stops a loop.
const LINE_ROUNDS: usize = 16;

/// Contacted addresses are forgotten this long after the last packet sent.
const CONTACTED_TTL: Duration = Duration::from_secs(3600);

impl Core {
    /// `ids` makes the tags (the shell keys it from the OS, tests seed it);
    /// `now` is the start of the digest server's nonce clock.
    /// `wall` is the wall-clock time at `now`, for the dates of call records.
    pub fn new(
        config: CoreConfig,
        mut ids: IdGenerator,
        now: Instant,
        wall: std::time::SystemTime,
    ) -> Self {
        let nonce_seed = ids.u64();
        let calls_ids = ids.fork();
        let event_ids = ids.fork();
        let inbound_auth = inbound_auth::InboundAuth::new(
            config.inbound_auth,
            config.auth_secret,
            nonce_seed,
            now,
        );
        let listeners = &config.calls.listeners;
        let listener_names = listeners.iter().map(|l| l.name.clone()).collect();
        let lan_listener = listeners
            .iter()
            .find(|l| l.side == Side::Lan)
            .map(|l| (l.name.clone(), l.advertised.port()));
        Core {
            drop_log: DropLog::default(),
            listener_names,
            retired_listeners: Default::default(),
            lan_listener,
            counters_clock: counters::CountersClock::new(config.counters_interval, now),
            media_totals: MediaTotals::default(),
            closing: VecDeque::new(),
            outputs: VecDeque::new(),
            listener_sides: config.listener_sides,
            inbound_auth,
            transactions: TransactionLayer::new(config.timers),
            ids,
            stats: CoreStats::default(),
            user_agent: config.user_agent,
            registrations: Default::default(),
            calls: B2bua::new(config.calls, calls_ids, now, wall),
            admission: config.admission,
            contacted: HashMap::new(),
            last_now: now,
            events: events::EventTracker::new(event_ids, now, wall),
            lines: lines::Lines::default(),
        }
    }

    /// `[events] headers`: the INVITE headers copied into call events.
    pub fn set_event_headers(&mut self, headers: Vec<String>) {
        self.events.set_headers(headers);
    }

    /// Whether the wall clock is synchronised (`events::clock::synced`,
    /// read by the shell): events carry it as `clockSynced`. The first
    /// report is taken as the state at the core's start.
    pub fn set_clock_synced(&mut self, synced: bool) {
        self.events.set_clock_synced(synced);
    }

    /// Tells the B2BUA the public address each registrar reports, so calls
    /// on a listener behind NAT advertise the address peers can reach.
    fn share_public_addresses(&mut self) {
        for (listener, ip) in self.registrations.public_addresses() {
            self.calls.set_learned_public(listener, ip);
        }
    }

    /// A saved configuration for what comes next: routes, call limits,
    /// media rules, admission per listener (its counters kept), inbound
    /// digest. Calls in progress go on as they started.
    pub fn reconfigure(&mut self, r: Reconfiguration) {
        self.calls
            .reconfigure(r.router, r.calls, r.accounts, r.media);
        for (running, new) in self.admission.iter_mut().zip(r.admission) {
            if let Some(mut new) = new {
                new.keep_counts(running);
                *running = new;
            }
        }
        self.inbound_auth.set_config(r.inbound_auth);
    }

    /// Hangs up call `id` (its record id) on every leg.
    pub fn hang_up(&mut self, id: &str, now: Instant) -> Result<(), CallControlError> {
        self.last_now = now;
        let r = self.calls.hang_up(&mut self.transactions, id, now);
        self.collect_outputs(now);
        r
    }

    /// Moves the caller of call `id` to `target` (a blind transfer).
    pub fn transfer(
        &mut self,
        id: &str,
        target: &str,
        now: Instant,
    ) -> Result<(), CallControlError> {
        self.last_now = now;
        let r = self.calls.transfer(&mut self.transactions, id, target, now);
        self.collect_outputs(now);
        r
    }

    /// Sends `digits` (0-9, *, #, A-D; at most 32) to the caller of call
    /// `id` (`to_caller`) or to its callee: RFC 4733 events where that leg
    /// negotiated them, tones in its audio otherwise. Only for a call whose
    /// media the gateway anchors, once answered.
    pub fn send_dtmf(
        &mut self,
        id: &str,
        to_caller: bool,
        digits: &str,
        now: Instant,
    ) -> Result<(), CallControlError> {
        self.last_now = now;
        let r = self.calls.send_dtmf(id, to_caller, digits);
        self.collect_outputs(now);
        r
    }

    /// Which route `invite` (a request as text) would take, and why not
    /// the others.
    pub fn test_call(&self, invite: &str, from_lan: bool) -> Result<Explanation, String> {
        let req = control::parse_pasted_invite(invite)?;
        let side = if from_lan { Side::Lan } else { Side::Wan };
        Ok(self
            .calls
            .router()
            .explain(&req, crate::routing::Origin::Side(side)))
    }

    /// Calls in progress and recently finished, for the status page.
    pub fn call_records(&self) -> Vec<CallRecord> {
        self.calls.records()
    }

    pub fn call_stats(&self) -> &CallStats {
        self.calls.stats()
    }

    pub fn active_calls(&self) -> usize {
        self.calls.active_calls()
    }

    /// An event from the media thread (timeout, failure, final counters).
    pub fn handle_media_event(&mut self, ev: crate::media::messages::MediaEvent, now: Instant) {
        self.last_now = now;
        self.media_totals.add(&ev);
        self.calls
            .handle_media_event(&mut self.transactions, ev, now);
        self.drain_events(now);
        self.collect_outputs(now);
    }

    /// What a routing hook answered for `call` (`Output::Hook`), or why
    /// it did not.
    pub fn hook_answered(
        &mut self,
        call: u64,
        outcome: Result<crate::routing::HookDecision, String>,
        now: Instant,
    ) {
        self.last_now = now;
        self.calls
            .hook_answered(&mut self.transactions, call, outcome, now);
        self.drain_events(now);
        self.collect_outputs(now);
    }

    /// Host names of call targets the shell should resolve.
    pub fn call_target_names(&self) -> Vec<String> {
        self.calls.names_to_resolve()
    }

    pub fn set_call_target_addresses(&mut self, host: &str, addrs: Vec<std::net::SocketAddr>) {
        self.calls.set_resolved(host, addrs);
    }

    /// Adds an account's registration; it starts when its targets are known.
    pub fn add_registration(&mut self, client: RegistrationClient, listener: ListenerId) -> usize {
        self.registrations.add(client, listener)
    }

    /// The registrar's addresses for registration `index` (from DNS), and
    /// the local address requests leave from.
    pub fn set_registration_targets(
        &mut self,
        index: usize,
        local: SocketAddr,
        targets: Vec<SocketAddr>,
        now: Instant,
    ) {
        if let Some(c) = self.registrations.client_mut(index) {
            c.set_targets(local, targets, now);
        }
        self.registrations.pump(&mut self.transactions, now);
        self.collect_outputs(now);
    }

    pub fn registration_resolution_failed(&mut self, index: usize, reason: String, now: Instant) {
        if let Some(c) = self.registrations.client_mut(index) {
            c.resolution_failed(reason, now);
        }
        self.collect_outputs(now);
    }

    /// What every registration is doing, for the status page and events.
    pub fn registration_status(&self) -> Vec<RegistrationStatus> {
        self.registrations.statuses()
    }

    /// Starts a clean shutdown: un-REGISTERs every account. Keep stepping
    /// the endpoint until `shutdown_done` (or a deadline).
    pub fn shutdown(&mut self, now: Instant) {
        self.calls.shutdown(&mut self.transactions, now);
        self.registrations.stop_all(now);
        self.registrations.pump(&mut self.transactions, now);
        self.collect_outputs(now);
    }

    /// A CRLF pong arrived on the connection to `remote`.
    pub fn pong_received(&mut self, remote: SocketAddr, now: Instant) {
        self.stats.keepalives += 1;
        self.registrations.pong_received(remote, now);
        self.collect_outputs(now);
    }

    /// A TCP connection closed (by the peer, an error or the idle timer).
    pub fn connection_lost(&mut self, remote: SocketAddr, now: Instant) {
        self.registrations.connection_lost(remote, now);
        self.registrations.pump(&mut self.transactions, now);
        self.collect_outputs(now);
    }

    pub fn shutdown_done(&self) -> bool {
        !self.registrations.unregistering()
    }

    /// A local line, its audio socket bound at `setup.audio`: the B2BUA
    /// reaches it as `line_host(name)`. Returns its index for
    /// `handle_line_input` and `Output::Line`.
    pub fn add_line(&mut self, setup: lines::LineSetup) -> usize {
        let host = lines::line_host(&setup.name);
        let listener = self.calls.add_line(&setup.name, &host, setup.audio);
        let index = self.lines.add(setup, self.ids.fork());
        debug_assert_eq!(listener, lines::Lines::listener(index));
        index
    }

    /// What a line's board or audio reported.
    pub fn handle_line_input(&mut self, line: usize, input: lines::LineInput, now: Instant) {
        self.last_now = now;
        self.lines.input(line, input, now);
        self.collect_outputs(now);
    }

    pub fn line_statuses(&self) -> Vec<lines::LineStatus> {
        self.lines.statuses()
    }

    /// One UDP datagram.
    pub fn handle_datagram(&mut self, bytes: &[u8], from: Peer, now: Instant) {
        self.handle_bytes(bytes, Framing::Datagram, from, now);
        self.collect_outputs(now);
    }

    /// One message cut from a TCP stream by `StreamFramer`.
    pub fn handle_stream_message(&mut self, bytes: &[u8], from: Peer, now: Instant) {
        self.handle_bytes(bytes, Framing::Stream, from, now);
        self.collect_outputs(now);
    }

    /// A keep-alive (CRLF ping) seen by a transport.
    pub fn note_keepalive(&mut self) {
        self.stats.keepalives += 1;
    }

    fn handle_bytes(&mut self, bytes: &[u8], framing: Framing, from: Peer, now: Instant) {
        self.last_now = now;
        let ip = from.remote.ip();
        let trusted = self.is_contacted(ip, now);
        if let Some(a) = self.admission.get_mut(from.listener.0 as usize) {
            match a.check(ip, trusted, now) {
                AdmissionVerdict::Admit { .. } => {}
                AdmissionVerdict::Drop(DenyReason::RateLimited)
                    if self.emergency_exempt(bytes, &from, trusted) => {}
                AdmissionVerdict::Drop(reason) => {
                    self.note_refused(&from, trusted, reason, false, now);
                    return;
                }
                AdmissionVerdict::Reject(reason) => {
                    self.note_refused(&from, trusted, reason, true, now);
                    self.reject_source(bytes, framing, from, reason);
                    return;
                }
            }
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            // RFC 5626 CRLF keep-alive over UDP: nothing to parse or answer.
            self.stats.keepalives += 1;
            return;
        }
        match parse_message(bytes, framing) {
            Ok(SipMessage::Request(mut req)) => {
                self.stats.requests_received += 1;
                // Only a source this listener would challenge can be blocked
                // for failing: a listed source on an `either` listener is
                // never challenged, so failures counted against its address
                // elsewhere (another listener, a neighbour in its IPv6 /64)
                // must not lock it out.
                if self.is_wan(&from)
                    && self.inbound_auth.requires_auth(&req.method)
                    && self.auth_required(&from, now)
                    && self.inbound_auth.is_blocked(from.remote.ip(), now)
                {
                    self.stats.dropped_blocked += 1;
                    return;
                }
                debug!(peer = %from, "received request:\n{}", Dump(bytes));
                stamp_received(&mut req, &from);
                self.transactions.handle_request(req, from, now);
            }
            Ok(SipMessage::Response(resp)) => {
                self.stats.responses_received += 1;
                debug!(peer = %from, "received response:\n{}", Dump(bytes));
                self.transactions.handle_response(resp, from, now);
            }
            Err(e) => self.handle_parse_error(&e, from),
        }
        self.drain_events(now);
    }

    /// Answers a message that failed to parse when it can be answered
    /// (400/505 with a reason phrase that names the problem), else drops
    /// and counts it.
    pub fn handle_parse_error(&mut self, err: &ParseError, from: Peer) {
        let tag = self.new_tag();
        match err.answer(&tag) {
            Some((mut resp, ctx)) => {
                self.stats.rejected_answered += 1;
                info!(peer = %from, status = resp.status, reason = %Escaped(&err.reason), "rejected malformed request");
                resp.headers
                    .push(HeaderName::Server, self.user_agent.as_str());
                let to = response_target(&from, ctx.top_via.as_ref());
                self.transactions.send_stateless(to, resp.to_bytes());
            }
            None => {
                self.stats.dropped_malformed += 1;
                debug!(peer = %from, reason = %Escaped(&err.reason), "dropped unanswerable message");
            }
        }
        self.collect_outputs(self.last_now);
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.transactions.poll_event() {
            match event {
                TransactionEvent::Request {
                    id,
                    request,
                    from,
                    cancels,
                } => {
                    let tag = self.new_tag();
                    let auth = if self.auth_required(&from, now) {
                        self.inbound_auth
                            .check(&request, from.remote.ip(), &tag, now)
                    } else {
                        inbound_auth::AuthOutcome::Pass
                    };
                    let request = match auth {
                        inbound_auth::AuthOutcome::Answer(r) => {
                            self.answer(id, &request, &from, r, now);
                            continue;
                        }
                        inbound_auth::AuthOutcome::Pass => request,
                    };
                    if is_initial_invite(&request) {
                        self.stats.invites_answered += 1;
                        if let Some(r) = local_uas::refuse_invite(&request, &tag) {
                            self.answer(id, &request, &from, r, now);
                            continue;
                        }
                    }
                    let request = match self.calls.handle_request(
                        &mut self.transactions,
                        id,
                        request,
                        from,
                        cancels,
                        now,
                    ) {
                        Ok(()) => continue,
                        Err(r) => *r,
                    };
                    let resp =
                        local_uas::answer(&request, cancels.is_some(), &tag, &mut self.stats);
                    self.answer(id, &request, &from, resp, now);
                }
                TransactionEvent::Ack { request, from } => {
                    let call_id = request.headers.call_id().unwrap_or_default().to_string();
                    if !self.calls.handle_ack(&mut self.transactions, request, now) {
                        debug!(peer = %from, call_id, "ACK for no dialog of ours ignored");
                    }
                }
                TransactionEvent::Response { id, response } => {
                    if self.registrations.handle_response(id, &response, now) {
                        self.share_public_addresses();
                    } else if !self
                        .calls
                        .handle_response(&mut self.transactions, id, response, now)
                    {
                        debug!("response for a transaction with no owner");
                    }
                }
                TransactionEvent::Timeout { id } => {
                    if !self.registrations.handle_transaction_timeout(id, now)
                        && !self
                            .calls
                            .handle_transaction_timeout(&mut self.transactions, id, now)
                    {
                        debug!(%id, "timeout of a transaction with no owner");
                    }
                }
                TransactionEvent::StrayResponse { response, from } => {
                    if !self
                        .calls
                        .handle_stray_response(&mut self.transactions, &response, now)
                    {
                        debug!(peer = %from, status = response.status, "stray response ignored");
                    }
                }
                TransactionEvent::AckTimeout { id } => {
                    debug!(%id, "a final response was never acknowledged");
                }
            }
        }
        self.registrations.pump(&mut self.transactions, now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        if let Some(s) = self.drop_log.handle_timeout(now) {
            info!(
                sources = s.sources,
                packets = s.packets,
                "{} more source(s) dropped by admission and not named above (at most 20 lines a minute); the admission counters have them all",
                s.sources
            );
        }
        if self.counters_clock.due(now) {
            self.log_counters();
        }
        self.transactions.handle_timeout(now);
        self.calls.handle_timeout(&mut self.transactions, now);
        self.registrations.handle_timeout(now);
        self.lines.handle_timeout(now);
        self.drain_events(now);
        self.collect_outputs(now);
    }

    /// The next thing to do, in order (see `Output`); None when the core
    /// waits for input or `poll_timeout`. Changes nothing but the queue.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Queues what a step produced, in the order `Output` promises, and
    /// notes the peers the gateway sends requests to.
    fn collect_outputs(&mut self, now: Instant) {
        while let Some(remote) = self
            .closing
            .pop_front()
            .or_else(|| self.registrations.poll_close_connection())
        {
            self.outputs.push_back(Output::CloseConnection(remote));
        }
        // A local line talks with the B2BUA in-process: a message for a
        // line is handed to it, and what it says back is handled at once,
        // until neither side has more to say (a few rounds per step).
        for _ in 0..LINE_ROUNDS {
            while let Some(cmd) = self.calls.poll_media_command() {
                self.outputs.push_back(Output::Media(cmd));
            }
            while let Some(t) = self.transactions.poll_transmit() {
                if let Some(line) = self.lines.index_of(t.to.listener) {
                    self.lines.deliver(line, &t.bytes, now);
                    continue;
                }
                // Only requests make a peer trusted: answering someone (a 403
                // to a scanner) must not open the allowlist to it.
                if !t.bytes.starts_with(b"SIP/2.0 ") {
                    if self.contacted.len() >= 65_536 {
                        self.contacted
                            .retain(|_, at| now.saturating_duration_since(*at) < CONTACTED_TTL);
                    }
                    self.contacted.insert(t.to.remote.ip(), now);
                }
                self.outputs.push_back(Output::Transmit(t));
            }
            let mut said = false;
            while let Some((peer, bytes)) = self.lines.poll_to_core() {
                said = true;
                trace!(peer = %peer, "from a local line:\n{}", Dump(&bytes));
                self.handle_bytes(&bytes, Framing::Stream, peer, now);
            }
            if !said {
                break;
            }
        }
        while let Some((line, action)) = self.lines.poll_action() {
            self.outputs.push_back(Output::Line { line, action });
        }
        let records: Vec<CallRecord> =
            std::iter::from_fn(|| self.calls.poll_record_change()).collect();
        if !records.is_empty() {
            for (r, events) in self.events.on_records(records, now) {
                self.outputs
                    .push_back(Output::CallRecord(Box::new(r), events));
            }
        }
        while let Some(h) = self.calls.poll_hook_request() {
            let body = self.events.hook_body(&h.record);
            self.outputs.push_back(Output::Hook(HookCall {
                call: h.call,
                settings: h.settings,
                body,
            }));
        }
        let registrations = self
            .events
            .on_registrations(&self.registrations.statuses(), now);
        if !registrations.is_empty() {
            self.outputs.push_back(Output::Events(registrations));
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.transactions.poll_timeout(),
            self.registrations.poll_timeout(),
            self.calls.poll_timeout(),
            self.drop_log.poll_timeout(),
            self.counters_clock.poll_timeout(),
            self.lines.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Answers a server transaction on the endpoint's own behalf.
    fn answer(
        &mut self,
        id: crate::sip::transaction::ServerTransactionId,
        request: &crate::sip::message::Request,
        from: &Peer,
        mut resp: Response,
        now: Instant,
    ) {
        resp.headers
            .push(HeaderName::Server, self.user_agent.as_str());
        // The transaction layer logs the outcome at info.
        debug!(
            peer = %from,
            method = %request.method,
            call_id = request.headers.call_id().unwrap_or_default(),
            status = resp.status,
            "answering request"
        );
        if let Err(e) = self.transactions.respond(id, resp, now) {
            debug!(error = %e, "could not answer request");
        }
    }

    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    pub fn live_transactions(&self) -> usize {
        self.transactions.len()
    }

    /// Whether a request from `from` must pass the digest server: on the
    /// WAN side by default, or as its listener's `admit` mode says.
    fn auth_required(&self, from: &Peer, now: Instant) -> bool {
        let ip = from.remote.ip();
        match self.admission.get(from.listener.0 as usize) {
            Some(a) if a.mode() != AdmitMode::Allowlist => {
                a.needs_auth(ip, self.is_contacted(ip, now))
            }
            _ => self.is_wan(from),
        }
    }

    fn is_contacted(&self, ip: IpAddr, now: Instant) -> bool {
        self.contacted
            .get(&ip)
            .is_some_and(|t| now.saturating_duration_since(*t) < CONTACTED_TTL)
    }

    /// A source outside the allowlist of a `reject` listener: requests get
    /// 403 (statelessly, nothing is kept), anything else is dropped.
    fn reject_source(&mut self, bytes: &[u8], framing: Framing, from: Peer, reason: DenyReason) {
        let Ok(SipMessage::Request(req)) = parse_message(bytes, framing) else {
            return;
        };
        if req.method == crate::sip::message::Method::Ack {
            return;
        }
        let tag = self.new_tag();
        let mut r = Response::for_request(&req, 403, Some(&tag)).with_reason(match reason {
            DenyReason::NotAllowed => "Forbidden (source address not allowed)",
            DenyReason::RateLimited => "Forbidden (rate limited)",
        });
        r.headers.push(HeaderName::Server, self.user_agent.as_str());
        debug!(peer = %from, "request from a source not allowed: 403");
        let to = response_target(&from, req.headers.top_via().ok().as_ref());
        self.transactions.send_stateless(to, r.to_bytes());
    }

    /// Logs what the endpoint counted (at shutdown, for operators and tests).
    pub fn log_summary(&self) {
        self.log_counters();
    }

    fn log_counters(&self) {
        counters::log(&counters::Counters {
            admission: &self.admission,
            listener_names: &self.listener_names,
            endpoint: &self.stats,
            calls: self.calls.stats(),
            active_calls: self.calls.active_calls(),
            media: &self.media_totals,
        });
    }

    /// A packet admission dropped (or answered 403: `answered`): a log
    /// line when the drop log says one is due, and the TCP connection of a
    /// source the allowlist drops is closed (nothing it sends will be read).
    fn note_refused(
        &mut self,
        from: &Peer,
        trusted: bool,
        reason: DenyReason,
        answered: bool,
        now: Instant,
    ) {
        trace!(peer = %from, ?reason, answered, "refused by admission");
        let source = from.remote.ip().to_canonical();
        let key = DropKey {
            listener: from.listener.0,
            source,
            reason,
        };
        if let Some(line) = self.drop_log.record(key, now) {
            self.log_refused(line, from, trusted, answered);
        }
        if reason == DenyReason::NotAllowed && !answered && from.connection.is_some() {
            self.closing.push_back(from.remote);
        }
    }

    fn log_refused(&self, line: DropLine, from: &Peer, trusted: bool, answered: bool) {
        let index = usize::from(line.key.listener);
        let name = self
            .listener_names
            .get(index)
            .map(String::as_str)
            .unwrap_or("?");
        let listed = self
            .admission
            .get(index)
            .is_some_and(|a| a.is_listed(line.key.source, trusted));
        let ctx = HintContext {
            listener: name,
            side: self.listener_sides.get(index).copied().unwrap_or(Side::Wan),
            lan: self.lan_listener.as_ref().map(|(n, p)| (n.as_str(), *p)),
            listed,
        };
        let hint = drop_hint(line.key.reason, line.key.source, &ctx);
        let reason = match line.key.reason {
            DenyReason::NotAllowed => "not in allow list",
            DenyReason::RateLimited if listed => "over rate_per_s_listed",
            DenyReason::RateLimited => "over rate_per_s",
        };
        let action = if answered { "refused (403)" } else { "dropped" };
        info!(
            listener = name,
            source = %line.key.source,
            transport = %from.transport,
            reason,
            packets = line.dropped,
            "{action} by admission (logged once per source and reason per 10 min; packets = since the last line): {hint}"
        );
    }

    /// Each listener's admission counters and top refused networks.
    pub fn admission_counters(&self) -> Vec<ListenerCounters> {
        self.admission
            .iter()
            .enumerate()
            .map(|(i, a)| ListenerCounters {
                name: match self.listener_names.get(i) {
                    Some(n) if self.retired_listeners.contains(&(i as u16)) => {
                        format!("{n} (old address, closing)")
                    }
                    Some(n) => n.clone(),
                    None => String::new(),
                },
                counters: a.counters().clone(),
                top_refused: a.denied_by_prefix().into_iter().take(10).collect(),
            })
            .collect()
    }

    /// Media counters summed over the sessions closed so far.
    pub fn media_totals(&self) -> &MediaTotals {
        &self.media_totals
    }

    /// Admission counters per listener, for the status page and the log.
    pub fn admission(&self) -> &[Admission] {
        &self.admission
    }

    fn is_wan(&self, peer: &Peer) -> bool {
        self.listener_sides.get(peer.listener.0 as usize) == Some(&Side::Wan)
    }

    fn new_tag(&mut self) -> String {
        self.ids.tag()
    }
}

fn is_initial_invite(req: &crate::sip::message::Request) -> bool {
    req.method == crate::sip::message::Method::Invite && req.headers.to_tag().is_none()
}
