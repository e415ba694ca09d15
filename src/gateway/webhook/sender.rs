//! One webhook's sender: reads its outbox entries oldest first and
//! delivers them one at a time (so the order per call holds), deletes
//! each one the receiver acknowledged with a 2xx, and after anything else
//! keeps it, notes the failure and waits (back-off) before trying the same
//! entry again. It polls the outbox every 200 ms while idle: a read of an
//! indexed table in WAL mode costs microseconds and needs nothing from the
//! writer, so the writer stays unaware of the senders.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tracing::{error, info, warn};

use crate::app::{SinkStats, StatusBoard};
use crate::config::{Config, WebhookConfig};
use crate::events::wire;
use crate::store::{OutboxEntry, Store};

use super::backoff::Backoff;
use super::client::{Client, DeliveryError};
use super::http::{Answer, Target};
use super::tls;

/// How often an idle sender looks for new events.
pub const POLL: Duration = Duration::from_millis(200);
/// Entries read per outbox query.
const BATCH: u32 = 16;
/// How often the outbox depth shown is refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);

/// Runs the sender of webhook `name` until `stop` is set or the webhook
/// is no longer in the configuration.
pub fn run(
    name: String,
    db: PathBuf,
    config: Arc<RwLock<Config>>,
    board: StatusBoard,
    stop: Arc<AtomicBool>,
) {
    smol::block_on(Sender::new(name, db, config, board, stop).run());
}

struct Sender {
    name: String,
    db: PathBuf,
    config: Arc<RwLock<Config>>,
    board: StatusBoard,
    stop: Arc<AtomicBool>,
    stats: SinkStats,
    backoff: Backoff,
}

/// A webhook's settings and the client built from them.
struct Built {
    settings: WebhookConfig,
    client: Client,
}

impl Sender {
    fn new(
        name: String,
        db: PathBuf,
        config: Arc<RwLock<Config>>,
        board: StatusBoard,
        stop: Arc<AtomicBool>,
    ) -> Sender {
        Sender {
            stats: SinkStats {
                sink: name.clone(),
                ..SinkStats::default()
            },
            name,
            db,
            config,
            board,
            stop,
            backoff: Backoff::default(),
        }
    }

    fn settings(&self) -> Option<WebhookConfig> {
        let c = self.config.read().unwrap_or_else(|p| p.into_inner());
        c.webhooks.iter().find(|w| w.name == self.name).cloned()
    }

