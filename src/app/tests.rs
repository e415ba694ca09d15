//! Core tests through its sans-IO interface: bytes in, bytes out.

use std::time::Duration;

use super::*;
use crate::sip::auth::{challenges, Challenge, DigestClient};
use crate::sip::message::Method;
use crate::sip::transport::{ConnectionId, Transport};
use crate::test_support::{request, udp, Setup, Step, TestCore};

/// The user `retreaver` / `s3cret`, and 3 failures to a block.
const AUTH: &str = "[inbound_auth]\nusers = [{ username = 'retreaver', password = 's3cret' }]\n\
                    max_failures = 3\n";

fn endpoint() -> TestCore {
    Setup::new(AUTH).seed(1).start()
}

/// An endpoint whose listeners (and their admission) come from TOML, with
/// the user `retreaver` / `s3cret` and 3 failures to a block.
fn endpoint_with(listeners: &str) -> TestCore {
    Setup::with_listeners(&format!("{AUTH}{listeners}"))
        .seed(1)
        .start()
}

fn invite(n: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    request(
        "INVITE",
        "203.0.113.10:5060",
        "sip:+15551234567@gw.example.com",
        &format!("call-{n}"),
        &auth,
        None,
    )
}

/// The final responses the endpoint sent.
fn finals(step: Step) -> Vec<Response> {
    step.finals().into_iter().cloned().collect()
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
    let mut ep = Setup::new("").seed(seed).start();
    let options = request(
        "OPTIONS",
        "203.0.113.10:5060",
        "sip:gw.example.com",
        "opt-1",
        "",
        None,
    );
    let answers = finals(ep.receive(&options, udp(0, "127.0.0.9")));
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
    let from = udp(0, "203.0.113.10");
    let r = finals(ep.receive(&invite(1, None), from));
    assert_eq!(r[0].status, 401);
    let offered: Vec<Challenge> = challenges(&r[0].headers, &HeaderName::WwwAuthenticate)
        .into_iter()
        .map(|c| c.unwrap())
        .collect();
    assert_eq!(offered[0].realm, "pbxgate");
    let mut client = DigestClient::new();
    let auth = answer(&offered[0], &mut client, "s3cret");
    assert_eq!(
        finals(ep.receive(&invite(2, Some(&auth)), from))[0].status,
        480,
        "admitted, then no route yet"
    );

    // The same Authorization again (same nonce, same nonce-count): a replay.
    assert_eq!(
        finals(ep.receive(&invite(3, Some(&auth)), from))[0].status,
        403
    );
    // The next nonce-count on the same nonce is fine.
    let auth = answer(&offered[0], &mut client, "s3cret");
    assert_eq!(
        finals(ep.receive(&invite(4, Some(&auth)), from))[0].status,
        480
    );
}

