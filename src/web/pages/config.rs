//! The configuration pages, one per part of the file (`/config/accounts`,
//! `/config/listeners`, ...; `/config/sip` holds `[sip]`, `[dns]` and
//! `[log]`). Each section is one form posting to its page: a valid one is
//! saved through the signalling loop and answered 303 back to the page
//! with what changed; an invalid one is shown again, as posted, with the
//! error at its field and status 422.

use serde_json::Value;

use crate::app::SaveReport;
use crate::web::context::{Identity, WebContext};
use crate::web::forms::parse::{add_entry, section_value};
use crate::web::forms::render::section_inputs;
use crate::web::forms::save::to_json;
use crate::web::forms::{save, secrets, section, with_section, Refused, Section};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};

/// Each page: its path, title, and the sections (file names) it edits.
pub const PAGES: &[(&str, &str, &[&str])] = &[
    ("/config/accounts", "Accounts", &["account"]),
    ("/config/listeners", "Listeners", &["listener", "tls"]),
    ("/config/inbound-auth", "Inbound auth", &["inbound_auth"]),
    ("/config/routes", "Routes", &["route"]),
    ("/config/lines", "Lines", &["system", "line"]),
    ("/config/media", "Media", &["media"]),
    ("/config/emergency", "Emergency", &["emergency"]),
    ("/config/calls", "Call limits", &["calls"]),
    ("/config/history", "History", &["history"]),
    ("/config/web", "Web", &["web"]),
    ("/config/events", "Events", &["webhook", "events", "mqtt"]),
    ("/config/sip", "SIP, DNS and log", &["sip", "dns", "log"]),
    ("/config/updates", "Updates", &["update"]),
    ("/config/network", "Network", &["network"]),
];

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    let &(path, title, keys) = PAGES.iter().find(|(p, _, _)| *p == req.path)?;
    let view = View {
        path,
        title,
        keys,
        who,
    };
    Some(match req.method {
        Method::Get => view.show(ctx, None, notice(req)),
        Method::Post => view.post(ctx, req).await,
        _ => Response::text(405, "method not allowed\n"),
    })
}

struct View<'a> {
    path: &'static str,
    title: &'static str,
    keys: &'static [&'static str],
    who: &'a Identity,
}

/// A section as posted, shown instead of the stored one, with its error.
struct Posted<'a> {
    key: &'a str,
    value: Value,
    error: Option<(String, String)>,
    status: u16,
}

