//! Core tests through its sans-IO interface: bytes in, bytes out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Config, InboundAuthConfig, InboundUser, Side};
use crate::sip::auth::{challenges, Challenge, DigestClient};
use crate::sip::message::{parse_message, Framing, Method, SipMessage};
use crate::sip::transport::{ListenerId, Peer, Transport};

fn endpoint() -> Core {
    let mut cfg = CoreConfig::basic("pbxgate-test");
    cfg.listener_sides = vec![Side::Wan, Side::Lan];
    cfg.inbound_auth = InboundAuthConfig {
        users: vec![InboundUser {
            username: "retreaver".into(),
            password: "s3cret".into(),
        }],
        max_failures: 3,
        ..InboundAuthConfig::default()
    };
    Core::new(
        cfg,
        IdGenerator::from_seed(1),
        Instant::now(),
        std::time::SystemTime::now(),
    )
}

fn peer(listener: u16, ip: &str) -> Peer {
    Peer {
        listener: ListenerId(listener),
        transport: Transport::Udp,
        remote: SocketAddr::new(ip.parse().unwrap(), 5060),
        connection: None,
    }
}

fn invite(n: u32, auth: Option<&str>) -> Vec<u8> {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+15551234567@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKinv{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:caller@example.net>;tag=f{n}\r\n\
         To: <sip:+15551234567@gw.example.com>\r\nCall-ID: call-{n}\r\nCSeq: {n} INVITE\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The final responses the endpoint sent.
fn finals(ep: &mut Core) -> Vec<Response> {
    let mut out = Vec::new();
    for t in crate::test_support::drain(ep).transmits {
        if let Ok(SipMessage::Response(r)) = parse_message(&t.bytes, Framing::Datagram) {
            if r.status >= 200 {
                out.push(r);
            }
        }
    }
    out
}

fn answer(c: &Challenge, client: &mut DigestClient, password: &str) -> String {
    client
        .authorize(
            c,
            "retreaver",
            password,
            &Method::Invite,
            "sip:+15551234567@gw.example.com",
            "0a4f113b",
        )
        .unwrap()
        .to_header_value()
}

/// The To tag the endpoint itself gives an OPTIONS (a local UAS answer).
fn options_to_tag(seed: u64) -> String {
    let mut ep = Core::new(
        CoreConfig::basic("pbxgate-test"),
        IdGenerator::from_seed(seed),
        Instant::now(),
        std::time::SystemTime::now(),
    );
    let options = "OPTIONS sip:gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKopt1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@example.net>;tag=p1\r\n\
         To: <sip:gw.example.com>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n";
    ep.handle_datagram(options.as_bytes(), peer(0, "127.0.0.9"), Instant::now());
    let answers = finals(&mut ep);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status, 200);
    answers[0].headers.to_tag().expect("a To tag")
}

#[test]
fn local_answers_take_their_tag_from_the_injected_generator() {
    let a = options_to_tag(11);
    assert_eq!(a, options_to_tag(11));
    assert_ne!(a, options_to_tag(12));
    // RFC 3261 §19.3: at least 32 random bits; 16 hex digits are 64.
    assert_eq!(a.len(), 16);
}

#[test]
fn wan_invite_is_challenged_then_admitted_with_the_right_password() {
    let mut ep = endpoint();
    let now = Instant::now();
    let from = peer(0, "203.0.113.10");
    ep.handle_datagram(&invite(1, None), from, now);
    let r = finals(&mut ep);
    assert_eq!(r[0].status, 401);
    let offered: Vec<Challenge> = challenges(&r[0].headers, &HeaderName::WwwAuthenticate)
        .into_iter()
        .map(|c| c.unwrap())
        .collect();
    assert_eq!(offered[0].realm, "pbxgate");
    let mut client = DigestClient::new();
    let auth = answer(&offered[0], &mut client, "s3cret");
    ep.handle_datagram(&invite(2, Some(&auth)), from, now);
    assert_eq!(
        finals(&mut ep)[0].status,
        480,
        "admitted, then no route yet"
    );

    // The same Authorization again (same nonce, same nonce-count): a replay.
    ep.handle_datagram(&invite(3, Some(&auth)), from, now);
    assert_eq!(finals(&mut ep)[0].status, 403);
    // The next nonce-count on the same nonce is fine.
    let auth = answer(&offered[0], &mut client, "s3cret");
    ep.handle_datagram(&invite(4, Some(&auth)), from, now);
    assert_eq!(finals(&mut ep)[0].status, 480);
}

#[test]
fn wrong_password_gets_403_and_repeated_failures_block_the_source() {
    let mut ep = endpoint();
    let now = Instant::now();
    let from = peer(0, "203.0.113.66");
    for n in 0..3 {
        ep.handle_datagram(&invite(10 + 2 * n, None), from, now);
        let r = finals(&mut ep);
        let c = Challenge::parse(r[0].headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let auth = answer(&c, &mut DigestClient::new(), "guess");
        ep.handle_datagram(&invite(11 + 2 * n, Some(&auth)), from, now);
        assert_eq!(finals(&mut ep)[0].status, 403);
    }
    // Blocked now: nothing at all comes back, and it is counted.
    ep.handle_datagram(&invite(99, None), from, now);
    assert!(finals(&mut ep).is_empty());
    assert_eq!(ep.stats().dropped_blocked, 1);
    // Another source is unaffected.
    ep.handle_datagram(&invite(100, None), peer(0, "203.0.113.67"), now);
    assert_eq!(finals(&mut ep)[0].status, 401);
}

#[test]
fn lan_side_and_options_are_not_challenged() {
    let mut ep = endpoint();
    let now = Instant::now();
    ep.handle_datagram(&invite(1, None), peer(1, "192.168.1.20"), now);
    assert_eq!(finals(&mut ep)[0].status, 480);
    let options = b"OPTIONS sip:gw.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.10;branch=z9hG4bKo1\r\n\
Max-Forwards: 70\r\nFrom: <sip:mon@example.net>;tag=1\r\nTo: <sip:gw.example.com>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    ep.handle_datagram(options, peer(0, "203.0.113.10"), now);
    assert_eq!(finals(&mut ep)[0].status, 200);
}

#[test]
fn forged_nonces_are_rechallenged_and_never_block_the_source() {
    let mut ep = endpoint();
    let now = Instant::now();
    let from = peer(0, "203.0.113.80");
    let forged = "Digest username=\"retreaver\", realm=\"pbxgate\", nonce=\"0000\", \
                  uri=\"sip:+15551234567@gw.example.com\", response=\"00000000000000000000000000000000\", \
                  algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\"";
    for n in 0..10 {
        ep.handle_datagram(&invite(200 + n, Some(forged)), from, now);
        assert_eq!(
            finals(&mut ep)[0].status,
            401,
            "a fresh challenge, not a 403"
        );
    }
    assert_eq!(ep.stats().dropped_blocked, 0);
}

/// An endpoint whose listeners (and their admission) come from TOML, with
/// the user `retreaver` / `s3cret` and 3 failures to a block.
fn endpoint_with(listeners: &str) -> Core {
    let cfg = Config::from_toml(&format!(
        "[inbound_auth]\nusers = [{{ username = 'retreaver', password = 's3cret' }}]\n\
         max_failures = 3\n{listeners}"
    ))
    .expect("config");
    let mut ec = CoreConfig::basic("pbxgate-test");
    ec.listener_sides = cfg.listeners.iter().map(|l| l.side).collect();
    ec.inbound_auth = cfg.inbound_auth.clone();
    ec.admission = cfg
        .listeners
        .iter()
        .map(|l| Admission::from_listener(l).expect("admission"))
        .collect();
    Core::new(
        ec,
        crate::sip::ids::IdGenerator::from_seed(1),
        Instant::now(),
        std::time::SystemTime::now(),
    )
}

/// Challenge, then a wrong password, `times` times: each ends in 403.
/// `first`: the first CSeq/branch number (each call uses new ones, or the
/// transaction layer takes them for retransmissions).
fn fail_digest(ep: &mut Core, from: Peer, first: u32, times: u32, now: Instant) {
    for n in first..first + times {
        ep.handle_datagram(&invite(2 * n, None), from, now);
        let r = finals(ep);
        assert_eq!(r[0].status, 401, "{from}");
        let c = Challenge::parse(r[0].headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let auth = answer(&c, &mut DigestClient::new(), "guess");
        ep.handle_datagram(&invite(2 * n + 1, Some(&auth)), from, now);
        assert_eq!(finals(ep)[0].status, 403, "{from}");
    }
}

#[test]
fn either_listener_never_blocks_a_listed_source_for_a_neighbours_failures() {
    // Failures are counted per IPv6 /64: a stranger in the platform's /64
    // fails until the /64 is blocked ...
    let mut ep = endpoint_with(
        "[[listener]]\nname='wan'\nside='wan'\nbind='[::1]:5060'\nadmit='either'\n\
         allow=['2001:db8:1:2::10/128']\n",
    );
    let now = Instant::now();
    let stranger = peer(0, "2001:db8:1:2::99");
    fail_digest(&mut ep, stranger, 500, 3, now);
    ep.handle_datagram(&invite(1, None), stranger, now);
    assert!(finals(&mut ep).is_empty(), "the stranger is blocked");
    // ... the listed platform in it is still admitted without a challenge
    // (480: no route in this test).
    ep.handle_datagram(&invite(2, None), peer(0, "2001:db8:1:2::10"), now);
    assert_eq!(finals(&mut ep)[0].status, 480);
    assert_eq!(ep.stats().dropped_blocked, 1);
}

#[test]
fn either_listener_admits_a_listed_source_that_failed_on_a_digest_listener() {
    let mut ep = endpoint_with(
        "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\nadmit='either'\n\
         allow=['198.51.100.7']\n\
         [[listener]]\nname='carrier'\nside='wan'\nbind='127.0.0.1:5070'\nadmit='digest'\n",
    );
    let now = Instant::now();
    // The platform's address fails on the `digest` listener: blocked there,
    // as before.
    fail_digest(&mut ep, peer(1, "198.51.100.7"), 500, 3, now);
    ep.handle_datagram(&invite(1, None), peer(1, "198.51.100.7"), now);
    assert!(finals(&mut ep).is_empty(), "blocked on the digest listener");
    // On the `either` listener it is listed: admitted, not challenged.
    ep.handle_datagram(&invite(2, None), peer(0, "198.51.100.7"), now);
    assert_eq!(finals(&mut ep)[0].status, 480);
    // An unlisted source failing on the `either` listener is blocked there.
    let stranger = peer(0, "203.0.113.66");
    fail_digest(&mut ep, stranger, 600, 3, now);
    ep.handle_datagram(&invite(3, None), stranger, now);
    assert!(finals(&mut ep).is_empty(), "the stranger is blocked");
    // The listed source sending wrong credentials is not even checked.
    let forged = "Digest username=\"retreaver\", realm=\"pbxgate\", nonce=\"0000\", \
                  uri=\"sip:+15551234567@gw.example.com\", response=\"00000000000000000000000000000000\"";
    for n in 0..5 {
        ep.handle_datagram(&invite(10 + n, Some(forged)), peer(0, "198.51.100.7"), now);
        assert_eq!(finals(&mut ep)[0].status, 480);
    }
    assert_eq!(ep.stats().dropped_blocked, 2);
}

#[test]
fn a_tcp_connection_from_a_source_not_allowed_is_closed() {
    let mut ep = endpoint_with(
        "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\nrate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n",
    );
    let now = Instant::now();
    let tcp = |ip: &str| Peer {
        transport: Transport::Tcp,
        connection: Some(crate::sip::transport::ConnectionId(7)),
        ..peer(0, ip)
    };
    ep.handle_stream_message(&invite(1, None), tcp("203.0.113.5"), now);
    let out = crate::test_support::drain(&mut ep);
    assert!(out.transmits.is_empty(), "nothing answered");
    assert_eq!(out.closes, vec!["203.0.113.5:5060".parse().unwrap()]);
    // A listed source over its rate keeps its connection.
    ep.handle_stream_message(&invite(2, None), tcp("127.0.0.1"), now);
    ep.handle_stream_message(&invite(3, None), tcp("127.0.0.1"), now);
    assert!(crate::test_support::drain(&mut ep).closes.is_empty());
    assert_eq!(ep.admission()[0].counters().dropped_rate_limited_listed, 1);
}

#[test]
fn counters_and_drop_summaries_are_due_by_time() {
    let now = Instant::now();
    let mut cfg = CoreConfig::basic("pbxgate-test");
    cfg.counters_interval = Some(Duration::from_secs(300));
    let mut ep = Core::new(
        cfg,
        crate::sip::ids::IdGenerator::from_seed(1),
        now,
        std::time::SystemTime::now(),
    );
    assert_eq!(ep.poll_timeout(), Some(now + Duration::from_secs(300)));
    ep.handle_timeout(now + Duration::from_secs(300));
    assert_eq!(ep.poll_timeout(), Some(now + Duration::from_secs(600)));
    let ep = endpoint();
    assert_eq!(ep.poll_timeout(), None, "off unless configured");
}
