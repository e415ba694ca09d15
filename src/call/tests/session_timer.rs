//! RFC 4028 session timers: relayed end to end, enforced by the gateway.

use std::time::Duration;

use super::*;

#[test]
fn session_timer_ends_a_call_that_is_never_refreshed() {
    let mut gw = route_q(PASSTHROUGH).start();
    let t0 = gw.now();
    let up = call_up(
        &mut gw,
        &[
            (HeaderName::SessionExpires, "90;refresher=uac"),
            (HeaderName::Require, "timer"),
        ],
    );
    assert_eq!(
        up.ok.header(&HeaderName::SessionExpires),
        Some("90;refresher=uac"),
        "the callee's session interval reaches the caller"
    );
    // RFC 4028 §10: BYE at S - min(32, S/3) = 60 s, not before.
    let out = gw.run_until(t0 + Duration::from_millis(59_900));
    assert_eq!(out.count("", "BYE"), 0, "{out:?}");
    assert_both_hung_up(&gw.run_until(t0 + Duration::from_secs(61)));
    assert_eq!(hangup_cause(&gw), Some(HangupCause::SessionExpired));
}

#[test]
fn a_relayed_refresh_keeps_the_session_alive() {
    let mut gw = route_q(PASSTHROUGH).start();
    let t0 = gw.now();
    let mut up = call_up(&mut gw, &[(HeaderName::SessionExpires, "90;refresher=uac")]);
    // The caller refreshes with UPDATE at 50 s; the PBX answers with S again.
    gw.run_until(t0 + Duration::from_secs(50));
    let update = up
        .caller
        .request("UPDATE", "Session-Expires: 90;refresher=uac\r\n", None);
    let out = gw.receive(&update, wan(CLOUD));
    let relayed = out.one(PBX1, "UPDATE");
    assert_eq!(
        relayed.header(&HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    let mut ok = answer(relayed, 200, "pbx1", None);
    ok.headers
        .push(HeaderName::SessionExpires, "90;refresher=uac");
    let out = gw.receive(&ok, lan(PBX1));
    assert_eq!(out.count(CLOUD, "SIP/2.0 200"), 1, "200 relayed");
    // Not at 60 s any more; at 50 + 60 = 110 s.
    let out = gw.run_until(t0 + Duration::from_secs(109));
    assert_eq!(out.count("", "BYE"), 0, "{out:?}");
    let out = gw.run_until(t0 + Duration::from_secs(111));
    assert!(out.count("", "BYE") > 0, "{out:?}");
}
