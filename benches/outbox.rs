//! Event outbox appends with the store's sync policy (SQLite WAL,
//! `synchronous = FULL`: every commit is on the card before it returns),
//! beside the device's own ceiling measured in the same run: appending
//! the same bytes to a plain file with one `fdatasync` per write.
//!
//! Rows: `per event` (one transaction per event, one sink: a quiet box,
//! where each event is written the moment it happens), `per call update`
//! (a call row and its event in one transaction, as the history writer
//! does), `batch of 50` (what a busy box's writer commits at once: 50 call
//! updates and events). Figures: events per second of wall time (the sync
//! dominates) and CPU microseconds per event of this thread.
//!
//! Run: `cargo bench --bench outbox` (set PBXGATE_BENCH_DIR to measure
//! another disk; default target/bench-outbox).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use pbxgate::store::{CallRow, NewEvent, Store};

const BODY: &str = r#"{"event":"hangup","direction":"in","from":"+15551230000","to":"+18885550000","callId":"8f3a2c1d4e5b6a79","cause":"normalClearing","causeDetail":"caller_hangup","duration":42,"route":"publisher-5678","target":"sip:queue1@192.168.1.10","xph":{"uuid":"3f1c-uuid","afid":"5678","sid":"sub-7"},"id":"c0ffee00c0ffee00c0ffee00c0ffee00","timestamp":"2026-12-06T10:00:00.000Z","clockSynced":true}"#;

fn dir() -> PathBuf {
    let d = std::env::var_os("PBXGATE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-outbox"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn row(i: u64) -> CallRow {
    CallRow {
        id: format!("call{i:016x}"),
        direction: "inbound".into(),
        caller_call_id: format!("{i}@cloud"),
        callee_call_id: Some(format!("{i}@pbxgate")),
        from: "sip:+15551230000@203.0.113.9".into(),
        to: "sip:+18885550000@198.51.100.20".into(),
        route: Some("publisher-5678".into()),
        target: Some("sip:queue1@192.168.1.10".into()),
        emergency: false,
        retreaver_uuid: Some("3f1c-uuid".into()),
        retreaver_key: None,
        retreaver_afid: Some("5678".into()),
        retreaver_sid: Some("sub-7".into()),
        diversion: None,
        x_headers: vec![("X-PH-RetreaverAFID".into(), "5678".into())],
        callee_x_headers: Vec::new(),
        headers_out: Vec::new(),
        started: SystemTime::now(),
        answered: None,
        ended: None,
        final_status: None,
        hangup_cause: None,
        hook: None,
        dtmf_caller: String::new(),
        dtmf_callee: String::new(),
        caller_transport: None,
        callee_transport: None,
        caller_srtp: false,
        callee_srtp: false,
        caller_media: None,
        callee_media: None,
    }
}

fn event(i: u64) -> NewEvent {
    NewEvent {
        event_id: format!("{i:032x}"),
        call_key: format!("call{i:016x}"),
        created: SystemTime::now(),
        body: BODY.to_string(),
        sinks: vec!["crm".into()],
    }
}

/// Runs `f(i)` (which writes `per` events) for about `wall`; prints the
/// row. Returns events per second.
fn run(name: &str, wall: Duration, per: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    let cpu0 = thread_cpu();
    let mut i = 0u64;
    while start.elapsed() < wall {
        f(i);
        i += 1;
    }
    let events = (i * per) as f64;
    let secs = start.elapsed().as_secs_f64();
    let cpu = (thread_cpu() - cpu0).as_secs_f64();
    let rate = events / secs;
    println!(
        "{name:<32} {rate:>10.0} events/s   {:>8.1} µs CPU/event",
        1e6 * cpu / events
    );
    rate
}

fn main() {
    let d = dir();
    let wall = Duration::from_secs(3);
    println!(
        "outbox appends in {} ({}s each)",
        d.display(),
        wall.as_secs()
    );

    // The ceiling: the body appended to a file, fdatasync after each.
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join("ceiling.log"))
        .expect("file");
    let ceiling = run("anchor: write + fdatasync", wall, 1, |_| {
        file.write_all(BODY.as_bytes()).expect("write");
        // SAFETY: a valid open descriptor.
        unsafe { libc::fdatasync(file.as_raw_fd()) };
    });

    let mut store = Store::open(&Store::path_in(&d)).expect("store");
    let per_event = run("outbox: one event per commit", wall, 1, |i| {
        store
            .write_calls_and_events(&[], &[event(i)])
            .expect("write");
    });
    run("outbox: call row + event", wall, 1, |i| {
        store
            .write_calls_and_events(&[row(i)], &[event(i)])
            .expect("write");
    });
    run("outbox: batch of 50 calls+events", wall, 50, |i| {
        let rows: Vec<CallRow> = (0..50).map(|k| row(1_000_000 + i * 50 + k)).collect();
        let events: Vec<NewEvent> = (0..50).map(|k| event(1_000_000 + i * 50 + k)).collect();
        store.write_calls_and_events(&rows, &events).expect("write");
    });
    println!(
        "ratio one-event commits / fdatasync ceiling = {:.2}",
        per_event / ceiling
    );
    let _ = std::fs::remove_dir_all(&d);
}
