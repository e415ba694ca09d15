//! Lines over the API: `/api/v1/config/line` and `/api/v1/config/system`
//! read, added to, edited and emptied like the other sections, with the
//! page's checks and field names.

use serde_json::{json, Value};

use crate::config::sample::every_field_set;
use crate::web::forms::testing::{body, get, put_json, Harness};

fn json_of(r: &crate::web::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn lines_are_listed_added_edited_and_removed() {
    let h = Harness::new("api-lines", every_field_set());
    let lines = json_of(&h.run(get("/api/v1/config/line")));
    assert_eq!(lines[0]["name"], json!("desk"));
    assert_eq!(lines[0]["extension"], json!("201"));
    assert_eq!(lines[0]["baud"], json!(57600));
    assert_eq!(
        json_of(&h.run(get("/api/v1/config/system"))),
        json!({"board": "rpi4"})
    );
    // Add one with only what it needs.
    let mut more = lines.clone();
    more.as_array_mut()
        .unwrap()
        .push(json!({"name": "shop", "extension": "202"}));
    let r = h.run(put_json("/api/v1/config/line", &more.to_string()));
    assert_eq!(r.status, 200, "{}", body(&r));
    let answer = json_of(&r);
    assert_eq!(answer["changed"], json!(["line"]));
    assert!(
        answer["needs_restart"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.as_str().unwrap().starts_with("line")),
        "{answer}"
    );
    let cfg = h.ctx.config();
    assert_eq!(cfg.lines.len(), 2);
    assert_eq!(cfg.lines[1].ring_cadence, "2000/4000");
    // Edit it.
    let mut edited = json_of(&h.run(get("/api/v1/config/line")));
    edited[1]["dtmf"] = json!("inband");
    edited[1]["digit_timeout_ms"] = json!(6000);
    let r = h.run(put_json("/api/v1/config/line", &edited.to_string()));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(h.ctx.config().lines[1].digit_timeout_ms, 6000);
    assert!(h.file().contains("digit_timeout_ms = 6000"), "{}", h.file());
    // Remove it again.
    let r = h.run(put_json("/api/v1/config/line", &lines.to_string()));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn bad_lines_are_refused_naming_the_field_as_the_page_does() {
    let h = Harness::new("api-lines-bad", every_field_set());
    let before = h.file();
    let lines = json_of(&h.run(get("/api/v1/config/line")));
    // (key, value, field named, what the message says)
    for (key, value, field, says) in [
        (
            "extension",
            json!("20x"),
            "line[1].extension",
            "1-15 digits",
        ),
        (
            "extension",
            json!("201"),
            "line[1].extension",
            "used by another line",
        ),
        (
            "name",
            json!("desk"),
            "line[1].name",
            "used by another line",
        ),
        (
            "capture",
            json!("hw 1"),
            "line[1].capture",
            "not an ALSA PCM name",
        ),
        ("baud", json!(1234), "line[1].baud", "1234 is not one of"),
        (
            "ring_cadence",
            json!("1/2/3"),
            "line[1].ring_cadence",
            "not a ring cadence",
        ),
        (
            "digit_timeout_ms",
            json!(25000),
            "line[1].digit_timeout_ms",
            "1000..=20000",
        ),
    ] {
        let mut more = lines.clone();
        let mut line = json!({"name": "shop", "extension": "202"});
        line[key] = value.clone();
        more.as_array_mut().unwrap().push(line);
        let r = h.run(put_json("/api/v1/config/line", &more.to_string()));
        assert_eq!(r.status, 422, "{key} = {value}: {}", body(&r));
        let e = json_of(&r);
        assert_eq!(e["field"], json!(field), "{e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{e}");
    }
    // A field of the wrong type or an unknown one: the body does not read.
    for bad in [
        json!([{"name": "shop", "extension": "202", "baud": "fast"}]),
        json!([{"name": "shop", "extension": "202", "ringer": true}]),
    ] {
        let r = h.run(put_json("/api/v1/config/line", &bad.to_string()));
        assert_eq!(r.status, 400, "{bad}: {}", body(&r));
    }
    // A line a route names cannot go.
    let r = h.run(put_json("/api/v1/config/line", "[]"));
    assert_eq!(r.status, 422);
    let e = json_of(&r);
    assert_eq!(e["field"], json!("route[2].targets[0].line"), "{e}");
    assert!(e["error"]
        .as_str()
        .unwrap()
        .contains("no [[line]] is named 'desk'"));
    // A board there is not.
    let r = h.run(put_json("/api/v1/config/system", r#"{"board": "rpi3"}"#));
    assert_eq!(r.status, 422);
    assert_eq!(json_of(&r)["field"], json!("system.board"));
    assert_eq!(h.file(), before);
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn a_route_takes_a_line_target_and_a_line_origin_over_the_api() {
    let h = Harness::new("api-line-routes", every_field_set());
    let mut routes = json_of(&h.run(get("/api/v1/config/route")));
    assert_eq!(routes[2]["targets"][0]["line"], json!("desk"));
    assert_eq!(routes[2]["targets"][0].get("uri"), None);
    assert_eq!(routes[3]["from"], json!("line:desk"));
    routes[3]["from"] = json!("line");
    routes[0]["targets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"line": "desk"}));
    let r = h.run(put_json("/api/v1/config/route", &routes.to_string()));
    assert_eq!(r.status, 200, "{}", body(&r));
    let cfg = h.ctx.config();
    assert_eq!(cfg.routes[0].targets[2].line.as_deref(), Some("desk"));
    assert_eq!(cfg.routes[3].from, crate::config::RouteFrom::AnyLine);
    routes[0]["targets"][2]["account"] = json!("signalwire");
    let r = h.run(put_json("/api/v1/config/route", &routes.to_string()));
    assert_eq!(r.status, 422);
    assert_eq!(json_of(&r)["field"], json!("route[0].targets[2].account"));
}
