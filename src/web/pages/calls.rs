//! The Calls page (`/calls`): search the history, page through it,
//! export it as CSV; and a call's own page (`calls/detail.rs`) with live
//! control while the call goes on. See docs/web.md.

mod detail;

#[cfg(test)]
mod tests;

use crate::store::{rfc3339, CallQuery, CallRow};
use crate::web::api::calls::query::{self, cause_names, QueryError};
use crate::web::api::calls::{csv_export, is_live, json::duration_s, live_ids};
use crate::web::context::{Identity, WebContext};
use crate::web::html::{esc, page};
use crate::web::http::{Method, Request, Response};

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    match req.path.as_str() {
        "/calls" | "/calls/" => Some(match req.method {
            Method::Get => list(ctx, who, req).await,
            _ => Response::text(405, "use GET here\n").with_header("allow", "GET"),
        }),
        "/calls.csv" => Some(match req.method {
            Method::Get => match csv_export(ctx, req).await {
                Ok(r) => r,
                // A link with a bad parameter: the page shows why.
                Err(_) => list(ctx, who, req).await,
            },
            _ => Response::text(405, "use GET here\n").with_header("allow", "GET"),
        }),
        p => detail::handle(ctx, who, req, p.strip_prefix("/calls/")?).await,
    }
}

async fn list(ctx: &WebContext, who: &Identity, req: &Request) -> Response {
    let (q, error) = match query::parse(&req.query) {
        Ok(q) => (Some(q), None),
        Err(e) => (None, Some(e)),
    };
    let mut body = search_form(req, error.as_ref());
    let mut status = 200;
    match q {
        Some(q) => {
            let (limit, offset) = (q.limit, q.offset);
            let wanted = q.clone();
            match ctx.with_store(move |s| s.search(&wanted)).await {
                Ok(rows) => {
                    body.push_str(&table(&rows, &live_ids(ctx)));
                    body.push_str(&paging(req, &q, rows.len() as u32 == limit, offset));
                }
                Err(e) => {
                    status = 503;
                    body.push_str(&format!(
                        r#"<p class="error" id="store-error">The call history cannot be read: {}</p>"#,
                        esc(&e.to_string())
                    ));
                }
            }
        }
        None => status = 422,
    }
    Response::html(status, page("Calls", "/calls", Some(who), &body))
}

/// The query string of the search as given, without `skip` and with
/// `extra`, for the CSV link and the paging links.
fn search_string(req: &Request, skip: &[&str], extra: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (n, v) in &req.query {
        if query::PARAMETERS.contains(&n.as_str())
            && !skip.contains(&n.as_str())
            && !v.trim().is_empty()
            && !extra.iter().any(|(e, _)| e == n)
        {
            s.append_pair(n, v);
        }
    }
    for (n, v) in extra {
        s.append_pair(n, v);
    }
    s.finish()
}

