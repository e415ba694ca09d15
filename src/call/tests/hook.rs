//! The routing hook (docs/routing.md): the call waits for the hook, which
//! may choose targets, add headers or reject; silence until the timeout or
//! a failure leaves the route's own targets, tried at that very moment.

use std::time::Duration;

use super::*;
use crate::routing::{parse_hook_answer, HookDecision};
use crate::test_support::{cancel, HookCall};

const PBX3: &str = "10.0.0.23:5060";

/// Route `q` with a hook of `timeout_ms`.
fn hooked(timeout_ms: u64) -> Setup {
    Setup::new(&format!(
        "[calls]\n{PASSTHROUGH}\n\
         [[route]]\nname='q'\nhook='https://hooks.example.com/route'\nhook_timeout_ms={timeout_ms}\n\
         hook_secret='s3cret'\n\
         targets=[{{ uri='sip:q1@{PBX1}' }}, {{ uri='sip:q2@{PBX2}' }}]\n"
    ))
}

fn decision(json: &str) -> HookDecision {
    parse_hook_answer(json.as_bytes()).expect("a good answer")
}

/// The platform's INVITE; the hook request it makes (no INVITE yet).
fn dial_hooked(gw: &mut TestCore) -> (String, HookCall) {
    let invite = cloud_invite(1);
    let out = gw.receive(&invite, wan(CLOUD));
    assert_eq!(
        out.count("", "INVITE"),
        0,
        "nothing is sent before the hook answers"
    );
    assert_eq!(out.hooks.len(), 1, "one hook request");
    let hook = out.hooks[0].clone();
    assert_eq!(hook.settings.url, "https://hooks.example.com/route");
    assert_eq!(hook.settings.secret.as_deref(), Some("s3cret"));
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("JSON");
    assert_eq!(body["event"], "newCall");
    assert_eq!(body["direction"], "in");
    assert_eq!(body["route"], "q");
    assert_eq!(body["callerCallId"], "cloud-call-1");
    (invite, hook)
}

#[test]
fn the_hooks_targets_and_headers_replace_the_routes() {
    let mut gw = hooked(1500).start();
    let (_, hook) = dial_hooked(&mut gw);
    gw.run_for(Duration::from_millis(300));
    let out = gw.hook_answered(
        hook.call,
        Ok(decision(&format!(
            r#"{{"targets":[{{"uri":"sip:buyer7@{PBX3}"}}],
                "headers":[{{"name":"X-Campaign","value":"spring"}},{{"name":"X-PH-RetreaverAFID","value":"9"}}]}}"#
        ))),
    );
    let invite = out.one(PBX3, "INVITE");
    assert!(invite
        .line
        .starts_with(&format!("INVITE sip:buyer7@{PBX3}")));
    assert_eq!(
        invite.header(&HeaderName::from_wire("X-Campaign")),
        Some("spring")
    );
    let afid_name = HeaderName::from_wire("X-PH-RetreaverAFID");
    let afid: Vec<&str> = invite.msg.headers().values(&afid_name).collect();
    assert_eq!(afid, ["9"], "the hook's header replaces the one passed");
    let record = gw.call_records().pop().expect("record");
    assert_eq!(record.hook.as_deref(), Some("targets: 1, headers: 2"));
    // The hook's target fails: no route target is tried after it.
    let out = gw.receive(&answer(invite, 486, "pbx3", None), lan(PBX3));
    out.one(CLOUD, "SIP/2.0 486");
    assert_eq!(out.count("", "INVITE"), 0, "{out:?}");
    // Later timers change nothing.
    assert!(gw
        .run_for(Duration::from_secs(3))
        .messages()
        .all(|m| !m.line.starts_with("INVITE")));
}

#[test]
fn silence_until_the_timeout_tries_the_routes_targets_then() {
    let mut gw = hooked(800).start();
    let t0 = gw.now();
    let (_, hook) = dial_hooked(&mut gw);
    let out = gw.run_until(t0 + Duration::from_millis(799));
    assert_eq!(out.count(PBX1, "INVITE"), 0);
    let out = gw.run_until(t0 + Duration::from_millis(800));
    out.one(PBX1, "INVITE");
    let record = gw.call_records().pop().expect("record");
    assert_eq!(record.hook.as_deref(), Some("timeout"));
    // The answer that comes after changes nothing.
    let out = gw.hook_answered(
        hook.call,
        Ok(decision(&format!(
            r#"{{"targets":[{{"uri":"sip:x@{PBX3}"}}]}}"#
        ))),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        gw.call_records().pop().and_then(|r| r.hook).as_deref(),
        Some("timeout")
    );
}

