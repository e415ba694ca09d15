//! `serve` end to end without a socket: a WebContext with a status board,
//! an Auth on a temporary data directory, requests as the shell parses
//! them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::app::view::{CallDirection, CallRecord, CallStats, LegMediaStats, MediaSummary};
use crate::app::StatusBoard;
use crate::config::Config;

struct Box_ {
    ctx: WebContext,
    auth: Auth,
    one_time: String,
    dir: PathBuf,
}

impl Drop for Box_ {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str) -> Box_ {
    let dir = std::env::temp_dir().join(format!("pbxgate-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (auth, one_time) = Auth::open(&dir).unwrap();
    let (control, _rx) = smol::channel::bounded(1);
    let ctx = WebContext {
        status: StatusBoard::default(),
        control,
        config: Arc::new(RwLock::new(Config::default())),
        config_path: dir.join("pbxgate.toml"),
        data_dir: dir.clone(),
        started: Instant::now(),
        version: "9.9.9",
        webhook_tester: None,
        updater: None,
    };
    Box_ {
        ctx,
        auth,
        one_time: one_time.unwrap(),
        dir,
    }
}

const PEER: &str = "192.168.1.20";

fn req(method: Method, path: &str) -> Request {
    Request {
        method,
        path: path.into(),
        query: vec![],
        headers: vec![],
        body: vec![],
        peer: PEER.parse().unwrap(),
    }
}

fn form(path: &str, pairs: &[(&str, &str)]) -> Request {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut r = req(Method::Post, path);
    r.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    r.body = body.into_bytes();
    r
}

fn with(mut r: Request, name: &str, value: &str) -> Request {
    r.headers.push((name.into(), value.into()));
    r
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn body(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn run(b: &Box_, r: Request) -> Response {
    smol::block_on(serve(&b.ctx, &b.auth, r, Instant::now()))
}

/// Logs in; returns the cookie header value.
fn login(b: &Box_, pass: &str) -> String {
    let r = run(b, form("/login", &[("user", "admin"), ("password", pass)]));
    assert_eq!(r.status, 303, "{}", body(&r));
    let set = header(&r, "set-cookie").expect("cookie");
    set.split(';').next().unwrap().to_string()
}

fn csrf_of(b: &Box_, cookie: &str) -> String {
    let id = auth::cookie_value(cookie).unwrap();
    b.auth
        .session(id, &b.ctx.config().web, Instant::now())
        .unwrap()
        .csrf
}

/// Logs in with the one-time password and sets `new`.
fn first_login(b: &Box_, new: &str) -> (String, String) {
    let cookie = login(b, &b.one_time);
    let csrf = csrf_of(b, &cookie);
    let r = run(
        b,
        with(
            form(
                "/first-password",
                &[("password", new), ("confirm", new), ("csrf", &csrf)],
            ),
            "cookie",
            &cookie,
        ),
    );
    assert_eq!(r.status, 303, "{}", body(&r));
    (cookie, csrf)
}

#[test]
fn every_answer_carries_the_security_headers() {
    let b = start("headers");
    for r in [
        run(&b, req(Method::Get, "/healthz")),
        run(&b, req(Method::Get, "/")),
        run(&b, req(Method::Get, "/api/v1/status")),
        run(&b, req(Method::Get, "/assets/style.css")),
        run(&b, req(Method::Get, "/login")),
    ] {
        assert_eq!(
            header(&r, "content-security-policy"),
            Some("default-src 'self'; frame-ancestors 'none'")
        );
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&r, "referrer-policy"), Some("no-referrer"));
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
    }
}

#[test]
fn healthz_follows_the_loops_beat_without_a_login() {
    let b = start("health");
    let r = run(&b, req(Method::Get, "/healthz"));
    assert_eq!(r.status, 503);
    assert!(body(&r).starts_with("starting"), "{}", body(&r));
    b.ctx.status.beat(Instant::now(), true);
    let r = run(&b, req(Method::Get, "/healthz"));
    assert_eq!((r.status, body(&r).as_str()), (200, "ok\n"));
    b.ctx.status.beat(Instant::now(), false);
    let r = run(&b, req(Method::Get, "/healthz"));
    assert_eq!(r.status, 503);
    assert!(body(&r).contains("media threads"), "{}", body(&r));
}

#[test]
fn without_a_login_the_api_is_401_and_pages_go_to_login() {
    let b = start("anon");
    for path in [
        "/api/v1/status",
        "/api/v1/tokens",
        "/api/v1/calls",
        "/api/v1/config",
    ] {
        let r = run(&b, req(Method::Get, path));
        assert_eq!(r.status, 401, "{path}");
        assert!(body(&r).contains("\"error\""), "{path}");
    }
    let r = run(&b, req(Method::Post, "/api/v1/tokens"));
    assert_eq!(r.status, 401);
    for path in ["/", "/tokens", "/calls", "/first-password"] {
        let r = run(&b, req(Method::Get, path));
        assert_eq!(
            (r.status, header(&r, "location")),
            (303, Some("/login")),
            "{path}"
        );
    }
    let r = run(
        &b,
        with(req(Method::Get, "/"), "cookie", "pbxgate_session=forged"),
    );
    assert_eq!(r.status, 303);
    let r = run(&b, req(Method::Get, "/assets/status.js"));
    assert_eq!(r.status, 200);
    assert_eq!(run(&b, req(Method::Get, "/assets/nothing.js")).status, 404);
}

#[test]
fn the_one_time_password_forces_a_new_one_and_works_once() {
    let b = start("first");
    let r = run(
        &b,
        form("/login", &[("user", "admin"), ("password", "wrong one!")]),
    );
    assert_eq!(r.status, 401);
    assert!(header(&r, "set-cookie").is_none());
    let cookie = login(&b, &b.one_time);
    let csrf = csrf_of(&b, &cookie);
    // Only /first-password is reachable.
    let r = run(&b, with(req(Method::Get, "/"), "cookie", &cookie));
    assert_eq!(header(&r, "location"), Some("/first-password"));
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "cookie", &cookie),
    );
    assert_eq!(r.status, 403);
    let r = run(
        &b,
        with(req(Method::Get, "/first-password"), "cookie", &cookie),
    );
    assert_eq!(r.status, 200);
    assert!(body(&r).contains(&format!(r#"name="csrf" value="{csrf}""#)));
    let post =
        |pairs: &[(&str, &str)]| run(&b, with(form("/first-password", pairs), "cookie", &cookie));
    let r = post(&[
        ("password", "long enough pw"),
        ("confirm", "long enough pw"),
    ]);
    assert_eq!(r.status, 403, "no CSRF token");
    let r = post(&[("password", "short"), ("confirm", "short"), ("csrf", &csrf)]);
    assert_eq!(r.status, 422);
    assert!(body(&r).contains(r#"class="field-error" data-field="password""#));
    let ot = b.one_time.clone();
    let r = post(&[("password", &ot), ("confirm", &ot), ("csrf", &csrf)]);
    assert_eq!(r.status, 422, "the one-time password cannot be kept");
    let r = post(&[
        ("password", "my own password"),
        ("confirm", "my own password"),
        ("csrf", &csrf),
    ]);
    assert_eq!((r.status, header(&r, "location")), (303, Some("/")));
    let r = run(&b, with(req(Method::Get, "/"), "cookie", &cookie));
    assert_eq!(r.status, 200);
    // The one-time password is gone; the new one works.
    let r = run(&b, form("/login", &[("user", "admin"), ("password", &ot)]));
    assert_eq!(r.status, 401);
    let again = login(&b, "my own password");
    let r = run(&b, with(req(Method::Get, "/"), "cookie", &again));
    assert_eq!(r.status, 200);
    // Logging out ends the session.
    let csrf = csrf_of(&b, &again);
    let r = run(
        &b,
        with(form("/logout", &[("csrf", &csrf)]), "cookie", &again),
    );
    assert_eq!(header(&r, "location"), Some("/login"));
    let r = run(&b, with(req(Method::Get, "/"), "cookie", &again));
    assert_eq!(r.status, 303);
}

#[test]
fn repeated_failures_from_a_source_are_limited() {
    let b = start("limit");
    for _ in 0..5 {
        let r = run(
            &b,
            form("/login", &[("user", "admin"), ("password", "nope nope")]),
        );
        assert_eq!(r.status, 401);
    }
    let r = run(
        &b,
        form("/login", &[("user", "admin"), ("password", &b.one_time)]),
    );
    assert_eq!(r.status, 429, "even the right password, while limited");
    let wait: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!(wait > 14 * 60 && wait <= 15 * 60, "{wait}");
    let mut other = form("/login", &[("user", "admin"), ("password", &b.one_time)]);
    other.peer = "192.168.1.21".parse::<IpAddr>().unwrap();
    assert_eq!(run(&b, other).status, 303, "another source is not limited");
}

/// Twenty wrong passwords posted at once: each is counted before its
/// (slow) check, so no more than the limit are checked at all.
#[test]
fn logins_racing_in_parallel_get_no_more_guesses_than_the_limit() {
    let b = start("race");
    let now = Instant::now();
    let tries = (0..20).map(|_| {
        serve(
            &b.ctx,
            &b.auth,
            form("/login", &[("user", "admin"), ("password", "wrong guess")]),
            now,
        )
    });
    let answers = smol::block_on(futures_join(tries.collect()));
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
}

/// Runs the futures concurrently on one thread and returns their answers.
async fn futures_join<F: std::future::Future<Output = Response>>(futs: Vec<F>) -> Vec<Response> {
    let ex = smol::LocalExecutor::new();
    let tasks: Vec<_> = futs.into_iter().map(|f| ex.spawn(f)).collect();
    ex.run(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    })
    .await
}

#[test]
fn a_sessions_state_changes_need_its_csrf_token_and_a_bearer_does_not() {
    let b = start("csrf");
    let (cookie, csrf) = first_login(&b, "my own password");
    let make = |extra: Option<(&str, &str)>, name: &str| {
        let mut r = with(req(Method::Post, "/api/v1/tokens"), "cookie", &cookie);
        r.headers
            .push(("content-type".into(), "application/json".into()));
        if let Some((n, v)) = extra {
            r.headers.push((n.into(), v.into()));
        }
        r.body = format!(r#"{{"name":"{name}"}}"#).into_bytes();
        run(&b, r)
    };
    assert_eq!(make(None, "a").status, 403);
    assert_eq!(make(Some(("x-csrf-token", "wrong")), "a").status, 403);
    let r = make(Some(("x-csrf-token", &csrf)), "scraper");
    assert_eq!(r.status, 201, "{}", body(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    // A bearer reaches the API and /metrics without CSRF, not the pages.
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "authorization", &bearer),
    );
    assert_eq!(r.status, 200);
    let mut del = with(
        req(Method::Delete, "/api/v1/tokens/nothing"),
        "authorization",
        &bearer,
    );
    assert_eq!(run(&b, del.clone()).status, 404);
    let r = run(&b, with(req(Method::Get, "/"), "authorization", &bearer));
    assert_eq!(r.status, 303);
    let r = run(&b, req(Method::Get, "/metrics"));
    assert_eq!(r.status, 401);
    let r = run(&b, with(req(Method::Get, "/metrics"), "cookie", &cookie));
    assert_eq!(r.status, 401, "a browser session is no scraper");
    let r = run(
        &b,
        with(req(Method::Get, "/metrics"), "authorization", &bearer),
    );
    assert_eq!(r.status, 200);
    assert!(body(&r).contains("pbxgate_"), "{}", body(&r));
    let r = run(
        &b,
        with(
            req(Method::Get, "/metrics"),
            "authorization",
            "Bearer pbxg_00",
        ),
    );
    assert_eq!(r.status, 401);
    // metrics_allow lets a source in without a token.
    b.ctx.config.write().unwrap().web.metrics_allow = vec![format!("{PEER}/32")];
    assert_eq!(run(&b, req(Method::Get, "/metrics")).status, 200);
    // The token list shows it; deleting it ends it.
    let r = run(&b, with(req(Method::Get, "/tokens"), "cookie", &cookie));
    assert!(body(&r).contains(r#"<tr class="token" data-name="scraper">"#));
    del.path = "/api/v1/tokens/scraper".into();
    assert_eq!(run(&b, del).status, 200);
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "authorization", &bearer),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn the_session_idle_time_is_read_live() {
    let b = start("idle");
    let (cookie, _) = first_login(&b, "my own password");
    let t0 = Instant::now();
    let at = |t: Instant| {
        smol::block_on(serve(
            &b.ctx,
            &b.auth,
            with(req(Method::Get, "/"), "cookie", &cookie),
            t,
        ))
        .status
    };
    assert_eq!(at(t0 + Duration::from_secs(29 * 60)), 200);
    b.ctx.config.write().unwrap().web.session_idle_min = 1;
    assert_eq!(at(t0 + Duration::from_secs(31 * 60)), 303);
}

fn call(from: &str) -> CallRecord {
    CallRecord {
        id: "c0ffee".into(),
        direction: CallDirection::Inbound,
        caller_call_id: "a@cloud".into(),
        callee_call_id: Some("b@gw".into()),
        from: from.into(),
        to: "sip:100@pbx".into(),
        route: Some("to-pbx".into()),
        emergency: false,
        target: Some("sip:100@192.168.1.10".into()),
        retreaver_uuid: None,
        retreaver_key: None,
        retreaver_afid: None,
        retreaver_sid: None,
        x_headers: vec![],
        callee_x_headers: vec![],
        headers_out: vec![],
        diversion: None,
        started: SystemTime::now() - Duration::from_secs(75),
        answered: Some(SystemTime::now()),
        ended: None,
        final_status: None,
        hangup_cause: None,
        hook: None,
        caller_transport: None,
        callee_transport: None,
        media: Some(MediaSummary {
            caller: LegMediaStats {
                packets: 120,
                lost: 2,
                source: Some("203.0.113.9:4000".parse().unwrap()),
                source_learned: true,
                ..LegMediaStats::default()
            },
            callee: LegMediaStats::default(),
            caller_codec: Some("PCMU"),
            callee_codec: Some("PCMU"),
        }),
        media_session: None,
        dtmf_caller: String::new(),
        dtmf_callee: String::new(),
    }
}

#[test]
fn the_status_page_and_api_show_a_call_with_its_values_escaped() {
    let b = start("status");
    let (cookie, _) = first_login(&b, "my own password");
    b.ctx.status.update_calls(
        vec![call("<script>alert(1)</script> <sip:1@x>")],
        CallStats::default(),
    );
    let r = run(&b, with(req(Method::Get, "/"), "cookie", &cookie));
    let page = body(&r);
    assert_eq!(r.status, 200);
    for id in [
        r#"id="registrations""#,
        r#"id="calls-active""#,
        r#"id="counters""#,
        r#"id="admission""#,
        r#"id="version">9.9.9<"#,
        r#"id="uptime""#,
        r#"<tr class="call" data-call-id="c0ffee">"#,
        "a@cloud",
        "b@gw",
        "to-pbx",
        "PCMU",
        "203.0.113.9:4000 (learned) · 120 pkts, 2 lost",
        r#"<script src="/assets/status.js"></script>"#,
    ] {
        assert!(page.contains(id), "{id} in {page}");
    }
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;sip:1@x&gt;"));
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "cookie", &cookie),
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["version"], "9.9.9");
    assert_eq!(v["calls_active"][0]["id"], "c0ffee");
    assert_eq!(v["calls_active"][0]["callee_call_id"], "b@gw");
    assert_eq!(
        v["calls_active"][0]["media"]["caller"]["source_learned"],
        true
    );
    assert!(v["calls_active"][0]["duration_s"].as_u64().unwrap() >= 75);
    assert_eq!(v["counters"]["calls_active"], 1);
    assert!(v["admission"].is_array() && v["registrations"].is_array());
}

#[test]
fn the_status_page_and_api_show_each_sinks_delivery() {
    let b = start("sinks");
    let (cookie, _) = first_login(&b, "my own password");
    let page = body(&run(&b, with(req(Method::Get, "/"), "cookie", &cookie)));
    assert!(!page.contains(r#"id="events""#), "no sinks, no table");
    b.ctx.status.update_sink(crate::app::SinkStats {
        sink: "crm".into(),
        delivered: 7,
        failed: 2,
        last_error: Some("HTTP 503 <busy>".into()),
        depth: 3,
        oldest: Some(std::time::SystemTime::now() - std::time::Duration::from_secs(42)),
        ..Default::default()
    });
    let page = body(&run(&b, with(req(Method::Get, "/"), "cookie", &cookie)));
    for part in [
        r#"<table id="events">"#,
        r#"<tr data-sink="crm"><td>crm</td><td class="depth">3</td><td class="oldest">42 s</td><td class="delivered">7</td><td class="failed">2</td>"#,
        "HTTP 503 &lt;busy&gt;",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "cookie", &cookie),
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let e = &v["events"][0];
    assert_eq!(e["sink"], "crm");
    assert_eq!(e["pending"], 3);
    assert_eq!(e["oldest_s"], 42);
    assert_eq!(e["delivered"], 7);
    assert_eq!(e["failed"], 2);
    assert_eq!(e["last_error"], "HTTP 503 <busy>");
}

#[test]
fn the_status_page_and_api_show_tls_counters_and_the_certificate() {
    let b = start("tls");
    let (cookie, _) = first_login(&b, "my own password");
    let page = body(&run(&b, with(req(Method::Get, "/"), "cookie", &cookie)));
    assert!(!page.contains(r#"id="tls""#), "no TLS configured, no table");
    b.ctx.status.set_tls_certificate("AB:CD".into());
    b.ctx.status.update_tls(Some(crate::app::TlsStats {
        accepted: 3,
        certificate_failures: 1,
        over_limit: 496,
        ..Default::default()
    }));
    let page = body(&run(&b, with(req(Method::Get, "/"), "cookie", &cookie)));
    for part in [
        r#"<code id="tls-certificate">AB:CD</code>"#,
        r#"<td id="tls-accepted">3</td>"#,
        r#"<td id="tls-certificate-refused">1</td>"#,
        r#"<td id="tls-over-limit">496</td>"#,
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    let r = run(
        &b,
        with(req(Method::Get, "/api/v1/status"), "cookie", &cookie),
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["tls"]["certificate_sha256"], "AB:CD");
    assert_eq!(v["tls"]["certificate_refused"], 1);
    assert_eq!(v["tls"]["over_limit"], 496);
}
