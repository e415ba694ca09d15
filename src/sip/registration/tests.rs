//! Time-stepped tests of the REGISTER client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{HeaderName, Response, SipUri, Uri};
use crate::sip::transport::Transport;

const LOCAL: &str = "10.0.0.2:5060";
const REGISTRAR: &str = "192.0.2.1:5060";

fn sip(s: &str) -> SipUri {
    match Uri::parse(s) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{other:?}"),
    }
}

fn params() -> RegistrationParams {
    RegistrationParams {
        account: "test".into(),
        registrar: sip("sip:example.com"),
        aor: sip("sip:alice@example.com"),
        auth_username: "alice".into(),
        password: "secret".into(),
        expires: 3600,
        transport: Transport::Udp,
        outbound_proxy: None,
        public_address: None,
        keepalive: None,
        retry_base: Duration::from_secs(10),
        retry_max: Duration::from_secs(300),
        user_agent: "pbxgate-test".into(),
        allow: "INVITE, ACK, BYE, CANCEL, OPTIONS".into(),
    }
}

struct Harness {
    client: RegistrationClient,
    t0: Instant,
}

impl Harness {
    fn new(p: RegistrationParams) -> Self {
        Harness {
            client: RegistrationClient::new(p, IdGenerator::from_seed(42)),
            t0: Instant::now(),
        }
    }
    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }
    /// A client with `p` whose targets were just set: it and its first
    /// REGISTER.
    fn started(p: RegistrationParams, targets: &[&str]) -> (Self, OutgoingRequest) {
        let mut h = Harness::new(p);
        let first = h.start(targets);
        (h, first)
    }
    fn start(&mut self, targets: &[&str]) -> OutgoingRequest {
        let t = targets.iter().map(|t| t.parse().unwrap()).collect();
        self.client.set_targets(LOCAL.parse().unwrap(), t, self.t0);
        self.next()
    }
    fn next(&mut self) -> OutgoingRequest {
        self.client.poll_request().expect("a request to send")
    }
    fn none(&mut self) {
        if let Some(r) = self.client.poll_request() {
            panic!(
                "unexpected request: {}",
                String::from_utf8_lossy(&r.request.to_bytes())
            );
        }
    }
    fn answer(&mut self, out: &OutgoingRequest, resp: Response, at: f64) {
        let now = self.at(at);
        self.client.handle_response(out.purpose, &resp, now);
    }
    fn step(&mut self, to: f64) {
        self.client.handle_timeout(self.at(to));
    }
    /// The registrar grants `out` for `expires` seconds at `at`; whether
    /// the client is registered then.
    fn grant(&mut self, out: &OutgoingRequest, expires: u32, at: f64) -> bool {
        self.answer(out, ok(out, expires), at);
        self.is_registered()
    }
    fn is_registered(&self) -> bool {
        matches!(
            self.client.status().state,
            RegistrationState::Registered { .. }
        )
    }
    /// Answers at `at` every request the client sends, `answer(request, n)`
    /// for the n-th (from 0), `rounds` times or until it sends nothing
    /// more; the number of requests it sent in all.
    fn answer_each(
        &mut self,
        first: OutgoingRequest,
        rounds: usize,
        at: f64,
        mut answer: impl FnMut(&OutgoingRequest, usize) -> Response,
    ) -> usize {
        let mut out = first;
        let mut sent = 1;
        for n in 0..rounds {
            let resp = answer(&out, n);
            self.answer(&out, resp, at);
            let Some(next) = self.client.poll_request() else {
                break;
            };
            sent += 1;
            out = next;
        }
        sent
    }
}

/// The parameters with TCP and a 30 s keep-alive.
fn tcp_keepalive() -> RegistrationParams {
    let mut p = params();
    p.transport = Transport::Tcp;
    p.keepalive = Some(Duration::from_secs(30));
    p
}

fn reply(out: &OutgoingRequest, status: u16) -> Response {
    Response::for_request(&out.request, status, Some("reg-tag"))
}

fn ok(out: &OutgoingRequest, expires: u32) -> Response {
    let mut r = reply(out, 200);
    let contact = out
        .request
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .to_string();
    let contact = contact.split(";expires").next().unwrap().to_string();
    r.headers
        .push(HeaderName::Contact, format!("{contact};expires={expires}"));
    r
}

