//! The B2BUA through the endpoint's sans-IO interface, stepping time: what
//! leaves towards which peer, and when.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::app::{Core, CoreConfig};
use crate::call::{B2buaConfig, ListenerInfo};
use crate::config::{CallsConfig, Config, Side};
use crate::routing::Router;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{parse_message, Framing, SipMessage};
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::{ListenerId, Peer, Transport};

const WAN: &str = "192.0.2.1:5060";
const LAN: &str = "10.0.0.1:5080";
const CLOUD: &str = "198.51.100.7:5060";
const PBX1: &str = "10.0.0.21:5060";
const PBX2: &str = "10.0.0.22:5060";

fn endpoint(calls: CallsConfig, now: Instant) -> Core {
    endpoint_with_ids(calls, now, IdGenerator::from_seed(3))
}

fn endpoint_with_ids(calls: CallsConfig, now: Instant, ids: IdGenerator) -> Core {
    let toml = format!(
        "[[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}, {{ uri='sip:q2@{PBX2}' }}]\n"
    );
    // These tests are about signalling; anchoring has its own
    // (media_bridge tests, tests/e2e_media.rs).
    let calls = CallsConfig {
        sdp: crate::config::SdpMode::Passthrough,
        ..calls
    };
    Core::new(
        endpoint_config(&toml, calls),
        ids,
        now,
        SystemTime::UNIX_EPOCH,
    )
}

/// The configuration of a test endpoint with the routes, `[emergency]` and
/// `[media]` of `toml`.
fn endpoint_config(toml: &str, calls: CallsConfig) -> CoreConfig {
    let routes = Config::from_toml(toml).expect("routes");
    let router = Router::compile(&routes.routes, &[], &routes.emergency).expect("router");
    let mut cfg = CoreConfig::basic("pbxgate-test");
    cfg.listener_sides = vec![Side::Wan, Side::Lan];
    cfg.calls = B2buaConfig {
        user_agent: "pbxgate-test".into(),
        calls,
        listeners: vec![
            ListenerInfo {
                name: "wan".into(),
                side: Side::Wan,
                advertised: WAN.parse().unwrap(),
                public: None,
            },
            ListenerInfo {
                name: "lan".into(),
                side: Side::Lan,
                advertised: LAN.parse().unwrap(),
                public: None,
            },
        ],
        router: Arc::new(router),
        accounts: Vec::new(),
        media: routes.media.clone(),
        t1: TimerConfig::default().t1,
        t2: TimerConfig::default().t2,
    };
    cfg
}

fn from(listener: u16, addr: &str) -> Peer {
    Peer {
        listener: ListenerId(listener),
        transport: Transport::Udp,
        remote: addr.parse().unwrap(),
        connection: None,
    }
}

fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:+18885550000@{WAN} SIP/2.0\r\nVia: SIP/2.0/UDP {CLOUD};branch=z9hG4bKcloud1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15551230000@cloud.example>;tag=c1\r\nTo: <sip:+18885550000@{WAN}>\r\n\
         Call-ID: cloud-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:cloud@{CLOUD}>\r\n\
         X-PH-RetreaverAFID: 5678\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
    )
    .into_bytes()
}