    async fn run(mut self) {
        let mut store: Option<Store> = None;
        let mut built: Option<Built> = None;
        let mut backlog_at = Instant::now();
        info!(webhook = %self.name, "webhook sender started");
        while !self.stop.load(Ordering::Relaxed) {
            let Some(settings) = self.settings() else {
                info!(webhook = %self.name, "webhook removed from the configuration; its sender stops");
                self.board.remove_sink(&self.name);
                return;
            };
            if built.as_ref().map(|b| &b.settings) != Some(&settings) {
                match build(&settings) {
                    Ok(b) => built = Some(b),
                    Err(e) => {
                        self.note_error(format!("not sent: {e}"));
                        error!(webhook = %self.name, "{e}; its events wait in the outbox until this is fixed");
                        built = None;
                        smol::Timer::after(Duration::from_secs(5)).await;
                        continue;
                    }
                }
            }
            let Some(b) = built.as_mut() else { continue };
            if store.is_none() {
                match Store::open(&self.db) {
                    Ok(s) => store = Some(s),
                    Err(e) => {
                        self.note_error(format!("outbox unreadable: {e}"));
                        smol::Timer::after(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            let Some(st) = store.as_mut() else { continue };
            let now = Instant::now();
            if now >= backlog_at {
                self.refresh_backlog(st);
                backlog_at = now + BACKLOG_EVERY;
            }
            let wait = self.backoff.wait(now);
            if !wait.is_zero() {
                smol::Timer::after(wait.min(POLL)).await;
                continue;
            }
            let pending = match st.outbox_pending(&self.name, BATCH) {
                Ok(p) => p,
                Err(e) => {
                    self.note_error(format!("outbox unreadable: {e}"));
                    store = None;
                    smol::Timer::after(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if pending.is_empty() {
                smol::Timer::after(POLL).await;
                continue;
            }
            for entry in pending {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                let ok = self.deliver_one(st, b, &entry).await;
                if !ok {
                    break;
                }
            }
            // The counts go out after each batch; the backlog (a scan of
            // the whole outbox) only once a second, above: after every
            // batch it cost a catching-up sender O(outbox) per 16 events.
            self.board.update_sink(self.stats.clone());
        }
    }

    /// Delivers `entry`; true when it is done with (acknowledged).
    async fn deliver_one(&mut self, store: &mut Store, b: &mut Built, entry: &OutboxEntry) -> bool {
        let outcome = deliver(&mut b.client, &b.settings, entry).await;
        let error = match outcome {
            Ok(a) if (200..300).contains(&a.status) => {
                if let Err(e) = store.outbox_ack(&[entry.seq]) {
                    // Delivered but still in the outbox: sent again later,
                    // which the event id makes harmless.
                    self.note_error(format!("cannot remove a delivered event: {e}"));
                    // Wait as after a failure: a store that cannot write
                    // must not turn into a stream of repeats.
                    self.backoff.failed(Instant::now(), fastrand::f64());
                    return false;
                }
                self.stats.delivered += 1;
                if self.backoff.failures() > 0 {
                    info!(webhook = %self.name, "webhook delivers again");
                }
                self.backoff.succeeded();
                return true;
            }
            Ok(a) => format!("HTTP {} {}", a.status, first_line(&a.body)),
            Err(Undeliverable::Event(e)) => {
                // An entry no format can send would block the sink for
                // good: it is removed, counted and logged.
                error!(webhook = %self.name, event_id = %entry.event_id, "event cannot be sent and is dropped: {e}");
                self.stats.failed += 1;
                self.note_error(format!("event {} dropped: {e}", entry.event_id));
                let _ = store.outbox_ack(&[entry.seq]);
                return true;
            }
            Err(Undeliverable::Delivery(e)) => {
                if e.is_certificate() {
                    self.stats.certificate_refused += 1;
                    warn!(webhook = %self.name, "{e}; nothing is sent to this receiver until it presents a trusted certificate");
                }
                e.to_string()
            }
        };
        self.stats.failed += 1;
        let _ = store.outbox_failed(entry.seq, &error);
        let n = self.backoff.failures() + 1;
        let retry = self.backoff.failed(Instant::now(), fastrand::f64());
        let in_s = retry
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        // The first failures and then every tenth: a dead receiver does
        // not fill the log.
        if n <= 3 || n.is_multiple_of(10) {
            warn!(webhook = %self.name, failures = n, retry_in_s = format!("{in_s:.1}"), "webhook delivery failed: {error}");
        }
        self.note_error(error);
        false
    }

    fn note_error(&mut self, e: String) {
        self.stats.last_error = Some(e);
        self.stats.last_error_at = Some(SystemTime::now());
        self.board.update_sink(self.stats.clone());
    }

    fn refresh_backlog(&mut self, store: &Store) {
        if let Ok(all) = store.outbox_backlog() {
            let mine = all.into_iter().find(|b| b.sink == self.name);
            self.stats.depth = mine.as_ref().map(|b| b.depth).unwrap_or(0);
            self.stats.oldest = mine.as_ref().and_then(|b| b.oldest);
            self.stats.dropped = mine.map(|b| b.dropped).unwrap_or(0);
        }
        self.board.update_sink(self.stats.clone());
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(120).collect()
}

/// Why an entry was not delivered.
pub enum Undeliverable {
    /// The entry itself cannot be sent in this format.
    Event(wire::WireError),
    Delivery(DeliveryError),
}

/// Whatever stops a webhook from being tried at all.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("webhook url: {0}")]
    Url(#[from] super::http::UrlError),
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
}

fn build(settings: &WebhookConfig) -> Result<Built, SetupError> {
    Ok(Built {
        settings: settings.clone(),
        client: client_for(settings)?,
    })
}

/// A client for `settings` (also the test button's).
pub fn client_for(settings: &WebhookConfig) -> Result<Client, SetupError> {
    let target = Target::parse(&settings.url)?;
    let tls = if target.tls {
        Some(tls::client_config(
            settings.ca_file.as_deref(),
            settings.pin(),
        )?)
    } else {
        None
    };
    Ok(Client::new(
        target,
        tls,
        Duration::from_millis(settings.timeout_ms),
    ))
}

/// One attempt: the body in the webhook's format, signed now.
pub async fn deliver(
    client: &mut Client,
    settings: &WebhookConfig,
    entry: &OutboxEntry,
) -> Result<Answer, Undeliverable> {
    let body = wire::body(settings.format, &entry.body).map_err(Undeliverable::Event)?;
    let ts = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let headers = wire::headers(&entry.event_id, settings.secret.as_deref(), ts, &body.bytes);
    client
        .post(body.content_type, &headers, &body.bytes)
        .await
        .map_err(Undeliverable::Delivery)
}
