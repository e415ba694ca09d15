//! The "Test a call" page (`/test-call`): paste an INVITE, or fill From,
//! To and extra headers, choose the side it arrives on, and see the route
//! taken, its targets in order, the headers the PBX would get, and why
//! each earlier route did not match. The form posts (a pasted INVITE is
//! too long for a URL and should not land in logs) and the answer is the
//! page with the result: nothing is changed, so there is nothing to
//! redirect after.

use crate::app::view::Explanation;
use crate::web::api::calls::control::Refusal;
use crate::web::api::test_call::{build_invite, explain, parse_side, split_header, taken};
use crate::web::context::{Identity, WebContext};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};

const PATH: &str = "/test-call";

/// What the form holds (kept as typed when the page comes back).
#[derive(Default)]
struct Form {
    invite: String,
    from: String,
    to: String,
    headers: String,
    side: String,
}

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if req.path != PATH {
        return None;
    }
    Some(match req.method {
        Method::Get => render(who, &Form::default(), None, 200),
        Method::Post => {
            let pairs = req.form();
            let get = |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let form = Form {
                invite: get("invite"),
                from: get("from"),
                to: get("to"),
                headers: get("headers"),
                side: get("side"),
            };
            match run(ctx, &form).await {
                Ok((e, invite)) => render(who, &form, Some(Ok((&e, &invite))), 200),
                Err(r) => render(who, &form, Some(Err(&r)), r.status),
            }
        }
        _ => Response::text(405, "use GET or POST here\n").with_header("allow", "GET, POST"),
    })
}

async fn run(ctx: &WebContext, form: &Form) -> Result<(Explanation, String), Refusal> {
    let from_lan = parse_side(&form.side)?;
    let invite = if form.invite.trim().is_empty() {
        if form.to.trim().is_empty() {
            return Err(Refusal {
                status: 422,
                field: Some("invite"),
                message: "paste an INVITE, or fill in at least To".into(),
            });
        }
        let mut headers = Vec::new();
        for (i, line) in form.headers.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            headers.push(split_header(line).map_err(|m| Refusal {
                status: 422,
                field: Some("headers"),
                message: format!("line {}: {m}", i + 1),
            })?);
        }
        build_invite(&form.from, &form.to, &headers)?
    } else {
        form.invite.clone()
    };
    let e = explain(ctx, &invite, from_lan).await?;
    Ok((e, invite))
}

/// A sample for the empty form: the headers a Retreaver call carries.
const PLACEHOLDER: &str = "INVITE sip:+18882223333@gateway SIP/2.0\nVia: SIP/2.0/UDP 203.0.113.7;branch=z9hG4bK1\nFrom: <sip:+15551230000@example.sip.twilio.com>;tag=1\nTo: <sip:+18882223333@gateway>\nCall-ID: 1@example\nCSeq: 1 INVITE\nX-PH-RetreaverUUID: 0f8fad5b-d9cb-469f-a165-70867728950e\nX-PH-RetreaverAFID: 5678";

