//! Endpoint tests through its sans-IO interface: bytes in, bytes out.

use std::time::Instant;

use super::*;
use crate::config::{InboundAuthConfig, InboundUser, Side};
use crate::sip::auth::{challenges, Challenge, DigestClient};
use crate::sip::message::{parse_message, Framing, Method, SipMessage};
use crate::sip::transport::{ListenerId, Peer, Transport};

fn endpoint() -> Endpoint {
    let mut cfg = EndpointConfig::basic("pbxgate-test");
    cfg.listener_sides = vec![Side::Wan, Side::Lan];
    cfg.inbound_auth = InboundAuthConfig {
        users: vec![InboundUser {
            username: "retreaver".into(),
            password: "s3cret".into(),
        }],
        max_failures: 3,
        ..InboundAuthConfig::default()
    };
    Endpoint::new(
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
        remote: format!("{ip}:5060").parse().unwrap(),
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
fn finals(ep: &mut Endpoint) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(t) = ep.poll_transmit() {
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
    let mut ep = Endpoint::new(
        EndpointConfig::basic("pbxgate-test"),
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
