//! The caller cancels (RFC 3261 §9).

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
