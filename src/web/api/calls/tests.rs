//! The calls API against a real store and a stand-in loop.

use std::sync::Arc;

use super::testing::*;
use super::*;
use crate::app::ControlError;
use crate::web::http::Method;

fn api(f: &Fixture, req: Request) -> Response {
    f.run(req, |ctx, who, req| async move {
        handle(&ctx, &who, &req).await
    })
}

#[test]
fn other_paths_are_not_this_areas() {
    let f = Fixture::ok();
    let r = smol::block_on(handle(&f.ctx, &who(), &get("/api/v1/callsx")));
    assert!(r.is_none());
    let r = smol::block_on(handle(&f.ctx, &who(), &get("/api/v1/status")));
    assert!(r.is_none());
    let r = smol::block_on(handle(
        &f.ctx,
        &who(),
        &post("/api/v1/calls/a/reboot", "{}"),
    ));
    assert!(r.is_none());
}

#[test]
fn search_answers_the_matching_calls_newest_first_with_paging() {
    let f = Fixture::ok();
    let mut other = finished("c3", 30);
    other.retreaver_afid = Some("1234".into());
    other.hangup_cause = Some("no_answer".into());
    f.insert(&[finished("c1", 10), finished("c2", 20), other]);
    let r = api(&f, get("/api/v1/calls"));
    assert_eq!(r.status, 200);
    let v = json(&r);
    let ids: Vec<&str> = v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c3", "c2", "c1"]);
    assert!(v.get("next_offset").is_none());
    let c = &v["calls"][1];
    assert_eq!(c["started"], "2024-05-01T10:40:20.000Z");
    assert_eq!(c["duration_s"], 63.0);
    assert_eq!(c["retreaver_afid"], "5678");
    assert_eq!(c["in_progress"], false);
    assert_eq!(c["x_headers"][0]["name"], "X-PH-RetreaverUUID");
    assert_eq!(c["caller_media"]["codec"], "PCMU");
    assert_eq!(c["callee_media"]["dtmf_rendered"], 2);

    let v = json(&api(&f, get("/api/v1/calls?afid=5678&limit=1")));
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    assert_eq!(v["calls"][0]["id"], "c2");
    assert_eq!(v["next_offset"], 1);
    let v = json(&api(&f, get("/api/v1/calls?afid=5678&limit=1&offset=1")));
    assert_eq!(v["calls"][0]["id"], "c1");
    let v = json(&api(&f, get("/api/v1/calls?cause=no_answer")));
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    let v = json(&api(
        &f,
        get("/api/v1/calls?since=2024-05-01T10:40:15Z&until=2024-05-01T10:40:25Z"),
    ));
    assert_eq!(v["calls"][0]["id"], "c2");
    assert_eq!(v["calls"].as_array().unwrap().len(), 1);
    let v = json(&api(&f, get("/api/v1/calls?header=X-Publisher-ID%3A+5678")));
    assert_eq!(v["calls"].as_array().unwrap().len(), 3);
    let v = json(&api(&f, get("/api/v1/calls?uuid=c1-uuid")));
    assert_eq!(v["calls"][0]["id"], "c1");
}

#[test]
fn a_bad_parameter_is_400_naming_it() {
    let f = Fixture::ok();
    for (q, field) in [
        ("since=tomorrow", "since"),
        ("until=2024-02-31T00:00", "until"),
        ("cause=gone", "cause"),
        ("direction=up", "direction"),
        ("limit=5000", "limit"),
        ("offset=-3", "offset"),
    ] {
        let r = api(&f, get(&format!("/api/v1/calls?{q}")));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(json(&r)["field"], field, "{q}");
        let r = api(&f, get(&format!("/api/v1/calls.csv?{q}")));
        assert_eq!(r.status, 400, "{q}");
    }
}

#[test]
fn one_call_or_404() {
    let f = Fixture::ok();
    f.insert(&[finished("c1", 10), in_progress("c2", 20)]);
    let r = api(&f, get("/api/v1/calls/c1"));
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["callee_call_id"], "c1@gw");
    let r = api(&f, get("/api/v1/calls/nope"));
    assert_eq!(r.status, 404);
    assert!(json(&r)["error"].as_str().unwrap().contains("nope"));
    // In progress only while the running gateway holds it.
    assert_eq!(
        json(&api(&f, get("/api/v1/calls/c2")))["in_progress"],
        false
    );
    set_live(&f.ctx, &["c2", "c9"]);
    assert_eq!(json(&api(&f, get("/api/v1/calls/c2")))["in_progress"], true);
    // Not yet written by the history writer: taken from the snapshot.
    let r = api(&f, get("/api/v1/calls/c9"));
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["in_progress"], true);
    assert_eq!(json(&r)["caller_call_id"], "c9@cloud");
    let r = api(&f, request(Method::Delete, "/api/v1/calls/c1", ""));
    assert_eq!(r.status, 405);
}