fn challenge(out: &OutgoingRequest, nonce: &str, extra: &str) -> Response {
    let mut r = reply(out, 401);
    r.headers.push(
        HeaderName::WwwAuthenticate,
        format!(
            "Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{extra}"
        ),
    );
    r
}

/// `resp` as it reaches the gateway through a NAT that shows it at
/// 203.0.113.9:`port`: the top Via with rport and received (RFC 3581).
fn through_nat(mut resp: Response, out: &OutgoingRequest, port: u16) -> Response {
    let seen = format!(";rport={port};received=203.0.113.9");
    let via = header(out, HeaderName::Via).replace(";rport", &seen);
    resp.headers.set(HeaderName::Via, via);
    resp
}

fn header(out: &OutgoingRequest, name: HeaderName) -> &str {
    out.request.headers.get(&name).unwrap_or("")
}

/// The first REGISTER's Call-ID, From tag and Via branch.
fn first_register_ids(ids: IdGenerator) -> (String, String, String) {
    let mut client = RegistrationClient::new(params(), ids);
    let targets = vec![REGISTRAR.parse().unwrap()];
    client.set_targets(LOCAL.parse().unwrap(), targets, Instant::now());
    let h = client.poll_request().expect("a REGISTER").request.headers;
    (
        h.call_id().unwrap().to_string(),
        h.from_tag().unwrap(),
        h.top_via().unwrap().branch().unwrap().to_string(),
    )
}

#[test]
fn call_id_tag_and_branch_come_from_the_injected_generator() {
    let a = first_register_ids(IdGenerator::from_seed(5));
    assert_eq!(a, first_register_ids(IdGenerator::from_seed(5)));
    let b = first_register_ids(IdGenerator::from_seed(6));
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
    assert_ne!(a.2, b.2);
    // The generator's own first draws, not a second source.
    let mut g = IdGenerator::from_seed(5);
    assert_eq!(a.0, g.call_id());
    assert_eq!(a.1, g.tag());
    assert!(
        a.2.starts_with(crate::sip::message::MAGIC_COOKIE),
        "{}",
        a.2
    );
}

fn state(h: &Harness) -> RegistrationState {
    h.client.status().state
}

#[test]
fn challenge_answered_then_registered_and_refreshed_at_half_time() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    assert_eq!(first.to, REGISTRAR.parse::<SocketAddr>().unwrap());
    assert_eq!(header(&first, HeaderName::Expires), "3600");
    assert!(header(&first, HeaderName::Authorization).is_empty());
    h.answer(&first, challenge(&first, "n1", ""), 0.1);
    let second = h.next();
    let auth = header(&second, HeaderName::Authorization).to_string();
    assert!(
        auth.contains("nonce=\"n1\"") && auth.contains("nc=00000001"),
        "{auth}"
    );
    assert_eq!(
        header(&second, HeaderName::CallId),
        header(&first, HeaderName::CallId),
        "same Call-ID (§10.2.4)"
    );
    assert_eq!(
        second.request.headers.cseq().unwrap().seq,
        first.request.headers.cseq().unwrap().seq + 1
    );
    assert!(h.grant(&second, 120, 0.2), "registered");
    h.none();
    assert_eq!(
        h.client.poll_timeout(),
        Some(h.at(0.2 + 60.0)),
        "refresh at half of 120 s"
    );
    h.step(60.1);
    h.none();
    h.step(60.2);
    let refresh = h.next();
    let auth = header(&refresh, HeaderName::Authorization);
    assert!(
        auth.contains("nc=00000002"),
        "credentials reused with the next count: {auth}"
    );
}

#[test]
fn long_grant_refreshes_at_half_and_short_grant_30_s_before() {
    let mut h = Harness::new(params());
    let r = h.start(&[REGISTRAR]);
    h.grant(&r, 3600, 0.0);
    assert_eq!(h.client.poll_timeout(), Some(h.at(1800.0)));
    let mut h = Harness::new(params());
    let r = h.start(&[REGISTRAR]);
    h.grant(&r, 50, 0.0);
    assert_eq!(h.client.poll_timeout(), Some(h.at(20.0)));
}

#[test]
fn interval_too_brief_uses_min_expires() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    let mut r = reply(&first, 423);
    r.headers.push(HeaderName::MinExpires, "7200");
    h.answer(&first, r, 0.1);
    let second = h.next();
    assert_eq!(header(&second, HeaderName::Expires), "7200");
    assert!(header(&second, HeaderName::Contact).ends_with("expires=7200"));
    assert!(h.grant(&second, 7200, 0.2), "registered");
}

