//! The answer: the 2xx to the caller is retransmitted until its ACK
//! (RFC 3261 §13.3.1.4), which is passed on to the callee; the callee's
//! retransmitted 2xx is ACKed again.

use std::time::Duration;

use super::*;

#[test]
fn an_answer_is_retransmitted_until_the_ack_and_the_ack_is_passed_on() {
    let mut gw = route_q(PASSTHROUGH).start();
    let t0 = gw.now();
    let (invite, to_pbx) = dial(&mut gw);
    let out = gw.receive(&answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp())), lan(PBX1));
    // The 200 is relayed to the caller.
    let ok = out.one(CLOUD, "SIP/2.0 200");
    assert_eq!(
        out.count("", "ACK"),
        0,
        "the callee's ACK waits for the caller's"
    );
    // T1 = 500 ms: 2xx again at 0.5 s and 1.5 s.
    let again = gw.run_until(t0 + Duration::from_millis(1600));
    assert_eq!(
        again.count(CLOUD, "SIP/2.0 200"),
        2,
        "2xx retransmitted at T1 and 3·T1"
    );
    // The caller's ACK stops them and is passed on to the callee.
    gw.run_until(t0 + Duration::from_millis(1700));
    let ack = FarEnd::caller(&invite, ok).ack(ok);
    let out = gw.receive(&ack, wan(CLOUD));
    assert_eq!(out.count(PBX1, "ACK"), 1, "ACK passed on");
    let out = gw.run_for(Duration::from_secs(10));
    assert_eq!(out.count("", "SIP/2.0 200"), 0, "no 2xx after the ACK");
    assert_eq!(gw.active_calls(), 1, "the call is up");
}

#[test]
fn no_ack_from_the_caller_ends_the_call_on_both_legs() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (_, to_pbx) = dial(&mut gw);
    gw.receive(&answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp())), lan(PBX1));
    assert_both_hung_up(&gw.run_for(Duration::from_secs(33)));
    assert_eq!(hangup_cause(&gw), Some(HangupCause::AckTimeout));
}

#[test]
fn a_retransmitted_2xx_from_the_callee_is_acked_again() {
    let mut gw = route_q(PASSTHROUGH).start();
    let up = call_up(&mut gw, &[]);
    // The callee's 200 comes again (our ACK was lost): ACK again.
    gw.run_for(Duration::from_millis(500));
    let out = gw.receive(&up.pbx_ok, lan(PBX1));
    assert_eq!(out.count(PBX1, "ACK"), 1, "{out:?}");
}
