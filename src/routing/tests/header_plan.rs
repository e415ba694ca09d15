use super::{cloud_invite, toml_value};
use crate::config::HeaderActionConfig;
use crate::routing::HeaderPlan;
use crate::sip::message::Request;

fn plan(actions: &str) -> HeaderPlan {
    let headers: Vec<HeaderActionConfig> = toml_value(&format!("[{actions}]"));
    match HeaderPlan::compile(&headers, "route[0].headers") {
        Ok(p) => p,
        Err(e) => panic!("{actions}: {e}"),
    }
}

/// Each row's actions applied to the headers of `req`.
fn check(req: &Request, rows: Vec<Row>) {
    for (what, actions, expected) in rows {
        let got = plan(actions).apply(&req.headers);
        let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, expected, "{what}");
    }
}

/// (description, actions, expected name/value list)
type Row<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

const INCOMING: &[&str] = &[
    "X-PH-RetreaverUUID: 3f2c",
    "X-PH-RetreaverKey: k-1",
    "X-PH-RetreaverAFID: 5678",
    "X-PH-RetreaverSID: 42",
    "X-Twilio-CallSid: CA1",
    "X-Twilio-AccountSid: AC1",
    "X-Other: o",
    "User-Agent: Twilio Gateway",
    "Subject: hello",
];

#[test]
fn actions_build_the_outgoing_headers() {
    let req = cloud_invite(INCOMING);
    let uuid = ("X-PH-RetreaverUUID", "3f2c");
    let key = ("X-PH-RetreaverKey", "k-1");
    let afid = ("X-PH-RetreaverAFID", "5678");
    let sid = ("X-PH-RetreaverSID", "42");
    let (call, account) = (("X-Twilio-CallSid", "CA1"), ("X-Twilio-AccountSid", "AC1"));
    // (description, actions, expected name/value list)
    let rows: Vec<Row> = vec![
        (
            "X-PH-* pass by default, nothing else",
            "",
            vec![uuid, key, afid, sid],
        ),
        (
            "rename keeps the position",
            r#"{ action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" }"#,
            vec![uuid, key, ("X-Publisher-ID", "5678"), sid],
        ),
        (
            "rename reads the incoming name in any case",
            r#"{ action = "rename", from = "x-ph-retreaverafid", name = "X-Publisher-ID" }"#,
            vec![uuid, key, ("X-Publisher-ID", "5678"), sid],
        ),
        (
            "rename of a non-default header appends it",
            r#"{ action = "rename", from = "X-Other", name = "X-Renamed" }"#,
            vec![uuid, key, afid, sid, ("X-Renamed", "o")],
        ),
        (
            "rename of an absent header changes nothing",
            r#"{ action = "rename", from = "X-Missing", name = "X-PH-RetreaverKey" }"#,
            vec![uuid, key, afid, sid],
        ),
        (
            "set appends a constant",
            r#"{ action = "set", name = "X-Campaign-ID", value = "1234" }"#,
            vec![uuid, key, afid, sid, ("X-Campaign-ID", "1234")],
        ),
        (
            "set replaces in place",
            r#"{ action = "set", name = "x-ph-retreaverkey", value = "hidden" }"#,
            vec![uuid, ("x-ph-retreaverkey", "hidden"), afid, sid],
        ),
        (
            "copy keeps the source",
            r#"{ action = "copy", from = "X-PH-RetreaverSID", name = "X-Sub-ID" }"#,
            vec![uuid, key, afid, sid, ("X-Sub-ID", "42")],
        ),
        (
            "copy of a non-default header does not pass the source",
            r#"{ action = "copy", from = "X-Twilio-CallSid", name = "X-Call" }"#,
            vec![uuid, key, afid, sid, ("X-Call", "CA1")],
        ),
        (
            "strip a default-passed header",
            r#"{ action = "strip", name = "X-PH-RetreaverKey" }"#,
            vec![uuid, afid, sid],
        ),
        (
            "strip by prefix",
            r#"{ action = "strip", name = "x-ph-*" }"#,
            vec![],
        ),
        (
            "strip everything",
            r#"{ action = "strip", name = "*" }"#,
            vec![],
        ),
        (
            "pass a prefix, all values, in arrival order",
            r#"{ action = "pass", name = "X-Twilio-*" }"#,
            vec![uuid, key, afid, sid, call, account],
        ),
        (
            "pass an exact non-X header",
            r#"{ action = "pass", name = "subject" }"#,
            vec![uuid, key, afid, sid, ("Subject", "hello")],
        ),
        (
            "passing a default-passed header again adds no duplicate",
            r#"{ action = "pass", name = "X-PH-RetreaverUUID" }, { action = "pass", name = "X-*" }"#,
            vec![uuid, key, afid, sid, call, account, ("X-Other", "o")],
        ),
        (
            "order matters: strip then pass brings it back at the end",
            r#"{ action = "strip", name = "X-PH-RetreaverUUID" }, { action = "pass", name = "X-PH-RetreaverUUID" }"#,
            vec![key, afid, sid, uuid],
        ),
        (
            "order matters: pass then strip removes it",
            r#"{ action = "pass", name = "X-Other" }, { action = "strip", name = "X-Other" }"#,
            vec![uuid, key, afid, sid],
        ),
        (
            "the Retreaver form's example",
            r#"{ action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" },
               { action = "set", name = "X-Campaign-ID", value = "1234" },
               { action = "copy", from = "X-PH-RetreaverSID", name = "X-Sub-ID" },
               { action = "strip", name = "X-PH-RetreaverKey" },
               { action = "pass", name = "X-Twilio-*" }"#,
            vec![
                uuid,
                ("X-Publisher-ID", "5678"),
                sid,
                ("X-Campaign-ID", "1234"),
                ("X-Sub-ID", "42"),
                call,
                account,
            ],
        ),
    ];
    check(&req, rows);
}

#[test]
fn multi_valued_headers_keep_every_value() {
    let req = cloud_invite(&["X-Tier: a", "X-PH-Tag: 1", "x-tier: b", "X-PH-Tag: 2"]);
    // (description, actions, expected)
    let rows: Vec<Row> = vec![
        (
            "default pass keeps both",
            "",
            vec![("X-PH-Tag", "1"), ("X-PH-Tag", "2")],
        ),
        (
            "pass keeps both, names as received",
            r#"{ action = "pass", name = "X-Tier" }"#,
            vec![
                ("X-PH-Tag", "1"),
                ("X-PH-Tag", "2"),
                ("X-Tier", "a"),
                ("x-tier", "b"),
            ],
        ),
        (
            "rename moves both",
            r#"{ action = "rename", from = "X-PH-Tag", name = "X-Tag" }"#,
            vec![("X-Tag", "1"), ("X-Tag", "2")],
        ),
        (
            "set replaces both with one",
            r#"{ action = "set", name = "X-PH-Tag", value = "3" }"#,
            vec![("X-PH-Tag", "3")],
        ),
    ];
    check(&req, rows);
}

#[test]
fn a_prefix_never_passes_owned_headers() {
    let req = cloud_invite(&["X-A: 1", "Contact: <sip:x@192.0.2.1>", "Subject: s"]);
    let got = plan(r#"{ action = "pass", name = "C*" }, { action = "pass", name = "S*" }"#)
        .apply(&req.headers);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["Subject"]);
}