fn search_form(req: &Request, error: Option<&QueryError>) -> String {
    let given = |name: &str| req.query_value(name).unwrap_or_default().trim().to_string();
    let err = |name: &str| match error {
        Some(e) if e.field == name => format!(
            r#"<p class="field-error" data-field="{}">{}</p>"#,
            esc(name),
            esc(&e.message)
        ),
        _ => String::new(),
    };
    // A datetime-local field shows only its own format: a time given in
    // RFC 3339 is shown as the UTC time it names.
    let time = |name: &str| {
        let v = given(name);
        let shown = query::parse_time(&v)
            .map(|t| rfc3339(t)[..19].to_string())
            .unwrap_or(v);
        format!(
            r#"<label>{label} (UTC) <input type="datetime-local" step="1" name="{name}" id="search-{name}" value="{}"></label>{}"#,
            esc(&shown),
            err(name),
            label = if name == "since" { "From" } else { "Until" },
        )
    };
    let text = |name: &str, label: &str| {
        format!(
            r#"<label>{label} <input type="text" name="{name}" id="search-{name}" value="{}"></label>{}"#,
            esc(&given(name)),
            err(name)
        )
    };
    let select = |name: &str, label: &str, options: &[&str]| {
        let current = given(name);
        let mut s = format!(
            r#"<label>{label} <select name="{name}" id="search-{name}"><option value="">any</option>"#
        );
        for o in options {
            let sel = if *o == current { " selected" } else { "" };
            s.push_str(&format!(r#"<option value="{0}"{sel}>{0}</option>"#, esc(o)));
        }
        s.push_str("</select></label>");
        s.push_str(&err(name));
        s
    };
    let mut f = String::from(r#"<form id="search" method="get" action="/calls" class="search">"#);
    f.push_str(&time("since"));
    f.push_str(&time("until"));
    f.push_str(&text("number", "Number"));
    f.push_str(&text("route", "Route"));
    f.push_str(&select("cause", "Cause", &cause_names()));
    f.push_str(&text("status", "Final status"));
    f.push_str(&select("direction", "Direction", &["inbound", "outbound"]));
    f.push_str(&text("uuid", "X-PH-RetreaverUUID"));
    f.push_str(&text("key", "X-PH-RetreaverKey"));
    f.push_str(&text("afid", "X-PH-RetreaverAFID"));
    f.push_str(&text("sid", "X-PH-RetreaverSID"));
    f.push_str(&text("header", "Header (Name: value)"));
    let limit = given("limit");
    f.push_str(&format!(
        r#"<label>Per page <input type="number" min="1" max="1000" name="limit" id="search-limit" value="{}"></label>{}"#,
        esc(if limit.is_empty() { "100" } else { &limit }),
        err("limit")
    ));
    f.push_str(&err("offset"));
    f.push_str(r#"<button type="submit">Search</button></form>"#);
    f.push_str(&format!(
        r#"<p><a id="csv" href="/calls.csv?{}">Export as CSV</a></p>"#,
        // Every match, not the page shown.
        esc(&search_string(req, &["limit", "offset"], &[]))
    ));
    f
}

fn cell(v: Option<&str>) -> String {
    match v {
        Some(v) if !v.is_empty() => esc(v),
        _ => "—".into(),
    }
}

/// The path of a call's page.
pub fn call_path(id: &str) -> String {
    format!(
        "/calls/{}",
        form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

fn table(rows: &[CallRow], live: &[String]) -> String {
    if rows.is_empty() {
        return r#"<p id="no-calls">No call matches.</p>"#.into();
    }
    let mut t = String::from(
        r#"<table id="calls"><thead><tr><th>Started (UTC)</th><th>Direction</th><th>From</th><th>To</th><th>Route</th><th>Target</th><th>Duration</th><th>Final status</th><th>Cause</th><th>X-PH UUID</th><th>X-PH AFID</th></tr></thead><tbody>"#,
    );
    for r in rows {
        let duration = if is_live(live, r) {
            "in progress".to_string()
        } else {
            match duration_s(r) {
                Some(s) => format!("{:.0} s", s),
                None => "—".into(),
            }
        };
        t.push_str(&format!(
            r#"<tr class="call" data-call-id="{id}"><td><a href="{href}">{started}</a></td><td>{dir}</td><td>{from}</td><td>{to}</td><td>{route}</td><td>{target}</td><td>{duration}</td><td>{status}</td><td>{cause}</td><td>{uuid}</td><td>{afid}</td></tr>"#,
            id = esc(&r.id),
            href = esc(&call_path(&r.id)),
            started = esc(&rfc3339(r.started)),
            dir = esc(&r.direction),
            from = esc(&r.from),
            to = esc(&r.to),
            route = cell(r.route.as_deref()),
            target = cell(r.target.as_deref()),
            status = cell(r.final_status.map(|s| s.to_string()).as_deref()),
            cause = cell(r.hangup_cause.as_deref()),
            uuid = cell(r.retreaver_uuid.as_deref()),
            afid = cell(r.retreaver_afid.as_deref()),
        ));
    }
    t.push_str("</tbody></table>");
    t
}

fn paging(req: &Request, q: &CallQuery, more: bool, offset: u32) -> String {
    let mut p = String::from(r#"<nav class="paging">"#);
    if offset > 0 {
        let prev = offset.saturating_sub(q.limit);
        p.push_str(&format!(
            r#"<a id="newer" href="/calls?{}">Newer</a> "#,
            esc(&search_string(req, &[], &[("offset", prev.to_string())]))
        ));
    }
    if more {
        p.push_str(&format!(
            r#"<a id="older" href="/calls?{}">Older</a>"#,
            esc(&search_string(
                req,
                &[],
                &[("offset", offset.saturating_add(q.limit).to_string())]
            ))
        ));
    }
    p.push_str("</nav>");
    p
}
