//! The REGISTER client for one account (RFC 3261 §10.2), sans-IO: it is
//! told the registrar's addresses, responses, transaction timeouts and the
//! time, and it says which requests to send and when to wake it.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::backoff::{refresh_delay, retry_delay};
use super::status::{RegistrationState, RegistrationStatus};
use crate::sip::auth::{pick_challenge, Challenge, DigestClient};
use crate::sip::ids::IdGenerator;
use crate::sip::message::{
    HeaderName, Host, Method, NameAddr, Request, Response, Rport, SipUri, Uri,
};
use crate::sip::transport::Transport;

/// What a registration needs to know about its account.
#[derive(Clone, Debug)]
pub struct RegistrationParams {
    pub account: String,
    /// The Request-URI of REGISTER (the registrar, no user part).
    pub registrar: SipUri,
    /// The address of record: sip:username@domain.
    pub aor: SipUri,
    pub auth_username: String,
    pub password: String,
    pub expires: u32,
    pub transport: Transport,
    pub outbound_proxy: Option<SipUri>,
    pub public_address: Option<SocketAddr>,
    pub keepalive: Option<Duration>,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub user_agent: String,
    /// The methods the gateway takes, for Allow (RFC 3261 §10.2: a
    /// REGISTER may say what the contact accepts).
    pub allow: String,
}

/// Why a request is sent, so its answer can be given back with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Unregister,
    /// An OPTIONS ping that keeps the NAT binding open and shows the
    /// registrar still answers.
    Keepalive,
}

/// A request to start a client transaction for.
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    pub request: Request,
    pub to: SocketAddr,
    pub transport: Transport,
    pub purpose: Purpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Send a REGISTER (first try, retry after back-off, refresh).
    Register,
}

#[derive(Debug)]
struct Attempt {
    /// Challenges answered in this attempt (a refresh's reused credentials do not count).
    answered: u8,
    /// stale=true challenges in this attempt; bounded so a registrar that
    /// always says stale cannot keep the gateway in a REGISTER loop.
    stale: u8,
    last_nonce: Option<String>,
    /// Raised by 423 during this attempt.
    interval_raised: bool,
}

pub struct RegistrationClient {
    params: RegistrationParams,
    call_id: String,
    from_tag: String,
    cseq: u32,
    ids: IdGenerator,
    /// Retry jitter only: guessing it gains a peer nothing.
    jitter: fastrand::Rng,
    digest: DigestClient,
    /// The challenges answered, one per (proxy or registrar, realm), reused
    /// on every REGISTER: RFC 3261 §22.3 keeps both an outbound proxy's
    /// and the registrar's credentials, and §22.1 allows sending them
    /// pre-emptively in the same realm. Each with the header its
    /// credentials go in (Authorization or Proxy-Authorization).
    held_challenges: Vec<(Challenge, HeaderName)>,
    local: Option<SocketAddr>,
    learned: Option<SocketAddr>,
    /// The Contact address held by the registrar, to remove it when it changes.
    registered_contact: Option<SocketAddr>,
    targets: Vec<SocketAddr>,
    target: usize,
    expires: u32,
    attempt: Option<Attempt>,
    failures: u32,
    timer: Option<(Instant, Timer)>,
    keepalive_at: Option<Instant>,
    outbox: VecDeque<OutgoingRequest>,
    state: RegistrationState,
    stopping: bool,
    /// The Contact address of the REGISTER most recently built.
    sent_contact: Option<SocketAddr>,
    unregister_challenged: bool,
    /// A CRLF keep-alive to write on the TCP connection to this address.
    crlf_ping: Option<SocketAddr>,
    /// Re-registrations in a row for a changed address; bounded so that a
    /// registrar reporting a different address each time cannot cause a storm.
    address_changes: u8,
    /// The registrar answered a CRLF ping once, so it speaks RFC 5626 and
    /// a missing pong means the connection is dead (§4.4.1).
    pong_seen: bool,
    pong_deadline: Option<Instant>,
    close_connection: Option<SocketAddr>,
}

/// RFC 5626 §4.4.1: a pong must arrive within 10 s of the ping.
const PONG_TIMEOUT: Duration = Duration::from_secs(10);

