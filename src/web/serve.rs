//! The web server's entry point: one parsed request in, one response out.
//! Answers what needs no login (`/healthz`, `/assets/`, `/login`), then
//! `/metrics` (a token or a `[web] metrics_allow` source), then
//! authenticates everything else (session cookie or bearer token), checks
//! the CSRF token of a session's state-changing request, and hands the
//! request to the areas. Every answer carries the security headers.

use std::time::Instant;

use ipnet::IpNet;

use crate::app::{Health, ProcessStats};

use super::auth::{self, pages as auth_pages, Auth, Session};
use super::context::{Identity, WebContext};
use super::http::{Method, Request, Response};
use super::{assets, routes};

/// How the request proved who sent it.
enum Proof {
    Session { id: String, session: Session },
    Token(String),
    None,
}

pub async fn serve(ctx: &WebContext, auth: &Auth, req: Request, now: Instant) -> Response {
    let mut r = dispatch(ctx, auth, &req, now).await;
    secure(&mut r);
    r
}

/// The headers every answer carries: no framing (clickjacking), nothing
/// but the box's own scripts and styles, no MIME sniffing, no Referer to
/// elsewhere, no caching of pages that show calls and settings.
fn secure(r: &mut Response) {
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        if !r.headers.iter().any(|(n, _)| n == name) {
            r.headers.push((name.into(), value.into()));
        }
    }
}

async fn dispatch(ctx: &WebContext, auth: &Auth, req: &Request, now: Instant) -> Response {
    let path = req.path.as_str();
    match (req.method, path) {
        (Method::Get, "/healthz") => return healthz(ctx, now),
        (Method::Get, "/login") => return auth_pages::login_form(200, None),
        (Method::Post, "/login") => return auth_pages::login_post(ctx, auth, req, now).await,
        (Method::Get, p) if p.starts_with("/assets/") => {
            return assets::get(&p["/assets/".len()..]).unwrap_or_else(Response::not_found)
        }
        _ => {}
    }
    let proof = prove(ctx, auth, req, now);
    if path == "/metrics" {
        return metrics(ctx, req, &proof);
    }
    let (who, session_id) = match admit(req, proof) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let session_id = session_id.as_ref().map(|(id, s)| (id.as_str(), s));
    if let Some((id, session)) = session_id {
        if (req.method, path) == (Method::Post, "/logout") {
            auth.logout(id);
            return Response::redirect("/login").with_header("set-cookie", auth::cleared_cookie());
        }
        if path == "/first-password" {
            if !session.must_change {
                return Response::redirect("/");
            }
            return auth_pages::first_password(auth, id, &who, req).await;
        }
        if session.must_change {
            return if path.starts_with("/api/") {
                Response::api_error(403, None, "set your own password at /first-password first")
            } else {
                Response::redirect("/first-password")
            };
        }
        if path == "/tokens" {
            return auth_pages::tokens(auth, &who, req);
        }
    }
    if let Some(r) = auth_pages::tokens_api(auth, &who, req) {
        return r;
    }
    routes::handle_authenticated(ctx, &who, req).await
}

/// Who sent a request that needs a login, from its proof: a bearer
/// token (the API only), or a session whose CSRF token a state-changing
/// request carries; else the answer that refuses it.
fn admit(req: &Request, proof: Proof) -> Result<(Identity, Option<(String, Session)>), Response> {
    let path = req.path.as_str();
    let is_api = path.starts_with("/api/");
    let refuse = || {
        if is_api {
            Response::api_error(
                401,
                None,
                "log in, or send an API token as Authorization: Bearer",
            )
        } else {
            Response::redirect("/login")
        }
    };
    match proof {
        Proof::None => Err(refuse()),
        // A token is for scripts: the API only (and /metrics above).
        Proof::Token(_) if !path.starts_with("/api/v1/") => Err(refuse()),
        Proof::Token(name) => Ok((
            Identity {
                who: format!("token {name}"),
                csrf: None,
            },
            None,
        )),
        Proof::Session { id, session } => {
            if req.method.changes_state() && !csrf_ok(req, &session) {
                return Err(if is_api {
                    Response::api_error(
                        403,
                        None,
                        "the CSRF token (X-CSRF-Token header) is missing or wrong",
                    )
                } else {
                    Response::text(403, "The form's CSRF token is missing or wrong; reload the page and try again.\n")
                });
            }
            Ok((
                Identity {
                    who: session.user.clone(),
                    csrf: Some(session.csrf.clone()),
                },
                Some((id, session)),
            ))
        }
    }
}

