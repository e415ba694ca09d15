//! `POST /api/v1/webhooks/{name}/test`: sends the webhook a `test` event
//! now (not through the outbox) and answers what its receiver said. See
//! docs/events.md, "Webhooks".

use serde_json::json;

use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

pub async fn handle(ctx: &WebContext, _who: &Identity, req: &Request) -> Option<Response> {
    let name = req
        .path
        .strip_prefix("/api/v1/webhooks/")?
        .strip_suffix("/test")?;
    if req.method != Method::Post {
        return Some(Response::api_error(405, None, "use POST"));
    }
    Some(match test(ctx, name).await {
        Ok((status, body)) => Response::json(200, &json!({ "status": status, "body": body })),
        Err((code, message)) => Response::api_error(code, None, &message),
    })
}

/// The receiver's status and body, or an HTTP status and why not.
pub async fn test(ctx: &WebContext, name: &str) -> Result<(u16, String), (u16, String)> {
    let Some(settings) = ctx.config().webhooks.into_iter().find(|w| w.name == name) else {
        return Err((404, format!("no webhook named '{name}'")));
    };
    let Some(tester) = &ctx.webhook_tester else {
        return Err((503, "webhooks are not sent by this server".into()));
    };
    tester
        .send(settings)
        .await
        .map(|a| (a.status, a.body))
        .map_err(|e| (502, format!("the test event was not delivered: {e}")))
}