const MAX_ADDRESS_CHANGES: u8 = 2;

impl RegistrationClient {
    /// `ids` makes the Call-ID, tag, branches and cnonces (the shell keys
    /// it from the OS, tests seed it).
    pub fn new(params: RegistrationParams, mut ids: IdGenerator) -> Self {
        let call_id = ids.call_id();
        let from_tag = ids.tag();
        let jitter = fastrand::Rng::with_seed(ids.u64());
        let expires = params.expires;
        RegistrationClient {
            params,
            call_id,
            from_tag,
            cseq: 0,
            ids,
            jitter,
            digest: DigestClient::new(),
            held_challenges: Vec::new(),
            local: None,
            learned: None,
            registered_contact: None,
            targets: Vec::new(),
            target: 0,
            expires,
            attempt: None,
            failures: 0,
            timer: None,
            keepalive_at: None,
            outbox: VecDeque::new(),
            state: RegistrationState::Starting,
            stopping: false,
            sent_contact: None,
            unregister_challenged: false,
            crlf_ping: None,
            address_changes: 0,
            pong_seen: false,
            pong_deadline: None,
            close_connection: None,
        }
    }

    pub fn account(&self) -> &str {
        &self.params.account
    }

    pub fn transport(&self) -> Transport {
        self.params.transport
    }

    /// The registrar's addresses in the order to try them, and the local
    /// address the gateway sends from. Registers at once if nothing is under way.
    pub fn set_targets(&mut self, local: SocketAddr, targets: Vec<SocketAddr>, now: Instant) {
        if targets.is_empty() {
            self.resolution_failed("the registrar's address could not be resolved".into(), now);
            return;
        }
        if self.local == Some(local) && self.targets == targets {
            return;
        }
        let current = self.targets.get(self.target).copied();
        self.local = Some(local);
        self.targets = targets;
        // Keep talking to the same server if it is still listed.
        self.target = current
            .and_then(|c| self.targets.iter().position(|t| *t == c))
            .unwrap_or(0);
        let idle = matches!(
            self.state,
            RegistrationState::Starting | RegistrationState::Failing { .. }
        );
        if idle && self.attempt.is_none() && !self.stopping {
            self.timer = None;
            self.send_register(now);
        }
    }

    /// The registrar's name did not resolve. With addresses from an earlier
    /// lookup the registration carries on with them.
    pub fn resolution_failed(&mut self, reason: String, now: Instant) {
        if self.targets.is_empty() {
            self.fail(reason, now);
        } else {
            tracing::debug!(account = %self.params.account, %reason, "lookup failed; keeping the addresses known");
        }
    }

    pub fn status(&self) -> RegistrationStatus {
        RegistrationStatus {
            account: self.params.account.clone(),
            state: self.state.clone(),
            public_address: self.contact_address(),
            registrar: self.targets.get(self.target).copied(),
        }
    }

    pub fn poll_request(&mut self) -> Option<OutgoingRequest> {
        self.outbox.pop_front()
    }

    /// A CRLF keep-alive to write on the TCP connection to the registrar.
    pub fn poll_crlf_ping(&mut self) -> Option<SocketAddr> {
        self.crlf_ping.take()
    }

    /// A CRLF pong on the connection to `remote`.
    pub fn pong_received(&mut self, remote: SocketAddr, now: Instant) {
        let _ = now;
        if self.targets.get(self.target) == Some(&remote) {
            self.pong_seen = true;
            self.pong_deadline = None;
        }
    }

    /// A connection the transport should close (no pong in time).
    pub fn poll_close_connection(&mut self) -> Option<SocketAddr> {
        self.close_connection.take()
    }

