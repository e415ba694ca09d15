//! The back-to-back user agent, sans-IO: every call is two (or more)
//! dialogs the gateway holds itself, one per far end. It is the transaction
//! user of the endpoint for INVITE dialogs: it takes transaction events and
//! the time, and drives the transaction layer.

mod callee;
mod caller;
mod control;
mod hook;
mod in_dialog;
mod listeners;
mod media;
mod setup;
mod timeouts;
mod transfer;

pub use control::CallControlError;
pub use hook::HookRequest;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, info, warn};

use crate::config::{
    AccountConfig, CallsConfig, DtmfMode, MediaConfig, SdpMode, Side, SrtpMode, TransportName,
};
use crate::media::messages::{MediaCommand, MediaEvent};
use crate::media::srtp::MasterKey;
use crate::routing::{x_headers, CallTags, Router, Target};
use crate::sip::auth::pick_challenge;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri};
use crate::sip::transaction::{ClientTransactionId, ServerTransactionId, TransactionLayer};
use crate::sip::transport::{response_target, ListenerId, Peer, Transport};

use super::addressing::{Addressing, ListenerInfo};
use super::anchor::{MediaAnchor, Refusal};
use super::call::{Call, Transfer};
use super::dialog::{contact_uri, Dialog};
use super::history::History;
use super::late_acks::LateAcks;
use super::leg::{Leg, LegCredentials, LegState, Pending2xx};
use super::record::{CallDirection, CallRecord, HangupCause, LegMediaStats, MediaSummary};
use super::timers::{CallTimers, TimerKind};

/// Finished calls kept in memory: the status page's recent calls, and
/// where the media counters that arrive after a call's end are filed.
/// The full history is the data directory's (`[history]`).
const RECENT_CALLS: usize = 200;

/// Methods the B2BUA handles in dialogs, for Allow headers.
pub const CALL_ALLOW: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, MESSAGE, REFER, NOTIFY";

/// What the B2BUA needs to know about the running gateway.
#[derive(Clone, Debug)]
pub struct B2buaConfig {
    pub user_agent: String,
    pub calls: CallsConfig,
    /// Per listener (by `ListenerId`): its side and the address we advertise.
    pub listeners: Vec<ListenerInfo>,
    pub router: Arc<Router>,
    pub accounts: Vec<AccountConfig>,
    pub media: MediaConfig,
    pub t1: Duration,
    pub t2: Duration,
}

#[derive(Clone, Debug)]
enum ServerRole {
    /// The caller's INVITE.
    Invite,
    /// A request relayed to the peer leg; its answer comes back here.
    Relayed,
}

#[derive(Clone, Debug)]
enum ClientRole {
    /// The INVITE that sets up a callee leg.
    Invite,
    /// A request relayed from `from_leg` (server transaction `server`,
    /// original request `original`).
    Relay {
        server: ServerTransactionId,
        from_leg: usize,
        original: Box<Request>,
    },
    /// Re-INVITE to the caller after a transfer: ACK its 2xx.
    Rebridge,
    /// BYE, CANCEL, NOTIFY: answers change nothing.
    Fire,
}

/// Counters for the status page and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    pub started: u64,
    pub answered: u64,
    pub failed: u64,
    pub rejected_busy: u64,
    pub no_route: u64,
    pub failovers: u64,
    pub redirects: u64,
    pub transfers: u64,
    /// Calls from the LAN to an emergency number (also in `started` when
    /// they were routed).
    pub emergency: u64,
    /// Calls over, by the side they came from.
    pub ended_inbound: Outcomes,
    pub ended_outbound: Outcomes,
}

/// How calls ended, for the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Answered (whatever ended them afterwards).
    pub answered: u64,
    /// Refused at the concurrent-call limit or for want of media ports.
    pub busy: u64,
    pub no_route: u64,
    /// The caller gave up before the answer.
    pub cancelled: u64,
    /// Every other end before an answer (refused, no answer, bad media).
    pub failed: u64,
}

impl CallStats {
    /// Counts a call that is over, by its direction and how it ended.
    fn count_ended(&mut self, record: &CallRecord) {
        let o = match record.direction {
            CallDirection::Inbound => &mut self.ended_inbound,
            CallDirection::Outbound => &mut self.ended_outbound,
        };
        let slot = if record.answered.is_some() {
            &mut o.answered
        } else {
            match record.hangup_cause {
                Some(HangupCause::Busy) => &mut o.busy,
                Some(HangupCause::NoRoute) => &mut o.no_route,
                Some(HangupCause::Cancelled) => &mut o.cancelled,
                _ => &mut o.failed,
            }
        };
        *slot += 1;
    }
}

