//! Offers in a call (re-INVITE): relayed to the other end, and answered
//! 491 when they cross one relayed the other way (RFC 3261 §14.1).

use super::*;

/// One end (the PBX when `pbx_first`) re-INVITEs; while the core's
/// relayed re-INVITE to the other end has no answer, that end re-INVITEs
/// too.
fn glare(pbx_first: bool) {
    let mut gw = route_q(PASSTHROUGH).start();
    let mut up = call_up(&mut gw, &[]);
    let (offerer, other) = up.ends(pbx_first);
    let (a, b) = (
        offerer.peer.remote.to_string(),
        other.peer.remote.to_string(),
    );
    let first = offerer.request(
        "INVITE",
        "",
        Some(&sdp("192.0.2.99:50000", "0", "sendonly")),
    );
    let out = gw.receive(&first, offerer.peer);
    let relayed = out.one(&b, "INVITE").clone();

    let crossing = other.request(
        "INVITE",
        "",
        Some(&sdp("192.0.2.98:50000", "0", "sendrecv")),
    );
    let out = gw.receive(&crossing, other.peer);
    out.one(&b, "SIP/2.0 491");
    assert_eq!(out.count(&a, ""), 0, "{out:?}");

    // Once the first is answered (and ACKed), the other end may offer.
    let accept = sdp("192.0.2.98:50000", "0", "recvonly");
    let out = gw.receive(&answer(&relayed, 200, "", Some(&accept)), other.peer);
    let ok = out.one(&a, "SIP/2.0 200").clone();
    gw.receive(&offerer.ack(&ok), offerer.peer).one(&b, "ACK");
    let out = gw.receive(&other.request("INVITE", "", None), other.peer);
    out.one(&a, "INVITE");
}

#[test]
fn a_re_invite_from_the_caller_crossing_one_from_the_pbx_gets_491() {
    glare(true);
}

#[test]
fn a_re_invite_from_the_pbx_crossing_one_from_the_caller_gets_491() {
    glare(false);
}