    /// The TCP connection to `remote` closed. If it carried this
    /// registration, the binding is unreachable: register again.
    pub fn connection_lost(&mut self, remote: SocketAddr, now: Instant) {
        let ours = self.params.transport.is_stream()
            && self.targets.get(self.target) == Some(&remote)
            && matches!(self.state, RegistrationState::Registered { .. });
        if ours && !self.stopping {
            warn!(account = %self.params.account, %remote, "connection to the registrar closed; registering again");
            self.send_register(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timer.map(|t| t.0),
            self.keepalive_at,
            self.pong_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, Timer::Register)) = self.timer {
            if at <= now {
                self.timer = None;
                if self.attempt.is_none() && !self.stopping && !self.targets.is_empty() {
                    self.send_register(now);
                }
            }
        }
        if let Some(at) = self.pong_deadline {
            if at <= now {
                self.pong_deadline = None;
                let remote = self.targets.get(self.target).copied();
                warn!(account = %self.params.account, ?remote, "no pong from the registrar; closing the connection and registering again");
                self.close_connection = remote;
                self.send_register(now);
            }
        }
        if let Some(at) = self.keepalive_at {
            if at <= now {
                self.keepalive_at = None;
                self.send_keepalive(now);
            }
        }
    }

    /// Sends the un-REGISTER (Expires: 0) when there is a binding to remove.
    /// Returns whether one was sent.
    pub fn stop(&mut self, now: Instant) -> bool {
        self.stopping = true;
        self.timer = None;
        self.keepalive_at = None;
        // A binding may exist if one was ever confirmed, or a REGISTER is
        // under way (its 200 may already be on its way back).
        let may_be_bound = self.registered_contact.is_some() || self.attempt.is_some();
        if !may_be_bound || self.targets.is_empty() {
            self.state = RegistrationState::Unregistered;
            return false;
        }
        self.attempt = None;
        let req = self.build_register(0);
        self.push(req, Purpose::Unregister);
        let _ = now;
        true
    }

    /// The answer to a request this client sent.
    pub fn handle_response(&mut self, purpose: Purpose, resp: &Response, now: Instant) {
        if resp.is_provisional() {
            return;
        }
        match purpose {
            Purpose::Keepalive => self.keepalive_answered(resp, now),
            Purpose::Unregister => {
                if matches!(resp.status, 401 | 407) && !self.unregister_challenged {
                    // Registrars challenge the un-REGISTER like any other.
                    self.unregister_challenged = true;
                    if let Some((c, answer_in)) = pick_challenge(resp) {
                        self.hold(c, answer_in);
                        let req = self.build_register(0);
                        self.push(req, Purpose::Unregister);
                        return;
                    }
                }
                if resp.is_success() {
                    info!(account = %self.params.account, status = resp.status, "un-registered");
                } else {
                    warn!(account = %self.params.account, status = resp.status, reason = %resp.reason, "the registrar refused the un-REGISTER; the binding expires by itself");
                }
                self.state = RegistrationState::Unregistered;
            }
            Purpose::Register => self.register_answered(resp, now),
        }
    }

    /// Timer F fired for a request this client sent.
    pub fn handle_transaction_timeout(&mut self, purpose: Purpose, now: Instant) {
        match purpose {
            Purpose::Unregister => self.state = RegistrationState::Unregistered,
            Purpose::Keepalive => {
                warn!(account = %self.params.account, "keep-alive unanswered; registering again");
                self.send_register(now);
            }
            Purpose::Register => {
                let to = self.targets.get(self.target).copied();
                self.attempt = None;
                if self.failover() {
                    self.send_register(now);
                } else {
                    let reason = match to {
                        Some(a) => format!("no answer from the registrar at {a}"),
                        None => "no answer from the registrar".into(),
                    };
                    self.fail(reason, now);
                }
            }
        }
    }

    fn register_answered(&mut self, resp: &Response, now: Instant) {
        if self.stopping {
            return;
        }
        match resp.status {
            200..=299 => self.registered(resp, now),
            401 | 407 => self.challenged(resp, now),
            423 => {
                let min = resp
                    .headers
                    .get(&HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u32>().ok());
                let raised_before = self.attempt.as_ref().is_some_and(|a| a.interval_raised);
                match min {
                    Some(m) if m > self.expires && !raised_before => {
                        info!(account = %self.params.account, min_expires = m, "registrar asks for a longer interval");
                        self.expires = m;
                        if let Some(a) = self.attempt.as_mut() {
                            a.interval_raised = true;
                        }
                        self.resend(now);
                    }
                    _ => {
                        self.attempt = None;
                        self.fail(
                            "423 Interval Too Brief without a usable Min-Expires".into(),
                            now,
                        )
                    }
                }
            }
            503 => {
                self.attempt = None;
                let retry_after = retry_after(resp);
                if self.failover() {
                    self.send_register(now);
                } else {
                    self.fail_with_delay(
                        format!("{} {}", resp.status, resp.reason),
                        retry_after,
                        now,
                    );
                }
            }
            _ => {
                self.attempt = None;
                self.fail(format!("{} {}", resp.status, resp.reason), now);
            }
        }
    }

