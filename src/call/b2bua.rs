//! The back-to-back user agent, sans-IO: every call is two (or more)
//! dialogs the gateway holds itself, one per far end. It is the transaction
//! user of the endpoint for INVITE dialogs: it takes transaction events and
//! the time, and drives the transaction layer.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, info, warn};

use crate::config::{
    AccountConfig, CallsConfig, DtmfMode, MediaConfig, SdpMode, Side, TransportName,
};
use crate::media::engine::{MediaCommand, MediaEvent};
use crate::media::latch::SourceRules;
use crate::media::ports::PortPool;
use crate::media::relay::{Remote, Side as MediaSide};
use crate::routing::{x_headers, CallTags, Router, Target};
use crate::sip::auth::{challenges, choose, Challenge};
use crate::sip::ids::IdGenerator;
use crate::sip::message::{HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri};
use crate::sip::transaction::{ClientTransactionId, ServerTransactionId, TransactionLayer};
use crate::sip::transport::{response_target, ListenerId, Peer, Transport};

use super::call::{Call, CallMedia, Transfer};
use super::dialog::{contact_uri, Dialog};
use super::leg::{Leg, LegCredentials, LegState, Pending2xx};
use super::media_bridge::{dtmf_paths, payload_maps, rewrite_answer, rewrite_offer, transcodes};
use super::record::{CallRecord, Direction, HangupCause, LegMediaStats, MediaSummary};

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
pub struct ListenerInfo {
    pub name: String,
    pub side: Side,
    pub advertised: SocketAddr,
    /// Configured public address (NAT): replaces `advertised`'s IP.
    pub public: Option<IpAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Retransmit the 2xx this leg is waiting to have ACKed.
    Retransmit2xx,
    /// The callee has said nothing since our INVITE: next target.
    Failover,
    /// A transferor that has not hung up after a completed transfer.
    DetachedBye,
    /// RFC 4028: no session refresh arrived in time.
    SessionExpiry,
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
    timers: BTreeSet<(Instant, u64, usize, TimerKind)>,
    history: VecDeque<CallRecord>,
    /// Addresses of target hosts that are names, filled by the shell.
    resolved: HashMap<String, Vec<SocketAddr>>,
    stats: CallStats,
    ports: Option<PortPool>,
    /// Which sources calls' media is taken from (`[media] source`...).
    sources: SourceRules,
    media_out: VecDeque<MediaCommand>,
    /// Per listener, a public IP a registrar reported (NAT).
    learned_public: Vec<Option<IpAddr>>,
    /// Emergency calls in progress, whose messages pass the rate limit.
    emergency_live: Vec<u64>,
}

