//! The system area over the API: the host's addresses (static or DHCP), the log tail,
//! backup and restore of the configuration file. See docs/api.md.

use serde_json::{json, Value};

use crate::app::ControlRequest;
use crate::logging::{recent_lines, RECENT_LINES};
use crate::web::addresses;
use crate::web::api::config::refused;
use crate::web::context::{Identity, WebContext};
use crate::web::forms::file::{restored, without_passwords};
use crate::web::forms::save;
use crate::web::http::{Method, Request, Response};
use crate::web::pages::system::{configured, TAIL_LINES};

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    let rest = req.path.strip_prefix("/api/v1/system/")?;
    let allowed = match rest {
        "addresses" | "network" | "log" | "backup" => Method::Get,
        "restore" | "restart" => Method::Post,
        _ => return None,
    };
    if req.method != allowed {
        return Some(Response::api_error(
            405,
            None,
            &format!(
                "use {}",
                if allowed == Method::Get {
                    "GET"
                } else {
                    "POST"
                }
            ),
        ));
    }
    Some(match rest {
        "addresses" => {
            let list = addresses::read().await;
            Response::json(
                200,
                &Value::Array(
                    list.flat()
                        .map(|(i, a)| {
                            json!({
                                "interface": i,
                                "address": a.address.to_string(),
                                "prefix_len": a.prefix,
                                "origin": a.origin.map(|o| o.name()),
                            })
                        })
                        .collect(),
                ),
            )
        }
        "network" => network(ctx).await,
        "log" => log(req),
        "backup" => backup(ctx, req).await,
        "restart" => match restart(ctx, who).await {
            Ok(()) => Response::json(202, &json!({ "restarting": true })),
            Err(message) => Response::api_error(503, None, &message),
        },
        _ => restore(ctx, who, req).await,
    })
}

/// The configured `[network]`, its file, and the addresses in use.
async fn network(ctx: &WebContext) -> Response {
    let n = ctx.config().network;
    let file = ctx
        .data_dir
        .join(crate::app::network::NETWORK_DIR)
        .join(crate::app::network::NETWORK_FILE);
    let mut v = addresses::read().await.to_json();
    v["mode"] = json!(n.mode.name());
    v["configured"] = json!(configured(&n));
    v["file"] = json!(file.exists().then(|| file.display().to_string()));
    Response::json(200, &v)
}

fn log(req: &Request) -> Response {
    let n = match req.query_value("lines") {
        None => TAIL_LINES,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=RECENT_LINES).contains(&n) => n,
            _ => {
                return Response::api_error(
                    400,
                    Some("lines"),
                    &format!("'{t}' must be a number from 1 to {RECENT_LINES}"),
                )
            }
        },
    };
    Response::json(200, &json!({ "lines": recent_lines(n) }))
}

async fn backup(ctx: &WebContext, req: &Request) -> Response {
    let path = ctx.config_path.clone();
    let read = smol::unblock(move || std::fs::read_to_string(&path)).await;
    let text = match read {
        Ok(t) => t,
        Err(e) => {
            return Response::api_error(
                500,
                None,
                &format!("cannot read {}: {e}", ctx.config_path.display()),
            )
        }
    };
    let (text, name) = match req.query_value("secrets") {
        Some("false") => match without_passwords(&text) {
            Ok(t) => (t, "pbxgate-no-passwords.toml"),
            Err(e) => return Response::api_error(409, None, &e),
        },
        _ => (text, "pbxgate.toml"),
    };
    Response::new(200, "application/toml; charset=utf-8", text)
        .with_header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .with_header("cache-control", "no-store")
}

/// Asks the loop to stop cleanly and start the gateway again; answered
/// once the stop has begun (calls in progress are ended by it).
pub async fn restart(ctx: &WebContext, who: &Identity) -> Result<(), String> {
    let (reply, answer) = smol::channel::bounded(1);
    let gone = |_| "the gateway is not taking requests (shutting down?)".to_string();
    ctx.control
        .send(ControlRequest::Restart {
            who: who.who.clone(),
            reply,
        })
        .await
        .map_err(gone)?;
    match answer.recv().await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the gateway did not answer".into()),
    }
}

