use serde_json::Value;

use super::PAGES;
use crate::config::sample::every_field_set;
use crate::config::Config;
use crate::web::forms::parse::section_value;
use crate::web::forms::render::section_inputs;
use crate::web::forms::save::to_json;
use crate::web::forms::testing::{body, form_values, get, post_form, set, Harness};
use crate::web::forms::{secrets, with_section, SECTIONS};

fn page_of(key: &str) -> &'static str {
    PAGES.iter().find(|(_, _, k)| k.contains(&key)).unwrap().0
}

#[test]
fn every_section_has_a_page_in_the_navigation() {
    for s in SECTIONS {
        let p = page_of(s.key);
        assert!(crate::web::html::NAV.iter().any(|(n, _)| *n == p), "{p}");
    }
}

/// Render each section's form with every field set, read it back as a
/// browser would post it, and get the same configuration (passwords,
/// never shown, are kept).
#[test]
fn every_section_round_trips_through_its_form() {
    let cfg = every_field_set();
    let stored = to_json(&cfg).unwrap();
    for s in SECTIONS {
        let value = stored.get(s.key).cloned().unwrap_or(Value::Null);
        let html = format!(r#"<form id="f">{}</form>"#, section_inputs(s, &value, None));
        assert!(
            !html.contains(r#"value="secret""#)
                && !html.contains("s3cret")
                && !html.contains("whsec"),
            "{html}"
        );
        let posted = form_values(&html, "f");
        let (mut back, err) = section_value(s, &posted);
        assert_eq!(err, None, "{}", s.key);
        secrets::keep(s, &mut back, &value);
        let again = with_section(&cfg, s.key, back).unwrap_or_else(|e| panic!("{}: {e:?}", s.key));
        assert_eq!(again, cfg, "{}", s.key);
        // And from a configuration where the section is the default: the
        // form changes exactly that section.
        let mut other = to_json(&Config::default()).unwrap();
        other[s.key] = stored[s.key].clone();
        let d = Config::default();
        let (mut back, _) = section_value(s, &posted);
        secrets::keep(s, &mut back, &value);
        let replaced = with_section(&d, s.key, back).unwrap();
        assert_eq!(
            to_json(&replaced).unwrap()[s.key],
            stored[s.key],
            "{}",
            s.key
        );
    }
}

#[test]
fn every_page_shows_its_forms_with_ids_by_path() {
    let h = Harness::new("pages", every_field_set());
    for (path, _, keys) in PAGES {
        let r = h.run(get(path));
        assert_eq!(r.status, 200, "{path}");
        let b = body(&r);
        for k in *keys {
            assert!(b.contains(&format!(r#"id="form-{k}""#)), "{path}");
        }
    }
    let b = body(&h.run(get("/config/listeners")));
    assert!(
        b.contains(r#"name="listener[1].allow" id="f-listener-1-allow""#),
        "{b}"
    );
    let b = body(&h.run(get("/config/routes")));
    assert!(b.contains(r#"id="f-route-0-targets-0-uri""#));
    assert!(b.contains(r#"id="f-route-0-match-1-dialled""#));
    assert!(b.contains(r#"id="f-route-0-headers-0-action""#));
    assert!(b.contains(r#"type="password" name="route[0].targets[0].password""#));
    assert!(!b.contains("value=\"p\""));
    let b = body(&h.run(get("/config/accounts")));
    assert!(b.contains(r#"placeholder="unchanged""#) && !b.contains("secret"));
}

#[test]
fn an_invalid_cidr_is_shown_at_its_field_and_nothing_is_saved() {
    let h = Harness::new("cidr", every_field_set());
    let before = h.file();
    let page = body(&h.run(get("/config/listeners")));
    let mut form = form_values(&page, "form-listener");
    set(
        &mut form,
        "listener[1].allow",
        "192.168.10.0/24\n10.0.0.300/8",
    );
    let r = h.run(post_form("/config/listeners", &form));
    assert_eq!(r.status, 422);
    let b = body(&r);
    let at = b
        .find(r#"<p class="field-error" data-field="listener[1].allow[1]">"#)
        .expect(&b);
    let input = b.find(r#"id="f-listener-1-allow""#).unwrap();
    let field_end = input + b[input..].find("</div>").unwrap();
    assert!(
        input < at && at < field_end,
        "the error is in the input's own field block"
    );
    assert!(b.contains("10.0.0.300/8"), "the posted text is shown again");
    assert_eq!(h.file(), before, "the file is unchanged");
    assert_eq!(h.ctx.config(), every_field_set());
}

#[test]
fn a_word_in_a_number_field_is_refused_before_the_loop_is_asked() {
    let h = Harness::new("word", every_field_set());
    let page = body(&h.run(get("/config/media")));
    let mut form = form_values(&page, "form-media");
    set(&mut form, "media.threads", "many");
    let r = h.run(post_form("/config/media", &form));
    assert_eq!(r.status, 422);
    assert!(body(&r).contains(r#"data-field="media.threads""#));
    assert_eq!(h.asked.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn a_save_redirects_with_what_changed_keeps_passwords_and_is_audited() {
    let h = Harness::new("save", every_field_set());
    let page = body(&h.run(get("/config/accounts")));
    let mut form = form_values(&page, "form-account");
    set(&mut form, "account[0].expires_s", "900");
    let r = h.run(post_form("/config/accounts", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let loc = r
        .headers
        .iter()
        .find(|(n, _)| n == "location")
        .unwrap()
        .1
        .clone();
    assert!(loc.starts_with("/config/accounts?saved=account"), "{loc}");
    let cfg = h.ctx.config();
    assert_eq!(cfg.accounts[0].expires_s, 900);
    assert_eq!(cfg.accounts[0].password, "secret", "kept when left empty");
    assert!(h.file().contains("expires_s = 900"));
    let b = body(&h.run(get(&loc)));
    assert!(b.contains(r#"<div class="notice" id="saved">"#), "{b}");
    assert!(
        b.contains(r#"<ul id="needs-restart"><li>account</li>"#),
        "{b}"
    );
    // A live change says so.
    let page = body(&h.run(get("/config/calls")));
    let mut form = form_values(&page, "form-calls");
    set(&mut form, "calls.max_concurrent", "77");
    let r = h.run(post_form("/config/calls", &form));
    let loc = r
        .headers
        .iter()
        .find(|(n, _)| n == "location")
        .unwrap()
        .1
        .clone();
    let b = body(&h.run(get(&loc)));
    assert!(b.contains("Applied to new calls; calls in progress keep their settings."));
    assert!(!b.contains("needs-restart"));
    let audit = h.ctx.clone();
    let list = smol::block_on(audit.with_store(|s| s.audit_list(10))).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].section, "calls");
    assert_eq!(list[0].who, "admin");
    assert!(
        list[0].summary.contains("max_concurrent"),
        "{}",
        list[0].summary
    );
    assert_eq!(list[1].section, "account");
    assert!(
        list[1].summary.contains("changed signalwire"),
        "{}",
        list[1].summary
    );
    assert!(!list[1].summary.contains("secret"));
}

#[test]
fn entries_are_added_and_removed() {
    let h = Harness::new("entries", every_field_set());
    let page = body(&h.run(get("/config/routes")));
    let mut form = form_values(&page, "form-route");
    form.push(("_add".into(), "route[1].targets".into()));
    let r = h.run(post_form("/config/routes", &form));
    assert_eq!(r.status, 200);
    let b = body(&r);
    assert!(
        b.contains(r#"id="f-route-1-targets-1-uri""#),
        "a new empty target"
    );
    let mut form = form_values(&b, "form-route");
    set(
        &mut form,
        "route[1].targets[1].uri",
        "sip:backup@sip.example.com",
    );
    form.push(("route[0].headers[1]._remove".into(), "on".into()));
    let r = h.run(post_form("/config/routes", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    let cfg = h.ctx.config();
    assert_eq!(cfg.routes[1].targets[1].uri, "sip:backup@sip.example.com");
    assert_eq!(cfg.routes[0].headers.len(), 1);
    assert_eq!(cfg.routes[0].targets[0].password.as_deref(), Some("p"));
}

#[test]
fn an_empty_allow_list_and_no_allow_list_both_round_trip() {
    let mut cfg = every_field_set();
    cfg.listeners[0].allow = Some(Vec::new());
    cfg.listeners[1].allow = None;
    let h = Harness::new("empty-allow", cfg.clone());
    let page = body(&h.run(get("/config/listeners")));
    assert!(page.contains(r#"id="f-listener-1-allow-default" value="true" checked"#));
    assert!(!page.contains(r#"id="f-listener-0-allow-default" value="true" checked"#));
    let form = form_values(&page, "form-listener");
    let r = h.run(post_form("/config/listeners", &form));
    assert_eq!(r.status, 303, "{}", body(&r));
    assert_eq!(h.ctx.config(), cfg);
}