impl View<'_> {
    fn show(&self, ctx: &WebContext, posted: Option<Posted>, notice: String) -> Response {
        let stored = to_json(&ctx.config()).unwrap_or(Value::Null);
        let mut body = notice;
        if self.path == "/config/network" {
            body.push_str(NETWORK_WARNING);
        }
        let mut status = 200;
        for key in self.keys {
            let Some(s) = section(key) else { continue };
            let (value, error) = match &posted {
                Some(p) if p.key == *key => {
                    status = p.status;
                    (p.value.clone(), p.error.clone())
                }
                _ => (stored.get(*key).cloned().unwrap_or(Value::Null), None),
            };
            body.push_str(&self.form(s, &value, error));
        }
        if self.path == "/config/events" {
            body.push_str(&super::webhook_test::buttons(ctx, self.who));
        }
        Response::html(status, page(self.title, self.path, Some(self.who), &body))
    }

    fn form(&self, s: &Section, value: &Value, error: Option<(String, String)>) -> String {
        let error = error.as_ref().map(|(f, m)| (f.as_str(), m.as_str()));
        format!(
            r#"<section class="config"><h2>{title}</h2><form method="post" action="{path}" id="form-{key}" class="config-form">{csrf}<input type="hidden" name="_section" value="{key}">{inputs}<p><button type="submit" name="_save" value="1" id="save-{key}">Save {title}</button></p></form></section>"#,
            title = esc(s.title),
            path = self.path,
            key = s.key,
            csrf = csrf_field(self.who),
            inputs = section_inputs(s, value, error)
        )
    }

    async fn post(&self, ctx: &WebContext, req: &Request) -> Response {
        let form = req.form();
        let key = form
            .iter()
            .find(|(n, _)| n == "_section")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let Some(s) = self.keys.contains(&key).then(|| section(key)).flatten() else {
            return Response::text(400, "the form names no section of this page\n");
        };
        let (mut value, parse_error) = section_value(s, &form);
        if let Some(at) = form.iter().find(|(n, _)| n == "_add").map(|(_, v)| v) {
            add_entry(s, &mut value, at);
            let posted = Posted {
                key,
                value,
                error: None,
                status: 200,
            };
            return self.show(ctx, Some(posted), String::new());
        }
        let refused = |value: Value, field: String, message: String, status: u16| Posted {
            key,
            value,
            error: Some((field, message)),
            status,
        };
        if let Some((field, message)) = parse_error {
            return self.show(
                ctx,
                Some(refused(value, field, message, 422)),
                String::new(),
            );
        }
        let current = ctx.config();
        let stored = to_json(&current).unwrap_or(Value::Null);
        let shown = value.clone();
        secrets::keep(s, &mut value, stored.get(key).unwrap_or(&Value::Null));
        let result = match with_section(&current, key, value) {
            Ok(new) => save(ctx, self.who, new).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(report) => Response::redirect(&saved_location(self.path, &report)),
            Err(Refused {
                status,
                field,
                message,
            }) => {
                let status = if status == 422 || status == 400 {
                    422
                } else {
                    status
                };
                let field = field.unwrap_or_else(|| key.to_string());
                self.show(
                    ctx,
                    Some(refused(shown, field, message, status)),
                    String::new(),
                )
            }
        }
    }
}

/// Above the network form: what a wrong static address does, and the way
/// back.
const NETWORK_WARNING: &str = r#"<div class="notice warning" id="network-warning"><p><strong>A wrong static address makes the box unreachable</strong> from the network: it applies as soon as it is saved, and the web page and SIP are then only at the new address. Check the address, the prefix length and the gateway against your network before saving.</p><p>If the box cannot be reached any more, use its console (a screen and keyboard, or the serial console; image/README.md, "Console"): set <code>mode = "dhcp"</code> under <code>[network]</code> in <code>/data/pbxgate.toml</code> and run <code>systemctl restart pbxgate</code>, or make a factory reset (wipe the data partition and reboot: every setting is lost).</p></div>"#;

/// Where a save answers to: the page, with what changed in its query so
/// the page can say it after the redirect.
pub fn saved_location(path: &str, report: &SaveReport) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("saved", &report.changed.join(","));
    if !report.needs_restart.is_empty() {
        q.append_pair("restart", &report.needs_restart.join(","));
    }
    format!("{path}?{}", q.finish())
}

/// The notice after a save: `#saved` with the sections changed and the
/// fields that need a restart (`#needs-restart li`).
pub fn notice(req: &Request) -> String {
    let Some(saved) = req.query_value("saved") else {
        return String::new();
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let changed = list(saved);
    let restart = list(req.query_value("restart").unwrap_or_default());
    notice_html(&changed, &restart)
}

pub fn notice_html(changed: &[String], restart: &[String]) -> String {
    let mut out = String::from(r#"<div class="notice" id="saved">"#);
    if changed.is_empty() {
        out.push_str("<p>Saved: nothing changed.</p></div>");
        return out;
    }
    out.push_str(&format!("<p>Saved: {}.</p>", esc(&changed.join(", "))));
    if restart.is_empty() {
        out.push_str("<p>Applied to new calls; calls in progress keep their settings.</p>");
    } else {
        out.push_str(
            "<p>Applied to new calls; calls in progress keep their settings. These take effect after a restart:</p><ul id=\"needs-restart\">",
        );
        for f in restart {
            out.push_str(&format!("<li>{}</li>", esc(f)));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod line_tests;
#[cfg(test)]
mod network_tests;
#[cfg(test)]
mod tests;