pub struct B2bua {
    cfg: B2buaConfig,
    ids: IdGenerator,
    /// Wall-clock time at `epoch`, so records get dates without a clock read.
    epoch: (Instant, SystemTime),
    calls: HashMap<u64, Call>,
    next_call: u64,
    servers: HashMap<ServerTransactionId, (u64, usize, ServerRole)>,
    clients: HashMap<ClientTransactionId, (u64, usize, ClientRole)>,
    /// (Call-ID, our tag) of every leg → (call, leg).
    dialogs: HashMap<(String, String), (u64, usize)>,
    timers: CallTimers,
    history: History,
    /// Records that changed, for the history writer (`poll_record_change`).
    record_changes: VecDeque<CallRecord>,
    addressing: Addressing,
    stats: CallStats,
    anchor: MediaAnchor,
    late_acks: LateAcks,
    /// Emergency calls in progress, whose messages pass the rate limit.
    emergency_live: Vec<u64>,
    /// Calls waiting for their route's hook, for the shell to ask.
    hook_requests: VecDeque<HookRequest>,
}

impl B2bua {
    pub fn new(cfg: B2buaConfig, ids: IdGenerator, now: Instant, wall: SystemTime) -> B2bua {
        let history = History::new(RECENT_CALLS);
        let addressing = Addressing::new(cfg.listeners.clone());
        let anchor = MediaAnchor::new(&cfg.media);
        B2bua {
            cfg,
            ids,
            epoch: (now, wall),
            calls: HashMap::new(),
            next_call: 1,
            servers: HashMap::new(),
            clients: HashMap::new(),
            dialogs: HashMap::new(),
            timers: CallTimers::default(),
            history,
            record_changes: VecDeque::new(),
            addressing,
            stats: CallStats::default(),
            anchor,
            late_acks: LateAcks::default(),
            emergency_live: Vec::new(),
            hook_requests: VecDeque::new(),
        }
    }

    /// The emergency numbers of the routes in force.
    pub fn emergency_numbers(&self) -> &crate::routing::EmergencyNumbers {
        self.cfg.router.emergency_numbers()
    }

    pub fn has_emergency_calls(&self) -> bool {
        !self.emergency_live.is_empty()
    }

    /// Whether `call_id` is a leg of an emergency call in progress.
    pub fn is_emergency_call_id(&self, call_id: &str) -> bool {
        self.emergency_live.iter().any(|cid| {
            self.calls
                .get(cid)
                .is_some_and(|c| c.legs.iter().any(|l| l.sip().dialog.call_id == call_id))
        })
    }

    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Records of calls in progress, then finished ones (newest last).
    pub fn records(&self) -> Vec<CallRecord> {
        let mut v: Vec<CallRecord> = self.history.iter().cloned().collect();
        let mut live: Vec<&Call> = self.calls.values().collect();
        live.sort_by_key(|c| c.id);
        v.extend(live.into_iter().map(|c| c.record.clone()));
        v
    }

    /// The addresses a target host name resolves to (from the shell's DNS).
    /// A local line (`app::lines`): calls to `host` go to it in-process.
    pub fn add_line(&mut self, name: &str, host: &str, address: SocketAddr) -> ListenerId {
        self.addressing.add_line(name, host, address)
    }

    pub fn set_resolved(&mut self, host: &str, addrs: Vec<SocketAddr>) {
        self.addressing.set_resolved(host, addrs);
    }

    /// The public IP a registrar reported for listener `l` (None: forget
    /// it); see `Addressing::set_learned_public`.
    pub fn set_learned_public(&mut self, l: ListenerId, ip: Option<IpAddr>) {
        self.addressing.set_learned_public(l, ip);
    }

