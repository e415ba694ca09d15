//! The login, first-password and API-token pages, and `/api/v1/tokens`.

use std::time::Instant;

use crate::web::context::{Identity, WebContext};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};

use super::{password, session_cookie, Auth, Login, TokenError};

pub fn login_form(status: u16, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="notice error" id="login-error">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"{error}<form method="post" action="/login" id="login" class="stacked">
<label for="login-user">User</label><input id="login-user" name="user" value="admin" autocomplete="username" required>
<label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit" id="login-submit">Log in</button>
</form>
<p class="hint">At first start the box prints a one-time password for <code>admin</code> on its console and in its log; <code>pbxgate reset-password</code> makes a new one.</p>"#
    );
    Response::html(status, page("Log in", "", None, &body))
}

pub async fn login_post(ctx: &WebContext, auth: &Auth, req: &Request, now: Instant) -> Response {
    let user = req.form_value("user").unwrap_or_default();
    let pass = req.form_value("password").unwrap_or_default();
    match auth
        .login(&user, &pass, req.peer, &ctx.config().web, now)
        .await
    {
        Login::Started {
            session,
            must_change,
        } => Response::redirect(if must_change { "/first-password" } else { "/" })
            .with_header("set-cookie", session_cookie(&session)),
        Login::Refused => login_form(401, Some("Wrong user name or password.")),
        Login::Limited(wait) => {
            let mins = wait.as_secs().div_ceil(60);
            login_form(
                429,
                Some(&format!(
                    "Too many failed logins from {}; try again in {mins} minute(s).",
                    req.peer
                )),
            )
            .with_header("retry-after", wait.as_secs().to_string())
        }
    }
}

