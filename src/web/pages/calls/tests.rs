//! The Calls pages against a real store and a stand-in loop.

use std::sync::Arc;

use super::handle;
use crate::app::ControlError;
use crate::web::api::calls::testing::*;
use crate::web::http::{Request, Response};

fn pages(f: &Fixture, req: Request) -> Response {
    f.run(req, |ctx, who, req| async move {
        handle(&ctx, &who, &req).await
    })
}

#[test]
fn the_list_shows_the_matching_calls_with_a_csv_link() {
    let f = Fixture::ok();
    let mut other = finished("c3", 30);
    other.retreaver_afid = Some("1234".into());
    f.insert(&[finished("c1", 10), finished("c2", 20), other]);
    let r = pages(&f, get("/calls"));
    assert_eq!(r.status, 200);
    let html = body(&r);
    assert!(html.contains(r#"<form id="search" method="get" action="/calls""#));
    for name in [
        "since",
        "until",
        "number",
        "route",
        "cause",
        "direction",
        "uuid",
        "key",
        "afid",
        "sid",
        "header",
    ] {
        assert!(html.contains(&format!(r#"name="{name}""#)), "{name}");
    }
    assert!(html.contains(r#"<option value="no_answer">"#));
    assert!(html.contains(r#"<option value="interrupted">"#));
    let order: Vec<usize> = ["c3", "c2", "c1"]
        .iter()
        .map(|id| {
            html.find(&format!(r#"<tr class="call" data-call-id="{id}">"#))
                .expect(id)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
    assert!(html.contains(r#"<a href="/calls/c1">2024-05-01T10:40:10.000Z</a>"#));
    assert!(html.contains("<td>63 s</td>"));
    assert!(html.contains("<td>c1-uuid</td><td>5678</td>"));

    let r = pages(&f, get("/calls?afid=5678&limit=1&cause=caller_hangup"));
    let html = body(&r);
    assert!(html.contains(r#"data-call-id="c2""#));
    assert!(!html.contains(r#"data-call-id="c1""#));
    assert!(html.contains(r#"<option value="caller_hangup" selected>"#));
    assert!(html.contains(r#"<a id="csv" href="/calls.csv?afid=5678&amp;cause=caller_hangup">"#));
    assert!(html.contains(r#"<a id="older" href="/calls?afid=5678&amp;limit=1&amp;cause=caller_hangup&amp;offset=1">"#), "{html}");
    assert!(!html.contains(r#"id="newer""#));
    let html = body(&pages(&f, get("/calls?afid=5678&limit=1&offset=1")));
    assert!(html.contains(r#"data-call-id="c1""#));
    assert!(html.contains(r#"id="newer" href="/calls?afid=5678&amp;limit=1&amp;offset=0""#));

    let r = pages(&f, get("/calls.csv?afid=5678"));
    assert_eq!(r.status, 200);
    assert_eq!(body(&r).split("\r\n").filter(|l| !l.is_empty()).count(), 3);
}

#[test]
fn a_bad_search_value_is_shown_at_its_field() {
    let f = Fixture::ok();
    let r = pages(&f, get("/calls?since=%3Cb%3Esoon"));
    assert_eq!(r.status, 422);
    let html = body(&r);
    assert!(html.contains(r#"<p class="field-error" data-field="since">"#));
    assert!(html.contains("&lt;b&gt;soon"));
    assert!(!html.contains("<b>soon"));
    // A time in RFC 3339 is shown in the datetime-local field's format.
    let html = body(&pages(&f, get("/calls?until=2024-05-01T14:00:00%2B02:00")));
    assert!(html.contains(r#"name="until" id="search-until" value="2024-05-01T12:00:00""#));
}

#[test]
fn a_calls_page_shows_both_legs_headers_and_media_escaped() {
    let f = Fixture::ok();
    let mut c = finished("c1", 10);
    c.x_headers
        .push(("X-Campaign-ID".into(), "<script>alert(1)</script>".into()));
    c.callee_x_headers
        .push(("X-<i>".into(), "\"quoted\" & more".into()));
    f.insert(&[c]);
    let r = pages(&f, get("/calls/c1"));
    assert_eq!(r.status, 200);
    let html = body(&r);
    assert!(html.contains(r#"<section id="call" data-call-id="c1">"#));
    assert!(html.contains(r#"<dd id="call-caller-call-id">c1@cloud</dd>"#));
    assert!(html.contains(r#"<dd id="call-callee-call-id">c1@gw</dd>"#));
    assert!(html.contains(r#"<dd id="call-afid">5678</dd>"#));
    assert!(html.contains(r#"<dd id="call-cause">caller_hangup</dd>"#));
    assert!(html.contains(r#"<table id="x-headers""#));
    assert!(html.contains("<th>X-Campaign-ID</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("<th>X-&lt;i&gt;</th><td>&quot;quoted&quot; &amp; more</td>"));
    assert!(html.contains(r#"<table id="headers-out""#));
    assert!(html.contains("<th>X-Publisher-ID</th><td>5678</td>"));
    assert!(html.contains(r#"<table id="callee-x-headers""#));
    assert!(html.contains(r#"<table id="media-caller""#));
    assert!(html.contains("<th>Codec</th><td>PCMU</td>"));
    assert!(html.contains("203.0.113.7:41000 (learned from the packets)"));
    assert!(html.contains("<th>DTMF detected from this leg</th><td>2</td>"));
    assert!(html.contains(r#"<table id="media-callee""#));
    assert!(html.contains("192.168.1.10:10000 (from the SDP)"));
    // Ended: no controls.
    assert!(!html.contains(r#"id="hangup""#));

    let r = pages(&f, get("/calls/nope"));
    assert_eq!(r.status, 404);
    let r = pages(&f, get("/calls/%3Cscript%3E"));
    assert!(!body(&r).contains("<script>"));
}

#[test]
fn a_call_in_progress_has_controls_that_post_to_the_loop() {
    let f = Fixture::ok();
    f.insert(&[in_progress("c2", 20)]);
    let html = body(&pages(&f, get("/calls/c2")));
    assert!(
        !html.contains(r#"id="hangup""#),
        "not held by the running gateway"
    );
    set_live(&f.ctx, &["c2"]);
    let html = body(&pages(&f, get("/calls/c2")));
    assert!(html.contains(r#"<button type="submit" id="hangup">"#));
    assert!(html.contains(r#"<form id="transfer" method="post" action="/calls/c2/transfer">"#));
    assert!(html.contains(r#"<form id="dtmf" method="post" action="/calls/c2/dtmf">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="tok">"#));
    assert!(html.contains(r#"<dd id="call-state">in progress</dd>"#));

    let r = pages(&f, post("/calls/c2/hangup", "csrf=tok"));
    assert_eq!(r.status, 303);
    assert!(r.headers.contains(&("location".into(), "/calls/c2".into())));
    let r = pages(
        &f,
        post(
            "/calls/c2/transfer",
            "csrf=tok&target=sip%3A201%40192.168.1.20",
        ),
    );
    assert_eq!(r.status, 303);
    let r = pages(
        &f,
        post("/calls/c2/dtmf", "csrf=tok&digits=12%23&leg=caller"),
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        f.seen(),
        [
            "hangup c2 by admin",
            "transfer c2 to sip:201@192.168.1.20",
            "dtmf c2 caller 12#"
        ]
    );

    let r = pages(&f, post("/calls/c2/transfer", "csrf=tok&target=201"));
    assert_eq!(r.status, 422);
    assert!(body(&r).contains(r#"<p class="field-error" data-field="target">"#));
    assert_eq!(f.seen().len(), 3);
}

#[test]
fn a_refused_control_is_shown_on_the_page() {
    let answer = Arc::new(|_: &str| Err(ControlError::BadDigits("'x' is not a DTMF digit".into())));
    let f = Fixture::new("", answer);
    f.insert(&[in_progress("c2", 20)]);
    set_live(&f.ctx, &["c2"]);
    let r = pages(&f, post("/calls/c2/dtmf", "csrf=tok&digits=x&leg=callee"));
    assert_eq!(r.status, 422);
    let html = body(&r);
    assert!(html.contains(
        r#"<p class="field-error" data-field="digits">&#39;x&#39; is not a DTMF digit</p>"#
    ));

    let answer = Arc::new(|id: &str| Err(ControlError::NoSuchCall(id.into())));
    let f = Fixture::new("", answer);
    f.insert(&[in_progress("c2", 20)]);
    set_live(&f.ctx, &["c2"]);
    let r = pages(&f, post("/calls/c2/hangup", "csrf=tok"));
    assert_eq!(r.status, 404);
    assert!(body(&r).contains(r#"<p class="field-error" data-field="call">no call in progress has the id &#39;c2&#39;</p>"#));
}
