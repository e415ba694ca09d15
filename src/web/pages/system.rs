//! `/system`: the host's network addresses (static or DHCP), the log tail, backup and
//! restore of the configuration file, and the audit list. A restored file
//! is saved through the signalling loop like any other save: checked as a
//! whole, written keeping comments, applied to new calls.

use crate::app::network::NetworkPlan;
use crate::config::NetworkConfig;
use crate::logging::recent_lines;
use crate::store::{rfc3339, AuditEntry};
use crate::web::addresses;
use crate::web::api::system::restart;
use crate::web::api::update::reboot_soon;
use crate::web::context::{Identity, WebContext};
use crate::web::forms::file::restored;
use crate::web::forms::{save, Refused};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};
use crate::web::pages::config::{notice, saved_location};

/// `[network]` in a few words: the plan, with the board's interface
/// named as such when the file leaves it to the board.
pub fn configured(n: &NetworkConfig) -> String {
    match NetworkPlan::resolve(n, None) {
        Ok(plan) => plan.summary(),
        Err(_) => format!(
            "static {} on the board's first network interface",
            n.address.as_deref().unwrap_or("(no address)")
        ),
    }
}

/// Log lines the page shows.
pub const TAIL_LINES: usize = 200;
/// Audit entries the page shows.
const AUDIT_SHOWN: u32 = 100;

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if req.path != "/system" {
        return None;
    }
    Some(match req.method {
        Method::Get => show(ctx, who, notice(req), None, 200).await,
        Method::Post => post(ctx, who, req).await,
        _ => Response::text(405, "method not allowed\n"),
    })
}

