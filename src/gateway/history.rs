//! The history writer: a thread of its own that owns the data directory's
//! database (blocking IO stays off the signalling loop), writes the call
//! records the core hands out in batches, one transaction each, with the
//! events they made appended to the outbox in the same transaction, keeps
//! the outbox within `[events]` and the history within `[history]`. See
//! docs/store.md and docs/events.md.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tracing::{error, info, warn};

use crate::app::call_row;
use crate::call::CallRecord;
use crate::config::HistoryConfig;
use crate::events::restart::restart_hangup;
use crate::events::{Event, EventSinks};
use crate::sip::ids::IdGenerator;
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
    Record(Box<CallRecord>, Vec<Event>),
    /// Events of no call (registrations).
    Events(Vec<Event>),
    Limits(HistoryConfig),
    Sinks(EventSinks),
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
    /// what the start banner says about the history. Calls the last run
    /// left open get their hangup event (`gatewayRestart`) for `sinks`;
    /// `headers` are `[events] headers`.
    pub fn open(
        data_dir: &Path,
        limits: &HistoryConfig,
        sinks: EventSinks,
        headers: &[String],
    ) -> Result<(HistoryWriter, String), StoreError> {
        let path = Store::path_in(data_dir);
        let mut store = Store::open(&path)?;
        let mut ids = event_ids();
        let synced = crate::events::clock::synced();
        let interrupted = store.close_interrupted_with_events(|rows| {
            let at = SystemTime::now();
            let hangups: Vec<Event> = rows
                .iter()
                .map(|r| {
                    let id = crate::events::model::event_id(ids.bytes());
                    restart_hangup(r, id, at, synced, headers)
                })
                .collect();
            sinks.outbox_rows(&hangups)
        })?;
        if interrupted > 0 {
            warn!(calls = interrupted, "calls in progress when the gateway last stopped without a clean shutdown are marked \"interrupted\" in the history (and get a hangup event, detail gatewayRestart)");
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
            .spawn(move || run(store, rx, limits, sinks))
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

    /// Hands a changed record and the events it made to the writer;
    /// never waits.
    pub fn record(&mut self, r: Box<CallRecord>, events: Vec<Event>) {
        self.send(Msg::Record(r, events));
    }

    /// Hands events of no call (registrations) to the writer.
    pub fn events(&mut self, events: Vec<Event>) {
        self.send(Msg::Events(events));
    }

    fn send(&mut self, msg: Msg) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                self.dropped += 1;
                let events = match &msg {
                    Msg::Record(_, e) | Msg::Events(e) => e.len(),
                    _ => 0,
                };
                if self.dropped == 1 || self.dropped.is_multiple_of(1000) || events > 0 {
                    warn!(dropped = self.dropped, events, "the call history cannot keep up with the calls (the data directory's disk is slow or stalled); call updates and their events are being dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                error!("the call history writer stopped; the history is no longer kept");
                self.tx = None;
            }
        }
    }

    /// New sinks or outbox bounds (a configuration change), for the
    /// events written from now on.
    pub fn set_sinks(&mut self, sinks: EventSinks) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Sinks(sinks));
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

/// Event ids made here (restart hangups): from the OS like every other
/// identifier; a system without randomness falls back to the time, which
/// only has to be unique.
fn event_ids() -> IdGenerator {
    IdGenerator::from_os().unwrap_or_else(|e| {
        warn!("{e}; restart events get ids from the clock");
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        IdGenerator::from_seed(nanos)
    })
}

/// Events of sinks the configuration no longer has are removed, logged.
fn forget_old_sinks(store: &mut Store, sinks: &EventSinks, health: &mut Health) {
    let keep: Vec<String> = sinks.sinks.iter().map(|(n, _)| n.clone()).collect();
    if let Some(gone) = health.report(
        store.outbox_forget_others(&keep),
        "removing old sinks' events",
    ) {
        for (sink, n) in gone {
            warn!(sink = %sink, events = n, "undelivered events of a sink no longer configured are removed (a webhook removed or renamed, or MQTT turned off)");
        }
    }
}

fn run(mut store: Store, rx: Receiver<Msg>, mut limits: HistoryConfig, mut sinks: EventSinks) {
    let mut health = Health::default();
    forget_old_sinks(&mut store, &sinks, &mut health);
    // An upper bound of the outbox's size (entries, bytes) since it was
    // last measured: only this writer adds to it, the senders only remove.
    let mut size: Option<(u64, u64)> = None;
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
        // All of them, in the order made: each call's, and each sink's.
        let mut events: Vec<Event> = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r, e) => {
                    events.extend(e);
                    match index.get(&r.id) {
                        Some(&i) => batch[i] = *r,
                        None => {
                            index.insert(r.id.clone(), batch.len());
                            batch.push(*r);
                        }
                    }
                }
                Msg::Events(e) => events.extend(e),
                Msg::Limits(l) => {
                    limits = l;
                    prune_at = Instant::now();
                }
                Msg::Sinks(s) => {
                    sinks = s;
                    forget_old_sinks(&mut store, &sinks, &mut health);
                    size = None;
                }
            }
            if batch.len() < BATCH_MAX && events.len() < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        // A history of no calls still sends events: only the rows go.
        let rows: Vec<CallRow> = match limits.max_calls {
            0 => Vec::new(),
            _ => batch.iter().map(call_row).collect(),
        };
        let appended = sinks.outbox_rows(&events);
        if rows.is_empty() && appended.is_empty() {
            continue;
        }
        let written = health.report(
            store.write_calls_and_events(&rows, &appended),
            "writing call records and events",
        );
        if written.is_some() && !appended.is_empty() {
            let added = appended.iter().fold((0, 0), |(n, b), e| {
                let sinks = e.sinks.len() as u64;
                (n + sinks, b + sinks * e.body.len() as u64)
            });
            size = bound(&mut store, &sinks, &mut health, size, added);
        }
    }
}