impl B2bua {
    pub fn new(cfg: B2buaConfig, ids: IdGenerator, now: Instant, wall: SystemTime) -> B2bua {
        let cfg_ports = (cfg.media.port_min, cfg.media.port_max);
        B2bua {
            sources: SourceRules::from_config(&cfg.media),
            cfg,
            ids,
            epoch: (now, wall),
            calls: HashMap::new(),
            next_call: 1,
            servers: HashMap::new(),
            clients: HashMap::new(),
            dialogs: HashMap::new(),
            timers: BTreeSet::new(),
            history: VecDeque::new(),
            resolved: HashMap::new(),
            stats: CallStats::default(),
            ports: PortPool::new(cfg_ports.0, cfg_ports.1).ok(),
            media_out: VecDeque::new(),
            learned_public: Vec::new(),
            emergency_live: Vec::new(),
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
                .is_some_and(|c| c.legs.iter().any(|l| l.dialog.call_id == call_id))
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
    pub fn set_resolved(&mut self, host: &str, addrs: Vec<SocketAddr>) {
        self.resolved.insert(host.to_ascii_lowercase(), addrs);
    }

    /// Host names of route targets that need DNS before calls can use them.
    pub fn names_to_resolve(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .cfg
            .router
            .routes()
            .flat_map(|r| r.targets.iter())
            .filter_map(|t| match &t.uri.host {
                Host::Domain(n) => Some(n.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().next().map(|t| t.0)
    }

    // ----- requests ---------------------------------------------------

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
            return self.handle_stray_response(tx, &resp);
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
                call.legs[leg].offer_in_flight = false;
            }
            ClientRole::Rebridge | ClientRole::Fire => {}
        });
        true
    }

    /// A 2xx retransmission that matched no transaction: re-send our ACK.
    pub fn handle_stray_response(&mut self, tx: &mut TransactionLayer, resp: &Response) -> bool {
        if !resp.is_success() {
            return false;
        }
        let (Some(call_id), Some(tag)) = (resp.headers.call_id(), resp.headers.from_tag()) else {
            return false;
        };
        let Some(&(cid, leg)) = self.dialogs.get(&(call_id.to_string(), tag)) else {
            return false;
        };
        if let Some(l) = self.calls.get(&cid).and_then(|c| c.legs.get(leg)) {
            if let Some(ack) = &l.last_ack {
                tx.send_stateless(l.dialog.peer, ack.clone());
            }
        }
        true
    }

    pub fn handle_timeout(&mut self, tx: &mut TransactionLayer, now: Instant) {
        while let Some(&first) = self.timers.iter().next() {
            if first.0 > now {
                break;
            }
            self.timers.remove(&first);
            let (_, cid, leg, kind) = first;
            self.with_call(tx, cid, now, |b, tx, call| {
                b.timer_fired(tx, call, leg, kind, now)
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

    // ----- call set-up ------------------------------------------------

    fn new_call(
        &mut self,
        tx: &mut TransactionLayer,
        id: ServerTransactionId,
        req: Request,
        from: Peer,
        now: Instant,
    ) {
        let tag = self.tag();
        let side = self.side_of(from.listener);
        let reply_to = response_target(&from, req.headers.top_via().ok().as_ref());
        let dialog = match Dialog::for_uas(&req, &tag, reply_to) {
            Ok(d) => d,
            Err(e) => {
                let r = Response::for_request(&req, 400, Some(&tag))
                    .with_reason(&format!("Bad Request ({e})"));
                self.respond(tx, id, r, now);
                return;
            }
        };
        let emergency = self
            .cfg
            .router
            .emergency_number(&req, side)
            .map(str::to_string);
        let record = CallRecord {
            emergency: emergency.is_some(),
            ..self.new_record(&req, side, now)
        };
        if let Some(number) = &emergency {
            self.stats.emergency += 1;
            if self.calls.len() >= self.cfg.calls.max_concurrent {
                warn!(call_id = %record.caller_call_id, number = %number, limit = self.cfg.calls.max_concurrent, "emergency call admitted over the concurrent-call limit");
            }
        } else if self.calls.len() >= self.cfg.calls.max_concurrent {
            self.stats.rejected_busy += 1;
            let mut r = Response::for_request(&req, 503, Some(&tag))
                .with_reason("Service Unavailable (call limit reached)");
            r.headers.push(
                HeaderName::RetryAfter,
                self.cfg.calls.retry_after_s.to_string(),
            );
            self.respond(tx, id, r, now);
            warn!(limit = self.cfg.calls.max_concurrent, call_id = %record.caller_call_id, "call refused: concurrent-call limit reached");
            self.finish_record(record, 503, HangupCause::Busy, now);
            return;
        }
        let Some(route) = self.cfg.router.route(&req, side) else {
            self.stats.no_route += 1;
            let r = Response::for_request(&req, 480, Some(&tag))
                .with_reason("Temporarily Unavailable (no route matches)");
            self.respond(tx, id, r, now);
            if let Some(number) = &emergency {
                warn!(call_id = %record.caller_call_id, caller = %record.from, number = %number, "emergency call has no route: set [emergency] route or add a LAN route");
            }
            info!(call_id = %record.caller_call_id, from = %record.from, to = %record.to, "no route matches the call");
            self.finish_record(record, 480, HangupCause::NoRoute, now);
            return;
        };
        let mut anchor = self.cfg.calls.sdp == SdpMode::Anchor && !req.body.is_empty();
        if anchor && emergency.is_some() && self.media_ports_short() {
            // A 503 is worse than media that bypasses the gateway: the
            // SDP passes unchanged and the ends exchange RTP directly.
            warn!(call_id = %record.caller_call_id, "media port range exhausted: the emergency call's media is not anchored");
            anchor = false;
        }
        let media = if anchor {
            let caller_ip = self.advertised(from.listener).ip();
            // Checked now, so an unusable offer is refused before any
            // target is called.
            if let Err(refusal) = rewrite_offer(&req.body, caller_ip, 0, DtmfMode::Auto) {
                let r = Response::for_request(&req, 488, Some(&tag))
                    .with_reason(&format!("Not Acceptable Here ({})", refusal.reason));
                self.respond(tx, id, r, now);
                info!(call_id = %record.caller_call_id, reason = %refusal.reason, "offer refused");
                self.finish_record(record, 488, HangupCause::MediaFailed, now);
                return;
            }
            let ports = self.ports.as_mut().and_then(|p| {
                let a = p.allocate()?;
                match p.allocate() {
                    Some(b) => Some((a, b)),
                    None => {
                        p.release(a);
                        None
                    }
                }
            });
            let Some((caller_port, callee_port)) = ports else {
                let mut r = Response::for_request(&req, 503, Some(&tag))
                    .with_reason("Service Unavailable (no media ports left)");
                r.headers.push(
                    HeaderName::RetryAfter,
                    self.cfg.calls.retry_after_s.to_string(),
                );
                self.respond(tx, id, r, now);
                warn!(call_id = %record.caller_call_id, "media port range exhausted: widen [media] port_min..port_max");
                self.finish_record(record, 503, HangupCause::Busy, now);
                return;
            };
            Some(CallMedia {
                caller_local: SocketAddr::new(caller_ip, caller_port),
                // The callee side's address is known with the first target.
                callee_local: SocketAddr::new(caller_ip, callee_port),
                opened: false,
                caller_offer: None,
                pending_offer: None,
                caller_dtmf: route.caller_dtmf,
                callee_dtmf: DtmfMode::Auto,
            })
        } else {
            None
        };
        self.stats.started += 1;
        let local = self.advertised(from.listener);
        let custom_headers = route.headers.apply(&req.headers);
        let mut leg = Leg::new(dialog, local, from.transport, req);
        leg.invite_server = Some(id);
        leg.state = LegState::Early;
        let cid = self.next_call;
        self.next_call += 1;
        let mut record = record;
        record.route = Some(route.name.clone());
        info!(call = %record.id, route = %route.name, from = %record.from, to = %record.to, afid = record.retreaver_afid.as_deref().unwrap_or("-"), "new call");
        let mut call = Call {
            id: cid,
            record,
            route: Some(route),
            legs: vec![leg],
            callee: None,
            next_target: 0,
            redirects: 0,
            last_failure: None,
            custom_headers,
            transfer: None,
            session_deadline: None,
            media,
        };
        call.record.media_session = call.media.as_ref().map(|_| cid);
        if call.record.emergency {
            self.emergency_live.push(cid);
        }
        self.servers.insert(id, (cid, 0, ServerRole::Invite));
        self.dialogs.insert(
            (
                call.legs[0].dialog.call_id.clone(),
                call.legs[0].dialog.local_tag.clone(),
            ),
            (cid, 0),
        );
        self.try_next_target(tx, &mut call, now);
        self.put_back(call);
    }

    fn new_record(&mut self, req: &Request, side: Side, now: Instant) -> CallRecord {
        let tags = CallTags::extract(&req.headers);
        let user_of = |v: Option<&str>, what: &str| {
            v.and_then(|v| NameAddr::parse(v, what).ok())
                .map(|na| na.uri.to_string())
                .unwrap_or_default()
        };
        CallRecord {
            id: format!("{:016x}", self.ids.u64()),
            direction: match side {
                Side::Wan => Direction::Inbound,
                Side::Lan => Direction::Outbound,
            },
            caller_call_id: req.headers.call_id().unwrap_or_default().to_string(),
            callee_call_id: None,
            from: user_of(req.headers.get(&HeaderName::From), "From"),
            to: user_of(req.headers.get(&HeaderName::To), "To"),
            route: None,
            emergency: false,
            target: None,
            retreaver_uuid: tags.uuid,
            retreaver_key: tags.key,
            retreaver_afid: tags.afid,
            retreaver_sid: tags.sid,
            x_headers: x_headers(&req.headers),
            callee_x_headers: Vec::new(),
            diversion: None,
            started: self.wall(now),
            answered: None,
            ended: None,
            final_status: None,
            hangup_cause: None,
            media: None,
            media_session: None,
        }
    }

    /// Tries the route's next target; answers the caller when none is left.
    fn try_next_target(&mut self, tx: &mut TransactionLayer, call: &mut Call, now: Instant) {
        let Some(route) = call.route.clone() else {
            return;
        };
        while let Some(target) = route.targets.get(call.next_target) {
            call.next_target += 1;
            if call.next_target > 1 {
                self.stats.failovers += 1;
            }
            if call.record.emergency {
                let number = self
                    .cfg
                    .router
                    .emergency_number(&call.caller().invite, Side::Lan)
                    .unwrap_or_default();
                warn!(call = %call.record.id, caller = %call.record.from, number = %number, route = %route.name, target = %target.uri, "emergency call");
            }
            match self.start_target(tx, call, target, now) {
                Ok(()) => return,
                Err(why) => {
                    warn!(call = %call.record.id, target = %target.uri, "{why}; trying the next target");
                    call.last_failure =
                        Some((480, "Temporarily Unavailable (target unreachable)".into()));
                }
            }
        }
        let (status, reason) = call
            .last_failure
            .clone()
            .unwrap_or((480, "Temporarily Unavailable".into()));
        self.stats.failed += 1;
        self.fail_caller(tx, call, status, &reason, None, now);
        call.record
            .hangup_cause
            .get_or_insert(HangupCause::NoAnswer);
    }

    fn start_target(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        target: &Target,
        now: Instant,
    ) -> Result<(), String> {
        let transport = match target.transport {
            TransportName::Udp => Transport::Udp,
            TransportName::Tcp => Transport::Tcp,
        };
        let account = target
            .account
            .as_ref()
            .and_then(|n| self.cfg.accounts.iter().find(|a| &a.name == n))
            .cloned();
        let credentials = match (&target.credentials, &account) {
            (Some(c), _) => Some(LegCredentials {
                username: c.username.clone(),
                password: c.password.clone(),
            }),
            (None, Some(a)) if !a.password.is_empty() => Some(LegCredentials {
                username: a
                    .auth_username
                    .clone()
                    .unwrap_or_else(|| a.username.clone()),
                password: a.password.clone(),
            }),
            _ => None,
        };
        let identity = account.as_ref().map(|a| {
            let domain = a.domain.clone().unwrap_or_else(|| {
                Uri::parse(&a.registrar)
                    .ok()
                    .and_then(|u| u.as_sip().map(|s| s.host.to_string()))
                    .unwrap_or_default()
            });
            format!("sip:{}@{}", a.username, domain)
        });
        let mut extra = target.extra_headers.clone();
        extra.retain(|(n, _)| !call.custom_headers.iter().any(|(c, _)| c == n));
        let spec = CalleeSpec {
            uri: target.uri.clone(),
            transport,
            credentials,
            identity,
            extra_headers: extra,
            diversion: None,
            referred_by: None,
            dtmf: target.dtmf,
        };
        self.start_callee(tx, call, spec, now).map(|_| ())
    }

    /// Sends an INVITE for a new callee leg and makes it the call's callee.
    fn start_callee(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        spec: CalleeSpec,
        now: Instant,
    ) -> Result<usize, String> {
        let dest = self
            .address_of(&spec.uri)
            .ok_or_else(|| format!("no address known for {}", spec.uri.host))?;
        let caller_side = self.side_of(call.caller().dialog.peer.listener);
        let listener = self
            .listener_for(caller_side, dest.ip())
            .ok_or("no listener on the callee side")?;
        let local = self.advertised(listener);
        let caller = call.caller();
        let caller_from = caller.invite.headers.from_addr().ok();
        let display = caller_from.as_ref().and_then(|f| f.display.clone());
        let from_uri = match &spec.identity {
            Some(id) => id.clone(),
            None => {
                let user = caller_from
                    .as_ref()
                    .and_then(|f| f.uri.as_sip().and_then(|s| s.user.clone()))
                    .unwrap_or_else(|| "anonymous".into());
                format!("sip:{user}@{local}")
            }
        };
        let local_addr = match display {
            Some(d) => format!("{d} <{from_uri}>"),
            None => format!("<{from_uri}>"),
        };
        let request_uri = Uri::Sip(spec.uri.clone());
        let peer = Peer {
            listener,
            transport: spec.transport,
            remote: dest,
            connection: None,
        };
        let dialog = Dialog {
            call_id: self.ids.call_id(),
            local_tag: self.tag(),
            remote_tag: None,
            local_addr,
            remote_addr: format!("<{request_uri}>"),
            local_cseq: 0,
            remote_cseq: None,
            remote_target: request_uri.clone(),
            route_set: Vec::new(),
            peer,
        };
        let max_forwards = caller
            .invite
            .headers
            .get(&HeaderName::MaxForwards)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .clamp(1, 70)
            - 1;
        let mut body = caller.invite.body.clone();
        if let Some(m) = call.media.as_mut() {
            m.callee_local = SocketAddr::new(local.ip(), m.callee_local.port());
            m.callee_dtmf = spec.dtmf;
            match rewrite_offer(&body, local.ip(), m.callee_local.port(), spec.dtmf) {
                Ok(offer) => {
                    body = offer.body;
                    if !m.opened {
                        m.opened = true;
                        self.media_out.push_back(MediaCommand::Open {
                            session: call.id,
                            caller_local: m.caller_local,
                            callee_local: m.callee_local,
                            timeout: Duration::from_secs(self.cfg.media.timeout_s),
                            sources: self.sources.clone(),
                        });
                        self.media_out.push_back(MediaCommand::SetRemote {
                            session: call.id,
                            side: MediaSide::Caller,
                            remote: Remote {
                                signalled: offer.offerer_remote,
                                payload_types: offer.offerer_payload_types,
                            },
                        });
                    }
                    m.caller_offer = Some(offer.offered);
                }
                Err(r) => return Err(format!("cannot offer media: {}", r.reason)),
            }
        }
        let caller = call.caller();
        let content_type = caller
            .invite
            .headers
            .get(&HeaderName::ContentType)
            .map(str::to_string);
        let mut leg = Leg::new(
            dialog,
            local,
            spec.transport,
            Request::new(Method::Invite, request_uri),
        );
        let mut invite = leg.dialog.request(Method::Invite);
        let h = &mut invite.headers;
        h.set(HeaderName::MaxForwards, max_forwards.to_string());
        h.push_front(HeaderName::Via, leg.via(&self.branch()));
        h.push(HeaderName::Contact, leg.contact());
        h.push(HeaderName::Allow, CALL_ALLOW);
        h.push(HeaderName::UserAgent, self.cfg.user_agent.as_str());
        if let Some(d) = &spec.diversion {
            h.push(HeaderName::Other("Diversion".into()), d.as_str());
        }
        if let Some(r) = &spec.referred_by {
            h.push(HeaderName::ReferredBy, r.as_str());
        }
        // RFC 4028 is end to end through the gateway: the caller's request
        // goes to the callee, the callee's answer back, and the refreshes
        // are relayed; the gateway only enforces the expiry.
        for (name, value) in session_timer_headers(&caller.invite.headers) {
            h.push(name, value);
        }
        for (n, v) in call.custom_headers.iter().chain(spec.extra_headers.iter()) {
            h.push(n.clone(), v.as_str());
        }
        if !body.is_empty() {
            h.push(
                HeaderName::ContentType,
                content_type.unwrap_or_else(|| "application/sdp".into()),
            );
            invite.body = body;
        }
        leg.credentials = spec.credentials;
        leg.target = Some(spec.uri.to_string());
        leg.invite = invite.clone();
        let client = tx
            .send_request(invite, peer, now)
            .map_err(|e| format!("cannot send the INVITE: {e}"))?;
        leg.invite_client = Some(client);
        let index = call.legs.len();
        self.clients
            .insert(client, (call.id, index, ClientRole::Invite));
        self.dialogs.insert(
            (leg.dialog.call_id.clone(), leg.dialog.local_tag.clone()),
            (call.id, index),
        );
        let failover_at = now + Duration::from_millis(self.cfg.calls.failover_timeout_ms);
        self.timers
            .insert((failover_at, call.id, index, TimerKind::Failover));
        debug!(call = %call.record.id, target = %spec.uri, %dest, "INVITE sent to the callee");
        call.legs.push(leg);
        if call.transfer.is_none() || call.callee.is_none() {
            call.callee = Some(index);
            call.record.callee_call_id = Some(call.legs[index].dialog.call_id.clone());
            call.record.target = call.legs[index].target.clone();
        }
        Ok(index)
    }

    // ----- responses to the callee INVITE -----------------------------

    fn callee_invite_response(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ClientTransactionId,
        resp: Response,
        now: Instant,
    ) {
        let status = resp.status;
        {
            let l = &mut call.legs[leg];
            l.heard_from = true;
            if status > 100 && status < 300 && resp.headers.to_tag().is_some() {
                l.dialog.update_from_response(&resp);
                if l.state == LegState::Calling {
                    l.state = LegState::Early;
                }
            }
        }
        if status == 100 {
            return;
        }
        let is_transfer = call.transfer.map(|t| t.leg) == Some(leg);
        let current = Some(leg) == call.callee || is_transfer;
        let unwanted = !current || call.legs[leg].abandoned || call.legs[leg].cancel_pending;
        if status < 200 {
            call.legs[leg].provisional = true;
            if unwanted {
                if let Some(cancel) = tx.cancel_request(id) {
                    self.fire(tx, call, leg, cancel, now);
                }
                return;
            }
            if !is_transfer && !call.caller().final_sent {
                let mut r = self.caller_response(call, status, &resp.reason, Some(&resp));
                match self.anchor_answer(call, &resp) {
                    Ok(Some(body)) => r.body = body,
                    Ok(None) => {}
                    Err(why) => {
                        // An early answer we cannot use: ring without it.
                        debug!(call = %call.record.id, "provisional SDP not relayed: {why}");
                        r.body.clear();
                        r.headers.remove(&HeaderName::ContentType);
                    }
                }
                if let Some(server) = call.legs[0].invite_server {
                    self.respond(tx, server, r, now);
                }
            }
            return;
        }
        if resp.is_success() {
            call.legs[leg].state = LegState::Confirmed;
            let seq = call.legs[leg].dialog.local_cseq;
            if unwanted {
                // A late answer from a leg we gave up on: take it and hang up.
                self.send_ack(tx, call, leg, &resp, None);
                self.send_bye(tx, call, leg, now);
                return;
            }
            if is_transfer {
                self.transfer_answered(tx, call, leg, &resp, now);
                return;
            }
            let anchored = match self.anchor_answer(call, &resp) {
                Ok(b) => b,
                Err(why) => {
                    warn!(call = %call.record.id, "the callee's answer cannot be anchored: {why}");
                    self.send_ack(tx, call, leg, &resp, None);
                    self.send_bye(tx, call, leg, now);
                    call.record.hangup_cause = Some(HangupCause::MediaFailed);
                    let reason = format!("Not Acceptable Here ({why})");
                    self.fail_caller(tx, call, 488, &reason, None, now);
                    return;
                }
            };
            call.record.callee_x_headers = x_headers(&resp.headers);
            call.record.answered = Some(self.wall(now));
            call.record.final_status = Some(status);
            self.stats.answered += 1;
            info!(call = %call.record.id, target = call.legs[leg].target.as_deref().unwrap_or("-"), "call answered");
            let mut r = self.caller_response(call, status, &resp.reason, Some(&resp));
            if let Some(body) = anchored {
                r.body = body;
            }
            self.answer_with_2xx(tx, call, 0, r, leg, seq, now);
            self.arm_session_timer(call, &resp, now);
            return;
        }
        // 3xx-6xx: the transaction layer has ACKed it.
        call.legs[leg].state = LegState::Terminated;
        if unwanted {
            return;
        }
        if is_transfer {
            self.transfer_failed(tx, call, leg, &resp, now);
            return;
        }
        match status {
            300..=399 => self.follow_redirect(tx, call, leg, &resp, now),
            401 | 407 => {
                if !self.retry_with_credentials(tx, call, leg, &resp, now) {
                    self.callee_failed(
                        tx,
                        call,
                        leg,
                        403,
                        "Forbidden (the target asks for credentials the route does not have)"
                            .into(),
                        now,
                    );
                }
            }
            _ => {
                call.record.callee_x_headers = x_headers(&resp.headers);
                self.callee_failed_with(tx, call, leg, &resp, now)
            }
        }
    }

    /// A callee failed with `resp`: the next target for 408/5xx, else the
    /// answer goes back to the caller (486, 603, 404, ...).
    fn callee_failed_with(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        if resp.status == 408 || (500..600).contains(&resp.status) {
            self.callee_failed(tx, call, leg, resp.status, resp.reason.clone(), now);
            return;
        }
        info!(call = %call.record.id, status = resp.status, "callee refused the call");
        self.stats.failed += 1;
        call.record.hangup_cause = Some(HangupCause::Rejected);
        self.fail_caller(tx, call, resp.status, &resp.reason.clone(), Some(resp), now);
    }

    /// The callee is out (timeout, 408, 5xx): fail over to the next target.
    fn callee_failed(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        status: u16,
        reason: String,
        now: Instant,
    ) {
        info!(call = %call.record.id, target = call.legs[leg].target.as_deref().unwrap_or("-"), status, "target failed");
        // 503 from a PBX means "this PBX", not "the gateway": never tell
        // the platform to back off from us.
        let (status, reason) = if status == 503 {
            (480, "Temporarily Unavailable".to_string())
        } else {
            (status, reason)
        };
        call.last_failure = Some((status, reason));
        if call.caller().final_sent {
            return;
        }
        self.try_next_target(tx, call, now);
    }

    fn retry_with_credentials(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) -> bool {
        let Some(creds) = call.legs[leg].credentials.clone() else {
            return false;
        };
        let header = if resp.status == 407 {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        let offered: Vec<Challenge> = challenges(&resp.headers, &header)
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        let Some(challenge) = choose(&offered).cloned() else {
            return false;
        };
        let l = &mut call.legs[leg];
        // One retry per challenge, plus one for a stale nonce.
        if l.auth_attempts >= 1 && !challenge.stale {
            return false;
        }
        if l.auth_attempts >= 3 {
            return false;
        }
        l.auth_attempts += 1;
        let mut invite = l.invite.clone();
        let uri = invite.uri.to_string();
        let cnonce = self.ids.cnonce();
        let auth = match l.digest.authorize(
            &challenge,
            &creds.username,
            &creds.password,
            &Method::Invite,
            &uri,
            &cnonce,
        ) {
            Ok(a) => a,
            Err(e) => {
                warn!(call = %call.record.id, error = %e, "cannot answer the callee's challenge");
                return false;
            }
        };
        l.dialog.local_cseq += 1;
        let seq = l.dialog.local_cseq;
        let h = &mut invite.headers;
        h.remove(&HeaderName::Via);
        h.push_front(HeaderName::Via, l.via(&self.ids.branch()));
        h.set(HeaderName::CSeq, format!("{seq} INVITE"));
        let name = if resp.status == 407 {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        h.remove(&name);
        h.push(name, auth.to_header_value());
        l.invite = invite.clone();
        l.state = LegState::Calling;
        l.provisional = false;
        let peer = l.dialog.peer;
        match tx.send_request(invite, peer, now) {
            Ok(id) => {
                l.invite_client = Some(id);
                self.clients.insert(id, (call.id, leg, ClientRole::Invite));
                debug!(call = %call.record.id, status = resp.status, "INVITE re-sent with credentials");
                true
            }
            Err(e) => {
                warn!(call = %call.record.id, error = %e, "cannot re-send the INVITE");
                false
            }
        }
    }

    fn follow_redirect(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let contact = contact_uri(resp.headers.get(&HeaderName::Contact));
        let Some(Uri::Sip(uri)) = contact.filter(|_| call.redirects < self.cfg.calls.max_redirects)
        else {
            let r = resp.clone();
            self.callee_failed_with(
                tx,
                call,
                leg,
                &Response {
                    status: 480,
                    reason: "Temporarily Unavailable (redirect not followed)".into(),
                    ..r
                },
                now,
            );
            return;
        };
        call.redirects += 1;
        self.stats.redirects += 1;
        let from_target = call.legs[leg].target.clone().unwrap_or_default();
        info!(call = %call.record.id, from = %from_target, to = %uri, "callee forwarded the call");
        // The forwarded call is a new call in the records, carrying the
        // diversion (as push-API carriers report it).
        let mut old = call.record.clone();
        old.final_status = Some(resp.status);
        old.hangup_cause = Some(HangupCause::Forwarded);
        old.ended = Some(self.wall(now));
        self.push_history(old);
        call.record.id = format!("{:016x}", self.ids.u64());
        call.record.diversion = Some(from_target.clone());
        call.record.started = self.wall(now);
        let diversion = format!(
            "<{from_target}>;reason=unconditional;counter={}",
            call.redirects
        );
        let prev = &call.legs[leg];
        let spec = CalleeSpec {
            uri,
            transport: prev.transport,
            credentials: prev.credentials.clone(),
            identity: None,
            extra_headers: Vec::new(),
            diversion: Some(diversion),
            referred_by: None,
            // The redirect stands in for the target: same way of DTMF.
            dtmf: call
                .media
                .as_ref()
                .map_or(DtmfMode::Auto, |m| m.callee_dtmf),
        };
        if let Err(why) = self.start_callee(tx, call, spec, now) {
            warn!(call = %call.record.id, "cannot follow the redirect: {why}");
            self.callee_failed(
                tx,
                call,
                leg,
                480,
                "Temporarily Unavailable (redirect target unreachable)".into(),
                now,
            );
        }
    }

    // ----- caller side ------------------------------------------------

    fn caller_cancelled(&mut self, tx: &mut TransactionLayer, call: &mut Call, now: Instant) {
        if call.caller().final_sent {
            return; // §9.2: too late, the CANCEL changes nothing.
        }
        info!(call = %call.record.id, "caller cancelled");
        call.record.hangup_cause = Some(HangupCause::Cancelled);
        self.fail_caller(tx, call, 487, "Request Terminated", None, now);
        let callees: Vec<usize> = (1..call.legs.len()).collect();
        for leg in callees {
            self.cancel_callee(tx, call, leg, now);
        }
    }

    fn cancel_callee(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        now: Instant,
    ) {
        let l = &mut call.legs[leg];
        if !matches!(l.state, LegState::Calling | LegState::Early) || l.cancel_pending {
            return;
        }
        l.cancel_pending = true;
        if l.provisional {
            if let Some(cancel) = l.invite_client.and_then(|id| tx.cancel_request(id)) {
                self.fire(tx, call, leg, cancel, now);
            }
        }
        // Else the CANCEL goes when the first provisional arrives (§9.1).
    }

    /// A final non-2xx to the caller's INVITE; the call ends.
    fn fail_caller(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        status: u16,
        reason: &str,
        from: Option<&Response>,
        now: Instant,
    ) {
        if call.caller().final_sent {
            return;
        }
        let r = self.caller_response(call, status, reason, from);
        if let Some(id) = call.legs[0].invite_server {
            self.respond(tx, id, r, now);
        }
        call.legs[0].final_sent = true;
        call.legs[0].state = LegState::Terminated;
        call.record.final_status = Some(status);
        call.record.ended = Some(self.wall(now));
    }

    /// A response to the caller's INVITE built from the callee's.
    fn caller_response(
        &self,
        call: &Call,
        status: u16,
        reason: &str,
        from: Option<&Response>,
    ) -> Response {
        let caller = call.caller();
        let mut r = Response::for_request(&caller.invite, status, Some(&caller.dialog.local_tag));
        r.reason = crate::sip::message::reason_phrase(status).to_string();
        if !reason.is_empty() && !reason.contains(['\r', '\n']) {
            r.reason = reason.to_string();
        }
        if (101..300).contains(&status) {
            for rr in caller.invite.headers.values(&HeaderName::RecordRoute) {
                r.headers.push(HeaderName::RecordRoute, rr);
            }
            r.headers.push(HeaderName::Contact, caller.contact());
        }
        if status >= 200 {
            r.headers.push(HeaderName::Allow, CALL_ALLOW);
        }
        r.headers
            .push(HeaderName::Server, self.cfg.user_agent.as_str());
        if let Some(src) = from {
            for h in src.headers.iter() {
                if is_x_header(h.name.as_str()) {
                    r.headers.push(h.name.clone(), h.value.as_str());
                }
            }
            if status < 300 {
                for (name, value) in session_timer_headers(&src.headers) {
                    r.headers.push(name, value);
                }
            }
            if !src.body.is_empty() && status < 300 {
                if let Some(ct) = src.headers.get(&HeaderName::ContentType) {
                    r.headers.push(HeaderName::ContentType, ct);
                }
                r.body = src.body.clone();
            }
        }
        r
    }

    /// Sends a 2xx on `leg`'s server transaction and keeps retransmitting
    /// it until the ACK, which is then passed on as the ACK of
    /// (`ack_leg`, `ack_seq`).
    #[allow(clippy::too_many_arguments)]
    fn answer_with_2xx(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: Response,
        ack_leg: usize,
        ack_seq: u32,
        now: Instant,
    ) {
        let server = if leg == 0 && !call.legs[0].final_sent {
            call.legs[0].invite_server
        } else {
            None
        };
        self.answer_2xx_on(tx, call, leg, server, resp, ack_leg, ack_seq, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_2xx_on(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        server: Option<ServerTransactionId>,
        resp: Response,
        ack_leg: usize,
        ack_seq: u32,
        now: Instant,
    ) {
        let Some(server) = server else { return };
        self.respond(tx, server, resp.clone(), now);
        let cseq = resp.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let l = &mut call.legs[leg];
        if leg == 0 {
            l.final_sent = true;
            l.state = LegState::Confirmed;
        }
        l.pending_2xx = Some(Pending2xx {
            server,
            response: resp,
            cseq,
            interval: self.cfg.t1,
            next: now + self.cfg.t1,
            give_up: now + self.cfg.t1 * 64,
        });
        l.ack_owed = Some((ack_leg, ack_seq));
        self.timers
            .insert((now + self.cfg.t1, call.id, leg, TimerKind::Retransmit2xx));
    }

    fn ack_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        req: Request,
        _now: Instant,
    ) {
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let l = &mut call.legs[leg];
        match &l.pending_2xx {
            Some(p) if p.cseq == seq => {}
            _ => return, // a retransmitted ACK, or one for nothing pending
        }
        l.pending_2xx = None;
        if let Some((other, other_seq)) = l.ack_owed.take() {
            if call
                .legs
                .get(other)
                .is_some_and(|o| o.state == LegState::Confirmed)
            {
                let body = (!req.body.is_empty()).then(|| {
                    (
                        req.headers
                            .get(&HeaderName::ContentType)
                            .unwrap_or("application/sdp")
                            .to_string(),
                        req.body.clone(),
                    )
                });
                self.send_ack_seq(tx, call, other, other_seq, body);
            }
        }
    }

    fn send_ack(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        body: Option<(String, Vec<u8>)>,
    ) {
        let seq = resp
            .headers
            .cseq()
            .map(|c| c.seq)
            .unwrap_or(call.legs[leg].dialog.local_cseq);
        self.send_ack_seq(tx, call, leg, seq, body);
    }

    fn send_ack_seq(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        seq: u32,
        body: Option<(String, Vec<u8>)>,
    ) {
        let branch = self.branch();
        let l = &mut call.legs[leg];
        let mut ack = l.dialog.ack(seq);
        ack.headers.push_front(HeaderName::Via, l.via(&branch));
        if let Some((ct, b)) = body {
            ack.headers.push(HeaderName::ContentType, ct);
            ack.body = b;
        }
        let bytes = ack.to_bytes();
        tx.send_stateless(l.dialog.peer, bytes.clone());
        l.last_ack = Some(bytes);
    }

    // ----- in-dialog requests -----------------------------------------

    fn in_dialog_request(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: Request,
        now: Instant,
    ) {
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if !call.legs[leg].dialog.accept_remote_cseq(seq, &req.method) {
            let r = Response::for_request(&req, 500, None)
                .with_reason("Server Internal Error (CSeq out of order)");
            self.respond(tx, id, r, now);
            return;
        }
        match req.method {
            Method::Bye => self.bye_received(tx, call, leg, id, &req, now),
            Method::Refer if leg != 0 && call.legs[leg].state == LegState::Confirmed => {
                self.refer_received(tx, call, leg, id, &req, now)
            }
            _ => self.relay_request(tx, call, leg, id, req, now),
        }
    }

    fn bye_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: &Request,
        now: Instant,
    ) {
        let ok = Response::for_request(req, 200, None);
        self.respond(tx, id, ok, now);
        let was_live = call.legs[leg].is_live();
        call.legs[leg].state = LegState::Terminated;
        call.legs[leg].pending_2xx = None;
        if !was_live {
            return;
        }
        let Some(peer) = call.peer_of(leg) else {
            // A transferor leaving after the transfer: nothing else to end.
            return;
        };
        let cause = if leg == 0 {
            HangupCause::CallerHangup
        } else {
            HangupCause::CalleeHangup
        };
        info!(call = %call.record.id, cause = ?cause, "hangup");
        self.end_call(tx, call, Some(leg), cause, now);
        let _ = peer;
    }

    /// Ends the call on every live leg except `except`.
    fn end_call(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        except: Option<usize>,
        cause: HangupCause,
        now: Instant,
    ) {
        call.record.hangup_cause.get_or_insert(cause);
        call.record.ended.get_or_insert(self.wall(now));
        for leg in 0..call.legs.len() {
            if Some(leg) == except {
                continue;
            }
            match call.legs[leg].state {
                LegState::Confirmed => self.send_bye(tx, call, leg, now),
                LegState::Calling | LegState::Early if leg != 0 => {
                    self.cancel_callee(tx, call, leg, now)
                }
                _ => {}
            }
        }
    }

    fn send_bye(&mut self, tx: &mut TransactionLayer, call: &mut Call, leg: usize, now: Instant) {
        let l = &mut call.legs[leg];
        if l.state == LegState::Terminated {
            return;
        }
        l.state = LegState::Terminated;
        l.pending_2xx = None;
        let bye = l.dialog.request(Method::Bye);
        self.fire(tx, call, leg, bye, now);
    }

    /// Sends a request on `leg` whose answer changes nothing (BYE, CANCEL,
    /// NOTIFY). A CANCEL arrives with its Via; the others get one here.
    fn fire(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        mut req: Request,
        now: Instant,
    ) {
        let l = &call.legs[leg];
        if req.method != Method::Cancel {
            req.headers
                .push_front(HeaderName::Via, l.via(&self.branch()));
            req.headers
                .push(HeaderName::UserAgent, self.cfg.user_agent.as_str());
        }
        match tx.send_request(req, l.dialog.peer, now) {
            Ok(id) => {
                self.clients.insert(id, (call.id, leg, ClientRole::Fire));
            }
            Err(e) => debug!(call = %call.record.id, error = %e, "could not send"),
        }
    }

    /// Passes an in-dialog request (re-INVITE, UPDATE, INFO, ...) to the
    /// bridged leg; its answer comes back the same way.
    fn relay_request(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: Request,
        now: Instant,
    ) {
        let Some(other) = call
            .peer_of(leg)
            .filter(|&o| call.legs[o].state == LegState::Confirmed)
        else {
            let r = Response::for_request(&req, 481, None)
                .with_reason("Call/Transaction Does Not Exist (no bridged leg)");
            self.respond(tx, id, r, now);
            return;
        };
        let offer = matches!(req.method, Method::Invite | Method::Update);
        if offer && (call.legs[other].offer_in_flight || call.legs[leg].offer_in_flight) {
            let r = Response::for_request(&req, 491, None);
            self.respond(tx, id, r, now);
            return;
        }
        let branch = self.branch();
        let o = &mut call.legs[other];
        let mut out = o.dialog.request(req.method.clone());
        let h = &mut out.headers;
        h.push_front(HeaderName::Via, o.via(&branch));
        if offer {
            h.push(HeaderName::Contact, o.contact());
            o.offer_in_flight = true;
        }
        for hdr in req.headers.iter() {
            let carry = is_x_header(hdr.name.as_str())
                || matches!(
                    hdr.name,
                    HeaderName::ContentType
                        | HeaderName::Event
                        | HeaderName::SessionExpires
                        | HeaderName::Subject
                )
                || hdr.name.as_str().eq_ignore_ascii_case("Subscription-State")
                || hdr.name.as_str().eq_ignore_ascii_case("Info-Package");
            if carry {
                h.push(hdr.name.clone(), hdr.value.as_str());
            }
        }
        out.body = req.body.clone();
        let peer = o.dialog.peer;
        if offer && !req.body.is_empty() {
            if let Err(why) = self.anchor_offer(call, leg, other, &mut out.body) {
                call.legs[other].offer_in_flight = false;
                let r = Response::for_request(&req, 488, None)
                    .with_reason(&format!("Not Acceptable Here ({why})"));
                self.respond(tx, id, r, now);
                return;
            }
        }
        self.servers.insert(id, (call.id, leg, ServerRole::Relayed));
        match tx.send_request(out, peer, now) {
            Ok(cid) => {
                self.clients.insert(
                    cid,
                    (
                        call.id,
                        other,
                        ClientRole::Relay {
                            server: id,
                            from_leg: leg,
                            original: Box::new(req),
                        },
                    ),
                );
            }
            Err(e) => {
                call.legs[other].offer_in_flight = false;
                debug!(error = %e, "could not relay");
                self.respond(tx, id, Response::for_request(&req, 500, None), now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn relayed_response(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        server: ServerTransactionId,
        from_leg: usize,
        original: &Request,
        resp: Response,
        now: Instant,
    ) {
        if resp.status == 100 {
            return;
        }
        if resp.status >= 200 {
            call.legs[leg].offer_in_flight = false;
        }
        let mut r = Response::for_request(original, resp.status, None);
        r.reason = resp.reason.clone();
        for h in resp.headers.iter() {
            if is_x_header(h.name.as_str())
                || matches!(
                    h.name,
                    HeaderName::ContentType | HeaderName::SessionExpires | HeaderName::Require
                )
            {
                r.headers.push(h.name.clone(), h.value.as_str());
            }
        }
        if resp.status < 300 && original.method == Method::Invite {
            r.headers
                .push(HeaderName::Contact, call.legs[from_leg].contact());
        }
        r.body = resp.body.clone();
        if resp.is_success() && !resp.body.is_empty() {
            match self.anchor_reanswer(call, from_leg, leg, &resp.body) {
                Ok(Some(body)) => r.body = body,
                Ok(None) => {}
                Err(why) => {
                    // The media keeps flowing as negotiated before.
                    warn!(call = %call.record.id, "re-negotiated answer not usable: {why}");
                    r.body.clear();
                }
            }
        }
        if resp.is_success() && matches!(original.method, Method::Invite | Method::Update) {
            self.arm_session_timer(call, &resp, now);
        }
        if original.method == Method::Invite && resp.is_success() {
            let seq = resp.headers.cseq().map(|c| c.seq).unwrap_or(0);
            if call.legs[from_leg].is_live() {
                self.answer_2xx_on(tx, call, from_leg, Some(server), r, leg, seq, now);
            } else {
                self.send_ack(tx, call, leg, &resp, None);
            }
        } else {
            self.respond(tx, server, r, now);
        }
        self.servers.remove(&server);
    }

    // ----- transfer (REFER from the callee) ---------------------------

    fn refer_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: &Request,
        now: Instant,
    ) {
        let refer_to = req
            .headers
            .get(&HeaderName::ReferTo)
            .and_then(|v| NameAddr::parse(v, "Refer-To").ok());
        let Some(Uri::Sip(mut uri)) = refer_to.map(|na| na.uri) else {
            let r = Response::for_request(req, 400, None)
                .with_reason("Bad Request (Refer-To is missing or not a sip: URI)");
            self.respond(tx, id, r, now);
            return;
        };
        if call.transfer.is_some() {
            let r = Response::for_request(req, 491, None);
            self.respond(tx, id, r, now);
            return;
        }
        // Headers embedded in the Refer-To URI (?Replaces=...) are for
        // attended transfer, which the gateway does not do: drop them.
        uri.headers = None;
        let mut accepted = Response::for_request(req, 202, None);
        accepted
            .headers
            .push(HeaderName::Contact, call.legs[leg].contact());
        self.respond(tx, id, accepted, now);
        self.notify_sipfrag(tx, call, leg, "SIP/2.0 100 Trying", false, now);
        self.stats.transfers += 1;
        let from_target = call.legs[leg].target.clone().unwrap_or_default();
        info!(call = %call.record.id, from = %from_target, to = %uri, "callee transfers the caller");
        let spec = CalleeSpec {
            uri,
            transport: call.legs[leg].transport,
            credentials: None,
            identity: None,
            extra_headers: Vec::new(),
            diversion: Some(format!("<{from_target}>;reason=deflection;counter=1")),
            referred_by: req.headers.get(&HeaderName::ReferredBy).map(str::to_string),
            dtmf: DtmfMode::Auto,
        };
        call.transfer = Some(Transfer {
            referrer: leg,
            leg: call.legs.len(),
        });
        if let Err(why) = self.start_callee(tx, call, spec, now) {
            warn!(call = %call.record.id, "transfer failed: {why}");
            call.transfer = None;
            self.notify_sipfrag(tx, call, leg, "SIP/2.0 503 Service Unavailable", true, now);
        }
    }

    fn notify_sipfrag(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        frag: &str,
        last: bool,
        now: Instant,
    ) {
        let l = &mut call.legs[leg];
        if l.state != LegState::Confirmed {
            return;
        }
        let mut n = l.dialog.request(Method::Notify);
        n.headers.push(HeaderName::Event, "refer");
        n.headers.push(
            HeaderName::Other("Subscription-State".into()),
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        n.headers.push(HeaderName::Contact, l.contact());
        n.headers
            .push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        n.body = format!("{frag}\r\n").into_bytes();
        self.fire(tx, call, leg, n, now);
    }

    fn transfer_answered(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let Some(t) = call.transfer.take() else {
            return;
        };
        self.send_ack(tx, call, leg, resp, None);
        // The caller now talks to the transfer target: a new call in the
        // records, with the diversion; the transferor's call ends.
        let mut old = call.record.clone();
        old.hangup_cause = Some(HangupCause::Transferred);
        old.ended = Some(self.wall(now));
        self.push_history(old);
        call.record.id = format!("{:016x}", self.ids.u64());
        call.record.diversion = call.legs[t.referrer].target.clone();
        call.record.started = self.wall(now);
        call.record.answered = Some(self.wall(now));
        call.record.callee_call_id = Some(call.legs[leg].dialog.call_id.clone());
        call.record.target = call.legs[leg].target.clone();
        call.record.callee_x_headers = x_headers(&resp.headers);
        call.callee = Some(leg);
        // Re-bridge: offer the caller the new party's media (anchored: the
        // gateway's own address again, with the new party's codecs).
        let body = match self.anchor_answer(call, resp) {
            Ok(Some(b)) => b,
            Ok(None) => resp.body.clone(),
            Err(why) => {
                warn!(call = %call.record.id, "transfer target's SDP not usable: {why}");
                Vec::new()
            }
        };
        if call.legs[0].state == LegState::Confirmed && !body.is_empty() {
            let branch = self.branch();
            let a = &mut call.legs[0];
            let mut reinvite = a.dialog.request(Method::Invite);
            reinvite.headers.push_front(HeaderName::Via, a.via(&branch));
            reinvite.headers.push(HeaderName::Contact, a.contact());
            reinvite.headers.push(
                HeaderName::ContentType,
                resp.headers
                    .get(&HeaderName::ContentType)
                    .unwrap_or("application/sdp"),
            );
            reinvite.body = body;
            let peer = a.dialog.peer;
            if let Ok(id) = tx.send_request(reinvite, peer, now) {
                self.clients.insert(id, (call.id, 0, ClientRole::Rebridge));
            }
        }
        self.notify_sipfrag(tx, call, t.referrer, "SIP/2.0 200 OK", true, now);
        // RFC 5589: the transferor hangs up; if it does not, we do.
        self.timers.insert((
            now + self.cfg.t1 * 64,
            call.id,
            t.referrer,
            TimerKind::DetachedBye,
        ));
    }

    fn transfer_failed(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        _leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let Some(t) = call.transfer.take() else {
            return;
        };
        info!(call = %call.record.id, status = resp.status, "transfer target refused; the caller stays with the transferor");
        call.callee = Some(t.referrer);
        let frag = format!("SIP/2.0 {} {}", resp.status, resp.reason);
        self.notify_sipfrag(tx, call, t.referrer, &frag, true, now);
    }

    // ----- timers -----------------------------------------------------

    fn timer_fired(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        kind: TimerKind,
        now: Instant,
    ) {
        match kind {
            TimerKind::Retransmit2xx => {
                let Some(p) = call.legs[leg].pending_2xx.as_mut() else {
                    return;
                };
                if p.next > now {
                    return; // superseded by a newer 2xx
                }
                if now >= p.give_up {
                    call.legs[leg].pending_2xx = None;
                    warn!(call = %call.record.id, "no ACK for the 2xx: ending the call");
                    call.record
                        .hangup_cause
                        .get_or_insert(HangupCause::AckTimeout);
                    self.send_bye(tx, call, leg, now);
                    self.end_call(tx, call, Some(leg), HangupCause::AckTimeout, now);
                    return;
                }
                let (server, response) = (p.server, p.response.clone());
                p.interval = (p.interval * 2).min(self.cfg.t2);
                // §13.3.1.4: give up at 64·T1 exactly, not at the next tick.
                p.next = (now + p.interval).min(p.give_up);
                let next = p.next;
                if tx.respond(server, response.clone(), now).is_err() {
                    tx.send_stateless(call.legs[leg].dialog.peer, response.to_bytes());
                }
                self.timers
                    .insert((next, call.id, leg, TimerKind::Retransmit2xx));
            }
            TimerKind::Failover => {
                let l = &mut call.legs[leg];
                if l.heard_from || l.state != LegState::Calling || Some(leg) != call.callee {
                    return;
                }
                l.abandoned = true;
                warn!(call = %call.record.id, target = l.target.as_deref().unwrap_or("-"), "target silent: failing over");
                self.callee_failed(tx, call, leg, 408, "Request Timeout".into(), now);
            }
            TimerKind::SessionExpiry => {
                if call.session_deadline.is_some_and(|d| d <= now) {
                    warn!(call = %call.record.id, "session timer expired without a refresh: ending the call");
                    call.session_deadline = None;
                    self.end_call(tx, call, None, HangupCause::SessionExpired, now);
                }
            }
            TimerKind::DetachedBye => {
                if call.legs[leg].state == LegState::Confirmed && call.peer_of(leg).is_none() {
                    self.send_bye(tx, call, leg, now);
                }
            }
        }
    }

    /// RFC 4028 §10: with a session interval S in force, the session ends
    /// if no refresh succeeded S - min(32 s, S/3) after the last one.
    fn arm_session_timer(&mut self, call: &mut Call, resp: &Response, now: Instant) {
        let Some(secs) = resp
            .headers
            .get(&HeaderName::SessionExpires)
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
        else {
            return;
        };
        let s = Duration::from_secs(secs);
        let at = now + s - Duration::from_secs(32).min(s / 3);
        call.session_deadline = Some(at);
        self.timers
            .insert((at, call.id, 0, TimerKind::SessionExpiry));
    }

    // ----- media anchoring ---------------------------------------------

    /// The caller's view of the callee's SDP answer when the call's media
    /// is anchored (None: passthrough or no body), after telling the media
    /// thread where the callee wants its audio.
    fn anchor_answer(
        &mut self,
        call: &mut Call,
        resp: &Response,
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(m) = call.media.as_mut() else {
            return Ok(None);
        };
        if resp.body.is_empty() {
            return Ok(None);
        }
        let offered = m.caller_offer.as_ref().ok_or("no offer was made")?;
        let (caller_dtmf, callee_dtmf) = (m.caller_dtmf, m.callee_dtmf);
        let a = rewrite_answer(
            &resp.body,
            offered,
            m.caller_local.ip(),
            m.caller_local.port(),
            caller_dtmf,
        )
        .map_err(|r| r.reason)?;
        // The plan before the address: packets the callee sent before its
        // answer was applied are relayed as soon as the address is, and
        // must be translated like the rest.
        self.push_plan(
            call.id,
            &a.plan,
            (MediaSide::Caller, caller_dtmf),
            (MediaSide::Callee, callee_dtmf),
        );
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: MediaSide::Callee,
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        let summary = call.record.media.get_or_insert(MediaSummary {
            caller: LegMediaStats::default(),
            callee: LegMediaStats::default(),
            caller_codec: None,
            callee_codec: None,
        });
        summary.caller_codec = Some(a.plan.caller.codec.name());
        summary.callee_codec = Some(a.plan.callee.codec.name());
        Ok(Some(a.body))
    }

    /// Rewrites an in-dialog offer from `from` for leg `to` (re-INVITE,
    /// UPDATE: hold, resume, a new address).
    fn anchor_offer(
        &mut self,
        call: &mut Call,
        from: usize,
        to: usize,
        body: &mut Vec<u8>,
    ) -> Result<(), String> {
        let Some(m) = call.media.as_mut() else {
            return Ok(());
        };
        let local = if to == 0 {
            m.caller_local
        } else {
            m.callee_local
        };
        let offer =
            rewrite_offer(body, local.ip(), local.port(), m.dtmf_of(to)).map_err(|r| r.reason)?;
        *body = offer.body;
        m.pending_offer = Some((from, offer.offered));
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: media_side(from),
            remote: Remote {
                signalled: offer.offerer_remote,
                payload_types: offer.offerer_payload_types,
            },
        });
        self.media_out.push_back(MediaCommand::SetHold {
            session: call.id,
            hold: offer.hold,
        });
        Ok(())
    }

    /// Rewrites the answer (from leg `answerer`) to an offer relayed from
    /// leg `offerer`.
    fn anchor_reanswer(
        &mut self,
        call: &mut Call,
        offerer: usize,
        answerer: usize,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(m) = call.media.as_mut() else {
            return Ok(None);
        };
        let Some((from, offered)) = m.pending_offer.take() else {
            return Err("an answer with no offer pending".into());
        };
        if from != offerer {
            return Err("the answer does not match the pending offer".into());
        }
        let local = if offerer == 0 {
            m.caller_local
        } else {
            m.callee_local
        };
        let modes = (m.dtmf_of(offerer), m.dtmf_of(answerer));
        let a = rewrite_answer(body, &offered, local.ip(), local.port(), modes.0)
            .map_err(|r| r.reason)?;
        // The plan first, as in `anchor_answer`.
        self.push_plan(
            call.id,
            &a.plan,
            (media_side(offerer), modes.0),
            (media_side(answerer), modes.1),
        );
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: media_side(answerer),
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        Ok(Some(a.body))
    }

    /// Tells the media thread how packets change between the legs under
    /// `plan` (its `caller` is the offerer's side); each side comes with
    /// its leg's DTMF mode.
    fn push_plan(
        &mut self,
        session: u64,
        plan: &crate::media::negotiate::MediaPlan,
        (offerer, offerer_dtmf): (MediaSide, DtmfMode),
        (answerer, answerer_dtmf): (MediaSide, DtmfMode),
    ) {
        let (map_o, map_a) = payload_maps(plan);
        let (tc_o, tc_a) = transcodes(plan);
        let (dtmf_o, dtmf_a) = dtmf_paths(plan, offerer_dtmf, answerer_dtmf);
        for (side, map, transcode, path) in [
            (offerer, map_o, tc_o, dtmf_o),
            (answerer, map_a, tc_a, dtmf_a),
        ] {
            self.media_out
                .push_back(MediaCommand::SetPayloadMap { session, side, map });
            self.media_out.push_back(MediaCommand::SetTranscode {
                session,
                side,
                transcode,
            });
            self.media_out.push_back(MediaCommand::SetDtmf {
                session,
                side,
                path,
            });
        }
    }

    /// The media thread's counters for a session that closed, filed into
    /// the record (the call is usually over by then).
    fn media_closed(&mut self, session: u64, caller: LegMediaStats, callee: LegMediaStats) {
        let record = self
            .calls
            .get_mut(&session)
            .map(|c| &mut c.record)
            .or_else(|| {
                self.history
                    .iter_mut()
                    .rev()
                    .find(|r| r.media_session == Some(session))
            });
        if let Some(r) = record {
            let m = r.media.get_or_insert(MediaSummary {
                caller: LegMediaStats::default(),
                callee: LegMediaStats::default(),
                caller_codec: None,
                callee_codec: None,
            });
            m.caller = caller;
            m.callee = callee;
            // The call's media in one line, per leg: what came in from it
            // and what was converted on its way to the other leg.
            let (a, b) = (&m.caller, &m.callee);
            // "198.51.100.7:20000 (sdp)" or "203.0.113.9:41000 (learned)".
            let source = |l: &LegMediaStats| match l.source {
                Some(s) if l.source_learned => format!("{s} (learned)"),
                Some(s) => format!("{s} (sdp)"),
                None => "-".into(),
            };
            info!(
                call = %r.id,
                caller_source = %source(a),
                callee_source = %source(b),
                caller_codec = m.caller_codec.unwrap_or("-"),
                caller_packets = a.packets,
                caller_lost = a.lost,
                caller_jitter = a.jitter,
                caller_dtmf_rendered = a.dtmf_rendered,
                caller_dtmf_detected = a.dtmf_detected,
                callee_codec = m.callee_codec.unwrap_or("-"),
                callee_packets = b.packets,
                callee_lost = b.lost,
                callee_jitter = b.jitter,
                callee_dtmf_rendered = b.dtmf_rendered,
                callee_dtmf_detected = b.dtmf_detected,
                foreign_dropped = a.dropped_foreign + b.dropped_foreign,
                held = a.held + b.held,
                held_dropped = a.dropped_held + b.dropped_held,
                "call media"
            );
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
                };
                self.media_closed(session, conv(caller), conv(callee));
            }
        }
    }

    /// The next command for the media thread.
    pub fn poll_media_command(&mut self) -> Option<MediaCommand> {
        self.media_out.pop_front()
    }

    // ----- bookkeeping ------------------------------------------------

    /// Runs `f` on call `cid` taken out of the table, then puts it back, or
    /// files its record when it is over.
    fn with_call(
        &mut self,
        tx: &mut TransactionLayer,
        cid: u64,
        _now: Instant,
        f: impl FnOnce(&mut Self, &mut TransactionLayer, &mut Call),
    ) {
        let Some(mut call) = self.calls.remove(&cid) else {
            return;
        };
        f(self, tx, &mut call);
        self.put_back(call);
    }

    fn put_back(&mut self, call: Call) {
        if !call.is_done() {
            self.calls.insert(call.id, call);
            return;
        }
        for leg in &call.legs {
            self.dialogs
                .remove(&(leg.dialog.call_id.clone(), leg.dialog.local_tag.clone()));
        }
        if let Some(m) = &call.media {
            if m.opened {
                self.media_out
                    .push_back(MediaCommand::Close { session: call.id });
            }
            if let Some(p) = self.ports.as_mut() {
                p.release(m.caller_local.port());
                p.release(m.callee_local.port());
            }
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

    /// Fewer than the two RTP ports a call needs are free.
    fn media_ports_short(&self) -> bool {
        self.ports
            .as_ref()
            .is_none_or(|p| p.capacity().saturating_sub(p.in_use()) < 2)
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
        if self.cfg.calls.history == 0 {
            return;
        }
        while self.history.len() >= self.cfg.calls.history {
            self.history.pop_front();
        }
        self.history.push_back(record);
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

    fn side_of(&self, l: ListenerId) -> Side {
        self.cfg
            .listeners
            .get(l.0 as usize)
            .map(|i| i.side)
            .unwrap_or(Side::Wan)
    }

    /// Our address on listener `l` as peers see it: the configured public
    /// address, else one a registrar reported, else the bound one.
    fn advertised(&self, l: ListenerId) -> SocketAddr {
        let Some(info) = self.cfg.listeners.get(l.0 as usize) else {
            return SocketAddr::from(([127, 0, 0, 1], 5060));
        };
        let learned = self.learned_public.get(l.0 as usize).copied().flatten();
        match info.public.or(learned) {
            Some(ip) => SocketAddr::new(ip, info.advertised.port()),
            None => info.advertised,
        }
    }

    /// The public IP a registrar reported for listener `l` (None: forget
    /// it). New calls on that listener advertise it; calls under way keep
    /// what they were set up with.
    pub fn set_learned_public(&mut self, l: ListenerId, ip: Option<IpAddr>) {
        let i = l.0 as usize;
        // The address we are bound to is no news: not behind NAT.
        let ip = ip.filter(|ip| {
            !ip.is_unspecified()
                && self
                    .cfg
                    .listeners
                    .get(i)
                    .is_some_and(|x| x.advertised.ip() != *ip)
        });
        if self.learned_public.len() <= i {
            self.learned_public.resize(i + 1, None);
        }
        if self.learned_public[i] != ip {
            if let (Some(ip), Some(info)) = (ip, self.cfg.listeners.get(i)) {
                if info.public.is_none() {
                    info!(listener = %info.name, address = %ip, "calls on this listener now advertise the public address the registrar reports");
                }
            }
            self.learned_public[i] = ip;
        }
    }

    /// The listener a call that came in on `caller_side` leaves from: the
    /// other side, of the same IP family as the destination when possible.
    fn listener_for(&self, caller_side: Side, dest: IpAddr) -> Option<ListenerId> {
        let other = match caller_side {
            Side::Wan => Side::Lan,
            Side::Lan => Side::Wan,
        };
        let candidates = || {
            self.cfg
                .listeners
                .iter()
                .enumerate()
                .filter(move |(_, l)| l.side == other)
        };
        candidates()
            .find(|(_, l)| l.advertised.is_ipv4() == dest.is_ipv4())
            .or_else(|| candidates().next())
            .map(|(i, _)| ListenerId(i as u16))
    }

    fn address_of(&self, uri: &SipUri) -> Option<SocketAddr> {
        let port = uri.port.unwrap_or(5060);
        match &uri.host {
            Host::Domain(n) => self
                .resolved
                .get(&n.to_ascii_lowercase())
                .and_then(|v| v.first())
                .map(|a| {
                    if uri.port.is_some() {
                        SocketAddr::new(a.ip(), port)
                    } else {
                        *a
                    }
                }),
            other => other.ip().map(|ip| SocketAddr::new(ip, port)),
        }
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
}

/// The media side of a call leg: leg 0 is the caller's.
fn media_side(leg: usize) -> MediaSide {
    if leg == 0 {
        MediaSide::Caller
    } else {
        MediaSide::Callee
    }
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
