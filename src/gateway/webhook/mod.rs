//! Webhook delivery (docs/events.md, "Webhooks"): one sender per
//! `[[webhook]]`, each on a thread of its own with its own connection to
//! the data directory's store, so a slow or dead receiver never touches
//! the signalling loop. A supervisor thread follows the configuration
//! (saves from the page add and remove webhooks; a sender picks up its
//! own changed settings by itself).

mod backoff;
mod client;
mod http;
mod sender;
pub(crate) mod tls;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::app::StatusBoard;
use crate::config::{Config, WebhookConfig};
use crate::store::{rfc3339, OutboxEntry, Store};

pub use http::Answer;

/// How often the supervisor looks for added or removed webhooks.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The running senders; dropping it stops them (a sender in the middle of
/// a request finishes it first, within its timeout).
pub struct Webhooks {
    stop: Arc<AtomicBool>,
}

impl Webhooks {
    /// Starts a sender for each webhook of `config` on the outbox in
    /// `data_dir`, and follows the configuration.
    pub fn start(
        data_dir: &std::path::Path,
        config: Arc<RwLock<Config>>,
        board: StatusBoard,
    ) -> Webhooks {
        let stop = Arc::new(AtomicBool::new(false));
        let db = Store::path_in(data_dir);
        let s = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || follow(db, config, board, s));
        if let Err(e) = spawned {
            tracing::error!("cannot start the webhook senders: {e}; events stay in the outbox");
        }
        Webhooks { stop }
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn follow(db: PathBuf, config: Arc<RwLock<Config>>, board: StatusBoard, stop: Arc<AtomicBool>) {
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        running.retain(|_, t| !t.is_finished());
        let names: Vec<String> = config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .webhooks
            .iter()
            .map(|w| w.name.clone())
            .collect();
        for name in names {
            if running.contains_key(&name) {
                continue;
            }
            let (n, d, c, b, s) = (
                name.clone(),
                db.clone(),
                config.clone(),
                board.clone(),
                stop.clone(),
            );
            match std::thread::Builder::new()
                .name(format!("webhook {name}"))
                .spawn(move || sender::run(n, d, c, b, s))
            {
                Ok(t) => {
                    running.insert(name, t);
                }
                Err(e) => tracing::error!(webhook = %name, "cannot start the sender: {e}"),
            }
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

/// The test button's sender, for the web layer.
pub fn tester() -> crate::app::WebhookTester {
    crate::app::WebhookTester(Arc::new(|settings: WebhookConfig| {
        Box::pin(async move {
            send_test(&settings)
                .await
                .map(|a| crate::app::WebhookAnswer {
                    status: a.status,
                    body: a.body,
                })
        }) as crate::app::WebhookTestFuture
    }))
}

/// POSTs `body` (JSON) once to `settings`' receiver, signed as events
/// are, and returns its answer (any status); for routing hooks.
pub async fn post_json(
    settings: &WebhookConfig,
    request_id: &str,
    body: &str,
) -> Result<Answer, String> {
    let mut client = sender::client_for(settings).map_err(|e| e.to_string())?;
    let ts = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let headers =
        crate::events::wire::headers(request_id, settings.secret.as_deref(), ts, body.as_bytes());
    client
        .post("application/json", &headers, body.as_bytes())
        .await
        .map_err(|e| e.to_string())
}

/// Sends one `test` event to `settings`' receiver now, not through the
/// outbox, and returns what it answered (any status) or why nothing came.
pub async fn send_test(settings: &WebhookConfig) -> Result<Answer, String> {
    let mut client = sender::client_for(settings).map_err(|e| e.to_string())?;
    let now = SystemTime::now();
    let id = format!("test-{:016x}", fastrand::u64(..));
    let body = serde_json::json!({
        "event": "test",
        "eventId": id,
        "timestamp": rfc3339(now),
    })
    .to_string();
    let entry = OutboxEntry {
        seq: 0,
        sink: settings.name.clone(),
        event_id: id,
        call_key: "test".into(),
        created: now,
        body,
        attempts: 0,
    };
    sender::deliver(&mut client, settings, &entry)
        .await
        .map_err(|e| match e {
            sender::Undeliverable::Event(e) => e.to_string(),
            sender::Undeliverable::Delivery(e) => e.to_string(),
        })
}
