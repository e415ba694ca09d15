//! The call history and live call control under `/api/v1/calls`
//! (docs/api.md): search, one call, CSV, and hang up / transfer /
//! DTMF by the gateway's call id.

pub mod control;
pub mod json;
pub mod query;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use crate::store::{to_csv, CallQuery, CallRow, StoreError, MAX_PAGE};
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

use control::{Action, Refusal};

const PREFIX: &str = "/api/v1/calls";

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    let rest = req.path.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = match rest {
        "" | "/" => Vec::new(),
        ".csv" => {
            return Some(match req.method {
                Method::Get => csv_answer(ctx, req).await,
                _ => method_not_allowed("GET"),
            })
        }
        r => r.strip_prefix('/')?.split('/').collect(),
    };
    Some(match (req.method, parts.as_slice()) {
        (Method::Get, []) => list(ctx, req).await,
        (_, []) => method_not_allowed("GET"),
        (Method::Get, [id]) if !id.is_empty() => one(ctx, id).await,
        (_, [id]) if !id.is_empty() => method_not_allowed("GET"),
        (Method::Post, [id, action]) if !id.is_empty() => match control_action(action, req) {
            Some(Ok(a)) => match control::perform(ctx, id, a, &who.who).await {
                Ok(()) => Response::json(200, &json!({ "ok": true })),
                Err(r) => refusal_response(&r),
            },
            Some(Err(r)) => refusal_response(&r),
            None => return None,
        },
        (_, [id, "hangup" | "transfer" | "dtmf"]) if !id.is_empty() => method_not_allowed("POST"),
        _ => return None,
    })
}

fn method_not_allowed(allow: &str) -> Response {
    Response::api_error(405, None, &format!("use {allow} here")).with_header("allow", allow)
}

pub fn refusal_response(r: &Refusal) -> Response {
    Response::api_error(r.status, r.field, &r.message)
}

/// A store that cannot be read: 503 (the history is not kept, e.g. a
/// damaged file) with what the store says.
pub fn store_failure(e: &StoreError) -> Response {
    Response::api_error(503, None, &format!("the call history cannot be read: {e}"))
}

async fn list(ctx: &WebContext, req: &Request) -> Response {
    let q = match query::parse(&req.query) {
        Ok(q) => q,
        Err(e) => return Response::api_error(400, Some(e.field), &e.message),
    };
    let (limit, offset) = (q.limit, q.offset);
    match ctx.with_store(move |s| s.search(&q)).await {
        Ok(rows) => {
            let live = live_ids(ctx);
            let calls: Vec<Value> = rows
                .iter()
                .map(|r| json::row_json(r, is_live(&live, r)))
                .collect();
            let mut v = json!({ "calls": calls, "limit": limit, "offset": offset });
            if rows.len() as u32 == limit {
                v["next_offset"] = json!(offset.saturating_add(limit));
            }
            Response::json(200, &v)
        }
        Err(e) => store_failure(&e),
    }
}

async fn one(ctx: &WebContext, id: &str) -> Response {
    match find_call(ctx, id).await {
        Ok(Some((row, live))) => Response::json(200, &json::row_json(&row, live)),
        Ok(None) => Response::api_error(404, None, &format!("no call has the id '{id}'")),
        Err(e) => store_failure(&e),
    }
}

/// The call with this id, and whether it is in progress: from the store,
/// or (written a moment later by the history writer) from the running
/// gateway's snapshot.
pub async fn find_call(ctx: &WebContext, id: &str) -> Result<Option<(CallRow, bool)>, StoreError> {
    let owned = id.to_string();
    let stored = ctx.with_store(move |s| s.call(&owned)).await?;
    let snapshot = ctx.status.snapshot();
    let running = snapshot.calls.iter().find(|c| c.id == id);
    let live = running.is_some_and(|c| c.ended.is_none());
    Ok(match (stored, running) {
        (Some(row), _) => Some((row, live)),
        (None, Some(record)) => Some((crate::app::call_row(record), live)),
        (None, None) => None,
    })
}

/// Ids of the calls the running gateway holds now.
pub fn live_ids(ctx: &WebContext) -> Vec<String> {
    ctx.status
        .snapshot()
        .calls
        .into_iter()
        .filter(|c| c.ended.is_none())
        .map(|c| c.id)
        .collect()
}

pub fn is_live(live: &[String], r: &CallRow) -> bool {
    r.ended.is_none() && live.contains(&r.id)
}

/// Most rows one CSV export holds.
pub const CSV_MAX: u32 = 10_000;

async fn csv_answer(ctx: &WebContext, req: &Request) -> Response {
    csv_export(ctx, req).await.unwrap_or_else(|r| r)
}

/// The calls that match the query as CSV (`store::to_csv`): without
/// `limit`, the newest `CSV_MAX` matches (read a page at a time).
pub async fn csv_export(ctx: &WebContext, req: &Request) -> Result<Response, Response> {
    let q = query::parse(&req.query)
        .map_err(|e| Response::api_error(400, Some(e.field), &e.message))?;
    let wanted = if req
        .query_value("limit")
        .is_some_and(|l| !l.trim().is_empty())
    {
        q.limit
    } else {
        CSV_MAX
    };
    let rows = ctx
        .with_store(move |s| search_up_to(s, q, wanted))
        .await
        .map_err(|e| store_failure(&e))?;
    Ok(Response::new(200, "text/csv; charset=utf-8", to_csv(&rows))
        .with_header("content-disposition", "attachment; filename=\"calls.csv\""))
}

fn search_up_to(
    s: &mut crate::store::Store,
    mut q: CallQuery,
    wanted: u32,
) -> Result<Vec<CallRow>, StoreError> {
    let mut rows = Vec::new();
    while (rows.len() as u32) < wanted {
        q.limit = (wanted - rows.len() as u32).min(MAX_PAGE);
        let page = s.search(&q)?;
        let n = page.len() as u32;
        rows.extend(page);
        if n < q.limit {
            break;
        }
        q.offset = q.offset.saturating_add(n);
    }
    Ok(rows)
}

/// The action a POST names, read from its JSON body; None for a path
/// that is not an action.
fn control_action(action: &str, req: &Request) -> Option<Result<Action, Refusal>> {
    let body = || -> Result<Value, Refusal> {
        let v: Value = serde_json::from_slice(&req.body).map_err(|e| Refusal {
            status: 400,
            field: None,
            message: format!("the body is not JSON: {e}"),
        })?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(Refusal {
                status: 400,
                field: None,
                message: "the body must be a JSON object".into(),
            })
        }
    };
    Some(match action {
        "hangup" => Ok(Action::Hangup),
        "transfer" => body().and_then(|v| {
            let target = string_field(&v, "target")?;
            control::check_target(&target)?;
            Ok(Action::Transfer(target.trim().to_string()))
        }),
        "dtmf" => body().and_then(|v| {
            let digits = string_field(&v, "digits")?;
            let leg = string_field(&v, "leg")?;
            let to_caller = control::parse_leg(&leg)?;
            Ok(Action::SendDtmf { digits, to_caller })
        }),
        _ => return None,
    })
}

/// A string field of a JSON object: missing or not a string is 400.
pub fn string_field(v: &Value, name: &'static str) -> Result<String, Refusal> {
    match v.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Refusal {
            status: 400,
            field: Some(name),
            message: format!("{name} must be a string"),
        }),
        None => Err(Refusal {
            status: 400,
            field: Some(name),
            message: format!("{name} is missing"),
        }),
    }
}