async fn post(ctx: &WebContext, who: &Identity, req: &Request) -> Response {
    if req.form_value("_action").as_deref() == Some("restart") {
        let body = match restart(ctx, who).await {
            Ok(()) => r#"<div class="notice" id="restarting"><p>The gateway is restarting: calls in progress end, registrations are made again. Reload this page in a few seconds.</p></div>"#.to_string(),
            Err(e) => format!(r#"<p class="error" id="restart-error">{}</p>"#, esc(&e)),
        };
        return Response::html(200, page("System", "/system", Some(who), &body));
    }
    if req.form_value("_action").as_deref() == Some("reboot") {
        let body = match reboot_soon(ctx, who).await {
            Ok(()) => r#"<div class="notice" id="rebooting"><p>The box is rebooting: calls in progress end. Reload this page in a minute.</p></div>"#.to_string(),
            Err(e) => format!(r#"<p class="error" id="reboot-error">{}</p>"#, esc(&e.to_string())),
        };
        return Response::html(200, page("System", "/system", Some(who), &body));
    }
    let text = req.form_value("toml").unwrap_or_default();
    let result = match restored(&text, &ctx.config()) {
        Ok(new) => save(ctx, who, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => Response::redirect(&saved_location("/system", &report)),
        Err(e) => {
            let status = if e.status == 400 { 422 } else { e.status };
            show(ctx, who, String::new(), Some((e, text)), status).await
        }
    }
}

async fn show(
    ctx: &WebContext,
    who: &Identity,
    notice: String,
    refused: Option<(Refused, String)>,
    status: u16,
) -> Response {
    let mut body = notice;
    body.push_str(
        &addresses::read()
            .await
            .html(&configured(&ctx.config().network)),
    );
    body.push_str(&super::update::section(ctx, who).await);
    body.push_str(
        r#"<section id="backup"><h2>Backup</h2><p class="notice warning" id="backup-warning">The full backup holds every password of the configuration (accounts, inbound users, targets): keep it where only you can read it, or download it without passwords.</p><p><a href="/api/v1/system/backup" id="backup-full" download="pbxgate.toml">Download the configuration</a> · <a href="/api/v1/system/backup?secrets=false" id="backup-nosecrets" download="pbxgate-no-passwords.toml">Download without passwords</a></p></section>"#,
    );
    let (error, text) = match &refused {
        Some((e, text)) => (
            format!(
                r#"<p class="field-error" data-field="{}">{}</p>"#,
                esc(e.field.as_deref().unwrap_or("config")),
                esc(&e.message)
            ),
            text.as_str(),
        ),
        None => (String::new(), ""),
    };
    body.push_str(&format!(
        r#"<section id="restore"><h2>Restore</h2><p>Choose a configuration file (a backup) or paste one. It is checked as a whole and saved like any other change; passwords a backup leaves out are kept.</p><form method="post" action="/system" id="form-restore">{}{error}<p><label for="restore-file">File</label> <input type="file" id="restore-file" accept=".toml,text/plain"></p><textarea name="toml" id="restore-toml" rows="12">{}</textarea><p><button type="submit" id="restore-submit">Restore</button></p></form><script src="/assets/restore.js"></script></section>"#,
        csrf_field(who),
        esc(text)
    ));
    body.push_str(&format!(
        r#"<section id="restart"><h2>Restart</h2><p>Fields marked "needs restart" take effect after a restart. Calls in progress end.</p><form method="post" action="/system" id="form-restart">{}<input type="hidden" name="_action" value="restart"><button type="submit" id="restart-button">Restart the gateway</button></form></section>"#,
        csrf_field(who)
    ));
    let mut tail = String::new();
    for line in recent_lines(TAIL_LINES) {
        tail.push_str(&esc(&line));
        tail.push('\n');
    }
    body.push_str(&format!(
        r#"<section id="log"><h2>Log</h2><pre id="log-tail">{tail}</pre></section>"#
    ));
    let audit = ctx
        .with_store(|s| s.audit_list(AUDIT_SHOWN))
        .await
        .map_err(|e| e.to_string());
    body.push_str(&audit_html(audit));
    Response::html(status, page("System", "/system", Some(who), &body))
}

fn audit_html(list: Result<Vec<AuditEntry>, String>) -> String {
    let mut s = String::from(r#"<section id="audit-list"><h2>Changes</h2>"#);
    match list {
        Err(e) => s.push_str(&format!(
            r#"<p class="error">The audit list cannot be read: {}</p>"#,
            esc(&e)
        )),
        Ok(list) => {
            s.push_str(r#"<table id="audit"><thead><tr><th>When</th><th>Who</th><th>Section</th><th>What</th></tr></thead><tbody>"#);
            for e in list {
                s.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&rfc3339(e.at)),
                    esc(&e.who),
                    esc(&e.section),
                    esc(&e.summary)
                ));
            }
            s.push_str("</tbody></table>");
        }
    }
    s.push_str("</section>");
    s
}

#[cfg(test)]
mod tests {
    use crate::config::sample::every_field_set;
    use crate::web::forms::testing::{body, form_values, get, post_form, set, Harness};

    #[test]
    fn the_page_shows_addresses_log_backup_and_the_audit_list() {
        let h = Harness::new("system-page", every_field_set());
        tracing::subscriber::with_default(
            {
                use tracing_subscriber::layer::SubscriberExt;
                tracing_subscriber::registry().with(crate::logging::RecentLines)
            },
            || tracing::info!("a <b>marked</b> line"),
        );
        let page = body(&h.run(get("/config/history")));
        let mut form = form_values(&page, "form-history");
        set(&mut form, "history.max_calls", "2000");
        assert_eq!(h.run(post_form("/config/history", &form)).status, 303);
        let r = h.run(get("/system"));
        assert_eq!(r.status, 200);
        let b = body(&r);
        assert!(b.contains(r#"<table id="addresses">"#) && b.contains("127.0.0.1"));
        assert!(b.contains(r#"<pre id="log-tail">"#));
        assert!(b.contains("a &lt;b&gt;marked&lt;/b&gt; line"), "escaped");
        assert!(b.contains(r#"id="backup-warning""#) && b.contains("?secrets=false"));
        let audit = &b[b.find(r#"<table id="audit">"#).unwrap()..];
        assert!(
            audit.contains("<td>admin</td><td>history</td><td>changed max_calls</td>"),
            "{audit}"
        );
    }

    #[test]
    fn the_restart_button_asks_the_loop() {
        let h = Harness::new("system-restart", every_field_set());
        let page = body(&h.run(get("/system")));
        let form = form_values(&page, "form-restart");
        let r = h.run(post_form("/system", &form));
        assert_eq!(r.status, 200);
        assert!(body(&r).contains(r#"id="restarting""#));
        assert_eq!(h.restarts.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_bad_restore_on_the_page_is_shown_at_the_form_and_not_saved() {
        let h = Harness::new("system-restore", every_field_set());
        let before = h.file();
        let page = body(&h.run(get("/system")));
        let mut form = form_values(&page, "form-restore");
        set(&mut form, "toml", "[media]\nthreads = 'lots'\n");
        let r = h.run(post_form("/system", &form));
        assert_eq!(r.status, 422);
        assert!(body(&r).contains(r#"<p class="field-error" data-field="media.threads">"#));
        assert_eq!(h.file(), before);
        set(
            &mut form,
            "toml",
            &before.replace("max_calls = 1000", "max_calls = 1001"),
        );
        let r = h.run(post_form("/system", &form));
        assert_eq!(r.status, 303, "{}", body(&r));
        assert_eq!(h.ctx.config().history.max_calls, 1001);
    }
}