async fn restore(ctx: &WebContext, who: &Identity, req: &Request) -> Response {
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return Response::api_error(400, None, "the file is not UTF-8 text");
    };
    let new = match restored(text, &ctx.config()) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    match save(ctx, who, new).await {
        Ok(report) => Response::json(
            200,
            &json!({ "changed": report.changed, "needs_restart": report.needs_restart }),
        ),
        Err(e) => refused(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::config::sample::every_field_set;
    use crate::web::forms::testing::{body, get, request, Harness};
    use crate::web::http::Method;

    fn restore(h: &Harness, text: &str) -> crate::web::Response {
        h.run(request(
            Method::Post,
            "/api/v1/system/restore",
            text.as_bytes(),
            "application/toml",
        ))
    }

    fn json_of(r: &crate::web::Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn backup_with_and_without_passwords_and_restore_of_it() {
        let h = Harness::new("backup", every_field_set());
        let full = h.run(get("/api/v1/system/backup"));
        assert_eq!(full.status, 200);
        assert_eq!(body(&full), h.file());
        assert!(["s3cret", "whsec", "hooksec"]
            .iter()
            .all(|s| body(&full).contains(s)));
        let bare = h.run(get("/api/v1/system/backup?secrets=false"));
        assert_eq!(bare.status, 200);
        let text = body(&bare);
        // (The default file's comments show example passwords; no key holds one.)
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        let keys = serde_json::to_value(&parsed).unwrap().to_string();
        assert!(
            !keys.contains("\"password\"")
                && !keys.contains("\"secret\"")
                && !keys.contains("s3cret"),
            "{keys}"
        );
        assert!(!text.contains("s3cret") && !text.contains("whsec") && !text.contains("hooksec"));
        assert!(text.contains("# "), "comments are kept");
        // Restored, the stripped backup changes nothing: passwords kept.
        let r = restore(&h, &text);
        assert_eq!(r.status, 200, "{}", body(&r));
        assert_eq!(json_of(&r), json!({"changed": [], "needs_restart": []}));
        assert_eq!(h.ctx.config(), every_field_set());
        // A changed backup is saved and audited.
        let r = restore(&h, &text.replace("max_age_days = 30", "max_age_days = 31"));
        assert_eq!(r.status, 200, "{}", body(&r));
        assert_eq!(json_of(&r)["changed"], json!(["history"]));
        assert_eq!(h.ctx.config().history.max_age_days, 31);
        let audit = json_of(&h.run(get("/api/v1/audit")));
        assert_eq!(audit[0]["section"], json!("history"));
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_field_and_nothing_is_saved() {
        let h = Harness::new("restore-bad", every_field_set());
        let before = h.file();
        let r = restore(&h, "[sip]\nt1_ms = \"fast\"\n");
        assert_eq!(r.status, 422);
        assert_eq!(json_of(&r)["field"], json!("sip.t1_ms"));
        let r = restore(
            &h,
            "[[listener]]\nname = 'w'\nside = 'wan'\nbind = '127.0.0.1:5060'\nallow = ['nope']\n",
        );
        assert_eq!(r.status, 422);
        assert_eq!(json_of(&r)["field"], json!("listener[0].allow[0]"));
        let r = restore(&h, "[sip\n");
        assert_eq!(r.status, 400);
        assert!(
            json_of(&r)["error"].as_str().unwrap().contains("line 1"),
            "{}",
            body(&r)
        );
        assert_eq!(h.file(), before);
        assert_eq!(h.ctx.config(), every_field_set());
    }

    #[test]
    fn a_restart_is_asked_of_the_loop() {
        let h = Harness::new("restart", every_field_set());
        let r = h.run(request(
            Method::Post,
            "/api/v1/system/restart",
            b"",
            "text/plain",
        ));
        assert_eq!(r.status, 202);
        assert_eq!(h.restarts.load(std::sync::atomic::Ordering::SeqCst), 1);
        let r = h.run(request(
            Method::Get,
            "/api/v1/system/restart",
            b"",
            "text/plain",
        ));
        assert_eq!(r.status, 405);
    }

    #[test]
    fn log_tail_and_addresses() {
        let h = Harness::new("log", every_field_set());
        let r = h.run(get("/api/v1/system/log?lines=5"));
        assert_eq!(r.status, 200);
        assert!(json_of(&r)["lines"].is_array());
        let r = h.run(get("/api/v1/system/log?lines=0"));
        assert_eq!(r.status, 400);
        assert_eq!(json_of(&r)["field"], json!("lines"));
        let r = h.run(get("/api/v1/system/addresses"));
        assert!(body(&r).contains("\"127.0.0.1\""), "{}", body(&r));
    }
}
