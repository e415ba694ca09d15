//! The caller cancels (RFC 3261 §9): before the callee said anything,
//! and while the callee's 200 is already on its way.

use std::time::Duration;

use super::*;
use crate::test_support::cancel;

#[test]
fn a_cancel_before_any_provisional_waits_for_one() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (invite, to_pbx) = dial(&mut gw);
    let out = gw.receive(&cancel(&invite), wan(CLOUD));
    assert_eq!(out.count(CLOUD, "SIP/2.0 200"), 1, "{out:?}");
    assert_eq!(out.count(CLOUD, "SIP/2.0 487"), 1, "{out:?}");
    assert_eq!(
        out.count("", "CANCEL"),
        0,
        "§9.1: no CANCEL before a provisional"
    );
    let out = gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    assert_eq!(out.count(PBX1, "CANCEL"), 1, "{out:?}");
    assert_eq!(
        out.count(CLOUD, ""),
        0,
        "the 180 is not relayed after the 487"
    );
}

#[test]
fn a_cancel_crossing_the_callees_200_gets_487_and_the_200_is_acked_and_hung_up() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (invite, to_pbx) = dial(&mut gw);
    let out = gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    out.one(CLOUD, "SIP/2.0 180");

    // The caller gives up; the PBX answers at the same moment.
    let out = gw.receive(&cancel(&invite), wan(CLOUD));
    let cancel_ok = out.one(CLOUD, "SIP/2.0 200");
    assert_eq!(cancel_ok.header(&HeaderName::CSeq), Some("1 CANCEL"));
    out.one(CLOUD, "SIP/2.0 487");
    out.one(PBX1, "CANCEL");
    let pbx_ok = answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp()));
    let out = gw.receive(&pbx_ok, lan(PBX1));
    // §15: the 200 made a dialog, which only a BYE ends; the caller, who
    // has its 487, hears nothing of it.
    assert_eq!(
        out.summary(),
        [
            format!("send {PBX1} ACK sip:peer@{PBX1} SIP/2.0"),
            format!("send {PBX1} BYE sip:peer@{PBX1} SIP/2.0"),
        ]
    );
    assert_eq!(hangup_cause(&gw), Some(HangupCause::Cancelled));
    assert_eq!(gw.call_records()[0].final_status, Some(487));
    assert_eq!(gw.active_calls(), 0);
}

/// RFC 3261 §13.2.2.4 (and RFC 6026 §8.4): every 2xx retransmission is
/// ACKed, as long as the callee may send them (64·T1).
#[test]
fn a_late_200_retransmitted_after_the_cancel_is_acked_again() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (invite, to_pbx) = dial(&mut gw);
    gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    gw.receive(&cancel(&invite), wan(CLOUD));
    let pbx_ok = answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp()));
    gw.receive(&pbx_ok, lan(PBX1)).one(PBX1, "ACK");
    // Our ACK was lost: the PBX sends its 200 again at T1.
    gw.run_for(Duration::from_millis(500));
    let out = gw.receive(&pbx_ok, lan(PBX1));
    assert_eq!(out.count(PBX1, "ACK"), 1, "{out:?}");
}
