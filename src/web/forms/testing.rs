//! For the configuration area's tests: a WebContext whose signalling loop
//! is played by the test the way the gateway's answers a save (compile,
//! write keeping comments, publish), over a real file in a temp directory;
//! request builders; and a browser's reading of a rendered form.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use futures_lite::FutureExt;
use smol::channel::Receiver;

use crate::app::{ControlRequest, SaveReport, StatusBoard};
use crate::config::{changed_sections, restart_fields, Config, ConfigStore};
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

pub struct Harness {
    pub ctx: WebContext,
    pub dir: PathBuf,
    pub store: ConfigStore,
    rx: Receiver<ControlRequest>,
    /// Saves the loop was asked for.
    pub asked: Arc<AtomicUsize>,
    /// Restarts the loop was asked for.
    pub restarts: Arc<AtomicUsize>,
}

pub fn who() -> Identity {
    Identity {
        who: "admin".into(),
        csrf: Some("tok".into()),
    }
}

impl Harness {
    pub fn new(tag: &str, config: Config) -> Harness {
        let dir = std::env::temp_dir().join(format!("pbxgate-webcfg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = ConfigStore::in_data_dir(&dir);
        // The commented default file, edited to `config`, as a box that
        // was configured from its first start has it.
        std::fs::write(store.path(), crate::config::DEFAULT_CONFIG_TOML).unwrap();
        store.save_edited(&Config::default(), &config).unwrap();
        let (tx, rx) = smol::channel::unbounded();
        let ctx = WebContext {
            status: StatusBoard::default(),
            control: tx,
            config: Arc::new(RwLock::new(config)),
            config_path: store.path().to_path_buf(),
            data_dir: dir.clone(),
            started: Instant::now(),
            version: "test",
            webhook_tester: None,
            updater: None,
        };
        Harness {
            ctx,
            dir,
            store,
            rx,
            asked: Arc::new(AtomicUsize::new(0)),
            restarts: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn file(&self) -> String {
        std::fs::read_to_string(self.store.path()).unwrap()
    }

    /// Runs the handlers on `req`, answering the loop's requests meanwhile.
    pub fn run(&self, req: Request) -> Response {
        let who = who();
        smol::block_on(
            async { crate::web::routes::handle_authenticated(&self.ctx, &who, &req).await }
                .or(self.answer()),
        )
    }

    async fn answer(&self) -> Response {
        while let Ok(req) = self.rx.recv().await {
            if let ControlRequest::Restart { reply, .. } = req {
                self.restarts.fetch_add(1, Ordering::SeqCst);
                let _ = reply.try_send(Ok(()));
                continue;
            }
            if let ControlRequest::SaveConfig { config, reply, .. } = req {
                self.asked.fetch_add(1, Ordering::SeqCst);
                let old = self.ctx.config();
                // As a build with ALSA would, so lines can be edited in
                // every build (a build without refuses them: compile.rs).
                let options = crate::test_support::CompileOptions {
                    board: None,
                    alsa: true,
                };
                let answer = crate::test_support::compile_with(*config, &options).and_then(|c| {
                    self.store.save_edited(&old, &c.config)?;
                    let report = SaveReport {
                        needs_restart: restart_fields(&old, &c.config),
                        changed: changed_sections(&old, &c.config),
                    };
                    *self.ctx.config.write().unwrap() = c.config;
                    Ok(report)
                });
                let _ = reply.try_send(answer);
            }
        }
        Response::text(500, "the loop's channel closed")
    }
}

pub fn request(method: Method, path: &str, body: &[u8], content_type: &str) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    Request {
        method,
        path: path.into(),
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers: vec![("content-type".into(), content_type.into())],
        body: body.to_vec(),
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

pub fn get(path: &str) -> Request {
    request(Method::Get, path, b"", "text/plain")
}

pub fn post_form(path: &str, pairs: &[(String, String)]) -> Request {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    request(
        Method::Post,
        path,
        s.finish().as_bytes(),
        "application/x-www-form-urlencoded",
    )
}

pub fn put_json(path: &str, body: &str) -> Request {
    request(Method::Put, path, body.as_bytes(), "application/json")
}

pub fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r#"\s{name}="([^"]*)""#)).unwrap();
    re.captures(tag).map(|c| unescape(&c[1]))
}

/// What a browser would post for the form `id` in `html`, untouched:
/// inputs (checkboxes only when checked), selected options, textareas.
pub fn form_values(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no form {id}"));
    let end = start + html[start..].find("</form>").unwrap();
    let form = &html[start..end];
    let token = regex::Regex::new(
        r#"(?s)<input[^>]*>|<select[^>]*>.*?</select>|<textarea[^>]*>.*?</textarea>|<button[^>]*>"#,
    )
    .unwrap();
    let opt = regex::Regex::new(r#"<option value="([^"]*)"( selected)?>"#).unwrap();
    let mut out = Vec::new();
    for m in token.find_iter(form) {
        let t = m.as_str();
        let open = &t[..t.find('>').unwrap() + 1];
        let Some(name) = attr(open, "name") else {
            continue;
        };
        if t.starts_with("<button") {
            continue;
        } else if t.starts_with("<input") {
            let kind = attr(open, "type").unwrap_or_default();
            if (kind == "checkbox" || kind == "radio") && !open.contains(" checked") {
                continue;
            }
            out.push((name, attr(open, "value").unwrap_or_else(|| "on".into())));
        } else if t.starts_with("<select") {
            let mut chosen = None;
            for c in opt.captures_iter(t) {
                if chosen.is_none() || c.get(2).is_some() {
                    chosen = Some(unescape(&c[1]));
                }
                if c.get(2).is_some() {
                    break;
                }
            }
            out.push((name, chosen.unwrap_or_default()));
        } else {
            let inner = &t[open.len()..t.len() - "</textarea>".len()];
            out.push((name, unescape(inner)));
        }
    }
    out
}

pub fn set(pairs: &mut Vec<(String, String)>, name: &str, value: &str) {
    match pairs.iter_mut().find(|(n, _)| n == name) {
        Some(p) => p.1 = value.into(),
        None => pairs.push((name.into(), value.into())),
    }
}