    fn registered(&mut self, resp: &Response, now: Instant) {
        self.attempt = None;
        self.learn_address(resp);
        let contact = self.contact_address();
        // RFC 3581: if the registrar sees us at another address than the
        // Contact we gave, the binding is useless: register the right one.
        if self.params.public_address.is_none()
            && contact != self.registered_contact_sent()
            && contact.is_some()
            && self.address_changes < MAX_ADDRESS_CHANGES
        {
            self.address_changes += 1;
            info!(account = %self.params.account, public = ?contact, "registrar sees another address; registering it");
            // The registrar did bind the address we sent: remove it with the
            // corrected registration.
            self.registered_contact = self.sent_contact;
            self.send_register(now);
            return;
        }
        let granted = self.granted_expires(resp).unwrap_or(self.expires);
        if granted == 0 {
            self.fail("the registrar granted 0 seconds".into(), now);
            return;
        }
        self.failures = 0;
        self.address_changes = 0;
        self.registered_contact = contact;
        let granted_d = Duration::from_secs(u64::from(granted));
        let contact_text = self.contact_uri(contact).to_string();
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            let registrar = self
                .targets
                .get(self.target)
                .map(|a| a.to_string())
                .unwrap_or_default();
            info!(account = %self.params.account, %registrar, contact = %contact_text, expires = granted, "registered");
        }
        self.state = RegistrationState::Registered {
            expires_at: now + granted_d,
            contact: contact_text,
        };
        self.timer = Some((now + refresh_delay(granted_d), Timer::Register));
        if let Some(k) = self.params.keepalive {
            self.keepalive_at = Some(now + k);
        }
    }

    fn challenged(&mut self, resp: &Response, now: Instant) {
        let Some((challenge, answer_in)) = pick_challenge(resp) else {
            self.attempt = None;
            self.fail(
                format!(
                    "{} with no digest challenge the gateway can answer",
                    resp.status
                ),
                now,
            );
            return;
        };
        if self.params.password.is_empty() {
            self.attempt = None;
            self.fail(
                format!(
                    "the registrar asks for credentials ({} realm \"{}\") but none are configured",
                    resp.status, challenge.realm
                ),
                now,
            );
            return;
        }
        let attempt = self.attempt.get_or_insert(Attempt {
            answered: 0,
            stale: 0,
            last_nonce: None,
            interval_raised: false,
        });
        let same_nonce = attempt.last_nonce.as_deref() == Some(challenge.nonce.as_str());
        let too_stale = challenge.stale && (attempt.stale >= 2 || same_nonce);
        if too_stale
            || (!challenge.stale
                && (attempt.answered >= 2 || (same_nonce && attempt.answered >= 1)))
        {
            self.attempt = None;
            self.held_challenges.clear();
            self.fail(
                format!(
                    "credentials rejected ({} again, realm \"{}\")",
                    resp.status, challenge.realm
                ),
                now,
            );
            return;
        }
        // RFC 7616 §3.3: stale means the password was right; retry without
        // counting it.
        if challenge.stale {
            attempt.stale += 1;
        } else {
            attempt.answered += 1;
        }
        attempt.last_nonce = Some(challenge.nonce.clone());
        info!(account = %self.params.account, realm = %challenge.realm, algorithm = %challenge.algorithm, stale = challenge.stale, "answering digest challenge");
        self.hold(challenge, answer_in);
        self.resend(now);
    }

    fn keepalive_answered(&mut self, resp: &Response, now: Instant) {
        // Any answer shows the path is open; a changed mapping shows the NAT
        // rebound, and the registrar holds a dead Contact.
        let before = self.contact_address();
        self.learn_address(resp);
        if self.params.public_address.is_none()
            && self.contact_address() != before
            && self.attempt.is_none()
        {
            info!(account = %self.params.account, "NAT mapping changed; registering again");
            self.send_register(now);
            return;
        }
        if let Some(k) = self.params.keepalive {
            if matches!(self.state, RegistrationState::Registered { .. }) {
                self.keepalive_at = Some(now + k);
            }
        }
    }

    fn learn_address(&mut self, resp: &Response) {
        let Ok(via) = resp.headers.top_via() else {
            return;
        };
        let local = self.local;
        let ip: Option<IpAddr> = via
            .received()
            .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
            .or_else(|| local.map(|l| l.ip()));
        let port = match via.rport() {
            Rport::Value(p) => Some(p),
            _ => local.map(|l| l.port()),
        };
        if let (Some(ip), Some(port)) = (ip, port) {
            self.learned = Some(SocketAddr::new(ip, port));
        }
    }

    fn contact_address(&self) -> Option<SocketAddr> {
        self.params.public_address.or(self.learned).or(self.local)
    }

    /// The Contact address of the REGISTER now under way (the one most
    /// recently sent).
    fn registered_contact_sent(&self) -> Option<SocketAddr> {
        self.sent_contact
    }

    fn granted_expires(&self, resp: &Response) -> Option<u32> {
        let ours = self.contact_address();
        for v in resp.headers.values(&HeaderName::Contact) {
            if let Ok(na) = NameAddr::parse(v, "Contact") {
                if let Some(u) = na.uri.as_sip() {
                    let matches = ours.is_some_and(|a| {
                        u.host.ip() == Some(a.ip()) && u.port.unwrap_or(5060) == a.port()
                    });
                    if matches {
                        if let Some(e) = na.params.value("expires").and_then(|e| e.parse().ok()) {
                            return Some(e);
                        }
                    }
                }
            }
        }
        resp.headers
            .get(&HeaderName::Expires)
            .and_then(|e| e.trim().parse().ok())
    }

    fn failover(&mut self) -> bool {
        if self.target + 1 < self.targets.len() {
            self.target += 1;
            true
        } else {
            self.target = 0;
            false
        }
    }

    fn fail(&mut self, reason: String, now: Instant) {
        self.fail_with_delay(reason, None, now);
    }

    fn fail_with_delay(&mut self, reason: String, at_least: Option<Duration>, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let mut delay = retry_delay(
            self.failures,
            self.params.retry_base,
            self.params.retry_max,
            &mut self.jitter,
        );
        if let Some(min) = at_least {
            delay = delay.max(min.min(self.params.retry_max));
        }
        warn!(account = %self.params.account, %reason, attempts = self.failures, retry_in = ?delay, "registration failed");
        self.keepalive_at = None;
        self.state = RegistrationState::Failing {
            reason,
            attempts: self.failures,
            next_attempt: now + delay,
        };
        self.timer = Some((now + delay, Timer::Register));
    }

    fn resend(&mut self, now: Instant) {
        let _ = now;
        let req = self.build_register(self.expires);
        self.push(req, Purpose::Register);
    }

    fn send_register(&mut self, now: Instant) {
        let _ = now;
        // Nothing new once stopping; and never two REGISTERs at once (their
        // answers would share one attempt).
        if self.stopping || self.attempt.is_some() {
            return;
        }
        self.attempt = Some(Attempt {
            answered: 0,
            stale: 0,
            last_nonce: None,
            interval_raised: false,
        });
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            self.state = RegistrationState::Registering;
        }
        let req = self.build_register(self.expires);
        self.push(req, Purpose::Register);
    }

    fn send_keepalive(&mut self, now: Instant) {
        let Some(to) = self.targets.get(self.target).copied() else {
            return;
        };
        if self.params.transport.is_stream() {
            // RFC 5626 §4.4.1: a double-CRLF ping on the connection; a lost
            // connection is reported by the transport (`connection_lost`).
            self.crlf_ping = Some(to);
            if self.pong_seen {
                self.pong_deadline = Some(now + PONG_TIMEOUT);
            }
            if let Some(k) = self.params.keepalive {
                self.keepalive_at = Some(now + k);
            }
            return;
        }
        let mut req = Request::new(Method::Options, Uri::Sip(self.params.registrar.clone()));
        self.cseq += 1;
        self.common_headers(&mut req, Method::Options);
        req.headers.push(HeaderName::Accept, "application/sdp");
        self.outbox.push_back(OutgoingRequest {
            request: req,
            to,
            transport: self.params.transport,
            purpose: Purpose::Keepalive,
        });
    }

    fn push(&mut self, request: Request, purpose: Purpose) {
        if let Some(to) = self.targets.get(self.target).copied() {
            self.outbox.push_back(OutgoingRequest {
                request,
                to,
                transport: self.params.transport,
                purpose,
            });
        }
    }

    fn contact_uri(&self, addr: Option<SocketAddr>) -> SipUri {
        let host = addr
            .map(|a| Host::from(a.ip()))
            .unwrap_or(Host::Ipv4([0, 0, 0, 0].into()));
        let mut u = SipUri::new(host, addr.map(|a| a.port()));
        u.user = self.params.aor.user.clone();
        if self.params.transport.is_stream() {
            let t = self.params.transport.via_token().to_ascii_lowercase();
            u.params.set("transport", Some(t));
        }
        u
    }

    fn common_headers(&mut self, req: &mut Request, method: Method) {
        let local = self
            .local
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 5060)));
        let branch = self.ids.branch();
        req.headers.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch={branch};rport",
                self.params.transport.via_token(),
                SocketAddr::new(local.ip(), local.port())
            ),
        );
        req.headers.push(HeaderName::MaxForwards, "70");
        if let Some(proxy) = &self.params.outbound_proxy {
            let mut p = proxy.clone();
            p.params.set("lr", None);
            req.headers.push(HeaderName::Route, format!("<{p}>"));
        }
        req.headers.push(
            HeaderName::From,
            format!("<{}>;tag={}", self.params.aor, self.from_tag),
        );
        req.headers
            .push(HeaderName::To, format!("<{}>", self.params.aor));
        req.headers.push(HeaderName::CallId, self.call_id.clone());
        req.headers
            .push(HeaderName::CSeq, format!("{} {}", self.cseq, method));
        req.headers
            .push(HeaderName::UserAgent, self.params.user_agent.clone());
    }

    fn hold(&mut self, challenge: Challenge, answer_in: HeaderName) {
        self.held_challenges
            .retain(|(c, h)| !(*h == answer_in && c.realm == challenge.realm));
        self.held_challenges.push((challenge, answer_in));
    }

    fn build_register(&mut self, expires: u32) -> Request {
        let mut req = Request::new(Method::Register, Uri::Sip(self.params.registrar.clone()));
        self.cseq += 1;
        self.common_headers(&mut req, Method::Register);
        let contact = self.contact_address();
        self.sent_contact = contact;
        req.headers.push(
            HeaderName::Contact,
            format!("<{}>;expires={expires}", self.contact_uri(contact)),
        );
        // A changed address: remove the old binding in the same request.
        if expires > 0 {
            if let Some(old) = self.registered_contact.filter(|o| Some(*o) != contact) {
                req.headers.push(
                    HeaderName::Contact,
                    format!("<{}>;expires=0", self.contact_uri(Some(old))),
                );
            }
        }
        req.headers.push(HeaderName::Expires, expires.to_string());
        req.headers
            .push(HeaderName::Allow, self.params.allow.as_str());
        for (c, answer_in) in self.held_challenges.clone() {
            let uri = self.params.registrar.to_string();
            let cnonce = self.ids.cnonce();
            match self.digest.authorize(
                &c,
                &self.params.auth_username,
                &self.params.password,
                &Method::Register,
                &uri,
                &cnonce,
            ) {
                Ok(creds) => req.headers.push(answer_in, creds.to_header_value()),
                Err(e) => {
                    warn!(account = %self.params.account, error = %e, "cannot answer the challenge")
                }
            }
        }
        req
    }
}

fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers
        .get(&HeaderName::RetryAfter)
        .and_then(|v| v.split([';', '(']).next())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
