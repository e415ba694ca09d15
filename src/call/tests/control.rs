//! What an administrator does to a call in progress (web page, API):
//! hang it up, move the caller, send digits to a leg, ask which route a
//! call would take.

use super::*;

const AGENT: &str = "10.0.0.24:5060";

/// The record id of the call in progress.
fn live_id(gw: &TestCore) -> String {
    gw.call_records().last().expect("a call").id.clone()
}

#[test]
fn hanging_up_by_id_ends_both_legs_with_bye() {
    let mut gw = route_q(PASSTHROUGH).start();
    call_up(&mut gw, &[]);
    let id = live_id(&gw);
    let now = gw.now();
    gw.hang_up(&id, now).expect("hung up");
    let out = gw.take();
    assert_both_hung_up(&out);
    assert_eq!(gw.active_calls(), 0);
    assert_eq!(hangup_cause(&gw), Some(HangupCause::Administrator));
    assert_eq!(
        gw.hang_up("no-such-call", now).unwrap_err().to_string(),
        "no call in progress has the id 'no-such-call'"
    );
}

#[test]
fn hanging_up_a_ringing_call_cancels_the_callee_and_answers_the_caller() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (_invite, to_pbx) = dial(&mut gw);
    gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    let id = live_id(&gw);
    let now = gw.now();
    gw.hang_up(&id, now).expect("hung up");
    let out = gw.take();
    out.one(PBX1, "CANCEL");
    let r = out.one(CLOUD, "SIP/2.0 480");
    assert!(r.line.contains("ended by the administrator"), "{}", r.line);
}

#[test]
fn a_transfer_by_id_calls_the_target_then_moves_the_caller_and_hangs_up_the_old_callee() {
    let mut gw = route_q(PASSTHROUGH).start();
    call_up(&mut gw, &[]);
    let id = live_id(&gw);
    let now = gw.now();
    gw.transfer(&id, &format!("sip:agent@{AGENT}"), now)
        .expect("transfer starts");
    let out = gw.take();
    let to_agent = out.one(AGENT, "INVITE").clone();
    assert_eq!(
        out.count(PBX1, "NOTIFY"),
        0,
        "the PBX did not ask: no NOTIFY"
    );
    assert_eq!(out.count(PBX1, "BYE"), 0, "not before the target answers");
    let agent_sdp = sdp("10.0.0.24:42000", "8", "sendrecv");
    let out = gw.receive(
        &answer(&to_agent, 200, "agent", Some(&agent_sdp)),
        lan(AGENT),
    );
    out.one(AGENT, "ACK");
    assert_eq!(out.one(CLOUD, "INVITE").body(), agent_sdp);
    out.one(PBX1, "BYE");
    // Refused when there is nothing to transfer, or the target is no URI.
    let now = gw.now();
    let e = gw.transfer("nope", "sip:x@10.0.0.9", now).unwrap_err();
    assert_eq!(e.to_string(), "no call in progress has the id 'nope'");
    let id = live_id(&gw);
    let e = gw.transfer(&id, "mailto:a@b", now).unwrap_err();
    assert_eq!(e.to_string(), "'mailto:a@b' is not a sip: URI");
}

#[test]
fn a_transfer_the_target_refuses_leaves_the_caller_with_the_callee() {
    let mut gw = route_q(PASSTHROUGH).start();
    call_up(&mut gw, &[]);
    let id = live_id(&gw);
    let now = gw.now();
    gw.transfer(&id, &format!("sip:agent@{AGENT}"), now)
        .expect("transfer starts");
    let to_agent = gw.take().one(AGENT, "INVITE").clone();
    let out = gw.receive(&answer(&to_agent, 486, "agent", None), lan(AGENT));
    assert_eq!(
        out.count(PBX1, "BYE") + out.count(CLOUD, "BYE"),
        0,
        "{out:?}"
    );
    assert_eq!(gw.active_calls(), 1);
}

#[test]
fn a_pasted_invite_is_explained_against_the_routes_in_force() {
    let gw = route_q(PASSTHROUGH).start();
    // Pasted with bare line ends and a body whose length is wrong.
    let pasted = cloud_invite(7).replace("\r\n", "\n") + "extra body text";
    let e = gw.test_call(&pasted, false).expect("explained");
    assert_eq!(e.routes.len(), 1);
    assert!(e.routes[0].taken);
    assert_eq!(
        e.targets,
        vec![format!("sip:q1@{PBX1}"), format!("sip:q2@{PBX2}")]
    );
    let e = gw.test_call(&pasted, true).expect("explained");
    assert!(e.targets.is_empty());
    assert_eq!(
        e.routes[0].reasons,
        vec!["it takes calls from the wan side"]
    );
    let err = gw.test_call("hello", false).unwrap_err();
    assert!(err.starts_with("not a SIP request"), "{err}");
}