/// What left the endpoint: (destination, first line, message).
fn sent(ep: &mut Core) -> Vec<(SocketAddr, String, SipMessage)> {
    let mut out = Vec::new();
    for t in crate::test_support::drain(ep).transmits {
        let line = String::from_utf8_lossy(&t.bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let msg = parse_message(&t.bytes, Framing::Datagram).expect("the gateway sends valid SIP");
        out.push((t.to.remote, line, msg));
    }
    out
}

fn answer(req: &SipMessage, status: u16, tag: &str, body: bool) -> Vec<u8> {
    let SipMessage::Request(r) = req else {
        panic!("not a request")
    };
    let mut resp = crate::sip::message::Response::for_request(r, status, Some(tag));
    resp.headers.push(
        crate::sip::message::HeaderName::Contact,
        format!("<sip:pbx@{PBX1}>"),
    );
    if body {
        resp.headers.push(
            crate::sip::message::HeaderName::ContentType,
            "application/sdp",
        );
        resp.body = b"v=0\n".to_vec();
    }
    resp.to_bytes()
}

fn step_until(
    ep: &mut Core,
    mut now: Instant,
    end: Instant,
) -> Vec<(SocketAddr, String, SipMessage)> {
    let mut out = Vec::new();
    while let Some(at) = ep.poll_timeout() {
        if at > end {
            break;
        }
        now = now.max(at);
        ep.handle_timeout(now);
        out.extend(sent(ep));
    }
    out
}

/// The identifiers the B2BUA makes for a call: the callee leg's Call-ID,
/// From tag and branch, and the To tag the caller sees on the 180.
fn call_ids(seed: u64) -> [String; 4] {
    let t0 = Instant::now();
    let mut ep = endpoint_with_ids(CallsConfig::default(), t0, IdGenerator::from_seed(seed));
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let (_, _, to_pbx) = out
        .iter()
        .find(|(to, line, _)| to.to_string() == PBX1 && line.starts_with("INVITE"))
        .expect("INVITE to the first target");
    let h = to_pbx.headers();
    let callee = [
        h.call_id().unwrap().to_string(),
        h.from_tag().unwrap(),
        h.top_via().unwrap().branch().unwrap().to_string(),
    ];
    ep.handle_datagram(&answer(to_pbx, 180, "pbx1", false), from(1, PBX1), t0);
    let ringing = sent(&mut ep)
        .into_iter()
        .find(|(to, line, _)| to.to_string() == CLOUD && line.contains(" 180 "))
        .expect("180 to the caller");
    let [call_id, from_tag, branch] = callee;
    [
        call_id,
        from_tag,
        branch,
        ringing.2.headers().to_tag().unwrap(),
    ]
}

#[test]
fn call_identifiers_come_from_the_injected_generator() {
    let a = call_ids(21);
    assert_eq!(a, call_ids(21), "one seed, one set of identifiers");
    let b = call_ids(22);
    for (x, y) in a.iter().zip(&b) {
        assert_ne!(x, y, "another seed, other identifiers");
    }
    // Not the caller's: the B2BUA's own dialogs on both sides.
    assert_ne!(a[0], "cloud-call-1");
    assert!(a[2].starts_with("z9hG4bK"), "{}", a[2]);
    assert_eq!(a[3].len(), 16, "RFC 3261 §19.3: ≥ 32 random bits");
}

#[test]
fn a_silent_target_is_left_after_the_failover_timeout() {
    let t0 = Instant::now();
    let calls = CallsConfig {
        failover_timeout_ms: 1500,
        ..CallsConfig::default()
    };
    let mut ep = endpoint(calls, t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let first: Vec<_> = out
        .iter()
        .filter(|(_, l, _)| l.starts_with("INVITE"))
        .collect();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, PBX1.parse::<SocketAddr>().unwrap());
    assert!(first[0].1.contains("sip:q1@"), "{}", first[0].1);
    // Retransmissions to the first target only until 1.5 s; then the second.
    let out = step_until(&mut ep, t0, t0 + Duration::from_millis(1499));
    assert!(!out.iter().any(|(to, _, _)| to.to_string() == PBX2));
    let out = step_until(&mut ep, t0, t0 + Duration::from_millis(1500));
    let second: Vec<_> = out
        .iter()
        .filter(|(to, l, _)| l.starts_with("INVITE") && to.to_string() == PBX2)
        .collect();
    assert_eq!(
        second.len(),
        1,
        "{:?}",
        out.iter().map(|o| &o.1).collect::<Vec<_>>()
    );
    assert_eq!(ep.call_stats().failovers, 1);
}

#[test]
fn an_answer_is_retransmitted_until_the_ack_and_the_ack_is_passed_on() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let b_invite = &out
        .iter()
        .find(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap()
        .2;
    ep.handle_datagram(&answer(b_invite, 200, "pbx1", true), from(1, PBX1), t0);
    let out = sent(&mut ep);
    let ok: Vec<_> = out
        .iter()
        .filter(|(to, l, _)| l.starts_with("SIP/2.0 200") && to.to_string() == CLOUD)
        .collect();
    assert_eq!(ok.len(), 1, "the 200 is relayed to the caller");
    assert!(
        !out.iter().any(|(_, l, _)| l.starts_with("ACK")),
        "the callee's ACK waits for the caller's"
    );
    // T1 = 500 ms: 2xx again at 0.5 s and 1.5 s.
    let out = step_until(&mut ep, t0, t0 + Duration::from_millis(1600));
    let re: Vec<_> = out
        .iter()
        .filter(|(_, l, _)| l.starts_with("SIP/2.0 200"))
        .collect();
    assert_eq!(re.len(), 2, "2xx retransmitted at T1 and 3·T1");
    // The caller's ACK stops them and is passed on to the callee.
    let SipMessage::Response(r200) = &ok[0].2 else {
        panic!()
    };
    let to = r200
        .headers
        .get(&crate::sip::message::HeaderName::To)
        .unwrap();
    let ack = format!(
        "ACK sip:pbxgate@{WAN} SIP/2.0\r\nVia: SIP/2.0/UDP {CLOUD};branch=z9hG4bKack1\r\nMax-Forwards: 70\r\n\
         From: <sip:+15551230000@cloud.example>;tag=c1\r\nTo: {to}\r\nCall-ID: cloud-call-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    let t1 = t0 + Duration::from_millis(1700);
    ep.handle_datagram(ack.as_bytes(), from(0, CLOUD), t1);
    let out = sent(&mut ep);
    assert!(
        out.iter()
            .any(|(to, l, _)| l.starts_with("ACK") && to.to_string() == PBX1),
        "ACK passed on"
    );
    let out = step_until(&mut ep, t1, t1 + Duration::from_secs(10));
    assert!(
        !out.iter().any(|(_, l, _)| l.starts_with("SIP/2.0 200")),
        "no 2xx after the ACK"
    );
    assert_eq!(ep.active_calls(), 1, "the call is up");
}

#[test]
fn no_ack_from_the_caller_ends_the_call_on_both_legs() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let b_invite = &out
        .iter()
        .find(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap()
        .2;
    ep.handle_datagram(&answer(b_invite, 200, "pbx1", true), from(1, PBX1), t0);
    let out = step_until(&mut ep, t0, t0 + Duration::from_secs(33));
    let byes: Vec<_> = out
        .iter()
        .filter(|(_, l, _)| l.starts_with("BYE"))
        .map(|(to, _, _)| to.to_string())
        .collect();
    assert!(
        byes.contains(&CLOUD.to_string()) && byes.contains(&PBX1.to_string()),
        "{byes:?}"
    );
    let rec = ep.call_records().pop().unwrap();
    assert_eq!(rec.hangup_cause, Some(crate::call::HangupCause::AckTimeout));
}

#[test]
fn a_cancel_before_any_provisional_waits_for_one() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let b_invite = out
        .iter()
        .find(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap()
        .2
        .clone();
    let cancel = format!(
        "CANCEL sip:+18885550000@{WAN} SIP/2.0\r\nVia: SIP/2.0/UDP {CLOUD};branch=z9hG4bKcloud1\r\nMax-Forwards: 70\r\n\
         From: <sip:+15551230000@cloud.example>;tag=c1\r\nTo: <sip:+18885550000@{WAN}>\r\nCall-ID: cloud-call-1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_datagram(cancel.as_bytes(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let to_cloud: Vec<&str> = out
        .iter()
        .filter(|(to, _, _)| to.to_string() == CLOUD)
        .map(|(_, l, _)| l.as_str())
        .collect();
    assert!(
        to_cloud.iter().any(|l| l.starts_with("SIP/2.0 200")),
        "{to_cloud:?}"
    );
    assert!(
        to_cloud.iter().any(|l| l.starts_with("SIP/2.0 487")),
        "{to_cloud:?}"
    );
    assert!(
        !out.iter().any(|(_, l, _)| l.starts_with("CANCEL")),
        "§9.1: no CANCEL before a provisional"
    );
    ep.handle_datagram(&answer(&b_invite, 180, "pbx1", false), from(1, PBX1), t0);
    let out = sent(&mut ep);
    assert!(out
        .iter()
        .any(|(to, l, _)| l.starts_with("CANCEL") && to.to_string() == PBX1));
    assert!(
        !out.iter().any(|(to, _, _)| to.to_string() == CLOUD),
        "the 180 is not relayed after the 487"
    );
}

#[test]
fn the_call_over_the_limit_gets_503_with_retry_after() {
    let t0 = Instant::now();
    let calls = CallsConfig {
        max_concurrent: 1,
        retry_after_s: 9,
        ..CallsConfig::default()
    };
    let mut ep = endpoint(calls, t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    sent(&mut ep);
    let second = String::from_utf8(invite())
        .unwrap()
        .replace("cloud-call-1", "cloud-call-2")
        .replace("cloud1", "cloud2");
    ep.handle_datagram(second.as_bytes(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let busy = out
        .iter()
        .find(|(_, l, _)| l.starts_with("SIP/2.0 503"))
        .expect("503");
    assert!(
        busy.2
            .headers()
            .get(&crate::sip::message::HeaderName::RetryAfter)
            == Some("9")
    );
    assert_eq!(ep.call_stats().rejected_busy, 1);
}

/// Brings a call to the confirmed state (200 relayed, caller's ACK in) and
/// returns the caller's 200.
fn answered_call(ep: &mut Core, t0: Instant, extra_200: &str) -> crate::sip::message::Response {
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(ep);
    let b_invite = &out
        .iter()
        .find(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap()
        .2;
    let mut ok = String::from_utf8(answer(b_invite, 200, "pbx1", true)).unwrap();
    ok = ok.replacen("\r\n", &format!("\r\n{extra_200}"), 1);
    answered_call_ack(ep, ok.as_bytes(), t0)
}

#[test]
fn session_timer_ends_a_call_that_is_never_refreshed() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    let r200 = answered_call(
        &mut ep,
        t0,
        "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n",
    );
    assert_eq!(
        r200.headers
            .get(&crate::sip::message::HeaderName::SessionExpires),
        Some("90;refresher=uac"),
        "the callee's session interval reaches the caller"
    );
    // RFC 4028 §10: BYE at S - min(32, S/3) = 60 s, not before.
    let out = step_until(&mut ep, t0, t0 + Duration::from_millis(59_900));
    assert!(!out.iter().any(|(_, l, _)| l.starts_with("BYE")));
    let out = step_until(&mut ep, t0, t0 + Duration::from_secs(61));
    let byes: Vec<String> = out
        .iter()
        .filter(|(_, l, _)| l.starts_with("BYE"))
        .map(|(to, _, _)| to.to_string())
        .collect();
    assert!(
        byes.contains(&CLOUD.to_string()) && byes.contains(&PBX1.to_string()),
        "{byes:?}"
    );
    let rec = ep.call_records().pop().unwrap();
    assert_eq!(
        rec.hangup_cause,
        Some(crate::call::HangupCause::SessionExpired)
    );
}

#[test]
fn a_relayed_refresh_keeps_the_session_alive() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    let r200 = answered_call(&mut ep, t0, "Session-Expires: 90;refresher=uac\r\n");
    let to = r200
        .headers
        .get(&crate::sip::message::HeaderName::To)
        .unwrap()
        .to_string();
    // The caller refreshes with UPDATE at 50 s; the PBX answers with S again.
    let t1 = t0 + Duration::from_secs(50);
    step_until(&mut ep, t0, t1);
    let update = format!(
        "UPDATE sip:pbxgate@{WAN} SIP/2.0\r\nVia: SIP/2.0/UDP {CLOUD};branch=z9hG4bKupd1\r\nMax-Forwards: 70\r\n\
         From: <sip:+15551230000@cloud.example>;tag=c1\r\nTo: {to}\r\nCall-ID: cloud-call-1\r\nCSeq: 2 UPDATE\r\n\
         Session-Expires: 90;refresher=uac\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_datagram(update.as_bytes(), from(0, CLOUD), t1);
    let out = sent(&mut ep);
    let relayed = &out
        .iter()
        .find(|(to, l, _)| l.starts_with("UPDATE") && to.to_string() == PBX1)
        .expect("UPDATE relayed")
        .2;
    let SipMessage::Request(u) = relayed else {
        panic!()
    };
    assert_eq!(
        u.headers
            .get(&crate::sip::message::HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    let mut ok = crate::sip::message::Response::for_request(u, 200, None);
    ok.headers.push(
        crate::sip::message::HeaderName::SessionExpires,
        "90;refresher=uac",
    );
    ep.handle_datagram(&ok.to_bytes(), from(1, PBX1), t1);
    let out = sent(&mut ep);
    assert!(
        out.iter()
            .any(|(to, l, _)| l.starts_with("SIP/2.0 200") && to.to_string() == CLOUD),
        "200 relayed"
    );
    // Not at 60 s any more; at 50 + 60 = 110 s.
    let out = step_until(&mut ep, t1, t0 + Duration::from_secs(109));
    assert!(!out.iter().any(|(_, l, _)| l.starts_with("BYE")));
    let out = step_until(&mut ep, t1, t0 + Duration::from_secs(111));
    assert!(out.iter().any(|(_, l, _)| l.starts_with("BYE")));
}

#[test]
fn a_retransmitted_2xx_from_the_callee_is_acked_again() {
    let t0 = Instant::now();
    let mut ep = endpoint(CallsConfig::default(), t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    let out = sent(&mut ep);
    let b_invite = out
        .iter()
        .find(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap()
        .2
        .clone();
    let ok = answer(&b_invite, 200, "pbx1", true);
    let _ = answered_call_ack(&mut ep, &ok, t0);
    // The callee's 200 comes again (our ACK was lost): ACK again.
    let t1 = t0 + Duration::from_millis(500);
    ep.handle_datagram(&ok, from(1, PBX1), t1);
    let out = sent(&mut ep);
    let acks = out
        .iter()
        .filter(|(to, l, _)| l.starts_with("ACK") && to.to_string() == PBX1)
        .count();
    assert_eq!(
        acks,
        1,
        "{:?}",
        out.iter().map(|o| &o.1).collect::<Vec<_>>()
    );
}

/// Relays the callee's 200, sends the caller's ACK for it, and returns the
/// 200 the caller got.
fn answered_call_ack(ep: &mut Core, ok: &[u8], t0: Instant) -> crate::sip::message::Response {
    ep.handle_datagram(ok, from(1, PBX1), t0);
    let out = sent(ep);
    let SipMessage::Response(r200) = out
        .into_iter()
        .find(|(_, l, _)| l.starts_with("SIP/2.0 200"))
        .unwrap()
        .2
    else {
        panic!()
    };
    let to = r200
        .headers
        .get(&crate::sip::message::HeaderName::To)
        .unwrap();
    let ack = format!(
        "ACK sip:pbxgate@{WAN} SIP/2.0\r\nVia: SIP/2.0/UDP {CLOUD};branch=z9hG4bKack1\r\nMax-Forwards: 70\r\n\
         From: <sip:+15551230000@cloud.example>;tag=c1\r\nTo: {to}\r\nCall-ID: cloud-call-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_datagram(ack.as_bytes(), from(0, CLOUD), t0);
    let out = sent(ep);
    assert!(out
        .iter()
        .any(|(to, l, _)| l.starts_with("ACK") && to.to_string() == PBX1));
    r200
}

// ----- emergency calls ----------------------------------------------------

const TRUNK: &str = "198.51.100.20:5060";
const PSAP: &str = "198.51.100.30:5060";

fn endpoint_with(toml: &str, calls: CallsConfig, now: Instant) -> Core {
    Core::new(
        endpoint_config(toml, calls),
        IdGenerator::from_seed(3),
        now,
        SystemTime::UNIX_EPOCH,
    )
}

fn passthrough() -> CallsConfig {
    CallsConfig {
        sdp: crate::config::SdpMode::Passthrough,
        ..CallsConfig::default()
    }
}

/// Routes for calls from the PBX: ordinary ones to the trunk, emergency
/// ones to the PSAP gateway; plus the WAN route of `endpoint`.
fn emergency_routes() -> String {
    format!(
        "[emergency]\nroute = 'psap'\n\
         [[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n\
         [[route]]\nname='out'\nfrom='lan'\ntargets=[{{ uri='sip:trunk@{TRUNK}' }}]\n\
         [[route]]\nname='psap'\nfrom='lan'\ntargets=[{{ uri='sip:psap@{PSAP}' }}]\n"
    )
}

/// An INVITE from the PBX at `pbx` to `number`.
fn pbx_invite(number: &str, pbx: &str, n: u32) -> Vec<u8> {
    format!(
        "INVITE sip:{number}@{LAN} SIP/2.0\r\nVia: SIP/2.0/UDP {pbx};branch=z9hG4bKpbx{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:201@pbx.lan>;tag=p{n}\r\nTo: <sip:{number}@{LAN}>\r\n\
         Call-ID: pbx-call-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:201@{pbx}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
    )
    .into_bytes()
}

fn invites_to(out: &[(SocketAddr, String, SipMessage)], to: &str) -> usize {
    out.iter()
        .filter(|(a, l, _)| l.starts_with("INVITE") && a.to_string() == to)
        .count()
}

#[test]
fn at_the_call_limit_an_emergency_call_goes_out_and_an_ordinary_one_gets_503() {
    let t0 = Instant::now();
    let calls = CallsConfig {
        max_concurrent: 1,
        ..passthrough()
    };
    let mut ep = endpoint_with(&emergency_routes(), calls, t0);
    ep.handle_datagram(&invite(), from(0, CLOUD), t0);
    assert_eq!(
        invites_to(&sent(&mut ep), PBX1),
        1,
        "the first call fills the limit"
    );
    assert_eq!(ep.active_calls(), 1);

    ep.handle_datagram(&pbx_invite("5551234", PBX2, 2), from(1, PBX2), t0);
    let out = sent(&mut ep);
    assert_eq!(invites_to(&out, TRUNK), 0);
    assert!(
        out.iter()
            .any(|(a, l, _)| l.starts_with("SIP/2.0 503") && a.to_string() == PBX2),
        "an ordinary call over the limit is refused"
    );

    ep.handle_datagram(&pbx_invite("+1-12", PBX2, 3), from(1, PBX2), t0);
    let out = sent(&mut ep);
    assert_eq!(invites_to(&out, PSAP), 1, "the emergency call goes out");
    assert!(!out.iter().any(|(_, l, _)| l.starts_with("SIP/2.0 503")));
    assert_eq!(ep.active_calls(), 2, "it counts in active calls");

    let s = ep.call_stats();
    assert_eq!((s.emergency, s.rejected_busy, s.started), (1, 1, 2));
    let records = ep.call_records();
    let e = records
        .iter()
        .find(|r| r.caller_call_id == "pbx-call-3")
        .expect("record");
    assert!(e.emergency);
    assert_eq!(e.route.as_deref(), Some("psap"));
    assert!(records
        .iter()
        .filter(|r| r.caller_call_id != "pbx-call-3")
        .all(|r| !r.emergency));
}

#[test]
fn an_emergency_call_is_not_refused_for_want_of_media_ports() {
    let t0 = Instant::now();
    let calls = CallsConfig {
        sdp: crate::config::SdpMode::Anchor,
        ..CallsConfig::default()
    };
    // Room for one call's two port pairs.
    let toml = format!(
        "{}[media]\nport_min = 40000\nport_max = 40003\n",
        emergency_routes()
    );
    let mut ep = endpoint_with(&toml, calls, t0);
    let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.22\r\ns=-\r\nc=IN IP4 10.0.0.22\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let with_sdp = |n: u32, number: &str| {
        String::from_utf8(pbx_invite(number, PBX2, n))
            .unwrap()
            .replace(
                "Content-Length: 4\r\n\r\nv=0\n",
                &format!("Content-Length: {}\r\n\r\n{sdp}", sdp.len()),
            )
    };
    ep.handle_datagram(with_sdp(1, "5551234").as_bytes(), from(1, PBX2), t0);
    assert_eq!(
        invites_to(&sent(&mut ep), TRUNK),
        1,
        "the first call takes the ports"
    );
    ep.handle_datagram(with_sdp(2, "5551235").as_bytes(), from(1, PBX2), t0);
    let out = sent(&mut ep);
    assert!(
        out.iter().any(|(_, l, _)| l.starts_with("SIP/2.0 503")),
        "no ports: 503"
    );
    ep.handle_datagram(with_sdp(3, "911").as_bytes(), from(1, PBX2), t0);
    let out = sent(&mut ep);
    let (_, _, SipMessage::Request(psap)) = out
        .iter()
        .find(|(a, l, _)| l.starts_with("INVITE") && a.to_string() == PSAP)
        .expect("the emergency call goes out")
    else {
        panic!("not a request")
    };
    assert_eq!(
        String::from_utf8_lossy(&psap.body),
        sdp,
        "its offer passes unanchored"
    );
}

/// An endpoint with the admission of `listeners` (TOML).
fn admitting_endpoint(listeners: &str, now: Instant) -> Core {
    let admission = Config::from_toml(listeners)
        .expect("listeners")
        .listeners
        .iter()
        .map(|l| crate::policy::Admission::from_listener(l).expect("admission"))
        .collect();
    let mut cfg = endpoint_config(&emergency_routes(), passthrough());
    cfg.admission = admission;
    Core::new(cfg, IdGenerator::from_seed(3), now, SystemTime::UNIX_EPOCH)
}

/// An endpoint whose LAN listener admits 1 packet/s per source.
fn rate_limited_endpoint(now: Instant) -> Core {
    admitting_endpoint(
        &format!(
            "[[listener]]\nname='wan'\nside='wan'\nbind='{WAN}'\nallow=['0.0.0.0/0']\n\
             [[listener]]\nname='lan'\nside='lan'\nbind='{LAN}'\nrate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n"
        ),
        now,
    )
}

#[test]
fn over_the_lan_rate_limit_only_emergency_calls_pass_and_stay_up() {
    let t0 = Instant::now();
    let mut ep = rate_limited_endpoint(t0);
    // The PBX floods: its one token goes to the first packet.
    for _ in 0..20 {
        ep.handle_datagram(b"junk\r\n\r\n", from(1, PBX2), t0);
    }
    ep.handle_datagram(&pbx_invite("5551234", PBX2, 1), from(1, PBX2), t0);
    let out = sent(&mut ep);
    assert!(out.is_empty(), "an ordinary INVITE is dropped: {out:?}");

    ep.handle_datagram(&pbx_invite("112", PBX2, 2), from(1, PBX2), t0);
    let out = sent(&mut ep);
    let (_, _, b_invite) = out
        .iter()
        .find(|(a, l, _)| l.starts_with("INVITE") && a.to_string() == PSAP)
        .expect("the emergency INVITE passes the limit");
    let ok = answer(b_invite, 200, "psap1", true);
    ep.handle_datagram(&ok, from(0, PSAP), t0);
    let out = sent(&mut ep);
    let SipMessage::Response(r200) = &out
        .iter()
        .find(|(a, l, _)| l.starts_with("SIP/2.0 200") && a.to_string() == PBX2)
        .expect("the answer reaches the PBX")
        .2
    else {
        panic!("not a response")
    };
    // Still flooding: the PBX's ACK is a message of the emergency call.
    let to = r200
        .headers
        .get(&crate::sip::message::HeaderName::To)
        .unwrap();
    let ack = format!(
        "ACK sip:psap@{LAN} SIP/2.0\r\nVia: SIP/2.0/UDP {PBX2};branch=z9hG4bKack2\r\nMax-Forwards: 70\r\n\
         From: <sip:201@pbx.lan>;tag=p2\r\nTo: {to}\r\nCall-ID: pbx-call-2\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_datagram(b"junk\r\n\r\n", from(1, PBX2), t0);
    ep.handle_datagram(ack.as_bytes(), from(1, PBX2), t0);
    let out = sent(&mut ep);
    assert!(
        out.iter()
            .any(|(a, l, _)| l.starts_with("ACK") && a.to_string() == PSAP),
        "the ACK passes the limit: {:?}",
        out.iter().map(|o| &o.1).collect::<Vec<_>>()
    );
    assert_eq!(ep.stats().emergency_exempt, 2);
    // A message of an ordinary call is still dropped.
    ep.handle_datagram(
        ack.replace("pbx-call-2", "pbx-call-1").as_bytes(),
        from(1, PBX2),
        t0,
    );
    assert!(sent(&mut ep).is_empty());
    assert_eq!(ep.stats().emergency_exempt, 2);
}

#[test]
fn a_source_outside_the_lan_allowlist_gets_no_exemption() {
    let t0 = Instant::now();
    let mut ep = rate_limited_endpoint(t0);
    let stranger = "203.0.113.9:5060";
    // The first gets its 403; then the refusals themselves are limited.
    ep.handle_datagram(b"junk\r\n\r\n", from(1, stranger), t0);
    ep.handle_datagram(&pbx_invite("112", stranger, 1), from(1, stranger), t0);
    let out = sent(&mut ep);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(ep.stats().emergency_exempt, 0);
    // A WAN source gets no exemption either: emergency calls come from the PBX.
    let cloud = |n: u32| {
        String::from_utf8(invite())
            .unwrap()
            .replace("+18885550000@", "112@")
            .replace("cloud-call-1", &format!("cloud-call-{n}"))
            .replace("cloud1", &format!("cloud{n}"))
    };
    let mut wan = admitting_endpoint(
        &format!(
            "[[listener]]\nname='wan'\nside='wan'\nbind='{WAN}'\nallow=['0.0.0.0/0']\n\
             rate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n"
        ),
        t0,
    );
    wan.handle_datagram(cloud(1).as_bytes(), from(0, CLOUD), t0);
    assert_eq!(invites_to(&sent(&mut wan), PBX1), 1);
    wan.handle_datagram(cloud(2).as_bytes(), from(0, CLOUD), t0);
    assert!(sent(&mut wan).is_empty(), "over the WAN limit: dropped");
    assert_eq!(wan.stats().emergency_exempt, 0);
}