    /// Host names of route targets that need DNS before calls can use them.
    pub fn names_to_resolve(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .cfg
            .router
            .routes()
            .flat_map(|r| r.targets.iter())
            // A local line is reached in-process, never looked up.
            .filter(|t| t.line.is_none())
            .filter_map(|t| match &t.uri.host {
                Host::Domain(n) => Some(n.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// A new configuration for new calls: routes, limits, accounts used
    /// by targets, media rules. Calls in progress keep their route (an
    /// `Arc` of the old one) and their media session as they started.
    pub fn reconfigure(
        &mut self,
        router: Arc<Router>,
        calls: CallsConfig,
        accounts: Vec<AccountConfig>,
        media: MediaConfig,
    ) {
        self.anchor.set_rules(&media);
        self.cfg.router = router;
        self.cfg.calls = calls;
        self.cfg.accounts = accounts;
        self.cfg.media = media;
    }

    /// The routes in force (for "Test a call").
    pub fn router(&self) -> &Router {
        &self.cfg.router
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.poll_timeout()
    }

    /// A new server transaction. Returns false when the request is not the
    /// B2BUA's (no dialog of ours, not an INVITE): the endpoint answers it.
    pub fn handle_request(
        &mut self,
        tx: &mut TransactionLayer,
        id: ServerTransactionId,
        req: Request,
        from: Peer,
        cancels: Option<ServerTransactionId>,
        now: Instant,
    ) -> Result<(), Box<Request>> {
        if req.method == Method::Cancel {
            let Some(invite) = cancels else {
                return Err(Box::new(req));
            };
            let Some((call_id, _, ServerRole::Invite)) = self.servers.get(&invite).cloned() else {
                return Err(Box::new(req));
            };
            let ok = Response::for_request(&req, 200, Some(&self.tag()));
            self.respond(tx, id, ok, now);
            self.with_call(tx, call_id, now, |b, tx, call| {
                b.caller_cancelled(tx, call, now)
            });
            return Ok(());
        }
        let Some(tag) = req.headers.to_tag() else {
            if req.method == Method::Invite {
                self.new_call(tx, id, req, from, now);
                return Ok(());
            }
            return Err(Box::new(req));
        };
        let found = req
            .headers
            .call_id()
            .and_then(|c| self.dialogs.get(&(c.to_string(), tag)).copied());
        let Some((cid, leg)) = found else {
            return Err(Box::new(req));
        };
        self.with_call(tx, cid, now, |b, tx, call| {
            b.in_dialog_request(tx, call, leg, id, req, now)
        });
        Ok(())
    }

    /// An ACK for a 2xx (outside any transaction). False if not ours.
    pub fn handle_ack(&mut self, tx: &mut TransactionLayer, req: Request, now: Instant) -> bool {
        let (Some(call_id), Some(tag)) = (req.headers.call_id(), req.headers.to_tag()) else {
            return false;
        };
        let Some(&(cid, leg)) = self.dialogs.get(&(call_id.to_string(), tag)) else {
            return false;
        };
        self.with_call(tx, cid, now, |b, tx, call| {
            b.ack_received(tx, call, leg, req, now)
        });
        true
    }

    /// A response for a client transaction. False if not ours.
    pub fn handle_response(
        &mut self,
        tx: &mut TransactionLayer,
        id: ClientTransactionId,
        resp: Response,
        now: Instant,
    ) -> bool {
        let Some((cid, leg, role)) = self.clients.get(&id).cloned() else {
            // RFC 6026: the Accepted INVITE transaction passes up every 2xx
            // retransmission; the callee did not get our ACK, so re-send it.
            return self.handle_stray_response(tx, &resp, now);
        };
        if resp.status >= 200 {
            self.clients.remove(&id);
        }
        self.with_call(tx, cid, now, |b, tx, call| match role {
            ClientRole::Invite => b.callee_invite_response(tx, call, leg, id, resp, now),
            ClientRole::Relay {
                server,
                from_leg,
                original,
            } => b.relayed_response(tx, call, leg, server, from_leg, &original, resp, now),
            ClientRole::Rebridge => {
                if resp.is_success() {
                    b.send_ack(tx, call, leg, &resp, None);
                }
            }
            ClientRole::Fire => {}
        });
        true
    }

    /// Timer B/F of one of our client transactions. False if not ours.
    pub fn handle_transaction_timeout(
        &mut self,
        tx: &mut TransactionLayer,
        id: ClientTransactionId,
        now: Instant,
    ) -> bool {
        let Some((cid, leg, role)) = self.clients.remove(&id) else {
            return false;
        };
        self.with_call(tx, cid, now, |b, tx, call| match role {
            ClientRole::Invite => {
                let l = &mut call.legs[leg];
                if l.state == LegState::Calling || l.state == LegState::Early {
                    l.state = LegState::Terminated;
                    if Some(leg) == call.callee && !l.abandoned {
                        b.callee_failed(tx, call, leg, 408, "Request Timeout".into(), now);
                    }
                }
            }
            ClientRole::Relay { server, .. } => {
                b.respond(tx, server, Response::new(408), now);
                call.legs[leg].sip_mut().offer_in_flight = false;
            }
            ClientRole::Rebridge | ClientRole::Fire => {}
        });
        true
    }

    /// A 2xx retransmission that matched no transaction: re-send our ACK.
    pub fn handle_stray_response(
        &mut self,
        tx: &mut TransactionLayer,
        resp: &Response,
        now: Instant,
    ) -> bool {
        // Only a 2xx to an INVITE is ACKed (the 200 to our BYE is not).
        let to_invite = resp
            .headers
            .cseq()
            .is_ok_and(|c| c.method == Method::Invite);
        if !resp.is_success() || !to_invite {
            return false;
        }
        let (Some(call_id), Some(tag)) = (resp.headers.call_id(), resp.headers.from_tag()) else {
            return false;
        };
        let Some(&(cid, leg)) = self.dialogs.get(&(call_id.to_string(), tag.clone())) else {
            // A call already over: its callee may still retransmit.
            let Some((peer, ack)) = self.late_acks.find(call_id, &tag, now) else {
                return false;
            };
            tx.send_stateless(peer, ack);
            return true;
        };
        if let Some(l) = self.calls.get(&cid).and_then(|c| c.legs.get(leg)) {
            if let Some(ack) = &l.sip().last_ack {
                tx.send_stateless(l.sip().dialog.peer, ack.clone());
            }
        }
        true
    }

    pub fn handle_timeout(&mut self, tx: &mut TransactionLayer, now: Instant) {
        while let Some(due) = self.timers.pop_due(now) {
            self.with_call(tx, due.call, now, |b, tx, call| {
                b.timer_fired(tx, call, due.leg, due.kind, now)
            });
        }
    }

    /// Ends every call: BYE to answered legs, CANCEL or 503 to the rest.
    pub fn shutdown(&mut self, tx: &mut TransactionLayer, now: Instant) {
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        for cid in ids {
            self.with_call(tx, cid, now, |b, tx, call| {
                b.end_call(tx, call, None, HangupCause::Shutdown, now);
                if !call.caller().final_sent {
                    b.fail_caller(
                        tx,
                        call,
                        503,
                        "Service Unavailable (shutting down)",
                        None,
                        now,
                    );
                }
            });
        }
    }

    /// An event from the media thread.
    pub fn handle_media_event(&mut self, tx: &mut TransactionLayer, ev: MediaEvent, now: Instant) {
        match ev {
            MediaEvent::TimedOut { session } => {
                self.with_call(tx, session, now, |b, tx, call| {
                    warn!(call = %call.record.id, "no media for [media] timeout_s: ending the call");
                    b.end_call(tx, call, None, HangupCause::MediaTimeout, now);
                    if !call.caller().final_sent {
                        b.fail_caller(tx, call, 408, "Request Timeout (no media)", None, now);
                    }
                });
            }
            MediaEvent::Failed { session, reason } => {
                self.with_call(tx, session, now, |b, tx, call| {
                    warn!(call = %call.record.id, "{reason}");
                    b.end_call(tx, call, None, HangupCause::MediaFailed, now);
                    if !call.caller().final_sent {
                        b.fail_caller(
                            tx,
                            call,
                            503,
                            "Service Unavailable (media ports)",
                            None,
                            now,
                        );
                    }
                });
            }
            MediaEvent::Digits {
                session,
                side,
                digits,
            } => self.media_digits(session, side, &digits),
            MediaEvent::Closed {
                session,
                caller,
                callee,
            } => {
                let conv = |s: crate::media::relay::LegStats| LegMediaStats {
                    packets: s.packets_in,
                    bytes: s.bytes_in,
                    lost: s.lost,
                    jitter: s.jitter,
                    rtcp: s.rtcp_in,
                    dropped_foreign: s.dropped_foreign,
                    held: s.held,
                    dropped_held: s.dropped_held,
                    source: s.source,
                    source_learned: s.source_learned,
                    dtmf_rendered: s.dtmf_rendered,
                    dtmf_detected: s.dtmf_detected,
                    srtp: s.srtp,
                    dropped_auth: s.dropped_auth,
                    dropped_auth_rtcp: s.dropped_auth_rtcp,
                };
                self.media_closed(session, conv(caller), conv(callee));
            }
        }
    }

    /// The next command for the media thread.
    pub fn poll_media_command(&mut self) -> Option<MediaCommand> {
        self.anchor.poll_command()
    }

    /// Runs `f` on call `cid` taken out of the table, then puts it back, or
    /// files its record when it is over.
    fn with_call(
        &mut self,
        tx: &mut TransactionLayer,
        cid: u64,
        now: Instant,
        f: impl FnOnce(&mut Self, &mut TransactionLayer, &mut Call),
    ) {
        let Some(mut call) = self.calls.remove(&cid) else {
            return;
        };
        f(self, tx, &mut call);
        self.put_back(call, now);
    }

    fn put_back(&mut self, call: Call, now: Instant) {
        if !call.is_done() {
            self.calls.insert(call.id, call);
            return;
        }
        for leg in &call.legs {
            let sip = leg.sip();
            let dialog = (sip.dialog.call_id.clone(), sip.dialog.local_tag.clone());
            self.dialogs.remove(&dialog);
            if let Some(ack) = &sip.last_ack {
                let until = now + self.cfg.t1 * 64;
                self.late_acks
                    .keep(dialog, sip.dialog.peer, ack.clone(), until);
            }
        }
        if let Some(m) = &call.media {
            self.anchor.finish(call.id, m);
        }
        let id = call.id;
        self.emergency_live.retain(|c| *c != id);
        self.servers.retain(|_, v| v.0 != id);
        self.clients.retain(|_, v| v.0 != id);
        let mut record = call.record;
        if record.hangup_cause.is_none() {
            record.hangup_cause = Some(HangupCause::CallerHangup);
        }
        debug!(call = %record.id, cause = ?record.hangup_cause, "call over");
        self.push_history(record);
    }

    fn finish_record(
        &mut self,
        mut record: CallRecord,
        status: u16,
        cause: HangupCause,
        now: Instant,
    ) {
        record.final_status = Some(status);
        record.hangup_cause = Some(cause);
        record.ended = Some(self.wall(now));
        self.push_history(record);
    }

    fn push_history(&mut self, record: CallRecord) {
        self.stats.count_ended(&record);
        self.note_record_change(&record);
        self.history.push(record);
    }

    /// A call's record changed (started, answered, ended, a new target,
    /// media counters): queued for the history writer.
    fn note_record_change(&mut self, record: &CallRecord) {
        self.record_changes.push_back(record.clone());
    }

    /// The next record that changed, oldest change first.
    pub fn poll_record_change(&mut self) -> Option<CallRecord> {
        self.record_changes.pop_front()
    }

    fn respond(
        &mut self,
        tx: &mut TransactionLayer,
        id: ServerTransactionId,
        mut r: Response,
        now: Instant,
    ) {
        if !r.headers.contains(&HeaderName::Server) {
            r.headers
                .push(HeaderName::Server, self.cfg.user_agent.as_str());
        }
        if let Err(e) = tx.respond(id, r, now) {
            debug!(error = %e, "could not answer");
        }
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }

    fn tag(&mut self) -> String {
        self.ids.tag()
    }

    fn branch(&mut self) -> String {
        self.ids.branch()
    }
}

/// Where a new callee leg goes and what it carries.
struct CalleeSpec {
    uri: SipUri,
    transport: Transport,
    credentials: Option<LegCredentials>,
    /// The From URI to use (an account's address of record), if any.
    identity: Option<String>,
    extra_headers: Vec<(HeaderName, String)>,
    diversion: Option<String>,
    referred_by: Option<String>,
    /// How the callee carries DTMF (the target's setting).
    dtmf: DtmfMode,
    /// SRTP toward the callee (the target's or account's setting); only
    /// ever used over TLS.
    srtp: SrtpMode,
}

/// The RFC 4028 headers that travel from one leg to the other.
fn session_timer_headers(h: &crate::sip::message::Headers) -> Vec<(HeaderName, String)> {
    let mut out = Vec::new();
    if let Some(v) = h.get(&HeaderName::SessionExpires) {
        out.push((HeaderName::SessionExpires, v.to_string()));
    }
    if let Some(v) = h
        .iter()
        .find(|x| x.name.as_str().eq_ignore_ascii_case("Min-SE"))
    {
        out.push((v.name.clone(), v.value.clone()));
    }
    let names_timer = |name: &HeaderName| {
        h.values(name)
            .any(|t| t.trim().eq_ignore_ascii_case("timer"))
    };
    if names_timer(&HeaderName::Supported) {
        out.push((HeaderName::Supported, "timer".to_string()));
    }
    if names_timer(&HeaderName::Require) {
        out.push((HeaderName::Require, "timer".to_string()));
    }
    out
}

fn is_x_header(name: &str) -> bool {
    name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-")
}
