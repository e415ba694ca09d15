//! 3xx from a target: the call follows the Contact with a Diversion, up
//! to `[calls] max_redirects`.

use super::*;

/// Where the PBX forwards its queue, and where that forwards again.
const FORWARD: &str = "10.0.0.23:5060";
const FORWARD_AGAIN: &str = "10.0.0.24:5060";

/// The answer of the target the core sent `invite` to: 302 to `to`.
fn moved(invite: &Sent, to: &str) -> Response {
    let mut r = answer(invite, 302, "moved", None);
    r.headers
        .push(HeaderName::Contact, format!("<sip:fwd@{to}>"));
    r
}

#[test]
fn a_302_is_followed_to_its_contact_with_a_diversion() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (_, first) = dial(&mut gw);
    let out = gw.receive(&moved(&first, FORWARD), lan(PBX1));
    // RFC 3261 §17.1.1.3: the 302 is ACKed; the caller hears nothing of it.
    out.one(PBX1, "ACK");
    assert_eq!(out.count(CLOUD, ""), 0, "{out:?}");
    let forwarded = out.one(FORWARD, "INVITE");
    assert_eq!(forwarded.line, format!("INVITE sip:fwd@{FORWARD} SIP/2.0"));
    assert_eq!(
        forwarded.header(&HeaderName::from_wire("Diversion")),
        Some(format!("<sip:q1@{PBX1}>;reason=unconditional;counter=1").as_str())
    );
    assert_eq!(forwarded.body(), cloud_sdp(), "the caller's offer");

    let ok = answer(forwarded, 200, "fwd", Some(&pbx_sdp()));
    let out = gw.receive(&ok, lan(FORWARD));
    out.one(CLOUD, "SIP/2.0 200");
    assert_eq!(gw.call_stats().redirects, 1);
    // The forwarded call is a call of its own in the records.
    let records = gw.call_records();
    let [before, after] = &records[..] else {
        panic!("{records:?}")
    };
    assert_eq!(before.hangup_cause, Some(HangupCause::Forwarded));
    assert_eq!(before.final_status, Some(302));
    assert_eq!(after.diversion.as_deref(), Some(&*format!("sip:q1@{PBX1}")));
}

#[test]
fn a_redirect_past_max_redirects_is_not_followed() {
    let mut gw = route_q(&format!("{PASSTHROUGH}max_redirects = 1\n")).start();
    let (_, first) = dial(&mut gw);
    let out = gw.receive(&moved(&first, FORWARD), lan(PBX1));
    let forwarded = out.one(FORWARD, "INVITE");
    let out = gw.receive(&moved(forwarded, FORWARD_AGAIN), lan(FORWARD));
    out.one(FORWARD, "ACK");
    assert_eq!(out.count("", "INVITE"), 0, "{out:?}");
    let refused = out.one(CLOUD, "SIP/2.0 480");
    assert_eq!(
        refused.line,
        "SIP/2.0 480 Temporarily Unavailable (redirect not followed)"
    );
    assert_eq!(gw.call_stats().redirects, 1);
}