/// Keeps the outbox within `[events]`: a sink that has been failing for
/// long loses its oldest events, counted and logged. Measuring the outbox
/// reads every body, so it is measured only when `size` (the last
/// measure plus what was appended since, `added`; bytes count at least
/// what SQLite's LENGTH does) could be over a limit: measured after every
/// write, a dead webhook's backlog of N events cost a scan of N bodies per
/// write. Returns the new upper bound (None: measure next time).
fn bound(
    store: &mut Store,
    sinks: &EventSinks,
    health: &mut Health,
    size: Option<(u64, u64)>,
    added: (u64, u64),
) -> Option<(u64, u64)> {
    let within = |(n, b): (u64, u64)| n <= sinks.limits.max_events && b <= sinks.limits.max_bytes;
    if let Some((n, b)) = size {
        let grown = (n + added.0, b + added.1);
        if within(grown) {
            return Some(grown);
        }
    }
    let measured = health.report(store.outbox_size(), "measuring the outbox")?;
    if within(measured) {
        return Some(measured);
    }
    let dropped = health.report(store.outbox_bound(sinks.limits), "bounding the outbox")?;
    for (sink, events) in dropped.into_iter().filter(|(_, n)| *n > 0) {
        warn!(
            sink,
            events,
            max_events = sinks.limits.max_events,
            max_bytes = sinks.limits.max_bytes,
            "the event outbox is full: dropped the oldest undelivered events of the sink furthest behind (see [events] max_events and max_mib)"
        );
    }
    None
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
            hook: None,
            caller_transport: None,
            callee_transport: None,
            media: None,
            media_session: None,
            dtmf_caller: String::new(),
            dtmf_callee: String::new(),
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
        let (mut w, summary) =
            HistoryWriter::open(&dir, &HistoryConfig::default(), EventSinks::default(), &[])
                .unwrap();
        assert!(
            summary.contains("pbxgate.db (0 call(s); keeps 50000 calls, 90 days)"),
            "{summary}"
        );
        w.record(record("a", None), Vec::new());
        w.record(record("b", None), Vec::new());
        w.record(record("a", Some(HangupCause::CalleeHangup)), Vec::new());
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
        let (mut w, _) = HistoryWriter::open(&dir, &limits, EventSinks::default(), &[]).unwrap();
        w.record(record("a", Some(HangupCause::CallerHangup)), Vec::new());
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        assert_eq!(store.count_calls().unwrap(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn sinks(names: &[&str]) -> EventSinks {
        EventSinks::from_events_config(
            &crate::config::EventsConfig::default(),
            names
                .iter()
                .map(|n| (n.to_string(), crate::events::SinkFilter::all()))
                .collect(),
        )
    }

    fn event(kind: crate::events::EventKind, call: &str, n: u8) -> Event {
        let mut e = Event::new(
            kind,
            crate::events::model::event_id([n; 16]),
            SystemTime::now(),
            true,
        );
        e.call_id = Some(call.into());
        e
    }

    /// The row and its events land together, each event once per sink,
    /// in the order made.
    #[test]
    fn rows_and_their_events_are_written_together_for_each_sink() {
        use crate::events::EventKind::*;
        let dir = temp_dir("events");
        let (mut w, _) = HistoryWriter::open(
            &dir,
            &HistoryConfig::default(),
            sinks(&["crm", "mqtt"]),
            &[],
        )
        .unwrap();
        w.record(record("a", None), vec![event(NewCall, "a", 1)]);
        w.record(
            record("a", Some(HangupCause::CallerHangup)),
            vec![event(Hangup, "a", 2)],
        );
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        assert!(store.call("a").unwrap().unwrap().ended.is_some());
        for sink in ["crm", "mqtt"] {
            let pending = store.outbox_pending(sink, 10).unwrap();
            let bodies: Vec<Event> = pending
                .iter()
                .map(|p| serde_json::from_str(&p.body).unwrap())
                .collect();
            assert_eq!(
                bodies.iter().map(|e| e.event).collect::<Vec<_>>(),
                [NewCall, Hangup]
            );
            assert_eq!(pending[0].event_id, "01".repeat(16));
            assert_eq!(pending[1].call_key, "a");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// With no sink nothing is appended; a history that keeps no calls
    /// still appends events.
    #[test]
    fn no_sink_appends_nothing_and_max_calls_zero_still_appends_events() {
        use crate::events::EventKind::*;
        let dir = temp_dir("nosink");
        let (mut w, _) =
            HistoryWriter::open(&dir, &HistoryConfig::default(), EventSinks::default(), &[])
                .unwrap();
        w.record(
            record("a", Some(HangupCause::CallerHangup)),
            vec![event(NewCall, "a", 1)],
        );
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        assert_eq!(store.count_calls().unwrap(), 1);
        assert!(store.outbox_backlog().unwrap().is_empty());
        drop(store);

        let limits = HistoryConfig {
            max_calls: 0,
            ..HistoryConfig::default()
        };
        let (mut w, _) = HistoryWriter::open(&dir, &limits, sinks(&["crm"]), &[]).unwrap();
        w.record(record("b", None), vec![event(NewCall, "b", 3)]);
        w.events(vec![Event::registration(
            crate::events::model::event_id([4; 16]),
            SystemTime::now(),
            true,
            "trunk",
            crate::events::RegistrationState::Up,
            None,
        )]);
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        assert!(store.call("b").unwrap().is_none(), "no row kept");
        let pending = store.outbox_pending("crm", 10).unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[1].call_key, "registration");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Past `[events] max_events` the oldest go, counted per sink.
    #[test]
    fn the_outbox_is_bounded_after_each_write() {
        use crate::events::EventKind::*;
        let dir = temp_dir("bound");
        let mut s = sinks(&["crm"]);
        s.limits.max_events = 2;
        let (mut w, _) = HistoryWriter::open(&dir, &HistoryConfig::default(), s, &[]).unwrap();
        for n in 0..5u8 {
            w.record(record("a", None), vec![event(Answer, "a", n)]);
        }
        drop(w);
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        let pending = store.outbox_pending("crm", 10).unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[1].event_id, "04".repeat(16), "the newest kept");
        let backlog = store.outbox_backlog().unwrap();
        assert_eq!(backlog[0].dropped, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The writer measures the outbox only when what it appended since
    /// the last measure could pass a limit; entries a sender removed in
    /// the meantime are found then, so nothing that fits is dropped.
    #[test]
    fn entries_a_sender_removed_count_before_anything_is_dropped() {
        use crate::events::EventKind::*;
        let dir = temp_dir("estimate");
        let mut s = sinks(&["crm"]);
        s.limits.max_events = 3;
        let (mut w, _) = HistoryWriter::open(&dir, &HistoryConfig::default(), s, &[]).unwrap();
        for n in 0..3u8 {
            w.record(record("a", None), vec![event(Answer, "a", n)]);
        }
        let mut sender = Store::open(&Store::path_in(&dir)).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let mut pending = Vec::new();
        while pending.len() < 3 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
            pending = sender.outbox_pending("crm", 10).unwrap();
        }
        assert_eq!(pending.len(), 3);
        sender
            .outbox_ack(&[pending[0].seq, pending[1].seq])
            .unwrap();
        for n in 3..5u8 {
            w.record(record("a", None), vec![event(Answer, "a", n)]);
        }
        drop(w);
        let pending = sender.outbox_pending("crm", 10).unwrap();
        let ids: Vec<String> = pending.iter().map(|p| p.event_id.clone()).collect();
        assert_eq!(ids, ["02".repeat(16), "03".repeat(16), "04".repeat(16)]);
        assert_eq!(sender.outbox_backlog().unwrap()[0].dropped, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A call the last run left open gets one hangup (gatewayRestart),
    /// written with its marking; a second start adds none.
    #[test]
    fn a_start_appends_the_hangups_of_calls_a_crash_left_open() {
        let dir = temp_dir("restart");
        let (mut w, _) =
            HistoryWriter::open(&dir, &HistoryConfig::default(), sinks(&["crm"]), &[]).unwrap();
        let mut open = record("open", None);
        open.answered = Some(SystemTime::now());
        w.record(open, Vec::new());
        w.record(record("done", Some(HangupCause::CallerHangup)), Vec::new());
        drop(w);
        for _ in 0..2 {
            let (w, _) = HistoryWriter::open(
                &dir,
                &HistoryConfig::default(),
                sinks(&["crm"]),
                &["X-Campaign-ID".into()],
            )
            .unwrap();
            drop(w);
        }
        let store = Store::open(&Store::path_in(&dir)).unwrap();
        let pending = store.outbox_pending("crm", 10).unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        let e: Event = serde_json::from_str(&pending[0].body).unwrap();
        assert_eq!(e.event, crate::events::EventKind::Hangup);
        assert_eq!(e.call_id.as_deref(), Some("open"));
        assert_eq!(e.cause, Some(crate::events::Cause::NormalClearing));
        assert_eq!(e.cause_detail.as_deref(), Some("gatewayRestart"));
        assert_eq!(e.duration, None);
        assert_eq!(e.caller_call_id.as_deref(), Some("open@cloud"));
        assert_eq!(
            store.call("open").unwrap().unwrap().hangup_cause.as_deref(),
            Some(crate::store::INTERRUPTED)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
