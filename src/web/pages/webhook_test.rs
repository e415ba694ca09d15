//! The "Send a test event" buttons of /config/events: each posts to
//! `/config/events/test` and is answered with what the receiver said.

use crate::web::api::webhooks::test;
use crate::web::context::{Identity, WebContext};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};

pub const PATH: &str = "/config/events/test";

/// One button per configured webhook (under the Events page's forms).
pub fn buttons(ctx: &WebContext, who: &Identity) -> String {
    let names: Vec<String> = ctx.config().webhooks.into_iter().map(|w| w.name).collect();
    if names.is_empty() {
        return String::new();
    }
    let forms: String = names
        .iter()
        .map(|n| {
            format!(
                r#"<form method="post" action="{PATH}" class="webhook-test">{csrf}<input type="hidden" name="name" value="{n}"><button type="submit" id="test-webhook-{n}">Send a test event to {n}</button></form>"#,
                csrf = csrf_field(who),
                n = esc(n),
            )
        })
        .collect();
    format!(
        r#"<section class="config" id="webhook-tests"><h2>Test the webhooks</h2>{forms}</section>"#
    )
}

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if req.path != PATH {
        return None;
    }
    if req.method != Method::Post {
        return Some(Response::text(405, "method not allowed\n"));
    }
    let form = req.form();
    let name = form
        .iter()
        .find(|(n, _)| n == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = match test(ctx, &name).await {
        Ok((status, body)) => format!(
            r#"<div class="notice" id="webhook-test-result"><p>{name} answered <strong class="status">{status}</strong>{verdict}.</p><pre>{body}</pre></div>"#,
            name = esc(&name),
            verdict = if (200..300).contains(&status) {
                " (delivered)"
            } else {
                " (not accepted: events would be retried)"
            },
            body = esc(&body),
        ),
        Err((_, message)) => format!(
            r#"<div class="notice error" id="webhook-test-result"><p>{}</p></div>"#,
            esc(&message)
        ),
    };
    let body = format!(r#"{result}<p><a href="/config/events">Back to Events</a></p>"#);
    Some(Response::html(
        200,
        page("Webhook test", "/config/events", Some(who), &body),
    ))
}
