//! The configuration over the API: `GET /api/v1/config` (the whole, as
//! JSON), `GET`/`PUT /api/v1/config/{section}` (one section by its name in
//! the file), and `GET /api/v1/audit`. Passwords are null unless
//! `?secrets=true`; a PUT whose password is null or left out keeps the
//! stored one. See docs/api.md.

use serde_json::{json, Value};

use crate::store::rfc3339;
use crate::web::context::{Identity, WebContext};
use crate::web::forms::save::to_json;
use crate::web::forms::{save, secrets, section, with_section, Refused};
use crate::web::http::{Method, Request, Response};

/// Audit entries answered when `limit` is not given, and at most.
const AUDIT_DEFAULT: u32 = 100;
const AUDIT_MAX: u32 = 10_000;

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if req.path == "/api/v1/audit" {
        return Some(match req.method {
            Method::Get => audit(ctx, req).await,
            _ => Response::api_error(405, None, "use GET"),
        });
    }
    if req.path == "/api/v1/config" {
        return Some(match req.method {
            Method::Get => whole(ctx, req),
            _ => Response::api_error(405, None, "use GET, or PUT one section"),
        });
    }
    let name = req.path.strip_prefix("/api/v1/config/")?;
    let Some(s) = section(name) else {
        return Some(Response::api_error(
            404,
            None,
            &format!("no configuration section is named '{name}'"),
        ));
    };
    Some(match req.method {
        Method::Get => {
            let mut v = match to_json(&ctx.config()) {
                Ok(v) => v
                    .get(s.key)
                    .cloned()
                    .unwrap_or(empty_of(s.entries.is_some())),
                Err(e) => return Some(refused(e)),
            };
            if req.query_value("secrets") != Some("true") {
                secrets::hide(s, &mut v);
            }
            Response::json(200, &v)
        }
        Method::Put => put(ctx, who, req, s.key).await,
        _ => Response::api_error(405, None, "use GET or PUT"),
    })
}

fn empty_of(array: bool) -> Value {
    if array {
        Value::Array(Vec::new())
    } else {
        json!({})
    }
}

fn whole(ctx: &WebContext, req: &Request) -> Response {
    match to_json(&ctx.config()) {
        Ok(mut v) => {
            if req.query_value("secrets") != Some("true") {
                secrets::hide_all(&mut v);
            }
            Response::json(200, &v)
        }
        Err(e) => refused(e),
    }
}

async fn put(ctx: &WebContext, who: &Identity, req: &Request, key: &str) -> Response {
    let mut value: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return Response::api_error(
                400,
                None,
                &format!(
                    "the body is not JSON: {} at line {}, column {}",
                    e,
                    e.line(),
                    e.column()
                ),
            )
        }
    };
    let current = ctx.config();
    let Some(s) = section(key) else {
        return Response::not_found();
    };
    match to_json(&current) {
        Ok(stored) => secrets::keep(s, &mut value, stored.get(key).unwrap_or(&Value::Null)),
        Err(e) => return refused(e),
    }
    let new = match with_section(&current, key, value) {
        Ok(n) => n,
        // A value of the wrong type: the body does not read as the section.
        Err(e) => return refused(Refused { status: 400, ..e }),
    };
    match save(ctx, who, new).await {
        Ok(report) => Response::json(
            200,
            &json!({ "changed": report.changed, "needs_restart": report.needs_restart }),
        ),
        Err(e) => refused(e),
    }
}

pub fn refused(e: Refused) -> Response {
    Response::api_error(e.status, e.field.as_deref(), &e.message)
}

async fn audit(ctx: &WebContext, req: &Request) -> Response {
    let limit = match req.query_value("limit") {
        None => AUDIT_DEFAULT,
        Some(t) => match t.parse::<u32>() {
            Ok(n) if (1..=AUDIT_MAX).contains(&n) => n,
            _ => {
                return Response::api_error(
                    400,
                    Some("limit"),
                    &format!("'{t}' must be a number from 1 to {AUDIT_MAX}"),
                )
            }
        },
    };
    match ctx.with_store(move |s| s.audit_list(limit)).await {
        Ok(list) => Response::json(
            200,
            &Value::Array(
                list.into_iter()
                    .map(|e| {
                        json!({
                            "at": rfc3339(e.at),
                            "who": e.who,
                            "section": e.section,
                            "summary": e.summary,
                        })
                    })
                    .collect(),
            ),
        ),
        Err(e) => Response::api_error(500, None, &format!("cannot read the audit list: {e}")),
    }
}

#[cfg(test)]
mod line_tests;
#[cfg(test)]
mod tests;