#[test]
fn stale_nonce_is_retried_without_counting_a_failure() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    h.answer(&first, challenge(&first, "n1", ""), 0.1);
    let second = h.next();
    h.answer(&second, challenge(&second, "n2", ", stale=true"), 0.2);
    let third = h.next();
    assert!(header(&third, HeaderName::Authorization).contains("nonce=\"n2\""));
    h.answer(&third, challenge(&third, "n3", ", stale=TRUE"), 0.3);
    let fourth = h.next();
    assert!(h.grant(&fourth, 600, 0.4), "registered");
}

#[test]
fn wrong_password_fails_then_backs_off_exponentially_with_a_cap() {
    let mut h = Harness::new(params());
    let mut out = h.start(&[REGISTRAR]);
    let mut now = 0.0;
    let mut delays = Vec::new();
    for _ in 0..8 {
        h.answer(&out, challenge(&out, "same", ""), now);
        let retry = h.next();
        h.answer(&retry, challenge(&retry, "same", ""), now);
        match state(&h) {
            RegistrationState::Failing {
                reason,
                next_attempt,
                ..
            } => {
                assert!(reason.contains("credentials rejected"), "{reason}");
                let d = (next_attempt - h.at(now)).as_secs_f64();
                delays.push(d);
                now += d;
            }
            other => panic!("{other:?}"),
        }
        h.none();
        h.step(now);
        out = h.next();
    }
    for (i, d) in delays.iter().enumerate() {
        let full = (10.0 * 2f64.powi(i as i32)).min(300.0);
        assert!(
            *d >= full / 2.0 - 1e-6 && *d <= full + 1e-6,
            "attempt {i}: {d} not in [{}, {full}]",
            full / 2.0
        );
    }
}

#[test]
fn timeouts_back_off_and_registration_recovers() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    h.client
        .handle_transaction_timeout(first.purpose, h.at(32.0));
    let next = match state(&h) {
        RegistrationState::Failing {
            reason,
            next_attempt,
            attempts,
        } => {
            assert!(
                reason.contains("no answer from the registrar at 192.0.2.1:5060"),
                "{reason}"
            );
            assert_eq!(attempts, 1);
            next_attempt
        }
        other => panic!("{other:?}"),
    };
    h.client.handle_timeout(next);
    let again = h.next();
    assert!(h.grant(&again, 600, 40.0), "registered");
}

#[test]
fn service_unavailable_fails_over_to_the_next_target() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR, "192.0.2.2:5060"]);
    h.answer(&first, reply(&first, 503), 0.1);
    let second = h.next();
    assert_eq!(second.to, "192.0.2.2:5060".parse::<SocketAddr>().unwrap());
    h.grant(&second, 600, 0.2);
    assert_eq!(
        h.client.status().registrar,
        Some("192.0.2.2:5060".parse().unwrap())
    );
}

#[test]
fn learned_public_address_is_registered_and_old_contact_removed() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    assert!(header(&first, HeaderName::Contact).contains("10.0.0.2:5060"));
    h.answer(&first, through_nat(ok(&first, 600), &first, 40000), 0.1);
    let second = h.next();
    let contacts: Vec<&str> = second
        .request
        .headers
        .values(&HeaderName::Contact)
        .collect();
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert!(
        contacts[0].contains("203.0.113.9:40000") && contacts[0].ends_with("expires=3600"),
        "{contacts:?}"
    );
    assert!(
        contacts[1].contains("10.0.0.2:5060") && contacts[1].ends_with("expires=0"),
        "the unusable binding is removed: {contacts:?}"
    );
    h.answer(&second, through_nat(ok(&second, 600), &second, 40000), 0.2);
    h.none();
    assert_eq!(
        h.client.status().public_address,
        Some("203.0.113.9:40000".parse().unwrap())
    );
    assert!(
        matches!(state(&h), RegistrationState::Registered { contact, .. } if contact.contains("203.0.113.9:40000"))
    );

    // The NAT rebinds: the keep-alive answer shows a new port; the new
    // Contact is registered and the old one removed in the same request.
    let mut p = params();
    p.keepalive = Some(Duration::from_secs(30));
    let (mut h, first) = Harness::started(p, &[REGISTRAR]);
    h.answer(&first, through_nat(ok(&first, 600), &first, 40000), 0.0);
    let second = h.next();
    h.answer(&second, through_nat(ok(&second, 600), &second, 40000), 0.1);
    h.step(30.1);
    let ping = h.next();
    assert_eq!(ping.purpose, Purpose::Keepalive);
    assert_eq!(ping.request.method, crate::sip::message::Method::Options);
    h.answer(&ping, through_nat(reply(&ping, 200), &ping, 40001), 30.2);
    let rereg = h.next();
    let contacts: Vec<&str> = rereg.request.headers.values(&HeaderName::Contact).collect();
    assert!(contacts[0].contains("203.0.113.9:40001"), "{contacts:?}");
    assert!(
        contacts
            .iter()
            .any(|c| c.contains("203.0.113.9:40000") && c.ends_with("expires=0")),
        "{contacts:?}"
    );
}

