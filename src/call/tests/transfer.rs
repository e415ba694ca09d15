//! Blind transfer: the PBX, as the callee, REFERs the caller elsewhere
//! (RFC 3515, RFC 5589).

use std::time::Duration;

use super::*;

/// The agent the PBX transfers the caller to.
const AGENT: &str = "10.0.0.24:5060";
const AGENT_RTP: &str = "10.0.0.24:42000";

#[test]
fn a_refer_from_the_pbx_moves_the_caller_to_the_target() {
    let mut gw = route_q(PASSTHROUGH).start();
    let t0 = gw.now();
    let mut up = call_up(&mut gw, &[]);
    let refer = up.callee.request(
        "REFER",
        &format!("Refer-To: <sip:agent@{AGENT}>\r\nReferred-By: <sip:q1@{PBX1}>\r\n"),
        None,
    );
    let out = gw.receive(&refer, lan(PBX1));
    // RFC 3515 §2.4: accepted, then the progress as sipfrag NOTIFYs.
    out.one(PBX1, "SIP/2.0 202");
    let trying = out.one(PBX1, "NOTIFY");
    assert_eq!(trying.header(&HeaderName::Event), Some("refer"));
    assert_eq!(trying.body(), "SIP/2.0 100 Trying\r\n");
    let to_agent = out.one(AGENT, "INVITE");
    assert_eq!(to_agent.line, format!("INVITE sip:agent@{AGENT} SIP/2.0"));
    assert_eq!(
        to_agent.header(&HeaderName::from_wire("Diversion")),
        Some(format!("<sip:q1@{PBX1}>;reason=deflection;counter=1").as_str())
    );
    assert_eq!(
        to_agent.header(&HeaderName::ReferredBy),
        Some(format!("<sip:q1@{PBX1}>").as_str())
    );
    assert_eq!(out.count(CLOUD, ""), 0, "the caller hears nothing yet");
    gw.receive(&answer(trying, 200, "", None), lan(PBX1));

    // The agent answers: the caller is re-offered the agent's media and
    // the PBX told the transfer worked.
    let agent_sdp = sdp(AGENT_RTP, "8", "sendrecv");
    let out = gw.receive(
        &answer(to_agent, 200, "agent", Some(&agent_sdp)),
        lan(AGENT),
    );
    out.one(AGENT, "ACK");
    let reinvite = out.one(CLOUD, "INVITE");
    assert_eq!(reinvite.body(), agent_sdp);
    let done = out.one(PBX1, "NOTIFY");
    assert_eq!(done.body(), "SIP/2.0 200 OK\r\n");
    assert!(
        done.header(&HeaderName::from_wire("Subscription-State"))
            .is_some_and(|v| v.starts_with("terminated")),
        "{:?}",
        done.msg
    );
    assert_eq!(
        out.count(PBX1, "BYE"),
        0,
        "the transferor may hang up itself"
    );
    gw.receive(&answer(done, 200, "", None), lan(PBX1));
    let out = gw.receive(&answer(reinvite, 200, "", Some(&cloud_sdp())), wan(CLOUD));
    out.one(CLOUD, "ACK");

    // RFC 5589 §6.1: the transferor that does not hang up is hung up on
    // 64·T1 after the transfer; the caller stays with the agent.
    let out = gw.run_until(t0 + Duration::from_millis(31_900));
    assert_eq!(out.count("", "BYE"), 0, "{out:?}");
    let out = gw.run_until(t0 + Duration::from_millis(32_100));
    out.one(PBX1, "BYE");
    assert_eq!(out.count(CLOUD, "BYE"), 0, "{out:?}");
    assert_eq!(gw.active_calls(), 1);
    assert_eq!(gw.call_stats().transfers, 1);

    let out = gw.receive(&up.caller.request("BYE", "", None), wan(CLOUD));
    out.one(AGENT, "BYE");
    let records = gw.call_records();
    assert_eq!(records[0].hangup_cause, Some(HangupCause::Transferred));
    assert_eq!(
        records[1].diversion.as_deref(),
        Some(&*format!("sip:q1@{PBX1}"))
    );
}
