use serde_json::{json, Value};

use crate::config::sample::every_field_set;
use crate::web::forms::testing::{body, get, put_json, Harness};
use crate::web::forms::SECTIONS;

fn json_of(r: &crate::web::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn the_whole_configuration_hides_passwords_unless_asked() {
    let h = Harness::new("api-whole", every_field_set());
    let r = h.run(get("/api/v1/config"));
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    assert_eq!(v["account"][0]["password"], Value::Null);
    assert_eq!(v["inbound_auth"]["users"][0]["password"], Value::Null);
    assert_eq!(v["route"][0]["targets"][0]["password"], Value::Null);
    assert_eq!(v["webhook"][0]["secret"], Value::Null);
    // The sample's passwords are "secret", "s3cret", "p", the webhook's
    // secret "whsec": no value of them is in the answer.
    assert!(!body(&r).contains(":\"secret\"") && !body(&r).contains("whsec"));
    assert_eq!(v["media"]["threads"], json!(2));
    let v = json_of(&h.run(get("/api/v1/config?secrets=true")));
    assert_eq!(v["account"][0]["password"], json!("secret"));
    assert_eq!(v["inbound_auth"]["users"][0]["password"], json!("s3cret"));
    assert_eq!(v["webhook"][0]["secret"], json!("whsec"));
}

/// Each section read and written back as read (passwords null): saved,
/// nothing changed, passwords kept.
#[test]
fn every_section_is_read_and_written_back() {
    let h = Harness::new("api-each", every_field_set());
    for s in SECTIONS {
        let path = format!("/api/v1/config/{}", s.key);
        let r = h.run(get(&path));
        assert_eq!(r.status, 200, "{path}");
        let r = h.run(put_json(&path, &body(&r)));
        assert_eq!(r.status, 200, "{path}: {}", body(&r));
        assert_eq!(
            json_of(&r),
            json!({"changed": [], "needs_restart": []}),
            "{path}"
        );
    }
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn a_put_saves_and_answers_what_changed() {
    let h = Harness::new("api-put", every_field_set());
    let mut media = json_of(&h.run(get("/api/v1/config/media")));
    media["threads"] = json!(4);
    media["timeout_s"] = json!(45);
    let r = h.run(put_json("/api/v1/config/media", &media.to_string()));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(
        json_of(&r),
        json!({"changed": ["media"], "needs_restart": ["media.threads"]})
    );
    assert_eq!(h.ctx.config().media.threads, 4);
    assert!(h.file().contains("threads = 4"));
    // A new password replaces the stored one; null keeps it.
    let mut accounts = json_of(&h.run(get("/api/v1/config/account")));
    accounts[0]["password"] = json!("new-one");
    let r = h.run(put_json("/api/v1/config/account", &accounts.to_string()));
    assert_eq!(r.status, 200);
    assert_eq!(h.ctx.config().accounts[0].password, "new-one");
    let audit = json_of(&h.run(get("/api/v1/audit")));
    assert_eq!(audit[0]["section"], json!("account"));
    assert_eq!(audit[1]["section"], json!("media"));
    assert_eq!(audit[0]["who"], json!("admin"));
    assert!(audit[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(!audit.to_string().contains("new-one"));
}

#[test]
fn bad_bodies_are_refused_naming_where() {
    let h = Harness::new("api-bad", every_field_set());
    let before = h.file();
    let mut listeners = json_of(&h.run(get("/api/v1/config/listener")));
    listeners[1]["allow"] = json!(["192.168.10.0/24", "10.0.0.300/8"]);
    let r = h.run(put_json("/api/v1/config/listener", &listeners.to_string()));
    assert_eq!(r.status, 422);
    let e = json_of(&r);
    assert_eq!(e["field"], json!("listener[1].allow[1]"), "{e}");
    assert!(e["error"].as_str().unwrap().contains("10.0.0.300"), "{e}");
    let r = h.run(put_json(
        "/api/v1/config/sip",
        "{\"t1_ms\": 400,\n \"t2_ms\": }",
    ));
    assert_eq!(r.status, 400);
    assert!(
        json_of(&r)["error"].as_str().unwrap().contains("line 2"),
        "{}",
        body(&r)
    );
    let r = h.run(put_json("/api/v1/config/sip", r#"{"t1_ms": "fast"}"#));
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["field"], json!("sip.t1_ms"), "{}", body(&r));
    let r = h.run(put_json("/api/v1/config/sip", r#"{"t1_ms": 5}"#));
    assert_eq!(r.status, 422);
    assert_eq!(json_of(&r)["field"], json!("sip.t1_ms"));
    assert_eq!(h.run(get("/api/v1/config/nope")).status, 404);
    assert_eq!(h.file(), before);
    assert_eq!(h.ctx.config(), every_field_set());
}