/// Of a refused upload's body, what is read (and dropped) before the
/// answer: as much as the server takes of any request.
const REFUSED_BODY_READ: usize = 1024 * 1024;

/// A request whose body is a file to stream to the data directory rather
/// than hold in memory (a firmware update): the HTTPS shell hands it
/// `serve_upload` with the body unread.
pub fn is_upload(req: &Request) -> bool {
    super::api::update::is_upload(req)
}

/// `serve` for an upload: the login (and CSRF header) is checked before a
/// byte of the body is read, so nobody without one fills the disk.
pub async fn serve_upload<R>(
    ctx: &WebContext,
    auth: &Auth,
    req: Request,
    body: R,
    now: Instant,
) -> Response
where
    R: futures_lite::AsyncRead + Unpin,
{
    let proof = prove(ctx, auth, &req, now);
    let refused = match admit(&req, proof) {
        Err(r) => r,
        Ok((_, Some((_, session)))) if session.must_change => {
            Response::api_error(403, None, "set your own password at /first-password first")
        }
        Ok((who, _)) => {
            let mut r = super::api::update::receive(ctx, &who, &req, body).await;
            secure(&mut r);
            return r;
        }
    };
    // A client that sends its body before reading (no Expect:
    // 100-continue) would see the connection reset instead of the answer;
    // as much as any other request may carry is read and dropped first.
    let mut r = refused;
    let mut body = body;
    let mut sink = [0u8; 16 * 1024];
    let mut left = REFUSED_BODY_READ;
    while left > 0 {
        match futures_lite::AsyncReadExt::read(&mut body, &mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    secure(&mut r);
    r
}

fn prove(ctx: &WebContext, auth: &Auth, req: &Request, now: Instant) -> Proof {
    if let Some(token) = req.header("authorization").and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) {
        return match auth.bearer(token.trim()) {
            Some(name) => Proof::Token(name),
            None => Proof::None,
        };
    }
    let Some(id) = req.header("cookie").and_then(auth::cookie_value) else {
        return Proof::None;
    };
    match auth.session(id, &ctx.config().web, now) {
        Some(session) => Proof::Session {
            id: id.to_string(),
            session,
        },
        None => Proof::None,
    }
}

/// The CSRF token from the `X-CSRF-Token` header, or a form's `csrf`
/// field.
fn csrf_ok(req: &Request, session: &Session) -> bool {
    if let Some(h) = req.header("x-csrf-token") {
        return auth::csrf_matches(h, session);
    }
    let is_form = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    is_form
        && req
            .form_value("csrf")
            .is_some_and(|t| auth::csrf_matches(&t, session))
}

fn healthz(ctx: &WebContext, now: Instant) -> Response {
    match ctx.status.health(now) {
        Health::Ok => Response::text(200, "ok\n"),
        Health::Starting => Response::text(503, "starting: the signalling loop has not run yet\n"),
        Health::LoopSilent(d) => Response::text(
            503,
            format!("the signalling loop has not run for {} ms\n", d.as_millis()),
        ),
        Health::MediaStopped => Response::text(503, "the media threads are not running\n"),
    }
}

/// `/metrics`: with an API token, or from a `[web] metrics_allow` source
/// without one (a session is not enough: a scraper is no browser).
fn metrics(ctx: &WebContext, req: &Request, proof: &Proof) -> Response {
    let allowed_source = || {
        ctx.config()
            .web
            .metrics_nets()
            .unwrap_or_default()
            .iter()
            .any(|n: &IpNet| n.contains(&req.peer))
    };
    if !matches!(proof, Proof::Token(_)) && !allowed_source() {
        return Response::text(401, "an API token (Authorization: Bearer) is needed\n")
            .with_header("www-authenticate", "Bearer");
    }
    let process = ProcessStats {
        resident_bytes: resident_bytes(),
        uptime_seconds: ctx.started.elapsed().as_secs(),
    };
    Response::new(
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        crate::app::render_metrics(&ctx.status, process),
    )
}

/// The process's resident memory (Linux: /proc/self/statm, in pages of
/// 4 KiB on the boxes this runs on); 0 where that cannot be read.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
