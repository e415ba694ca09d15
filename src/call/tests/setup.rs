//! Setting a call up: the callee leg's identifiers, failover from a
//! silent target, the concurrent-call limit.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;

/// The identifiers the B2BUA makes for a call: the callee leg's Call-ID,
/// From tag and branch, and the To tag the caller sees on the 180.
fn call_ids(seed: u64) -> [String; 4] {
    let mut gw = route_q(PASSTHROUGH).seed(seed).start();
    let out = gw.receive(&cloud_invite(1), wan(CLOUD));
    let to_pbx = out.one(PBX1, "INVITE");
    let h = &to_pbx.request().headers;
    let ringing = gw.receive(&answer(to_pbx, 180, "pbx1", None), lan(PBX1));
    let to_caller = ringing.one(CLOUD, "SIP/2.0 180");
    [
        h.call_id().unwrap().to_string(),
        h.from_tag().unwrap(),
        h.top_via().unwrap().branch().unwrap().to_string(),
        to_caller.response().headers.to_tag().unwrap(),
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
    let mut gw = route_q(&format!("{PASSTHROUGH}failover_timeout_ms = 1500\n")).start();
    let t0 = gw.now();
    let out = gw.receive(&cloud_invite(1), wan(CLOUD));
    let first = out.all("", "INVITE");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to.remote, PBX1.parse::<SocketAddr>().unwrap());
    assert!(first[0].line.contains("sip:q1@"), "{}", first[0].line);
    // Retransmissions to the first target only until 1.5 s; then the second.
    let out = gw.run_until(t0 + Duration::from_millis(1499));
    assert_eq!(out.count(PBX2, ""), 0, "{out:?}");
    let out = gw.run_until(t0 + Duration::from_millis(1500));
    assert_eq!(out.count(PBX2, "INVITE"), 1, "{out:?}");
    assert_eq!(gw.call_stats().failovers, 1);
}

#[test]
fn the_call_over_the_limit_gets_503_with_retry_after() {
    let mut gw = route_q(&format!(
        "{PASSTHROUGH}max_concurrent = 1\nretry_after_s = 9\n"
    ))
    .start();
    gw.receive(&cloud_invite(1), wan(CLOUD));
    let out = gw.receive(&cloud_invite(2), wan(CLOUD));
    let busy = out.find("", "SIP/2.0 503").expect("503");
    assert_eq!(busy.header(&HeaderName::RetryAfter), Some("9"));
    assert_eq!(gw.call_stats().rejected_busy, 1);
}