#[test]
fn csv_holds_the_matching_calls() {
    let f = Fixture::ok();
    let mut other = finished("c3", 30);
    other.retreaver_afid = Some("1234".into());
    f.insert(&[finished("c1", 10), other]);
    let r = api(&f, get("/api/v1/calls.csv?afid=5678"));
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .iter()
        .any(|(n, v)| n == "content-type" && v.starts_with("text/csv")));
    let text = body(&r);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("id,started"));
    assert!(lines[1].starts_with("c1,"));
    let all = body(&api(&f, get("/api/v1/calls.csv")));
    assert_eq!(all.split("\r\n").filter(|l| !l.is_empty()).count(), 3);
    let one = body(&api(&f, get("/api/v1/calls.csv?limit=1")));
    assert_eq!(one.split("\r\n").filter(|l| !l.is_empty()).count(), 2);
}

#[test]
fn control_requests_reach_the_loop_by_call_id() {
    let f = Fixture::ok();
    let r = api(&f, post("/api/v1/calls/c1/hangup", ""));
    assert_eq!((r.status, json(&r)), (200, serde_json::json!({"ok": true})));
    let r = api(
        &f,
        post(
            "/api/v1/calls/c1/transfer",
            r#"{"target": "sip:201@192.168.1.20"}"#,
        ),
    );
    assert_eq!(r.status, 200, "{}", body(&r));
    let r = api(
        &f,
        post(
            "/api/v1/calls/c1/dtmf",
            r#"{"digits": "12#", "leg": "callee"}"#,
        ),
    );
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(
        f.seen(),
        [
            "hangup c1 by admin",
            "transfer c1 to sip:201@192.168.1.20",
            "dtmf c1 callee 12#"
        ]
    );
    let r = api(&f, get("/api/v1/calls/c1/hangup"));
    assert_eq!(r.status, 405);
}

#[test]
fn control_errors_map_to_statuses() {
    let answer: Answer = Arc::new(|id: &str| {
        Err(match id {
            "none" => ControlError::NoSuchCall(id.into()),
            "ringing" => ControlError::Refused("the call is not answered yet".into()),
            "digits" => ControlError::BadDigits("'x' is not a DTMF digit".into()),
            _ => ControlError::ShuttingDown,
        })
    });
    let f = Fixture::new("", answer);
    let dtmf = r#"{"digits": "1", "leg": "caller"}"#;
    for (id, status, field) in [
        ("none", 404, None),
        ("ringing", 409, None),
        ("digits", 422, Some("digits")),
        ("stopping", 503, None),
    ] {
        let r = api(&f, post(&format!("/api/v1/calls/{id}/dtmf"), dtmf));
        assert_eq!(r.status, status, "{id}: {}", body(&r));
        let v = json(&r);
        assert_eq!(v["field"].as_str(), field, "{id}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let r = api(&f, post("/api/v1/calls/ringing/hangup", ""));
    assert_eq!(r.status, 409);
    assert_eq!(json(&r)["error"], "the call is not answered yet");

    let gone = Fixture::without_loop();
    let r = api(&gone, post("/api/v1/calls/c1/hangup", ""));
    assert_eq!(r.status, 503);
}

#[test]
fn bad_control_bodies_name_the_field_and_reach_no_loop() {
    let f = Fixture::ok();
    for (path, b, status, field) in [
        ("transfer", "not json", 400, None),
        ("transfer", "[1]", 400, None),
        ("transfer", "{}", 400, Some("target")),
        ("transfer", r#"{"target": 5}"#, 400, Some("target")),
        ("transfer", r#"{"target": "201"}"#, 422, Some("target")),
        (
            "transfer",
            r#"{"target": "sip:a@b\r\nX: y"}"#,
            422,
            Some("target"),
        ),
        ("dtmf", r#"{"leg": "caller"}"#, 400, Some("digits")),
        ("dtmf", r#"{"digits": "1"}"#, 400, Some("leg")),
        (
            "dtmf",
            r#"{"digits": "1", "leg": "both"}"#,
            422,
            Some("leg"),
        ),
    ] {
        let r = api(&f, post(&format!("/api/v1/calls/c1/{path}"), b));
        assert_eq!(r.status, status, "{path} {b}: {}", body(&r));
        assert_eq!(json(&r)["field"].as_str(), field, "{path} {b}");
    }
    assert!(f.seen().is_empty());
}