#[test]
fn a_failed_hook_falls_back_at_once_and_says_why() {
    let mut gw = hooked(1500).start();
    let (_, hook) = dial_hooked(&mut gw);
    let out = gw.hook_answered(hook.call, Err("HTTP 500 oops".into()));
    out.one(PBX1, "INVITE");
    let record = gw.call_records().pop().expect("record");
    assert_eq!(record.hook.as_deref(), Some("error: HTTP 500 oops"));
}

#[test]
fn a_reject_answers_the_caller_with_the_hooks_status() {
    let mut gw = hooked(1500).start();
    let (_, hook) = dial_hooked(&mut gw);
    let out = gw.hook_answered(
        hook.call,
        Ok(decision(
            r#"{"reject":{"status":486,"reason":"Buyer busy"}}"#,
        )),
    );
    let r = out.one(CLOUD, "SIP/2.0 486");
    assert_eq!(r.line, "SIP/2.0 486 Buyer busy");
    assert_eq!(out.count("", "INVITE"), 0);
    assert_eq!(hangup_cause(&gw), Some(HangupCause::Rejected));
    assert_eq!(gw.active_calls(), 0);
    let record = gw.call_records().pop().expect("record");
    assert_eq!(record.hook.as_deref(), Some("rejected: 486"));
    assert_eq!(record.final_status, Some(486));
}

#[test]
fn an_empty_answer_keeps_the_routes_targets() {
    let mut gw = hooked(1500).start();
    let (_, hook) = dial_hooked(&mut gw);
    gw.hook_answered(hook.call, Ok(HookDecision::default()))
        .one(PBX1, "INVITE");
    assert_eq!(
        gw.call_records().pop().and_then(|r| r.hook).as_deref(),
        Some("no change")
    );
}

#[test]
fn a_caller_cancelling_while_the_hook_thinks_ends_the_call_and_the_answer_is_ignored() {
    let mut gw = hooked(1500).start();
    let (invite, hook) = dial_hooked(&mut gw);
    let out = gw.receive(&cancel(&invite), wan(CLOUD));
    out.one(CLOUD, "SIP/2.0 487");
    assert_eq!(gw.active_calls(), 0);
    let out = gw.hook_answered(hook.call, Ok(HookDecision::default()));
    assert_eq!(out.count("", "INVITE"), 0, "{out:?}");
    assert_eq!(gw.run_for(Duration::from_secs(2)).count("", "INVITE"), 0);
}

#[test]
fn calls_wait_for_their_own_hook_only() {
    let mut gw = hooked(1500).start();
    let (_, first) = dial_hooked(&mut gw);
    let second = gw.receive(&cloud_invite(2), wan(CLOUD));
    assert_eq!(second.hooks.len(), 1);
    let out = gw.hook_answered(second.hooks[0].call, Ok(HookDecision::default()));
    let invite = out.one(PBX1, "INVITE");
    assert_ne!(first.call, second.hooks[0].call);
    assert_eq!(
        out.count("", "INVITE"),
        1,
        "only the second call moved: {invite:?}"
    );
}

/// An emergency call never waits for a web service, even on a route whose
/// hook every other call waits for.
#[test]
fn an_emergency_call_on_a_hooked_route_goes_out_at_once() {
    const TRUNK: &str = "198.51.100.20:5060";
    let mut gw = Setup::new(&format!(
        "[calls]\n{PASSTHROUGH}\n[emergency]\nnumbers = ['911']\n\
         [[route]]\nname='out'\nfrom='lan'\nhook='https://hooks.example.com/out'\n\
         targets=[{{ uri='sip:trunk@{TRUNK}' }}]\n"
    ))
    .start();
    let invite = |number: &str, n: u32| {
        request(
            "INVITE",
            PBX2,
            &format!("sip:{number}@{}", crate::test_support::GATEWAY_LAN),
            &format!("pbx-call-{n}"),
            "",
            Some(&pbx_sdp()),
        )
    };
    let out = gw.receive(&invite("5551234", 1), lan(PBX2));
    assert_eq!((out.hooks.len(), out.count(TRUNK, "INVITE")), (1, 0));
    let out = gw.receive(&invite("911", 2), lan(PBX2));
    assert_eq!(out.hooks.len(), 0, "no hook request for 911");
    out.one(TRUNK, "INVITE");
    let record = gw.call_records().pop().expect("record");
    assert!(record.emergency);
    assert_eq!(record.hook, None);
}