fn first_password_form(who: &Identity, status: u16, error: Option<&str>) -> Response {
    let error = error
        .map(|e| {
            format!(
                r#"<p class="field-error" data-field="password">{}</p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<p class="notice">You logged in with a one-time password. Choose your own (at least {min} characters) to go on.</p>
<form method="post" action="/first-password" id="first-password" class="stacked">{csrf}
<label for="new-password">New password</label><input id="new-password" name="password" type="password" autocomplete="new-password" required autofocus>{error}
<label for="confirm-password">Again</label><input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required>
<button type="submit" id="first-password-submit">Set password</button>
</form>"#,
        min = password::MIN_LEN,
        csrf = csrf_field(who),
    );
    Response::html(status, page("Set your password", "", Some(who), &body))
}

/// `/first-password`: a session made with a one-time password sets its
/// own (never "set on first visit": the one-time password proves the
/// visitor read the console).
pub async fn first_password(
    auth: &Auth,
    session_id: &str,
    who: &Identity,
    req: &Request,
) -> Response {
    if req.method != Method::Post {
        return first_password_form(who, 200, None);
    }
    let new = req.form_value("password").unwrap_or_default();
    let confirm = req.form_value("confirm").unwrap_or_default();
    if let Some(rule) = password::rule_broken(&new, &confirm) {
        return first_password_form(who, 422, Some(rule));
    }
    match auth.change_password(session_id, &who.who, &new).await {
        Ok(()) => Response::redirect("/"),
        Err(e) => first_password_form(who, 422, Some(&e)),
    }
}

fn when(unix: u64) -> String {
    // Days since 1970 to a civil date (Howard Hinnant's algorithm), so the
    // page needs no time-zone data: the times are UTC.
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

fn tokens_page(
    auth: &Auth,
    who: &Identity,
    status: u16,
    made: Option<&str>,
    error: Option<&str>,
) -> Response {
    let mut rows = String::new();
    for t in auth.tokens() {
        rows.push_str(&format!(
            r#"<tr class="token" data-name="{name}"><td>{name}</td><td>{created}</td><td>{used}</td><td><form method="post" action="/tokens">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="name" value="{name}"><button type="submit" class="danger">Delete</button></form></td></tr>"#,
            name = esc(&t.name),
            created = when(t.created),
            used = t.last_used.map(when).unwrap_or_else(|| "never".into()),
            csrf = csrf_field(who),
        ));
    }
    if rows.is_empty() {
        rows = r#"<tr><td colspan="4" class="empty">No tokens yet.</td></tr>"#.into();
    }
    let made = made
        .map(|t| {
            format!(
                r#"<div class="notice" id="token-made"><p>The new token (shown only now; copy it):</p><code id="token-new">{}</code></div>"#,
                esc(t)
            )
        })
        .unwrap_or_default();
    let error = error
        .map(|e| format!(r#"<p class="field-error" data-field="name">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<p>Scripts and Prometheus use a token as <code>Authorization: Bearer TOKEN</code> for <code>/api/v1/</code> and <code>/metrics</code>. The box keeps only a hash of each.</p>
{made}<table id="tokens"><thead><tr><th>Name</th><th>Made</th><th>Last used</th><th></th></tr></thead><tbody>{rows}</tbody></table>
<h2>Make a token</h2>
<form method="post" action="/tokens" id="token-make" class="stacked">{csrf}<input type="hidden" name="action" value="make">
<label for="token-name">Name</label><input id="token-name" name="name" placeholder="prometheus" required>{error}
<button type="submit" id="token-make-submit">Make token</button></form>"#,
        csrf = csrf_field(who),
    );
    Response::html(status, page("API tokens", "/tokens", Some(who), &body))
}

/// `/tokens`: list, make (shown once), delete.
pub fn tokens(auth: &Auth, who: &Identity, req: &Request) -> Response {
    if req.method != Method::Post {
        return tokens_page(auth, who, 200, None, None);
    }
    let name = req.form_value("name").unwrap_or_default();
    match req.form_value("action").as_deref() {
        Some("make") => match auth.make_token(name.trim()) {
            Ok(t) => {
                tracing::info!(user = %who.who, token = %name.trim(), "API token made");
                tokens_page(auth, who, 200, Some(&t), None)
            }
            Err(e) => tokens_page(auth, who, 422, None, Some(&e.to_string())),
        },
        Some("delete") => match auth.delete_token(&name) {
            Ok(()) => Response::redirect("/tokens"),
            Err(e) => tokens_page(auth, who, 404, None, Some(&e.to_string())),
        },
        _ => tokens_page(auth, who, 400, None, Some("unknown action")),
    }
}

fn token_error(e: TokenError) -> Response {
    match e {
        TokenError::BadName => Response::api_error(422, Some("name"), &e.to_string()),
        TokenError::Exists(_) => Response::api_error(409, Some("name"), &e.to_string()),
        TokenError::Unknown(_) => Response::api_error(404, None, &e.to_string()),
        _ => Response::api_error(500, None, &e.to_string()),
    }
}

/// `/api/v1/tokens`: GET the list, POST `{"name"}` → `{"name", "token"}`
/// (shown once), DELETE `/api/v1/tokens/NAME`.
pub fn tokens_api(auth: &Auth, who: &Identity, req: &Request) -> Option<Response> {
    let rest = req.path.strip_prefix("/api/v1/tokens")?;
    match (req.method, rest) {
        (Method::Get, "") => {
            let list: Vec<_> = auth
                .tokens()
                .into_iter()
                .map(|t| {
                    serde_json::json!({"name": t.name, "created": t.created, "last_used": t.last_used})
                })
                .collect();
            Some(Response::json(200, &serde_json::json!({ "tokens": list })))
        }
        (Method::Post, "") => {
            let body: serde_json::Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Response::api_error(
                        400,
                        None,
                        &format!("the body is not JSON: {e}"),
                    ))
                }
            };
            let Some(name) = body.get("name").and_then(|n| n.as_str()) else {
                return Some(Response::api_error(
                    400,
                    Some("name"),
                    "\"name\" (a string) is needed",
                ));
            };
            Some(match auth.make_token(name) {
                Ok(token) => {
                    tracing::info!(user = %who.who, token = %name, "API token made");
                    Response::json(201, &serde_json::json!({"name": name, "token": token}))
                }
                Err(e) => token_error(e),
            })
        }
        (Method::Delete, name) if name.starts_with('/') && name.len() > 1 => {
            let name = percent_decode(&name[1..]);
            Some(match auth.delete_token(&name) {
                Ok(()) => Response::json(200, &serde_json::json!({"deleted": name})),
                Err(e) => token_error(e),
            })
        }
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_709_210_096), "2024-02-29 12:34 UTC");
    }
}