#[test]
fn a_route_saved_live_takes_the_next_call_while_the_call_in_progress_goes_on() {
    let mut gw = route_q(PASSTHROUGH).start();
    let mut up = call_up(&mut gw, &[]);
    // The admin adds a route for publisher 5678 in front of `q`.
    gw.reconfigure(crate::test_support::reconfiguration(&format!(
        "[calls]\n{PASSTHROUGH}\n\
         [[route]]\nname='vip'\nmatch=[{{ header='X-PH-RetreaverAFID', equals='5678' }}]\n\
         targets=[{{ uri='sip:vip@{AGENT}' }}]\n\
         [[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n"
    )));
    let out = gw.receive(&cloud_invite(2), wan(CLOUD));
    out.one(AGENT, "INVITE");
    assert_eq!(out.count(PBX1, "INVITE"), 0);
    // The first call still ends normally, on its own route.
    let bye = up.caller.request("BYE", "", None);
    let out = gw.receive(&bye, wan(CLOUD));
    out.one(PBX1, "BYE");
    out.one(CLOUD, "SIP/2.0 200");
}

#[test]
fn digits_for_an_anchored_call_go_to_the_media_thread_as_each_leg_takes_them() {
    let mut gw = route_q("").start();
    call_up(&mut gw, &[]);
    gw.take();
    let id = live_id(&gw);
    let now = gw.now();
    // The platform negotiated PCMA with telephone-event 101, the PBX PCMU
    // with 100: events to each, at its own numbers.
    gw.send_dtmf(&id, true, "12*#", now)
        .expect("sent to the caller");
    gw.send_dtmf(&id, false, "a9", now)
        .expect("sent to the callee");
    assert_eq!(
        gw.take().summary(),
        [
            "media SendDigits Caller 12*# events=Some(101) tones=false pt=8 100/70 ms",
            "media SendDigits Callee A9 events=Some(100) tones=false pt=0 100/70 ms",
        ]
    );
    // Refused, each for what is wrong, and nothing sent.
    let refused = |gw: &mut TestCore, id: &str, digits: &str| {
        let e = gw.send_dtmf(id, false, digits, now).unwrap_err();
        assert!(gw.take().summary().is_empty());
        e.to_string()
    };
    assert_eq!(
        refused(&mut gw, "no-such-call", "1"),
        "no call in progress has the id 'no-such-call'"
    );
    assert_eq!(
        refused(&mut gw, &id, "12x"),
        "'x' (character 3) is not a DTMF digit: use 0-9, *, #, A-D"
    );
    assert_eq!(
        refused(&mut gw, &id, &"5".repeat(33)),
        "33 digits are too many: at most 32 at once"
    );
    assert_eq!(refused(&mut gw, &id, ""), "no digits to send");
}

#[test]
fn digits_for_an_inband_target_are_sent_as_tones_in_its_law() {
    let mut gw = Setup::new(&format!(
        "[calls]\n[[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}', dtmf='inband' }}]\n"
    ))
    .start();
    call_up(&mut gw, &[]);
    gw.take();
    let id = live_id(&gw);
    let now = gw.now();
    gw.send_dtmf(&id, false, "0", now).expect("sent");
    assert_eq!(
        gw.take().summary(),
        ["media SendDigits Callee 0 events=None tones=true pt=0 100/70 ms"]
    );
}

#[test]
fn digits_are_refused_before_the_answer_and_where_the_media_is_not_anchored() {
    let mut gw = route_q("").start();
    let (_invite, to_pbx) = dial(&mut gw);
    gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    gw.take();
    let id = live_id(&gw);
    let now = gw.now();
    let e = gw.send_dtmf(&id, true, "1", now).unwrap_err();
    assert_eq!(e.to_string(), "the call is not answered yet");
    assert!(gw.take().summary().is_empty());

    let mut gw = route_q(PASSTHROUGH).start();
    call_up(&mut gw, &[]);
    gw.take();
    let id = live_id(&gw);
    let e = gw.send_dtmf(&id, false, "1", now).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the call's media does not pass through the gateway ([calls] sdp = \"passthrough\", \
         or an offer without SDP), so it cannot send digits into it"
    );
    assert!(gw.take().summary().is_empty());
}