fn render(
    who: &Identity,
    form: &Form,
    result: Option<Result<(&Explanation, &str), &Refusal>>,
    status: u16,
) -> Response {
    let err = |field: &str| match result {
        Some(Err(r)) if r.field.unwrap_or("invite") == field => format!(
            r#"<p class="field-error" data-field="{}" id="error-{}">{}</p>"#,
            esc(field),
            esc(field),
            esc(&r.message)
        ),
        _ => String::new(),
    };
    let side = |v: &str, label: &str| {
        let sel = if form.side == v { " selected" } else { "" };
        format!(r#"<option value="{v}"{sel}>{label}</option>"#)
    };
    let mut body = format!(
        r#"<p>Which route would a call take? Paste an INVITE (from a log or a SIP trace), or fill in From, To and headers. The routes in force answer; nothing is called.</p>
<form id="test-call" method="post" action="{PATH}">{csrf}
<label for="invite">INVITE</label><textarea id="invite" name="invite" rows="14" cols="90" placeholder="{placeholder}">{invite}</textarea>{invite_err}
<fieldset><legend>Or build one</legend>
<label>From <input type="text" id="from" name="from" placeholder="+15551230000" value="{from}"></label>{from_err}
<label>To <input type="text" id="to" name="to" placeholder="+18882223333" value="{to}"></label>{to_err}
<label for="headers">Headers, one "Name: value" a line</label><textarea id="headers" name="headers" rows="5" cols="60" placeholder="X-PH-RetreaverAFID: 5678">{headers}</textarea>{headers_err}
</fieldset>
<label>It arrives <select id="side" name="side">{wan}{lan}</select></label>{side_err}
<button type="submit" id="run">Test</button></form>"#,
        csrf = csrf_field(who),
        placeholder = esc(PLACEHOLDER),
        invite = esc(&form.invite),
        from = esc(&form.from),
        to = esc(&form.to),
        headers = esc(&form.headers),
        wan = side("wan", "from the cloud (wan)"),
        lan = side("lan", "from the PBX (lan)"),
        invite_err = err("invite"),
        from_err = err("from"),
        to_err = err("to"),
        headers_err = err("headers"),
        side_err = err("side"),
    );
    if let Some(Ok((e, invite))) = result {
        body.push_str(&explanation(e, invite));
    }
    if let Some(Err(r)) = result {
        if r.field.is_none() {
            body.push_str(&format!(
                r#"<p class="error" id="error">{}</p>"#,
                esc(&r.message)
            ));
        }
    }
    Response::html(status, page("Test a call", PATH, Some(who), &body))
}

fn explanation(e: &Explanation, invite: &str) -> String {
    let mut s = String::from(r#"<section id="result">"#);
    match taken(e) {
        Some(route) => s.push_str(&format!(
            r#"<p>Route taken: <strong id="route-taken" data-route="{0}">{0}</strong></p>"#,
            esc(route)
        )),
        None => s.push_str(
            r#"<p>Route taken: <strong id="route-taken" data-route="">none</strong>: no route takes this call, so the gateway refuses it.</p>"#,
        ),
    }
    s.push_str(&format!(
        r#"<p id="read-as">Read as a call to <span id="dialled">{}</span> from <span id="caller">{}</span>.</p>"#,
        esc(e.dialled.as_deref().unwrap_or("(no number)")),
        esc(e.caller.as_deref().unwrap_or("(no caller)"))
    ));
    if let Some(n) = &e.emergency {
        s.push_str(&format!(
            r#"<p id="emergency">{} is an emergency number.</p>"#,
            esc(n)
        ));
    }
    s.push_str(r#"<h2>Targets, in the order tried</h2><ol id="targets">"#);
    for t in &e.targets {
        s.push_str(&format!("<li>{}</li>", esc(t)));
    }
    s.push_str("</ol>");
    s.push_str(r#"<h2>Headers the PBX would get</h2><p>The route's header actions and the first target's headers, added to the INVITE it sends on.</p><table id="headers-applied">"#);
    if e.headers_out.is_empty() {
        s.push_str(r#"<tr class="none"><td>none</td></tr>"#);
    }
    for (n, v) in &e.headers_out {
        s.push_str(&format!(
            r#"<tr class="header"><th>{}</th><td>{}</td></tr>"#,
            esc(n),
            esc(v)
        ));
    }
    s.push_str("</table>");
    s.push_str(
        r#"<h2>Routes looked at before, and why they did not match</h2><ul id="not-matched">"#,
    );
    for r in e.routes.iter().filter(|r| !r.taken) {
        s.push_str(&format!(
            r#"<li data-route="{0}"><strong>{0}</strong>: {1}</li>"#,
            esc(&r.route),
            esc(&r.reasons.join("; "))
        ));
    }
    s.push_str("</ul>");
    s.push_str(&format!(
        r#"<details><summary>The INVITE tested</summary><pre id="invite-tested">{}</pre></details></section>"#,
        esc(invite)
    ));
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::web::api::calls::testing::*;
    use crate::web::api::test_call::tests::{RETREAVER_INVITE, ROUTES};

    fn pages(f: &Fixture, req: Request) -> Response {
        f.run(req, |ctx, who, req| async move {
            handle(&ctx, &who, &req).await
        })
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    #[test]
    fn the_empty_form() {
        let f = Fixture::ok();
        let r = pages(&f, get(PATH));
        assert_eq!(r.status, 200);
        let html = body(&r);
        for id in [
            r#"<textarea id="invite" name="invite""#,
            r#"<input type="text" id="from" name="from""#,
            r#"<input type="text" id="to" name="to""#,
            r#"<textarea id="headers" name="headers""#,
            r#"<select id="side" name="side">"#,
            r#"<input type="hidden" name="csrf" value="tok">"#,
        ] {
            assert!(html.contains(id), "{id}");
        }
        assert!(!html.contains(r#"id="result""#));
        assert!(smol::block_on(handle(&f.ctx, &who(), &get("/test-callx"))).is_none());
    }

    #[test]
    fn a_pasted_retreaver_invite_shows_the_route_targets_headers_and_the_routes_before() {
        let f = Fixture::new(ROUTES, Arc::new(|_| Ok(())));
        let r = pages(
            &f,
            post(
                PATH,
                &form(&[
                    ("csrf", "tok"),
                    ("invite", RETREAVER_INVITE),
                    ("side", "wan"),
                ]),
            ),
        );
        assert_eq!(r.status, 200);
        let html = body(&r);
        assert!(html.contains(
            r#"<strong id="route-taken" data-route="publisher-5678">publisher-5678</strong>"#
        ));
        assert!(html.contains(
            r#"<ol id="targets"><li>sip:sales@192.168.1.10</li><li>sip:overflow@192.168.1.11</li></ol>"#
        ));
        assert!(html.contains("<th>X-Publisher-ID</th><td>5678</td>"));
        assert!(html.contains("<th>X-Campaign-ID</th><td>spring</td>"));
        assert!(html.contains(
            r#"<ul id="not-matched"><li data-route="publisher-1111"><strong>publisher-1111</strong>: match[0]: X-PH-RetreaverAFID is &#39;5678&#39;, not equal to &#39;1111&#39;</li></ul>"#
        ), "{html}");
        // The pasted text is kept in the form.
        assert!(html.contains("X-PH-RetreaverSID: spring-sale\nContent-Type"));
    }

    #[test]
    fn fields_build_the_invite() {
        let f = Fixture::new(ROUTES, Arc::new(|_| Ok(())));
        let body_text = form(&[
            ("csrf", "tok"),
            ("invite", ""),
            ("from", "+15551230000"),
            ("to", "+18882223333"),
            (
                "headers",
                "X-PH-RetreaverAFID: 1111\r\n\r\nX-Note: <b>hi</b>\r\n",
            ),
            ("side", "wan"),
        ]);
        let html = body(&pages(&f, post(PATH, &body_text)));
        assert!(html.contains(r#"data-route="publisher-1111">publisher-1111</strong>"#));
        assert!(html.contains(r#"<ul id="not-matched"></ul>"#));
        assert!(html.contains("X-Note: &lt;b&gt;hi&lt;/b&gt;"));
        assert!(!html.contains("<b>hi</b>"));
        assert!(html.contains(r#"<option value="wan" selected>"#));

        let html = body(&pages(
            &f,
            post(PATH, &form(&[("to", "+18882223333"), ("side", "lan")])),
        ));
        assert!(html.contains(r#"<strong id="route-taken" data-route="">none</strong>"#));
        assert_eq!(html.matches("it takes calls from the wan side").count(), 2);
    }

    #[test]
    fn errors_are_shown_at_their_field() {
        let f = Fixture::new(ROUTES, Arc::new(|_| Ok(())));
        for (pairs, field) in [
            (vec![("invite", "not sip at all")], "invite"),
            (vec![("invite", "")], "invite"),
            (vec![("to", "1"), ("headers", "X-A: 1\nbroken")], "headers"),
            (vec![("to", "a b")], "to"),
            (vec![("to", "1"), ("side", "sky")], "side"),
        ] {
            let r = pages(&f, post(PATH, &form(&pairs)));
            assert_eq!(r.status, 422, "{pairs:?}");
            let html = body(&r);
            assert!(
                html.contains(&format!(r#"<p class="field-error" data-field="{field}""#)),
                "{pairs:?}: {html}"
            );
            assert!(!html.contains(r#"id="result""#));
        }
        let r = pages(
            &f,
            post(PATH, &form(&[("to", "1"), ("headers", "X-A: 1\nbroken")])),
        );
        assert!(body(&r).contains("line 2: "));
    }
}