#[test]
fn configured_public_address_is_used_as_is() {
    let mut p = params();
    p.public_address = Some("198.51.100.5:5070".parse().unwrap());
    let (mut h, first) = Harness::started(p, &[REGISTRAR]);
    assert!(header(&first, HeaderName::Contact).contains("198.51.100.5:5070"));
    h.answer(&first, through_nat(ok(&first, 600), &first, 40000), 0.1);
    h.none();
    assert!(h.is_registered());
}

#[test]
fn lost_keepalive_registers_again() {
    let mut p = params();
    p.keepalive = Some(Duration::from_secs(30));
    let (mut h, first) = Harness::started(p, &[REGISTRAR]);
    h.grant(&first, 3600, 0.0);
    h.step(30.0);
    let ping = h.next();
    assert_eq!(ping.purpose, Purpose::Keepalive);
    h.answer(&ping, reply(&ping, 404), 30.1);
    h.none();
    h.step(60.1);
    let ping = h.next();
    h.client
        .handle_transaction_timeout(ping.purpose, h.at(92.0));
    let again = h.next();
    assert_eq!(again.purpose, Purpose::Register);
}

#[test]
fn stop_unregisters_with_expires_zero() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    h.grant(&first, 600, 0.0);
    assert!(h.client.stop(h.at(5.0)));
    let un = h.next();
    assert_eq!(un.purpose, Purpose::Unregister);
    assert_eq!(header(&un, HeaderName::Expires), "0");
    assert!(header(&un, HeaderName::Contact).ends_with("expires=0"));
    h.answer(&un, challenge(&un, "n9", ""), 5.1);
    let un = h.next();
    assert_eq!(un.purpose, Purpose::Unregister);
    assert!(header(&un, HeaderName::Authorization).contains("nonce=\"n9\""));
    assert_eq!(header(&un, HeaderName::Expires), "0");
    h.grant(&un, 0, 5.2);
    assert_eq!(state(&h), RegistrationState::Unregistered);
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn no_password_configured_is_a_clear_failure() {
    let mut p = params();
    p.password.clear();
    let (mut h, first) = Harness::started(p, &[REGISTRAR]);
    h.answer(&first, challenge(&first, "n1", ""), 0.1);
    assert!(
        matches!(state(&h), RegistrationState::Failing { reason, .. } if reason.contains("none are configured"))
    );
}

#[test]
fn tcp_keepalive_is_a_crlf_ping_and_a_closed_connection_registers_again() {
    let (mut h, first) = Harness::started(tcp_keepalive(), &[REGISTRAR]);
    assert!(header(&first, HeaderName::Via).starts_with("SIP/2.0/TCP"));
    assert!(header(&first, HeaderName::Contact).contains(";transport=tcp"));
    h.grant(&first, 3600, 0.0);
    for n in 1..=3 {
        h.step(30.0 * f64::from(n));
        assert_eq!(
            h.client.poll_crlf_ping(),
            Some(REGISTRAR.parse().unwrap()),
            "ping {n}"
        );
        h.none();
    }
    // Another connection closing means nothing to this registration.
    h.client
        .connection_lost("192.0.2.99:5060".parse().unwrap(), h.at(95.0));
    h.none();
    h.client
        .connection_lost(REGISTRAR.parse().unwrap(), h.at(96.0));
    assert_eq!(h.next().purpose, Purpose::Register);
}

#[test]
fn a_registrar_reporting_a_new_address_every_time_causes_no_storm() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    let sent = h.answer_each(first, 10, 0.0, |out, n| {
        through_nat(ok(out, 600), out, 40000 + n as u16)
    });
    assert!(sent <= 3, "{sent} REGISTERs for one registration");
    assert!(h.is_registered());
}

