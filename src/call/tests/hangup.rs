//! BYE from either end: answered, and passed to the other end.

use super::*;

/// The caller (`from_caller`) or the callee hangs up an answered call;
/// why the call ended.
fn hang_up(from_caller: bool) -> Option<HangupCause> {
    let mut gw = route_q(PASSTHROUGH).start();
    let mut up = call_up(&mut gw, &[]);
    let (from, other) = up.ends(!from_caller);
    let other = other.peer.remote.to_string();
    let me = from.peer.remote.to_string();
    let out = gw.receive(&from.request("BYE", "", None), from.peer);
    assert_eq!(out.messages().count(), 2, "{out:?}");
    out.one(&me, "SIP/2.0 200");
    let passed = out.one(&other, "BYE");
    assert_eq!(gw.active_calls(), 0);
    // The other end's answer changes nothing.
    let out = gw.receive(&answer(passed, 200, "", None), passed.to);
    assert!(out.is_empty(), "{out:?}");
    hangup_cause(&gw)
}

#[test]
fn a_bye_from_the_caller_is_answered_and_passed_to_the_callee() {
    assert_eq!(hang_up(true), Some(HangupCause::CallerHangup));
}

#[test]
fn a_bye_from_the_callee_is_answered_and_passed_to_the_caller() {
    assert_eq!(hang_up(false), Some(HangupCause::CalleeHangup));
}
