//! The history writer: a thread of its own that owns the data directory's
//! database (blocking IO stays off the signalling loop), writes the call
//! records the core hands out in batches, one transaction each, and keeps
//! the history within `[history]`. See docs/store.md.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tracing::{error, info, warn};

use crate::app::call_row;
use crate::call::CallRecord;
use crate::config::HistoryConfig;
use crate::store::{CallRow, Store, StoreError};

/// Records waiting for the writer at most. A call makes a few, so this
/// is minutes of calls at full rate: a card that stalls that long loses
/// updates (counted and logged), and the calls go on.
const QUEUE: usize = 20_000;

/// Records written in one transaction at most.
const BATCH_MAX: usize = 500;

/// How often the history is pruned to `[history]` (and once at start).
const RETENTION_EVERY: Duration = Duration::from_secs(600);

enum Msg {
    Record(Box<CallRecord>),
    Limits(HistoryConfig),
}

/// The signalling loop's end of the writer. Dropping it writes what is
/// queued and ends the thread.
pub struct HistoryWriter {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<()>>,
    dropped: u64,
}

impl HistoryWriter {
    /// Opens `<data_dir>/pbxgate.db` and starts the writer; also returns
    /// what the start banner says about the history.
    pub fn open(
        data_dir: &Path,
        limits: &HistoryConfig,
    ) -> Result<(HistoryWriter, String), StoreError> {
        let path = Store::path_in(data_dir);
        let mut store = Store::open(&path)?;
        let interrupted = store.close_interrupted()?;
        if interrupted > 0 {
            warn!(calls = interrupted, "calls in progress when the gateway last stopped without a clean shutdown are marked \"interrupted\" in the history");
        }
        let kept = store.count_calls()?;
        let summary = format!(
            "{} ({kept} call(s); keeps {} calls, {} days)",
            path.display(),
            limits.max_calls,
            limits.max_age_days
        );
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let limits = limits.clone();
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || run(store, rx, limits))
            .map_err(|source| StoreError::Create { path, source })?;
        Ok((
            HistoryWriter {
                tx: Some(tx),
                thread: Some(thread),
                dropped: 0,
            },
            summary,
        ))
    }

    /// Hands a changed record to the writer; never waits.
    pub fn record(&mut self, r: Box<CallRecord>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Record(r)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                if self.dropped == 1 || self.dropped.is_multiple_of(1000) {
                    warn!(dropped = self.dropped, "the call history cannot keep up with the calls (the data directory's disk is slow or stalled); call updates are being dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                error!("the call history writer stopped; the history is no longer kept");
                self.tx = None;
            }
        }
    }

    /// New retention limits (a configuration change), applied at once.
    pub fn set_limits(&mut self, limits: HistoryConfig) {
        if let Some(tx) = &self.tx {
            // Blocking is fine: the queue drains in milliseconds.
            let _ = tx.send(Msg::Limits(limits));
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut store: Store, rx: Receiver<Msg>, mut limits: HistoryConfig) {
    let mut health = Health::default();
    let mut prune_at = Instant::now();
    loop {
        let now = Instant::now();
        if now >= prune_at {
            prune(&mut store, &limits, &mut health);
            prune_at = now + RETENTION_EVERY;
        }
        let first = match rx.recv_timeout(prune_at.saturating_duration_since(now)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            // Everything queued has been read: the gateway is stopping.
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // What queued while the last batch was written: one transaction,
        // the newest state of each call only.
        let mut batch: Vec<CallRecord> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r) => match index.get(&r.id) {
                    Some(&i) => batch[i] = *r,
                    None => {
                        index.insert(r.id.clone(), batch.len());
                        batch.push(*r);
                    }
                },
                Msg::Limits(l) => {
                    limits = l;
                    prune_at = Instant::now();
                }
            }
            if batch.len() < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        if limits.max_calls == 0 || batch.is_empty() {
            continue;
        }
        let rows: Vec<CallRow> = batch.iter().map(call_row).collect();
        health.report(store.upsert_calls(&rows), "writing call records");
    }
}

/// Prunes to the limits, a bounded chunk per transaction.
fn prune(store: &mut Store, limits: &HistoryConfig, health: &mut Health) {
    let mut removed = 0;
    loop {
        let r = store.apply_retention(SystemTime::now(), limits.max_calls, limits.max_age());
        let Some(p) = health.report(r, "pruning the call history") else {
            return;
        };
        removed += p.removed;
        if !p.more {
            break;
        }
    }
    if removed > 0 {
        info!(
            removed,
            max_calls = limits.max_calls,
            max_age_days = limits.max_age_days,
            "call history pruned"
        );
    }
}

/// Logs a failing store once, not once per batch, and its recovery.
#[derive(Default)]
struct Health {
    failing: Option<String>,
}

impl Health {
    fn report<T>(&mut self, r: Result<T, StoreError>, what: &str) -> Option<T> {
        match r {
            Ok(v) => {
                if self.failing.take().is_some() {
                    info!("the call history is written again");
                }
                Some(v)
            }
            Err(e) => {
                let text = e.to_string();
                if self.failing.as_deref() != Some(text.as_str()) {
                    error!("{what} failed: {text}; the gateway goes on, this history is lost until the store works again");
                    self.failing = Some(text);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{CallDirection, HangupCause};
    use crate::store::CallQuery;

    fn record(id: &str, cause: Option<HangupCause>) -> Box<CallRecord> {
        Box::new(CallRecord {
            id: id.into(),
            direction: CallDirection::Inbound,
            caller_call_id: format!("{id}@cloud"),
            callee_call_id: None,
            from: "sip:+15551230000@203.0.113.7".into(),
            to: "sip:+18885550000@198.51.100.1".into(),
            route: Some("q".into()),
            emergency: false,
            target: None,
            retreaver_uuid: None,
            retreaver_key: None,
            retreaver_afid: Some("5678".into()),
            retreaver_sid: None,
            x_headers: Vec::new(),
            callee_x_headers: Vec::new(),
            headers_out: Vec::new(),
            diversion: None,
            started: SystemTime::now(),
            answered: None,
            ended: cause.as_ref().map(|_| SystemTime::now()),
            final_status: None,
            hangup_cause: cause,
            media: None,
            media_session: None,
        })
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pbxgate-writer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Dropping the writer writes what is queued: each call in its last
    /// state.
    #[test]
    fn the_writer_keeps_each_calls_last_state_and_flushes_when_dropped() {
        let dir = temp_dir("flush");
        let (mut w, summary) = HistoryWriter::open(&dir, &HistoryConfig::default()).unwrap();
        assert!(
            summary.contains("pbxgate.db (0 call(s); keeps 50000 calls, 90 days)"),
            "{summary}"
        );
        w.record(record("a", None));
        w.record(record("b", None));
        w.record(record("a", Some(HangupCause::CalleeHangup)));
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        let rows = store.search(&CallQuery::default()).unwrap();
        assert_eq!(rows.len(), 2);
        let a = store.call("a").unwrap().unwrap();
        assert_eq!(a.hangup_cause.as_deref(), Some("callee_hangup"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn max_calls_zero_keeps_none() {
        let dir = temp_dir("none");
        let limits = HistoryConfig {
            max_calls: 0,
            ..HistoryConfig::default()
        };
        let (mut w, _) = HistoryWriter::open(&dir, &limits).unwrap();
        w.record(record("a", Some(HangupCause::CallerHangup)));
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        assert_eq!(store.count_calls().unwrap(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