#[test]
fn wrong_password_gets_403_and_repeated_failures_block_the_source() {
    let mut ep = endpoint();
    let from = udp(0, "203.0.113.66");
    for n in 0..3 {
        let r = finals(ep.receive(&invite(10 + 2 * n, None), from));
        let c = Challenge::parse(r[0].headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let auth = answer(&c, &mut DigestClient::new(), "guess");
        assert_eq!(
            finals(ep.receive(&invite(11 + 2 * n, Some(&auth)), from))[0].status,
            403
        );
    }
    // Blocked now: nothing at all comes back, and it is counted.
    assert!(finals(ep.receive(&invite(99, None), from)).is_empty());
    assert_eq!(ep.stats().dropped_blocked, 1);
    // Another source is unaffected.
    assert_eq!(
        finals(ep.receive(&invite(100, None), udp(0, "203.0.113.67")))[0].status,
        401
    );
}

#[test]
fn lan_side_and_options_are_not_challenged() {
    let mut ep = endpoint();
    assert_eq!(
        finals(ep.receive(&invite(1, None), udp(1, "192.168.1.20")))[0].status,
        480
    );
    let options = request(
        "OPTIONS",
        "203.0.113.10:5060",
        "sip:gw.example.com",
        "o1",
        "",
        None,
    );
    assert_eq!(
        finals(ep.receive(&options, udp(0, "203.0.113.10")))[0].status,
        200
    );
}

#[test]
fn forged_nonces_are_rechallenged_and_never_block_the_source() {
    let mut ep = endpoint();
    let from = udp(0, "203.0.113.80");
    let forged = "Digest username=\"retreaver\", realm=\"pbxgate\", nonce=\"0000\", \
                  uri=\"sip:+15551234567@gw.example.com\", response=\"00000000000000000000000000000000\", \
                  algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\"";
    for n in 0..10 {
        assert_eq!(
            finals(ep.receive(&invite(200 + n, Some(forged)), from))[0].status,
            401,
            "a fresh challenge, not a 403"
        );
    }
    assert_eq!(ep.stats().dropped_blocked, 0);
}

/// Challenge, then a wrong password, `times` times: each ends in 403.
/// `first`: the first CSeq/branch number (each call uses new ones, or the
/// transaction layer takes them for retransmissions).
fn fail_digest(ep: &mut TestCore, from: Peer, first: u32, times: u32) {
    for n in first..first + times {
        let r = finals(ep.receive(&invite(2 * n, None), from));
        assert_eq!(r[0].status, 401, "{from}");
        let c = Challenge::parse(r[0].headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let auth = answer(&c, &mut DigestClient::new(), "guess");
        let r = finals(ep.receive(&invite(2 * n + 1, Some(&auth)), from));
        assert_eq!(r[0].status, 403, "{from}");
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
    let stranger = udp(0, "2001:db8:1:2::99");
    fail_digest(&mut ep, stranger, 500, 3);
    assert!(
        finals(ep.receive(&invite(1, None), stranger)).is_empty(),
        "the stranger is blocked"
    );
    // ... the listed platform in it is still admitted without a challenge
    // (480: no route in this test).
    assert_eq!(
        finals(ep.receive(&invite(2, None), udp(0, "2001:db8:1:2::10")))[0].status,
        480
    );
    assert_eq!(ep.stats().dropped_blocked, 1);
}

#[test]
fn either_listener_admits_a_listed_source_that_failed_on_a_digest_listener() {
    let mut ep = endpoint_with(
        "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\nadmit='either'\n\
         allow=['198.51.100.7']\n\
         [[listener]]\nname='carrier'\nside='wan'\nbind='127.0.0.1:5070'\nadmit='digest'\n",
    );
    // The platform's address fails on the `digest` listener: blocked there,
    // as before.
    fail_digest(&mut ep, udp(1, "198.51.100.7"), 500, 3);
    assert!(
        finals(ep.receive(&invite(1, None), udp(1, "198.51.100.7"))).is_empty(),
        "blocked on the digest listener"
    );
    // On the `either` listener it is listed: admitted, not challenged.
    assert_eq!(
        finals(ep.receive(&invite(2, None), udp(0, "198.51.100.7")))[0].status,
        480
    );
    // An unlisted source failing on the `either` listener is blocked there.
    let stranger = udp(0, "203.0.113.66");
    fail_digest(&mut ep, stranger, 600, 3);
    assert!(
        finals(ep.receive(&invite(3, None), stranger)).is_empty(),
        "the stranger is blocked"
    );
    // The listed source sending wrong credentials is not even checked.
    let forged = "Digest username=\"retreaver\", realm=\"pbxgate\", nonce=\"0000\", \
                  uri=\"sip:+15551234567@gw.example.com\", response=\"00000000000000000000000000000000\"";
    for n in 0..5 {
        assert_eq!(
            finals(ep.receive(&invite(10 + n, Some(forged)), udp(0, "198.51.100.7")))[0].status,
            480
        );
    }
    assert_eq!(ep.stats().dropped_blocked, 2);
}

#[test]
fn a_tcp_connection_from_a_source_not_allowed_is_closed() {
    let mut ep = endpoint_with(
        "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\nrate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n",
    );
    let tcp = |ip: &str| Peer {
        transport: Transport::Tcp,
        connection: Some(ConnectionId(7)),
        ..udp(0, ip)
    };
    let out = ep.receive_stream(&invite(1, None), tcp("203.0.113.5"));
    assert_eq!(out.messages().count(), 0, "nothing answered");
    assert_eq!(out.closes(), vec!["203.0.113.5:5060".parse().unwrap()]);
    // A listed source over its rate keeps its connection.
    let mut out = ep.receive_stream(&invite(2, None), tcp("127.0.0.1"));
    out.extend(ep.receive_stream(&invite(3, None), tcp("127.0.0.1")));
    assert!(out.closes().is_empty());
    assert_eq!(ep.admission()[0].counters().dropped_rate_limited_listed, 1);
}

#[test]
fn counters_and_drop_summaries_are_due_by_time() {
    let mut ep = Setup::new("")
        .seed(1)
        .counters_every(Duration::from_secs(300))
        .start();
    let now = ep.now();
    assert_eq!(ep.poll_timeout(), Some(now + Duration::from_secs(300)));
    ep.run_until(now + Duration::from_secs(300));
    assert_eq!(ep.poll_timeout(), Some(now + Duration::from_secs(600)));
    let ep = endpoint();
    assert_eq!(ep.poll_timeout(), None, "off unless configured");
}