#[test]
fn stop_while_registering_still_unregisters_and_nothing_new_starts() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    assert!(h.client.stop(h.at(1.0)), "the in-flight REGISTER may bind");
    let un = h.next();
    assert_eq!(un.purpose, Purpose::Unregister);
    assert_eq!(header(&un, HeaderName::Expires), "0");
    // The late 200 of the first REGISTER and a lost connection start nothing.
    h.grant(&first, 600, 1.1);
    h.client
        .connection_lost(REGISTRAR.parse().unwrap(), h.at(1.2));
    h.client
        .handle_transaction_timeout(Purpose::Keepalive, h.at(1.3));
    h.none();
    // Never registered, nothing under way: nothing to remove.
    let mut h = Harness::new(params());
    assert!(!h.client.stop(h.t0));
}

#[test]
fn a_registrar_that_always_says_stale_is_a_failure_not_a_loop() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    let sent = h.answer_each(first, 10, 0.1, |out, n| {
        challenge(out, &format!("s{n}"), ", stale=true")
    });
    assert!(sent <= 4, "{sent}");
    assert!(matches!(state(&h), RegistrationState::Failing { .. }));
}

#[test]
fn looking_the_registrar_up_again_does_not_disturb_a_registration() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR, "192.0.2.2:5060"]);
    h.grant(&first, 600, 0.0);
    let local: SocketAddr = LOCAL.parse().unwrap();
    h.client.set_targets(
        local,
        vec![
            REGISTRAR.parse().unwrap(),
            "192.0.2.2:5060".parse().unwrap(),
        ],
        h.at(300.0),
    );
    h.client.set_targets(
        local,
        vec![
            "192.0.2.3:5060".parse().unwrap(),
            REGISTRAR.parse().unwrap(),
        ],
        h.at(301.0),
    );
    h.client.resolution_failed("SERVFAIL".into(), h.at(302.0));
    h.none();
    assert!(h.is_registered());
    assert_eq!(
        h.client.status().registrar,
        Some(REGISTRAR.parse().unwrap()),
        "same server kept"
    );
}

#[test]
fn proxy_and_registrar_challenges_are_both_answered() {
    let (mut h, first) = Harness::started(params(), &[REGISTRAR]);
    let mut r = reply(&first, 407);
    r.headers.push(
        HeaderName::ProxyAuthenticate,
        "Digest realm=\"proxy.example.com\", nonce=\"p1\", qop=\"auth\"",
    );
    h.answer(&first, r, 0.1);
    let second = h.next();
    assert!(header(&second, HeaderName::ProxyAuthorization).contains("nonce=\"p1\""));
    h.answer(&second, challenge(&second, "r1", ""), 0.2);
    let third = h.next();
    assert!(
        header(&third, HeaderName::ProxyAuthorization).contains("nonce=\"p1\""),
        "proxy credentials kept"
    );
    assert!(header(&third, HeaderName::Authorization).contains("nonce=\"r1\""));
    assert!(h.grant(&third, 600, 0.3), "registered");
}

#[test]
fn missing_pong_from_an_outbound_registrar_closes_and_registers_again() {
    let (mut h, first) = Harness::started(tcp_keepalive(), &[REGISTRAR]);
    let reg: SocketAddr = REGISTRAR.parse().unwrap();
    h.grant(&first, 3600, 0.0);
    // First ping: the registrar answers, so it speaks RFC 5626.
    h.step(30.0);
    assert_eq!(h.client.poll_crlf_ping(), Some(reg));
    h.client.pong_received(reg, h.at(30.1));
    assert_eq!(h.client.poll_timeout(), Some(h.at(60.0)));
    // Second ping: no pong within 10 s.
    h.step(60.0);
    assert_eq!(h.client.poll_crlf_ping(), Some(reg));
    h.none();
    h.step(69.9);
    h.none();
    h.step(70.0);
    assert_eq!(h.client.poll_close_connection(), Some(reg));
    assert_eq!(h.next().purpose, Purpose::Register);
}

#[test]
fn a_registrar_that_never_pongs_is_not_expected_to() {
    let (mut h, first) = Harness::started(tcp_keepalive(), &[REGISTRAR]);
    h.grant(&first, 3600, 0.0);
    for n in 1..=4 {
        h.step(30.0 * f64::from(n));
        assert!(h.client.poll_crlf_ping().is_some());
        h.none();
        assert_eq!(h.client.poll_close_connection(), None);
    }
}
