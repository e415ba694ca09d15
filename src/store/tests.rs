//! The store against real SQLite files in a temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

/// A directory of its own under the system's temporary one, removed at
/// the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pbxgate-store-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        Store::path_in(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn row(id: &str, started: u64) -> CallRow {
    CallRow {
        id: id.into(),
        direction: "inbound".into(),
        caller_call_id: format!("{id}@cloud"),
        callee_call_id: None,
        from: "sip:+15551230000@203.0.113.7".into(),
        to: "sip:+18885550000@198.51.100.1".into(),
        route: None,
        target: None,
        emergency: false,
        retreaver_uuid: None,
        retreaver_key: None,
        retreaver_afid: None,
        retreaver_sid: None,
        diversion: None,
        x_headers: Vec::new(),
        callee_x_headers: Vec::new(),
        headers_out: Vec::new(),
        started: at(started),
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

fn h(name: &str, value: &str) -> (String, String) {
    (name.into(), value.into())
}

/// A call as it ends: answered, X-PH tags, headers each way, media.
fn full_row(id: &str, started: u64) -> CallRow {
    CallRow {
        callee_call_id: Some(format!("{id}@gw")),
        route: Some("queue-a".into()),
        target: Some("sip:queue-a@192.168.1.10".into()),
        retreaver_uuid: Some(format!("{id}-uuid")),
        retreaver_key: Some("key-1".into()),
        retreaver_afid: Some("5678".into()),
        retreaver_sid: Some("sub-7".into()),
        x_headers: vec![
            h("X-PH-RetreaverAFID", "5678"),
            h("X-Campaign-ID", "camp-5678"),
        ],
        callee_x_headers: vec![h("X-Agent", "agent-5678")],
        headers_out: vec![h("X-Publisher-ID", "5678"), h("X-Route", "queue-a")],
        answered: Some(at(started + 2)),
        ended: Some(at(started + 60)),
        final_status: Some(200),
        hangup_cause: Some("caller_hangup".into()),
        hook: Some("targets: 1".into()),
        dtmf_caller: "12#".into(),
        dtmf_callee: "5".into(),
        caller_transport: Some("TLS".into()),
        callee_transport: Some("UDP".into()),
        caller_srtp: true,
        callee_srtp: false,
        caller_media: Some(LegMediaRow {
            codec: Some("PCMU".into()),
            packets: 3000,
            bytes: 516_000,
            lost: 2,
            jitter: 12,
            source: Some("203.0.113.9:41000".into()),
            source_learned: true,
            dtmf_detected: 4,
            srtp: true,
            dropped_auth: 3,
            ..LegMediaRow::default()
        }),
        callee_media: Some(LegMediaRow {
            codec: Some("PCMA".into()),
            packets: 2990,
            ..LegMediaRow::default()
        }),
        ..row(id, started)
    }
}

fn ids(rows: &[CallRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn a_row_is_written_at_the_start_and_replaced_as_the_call_goes() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    let start = CallRow {
        route: Some("queue-a".into()),
        x_headers: vec![h("X-PH-RetreaverAFID", "5678")],
        ..row("a1", 0)
    };
    s.upsert_call(&start).unwrap();
    assert_eq!(s.call("a1").unwrap(), Some(start));
    let end = full_row("a1", 0);
    s.upsert_call(&end).unwrap();
    assert_eq!(
        s.call("a1").unwrap(),
        Some(end),
        "headers and media replaced"
    );
    assert_eq!(s.count_calls().unwrap(), 1);
    assert_eq!(s.call("nope").unwrap(), None);
}

#[test]
fn reopening_keeps_the_rows_and_the_schema_version() {
    let dir = TempDir::new();
    let written = full_row("b1", 5);
    {
        let mut s = Store::open(&dir.db()).unwrap();
        s.upsert_calls(&[row("b0", 1), written.clone()]).unwrap();
        s.add_audit("admin", at(9), "route", "added route queue-a")
            .unwrap();
    }
    let s = Store::open(&dir.db()).unwrap();
    assert_eq!(s.call("b1").unwrap(), Some(written));
    assert_eq!(s.count_calls().unwrap(), 2);
    assert_eq!(s.audit_list(10).unwrap().len(), 1);
    let versions: Vec<i64> = s
        .conn
        .prepare("SELECT version FROM schema_version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn calls_left_open_by_a_previous_run_are_marked_interrupted() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    s.upsert_calls(&[row("open", 0), full_row("done", 1)])
        .unwrap();
    assert_eq!(s.close_interrupted().unwrap(), 1);
    let open = s.call("open").unwrap().unwrap();
    assert_eq!(open.hangup_cause.as_deref(), Some(INTERRUPTED));
    assert_eq!(open.ended, None, "when it ended is not known");
    let done = s.call("done").unwrap().unwrap();
    assert_eq!(done.hangup_cause.as_deref(), Some("caller_hangup"));
}

#[test]
fn the_file_is_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = dir.0.join("sub/dir").join(DB_FILE_NAME);
    let mut s = Store::open(&path).unwrap();
    s.upsert_call(&row("p", 0)).unwrap();
    for name in [DB_FILE_NAME, "pbxgate.db-wal"] {
        let mode = std::fs::metadata(path.with_file_name(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[test]
fn search_by_each_criterion_newest_first() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    let other = CallRow {
        direction: "outbound".into(),
        from: "sip:201@192.168.1.10".into(),
        to: "sip:+442071234567@sip.example.com".into(),
        route: Some("out".into()),
        hangup_cause: Some("no_answer".into()),
        final_status: Some(480),
        retreaver_afid: Some("9999".into()),
        x_headers: vec![h("X-Campaign-ID", "50%_off")],
        ..row("c2", 20)
    };
    s.upsert_calls(&[full_row("c1", 10), other, row("c3", 30)])
        .unwrap();
    let find = |q: CallQuery| ids(&s.search(&q).unwrap()).join(",");
    assert_eq!(find(CallQuery::default()), "c3,c2,c1");
    assert_eq!(
        find(CallQuery {
            since: Some(at(10)),
            until: Some(at(30)),
            ..Default::default()
        }),
        "c2,c1",
        "since is inclusive, until exclusive"
    );
    let q = |f: fn(&mut CallQuery)| {
        let mut q = CallQuery::default();
        f(&mut q);
        find(q)
    };
    assert_eq!(q(|q| q.number = Some("4420712".into())), "c2", "To");
    assert_eq!(q(|q| q.number = Some("5551230000".into())), "c3,c1", "From");
    assert_eq!(q(|q| q.direction = Some("outbound".into())), "c2");
    assert_eq!(q(|q| q.route = Some("queue-a".into())), "c1");
    assert_eq!(q(|q| q.cause = Some("no_answer".into())), "c2");
    assert_eq!(q(|q| q.final_status = Some(200)), "c1");
    assert_eq!(q(|q| q.retreaver_uuid = Some("c1-uuid".into())), "c1");
    assert_eq!(q(|q| q.retreaver_key = Some("key-1".into())), "c1");
    assert_eq!(q(|q| q.retreaver_afid = Some("9999".into())), "c2");
    assert_eq!(q(|q| q.retreaver_sid = Some("sub-7".into())), "c1");
    let header = |name: Option<&str>, contains: &str| {
        find(CallQuery {
            header: Some(HeaderFilter {
                name: name.map(str::to_string),
                contains: contains.into(),
            }),
            ..Default::default()
        })
    };
    assert_eq!(header(None, "camp-"), "c1");
    assert_eq!(header(Some("x-campaign-id"), "CAMP-5678"), "c1", "no case");
    assert_eq!(header(None, "agent-56"), "c1", "the PBX's headers");
    assert_eq!(header(None, "queue-a"), "c1", "headers sent out");
    assert_eq!(header(Some("X-Agent"), "camp"), "");
    // LIKE's wildcards in the text are taken literally.
    assert_eq!(header(None, "50%_"), "c2");
    assert_eq!(header(None, "5%f"), "");
    assert_eq!(q(|q| q.number = Some("_".into())), "");
    // Several criteria: all must hold.
    assert_eq!(
        q(|q| {
            q.route = Some("queue-a".into());
            q.cause = Some("no_answer".into());
        }),
        ""
    );
    // Pages.
    assert_eq!(
        q(|q| {
            q.limit = 1;
            q.offset = 1;
        }),
        "c2"
    );
}

#[test]
fn retention_keeps_the_newest_within_count_and_age() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    let rows: Vec<CallRow> = (0..10)
        .map(|i| full_row(&format!("r{i}"), i * 100))
        .collect();
    s.upsert_calls(&rows).unwrap();
    // By age: calls started before now - 450 s go (r0..r4).
    let pruned = s
        .apply_retention(at(1350), 1000, Duration::from_secs(900))
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            removed: 5,
            more: false
        }
    );
    // By count: the newest 2 stay.
    let pruned = s
        .apply_retention(at(1350), 2, Duration::from_secs(86_400))
        .unwrap();
    assert_eq!(pruned.removed, 3);
    assert_eq!(ids(&s.search(&CallQuery::default()).unwrap()), ["r9", "r8"]);
    // Headers and media went with their calls.
    let left: i64 = s
        .conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM call_headers) + (SELECT COUNT(*) FROM call_media)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 2 * (5 + 2));
    let none = s
        .apply_retention(at(1350), 2, Duration::from_secs(86_400))
        .unwrap();
    assert_eq!(
        none,
        Pruned {
            removed: 0,
            more: false
        }
    );
}

#[test]
fn retention_works_in_bounded_chunks() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    let n = u64::from(RETENTION_CHUNK) + 10;
    let rows: Vec<CallRow> = (0..n).map(|i| row(&format!("k{i}"), i)).collect();
    s.upsert_calls(&rows).unwrap();
    let day = Duration::from_secs(86_400);
    let first = s.apply_retention(at(n), 5, day).unwrap();
    assert_eq!(first.removed, u64::from(RETENTION_CHUNK));
    assert!(first.more);
    let second = s.apply_retention(at(n), 5, day).unwrap();
    assert_eq!(
        second,
        Pruned {
            removed: 5,
            more: false
        }
    );
    assert_eq!(s.count_calls().unwrap(), 5);
}

#[test]
fn csv_quotes_as_rfc_4180_says_and_defuses_formulas() {
    let plain = row("q1", 0);
    let awkward = CallRow {
        from: "\"Smith, J\" <sip:+15551230000@x>".into(),
        route: Some("=HYPERLINK(\"http://x\")".into()),
        retreaver_key: Some("+15551230000".into()),
        retreaver_sid: Some("-cmd".into()),
        x_headers: vec![h("X-Note", "line one\r\nline two")],
        ..full_row("q2", 0)
    };
    let csv = to_csv(&[plain, awkward]);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[0].starts_with("id,started,answered,ended,direction,from,to,route,"));
    assert_eq!(lines[0].split(',').count(), 36);
    assert!(
        lines[1].starts_with("q1,2023-11-14T22:13:20.000Z,,,inbound,sip:+15551230000@203.0.113.7,"),
        "{}",
        lines[1]
    );
    assert!(
        csv.contains(r#","""Smith, J"" <sip:+15551230000@x>","#),
        "{csv}"
    );
    assert!(csv.contains(r#","'=HYPERLINK(""http://x"")","#), "{csv}");
    assert!(
        csv.contains(",+15551230000,"),
        "a number stays a number: {csv}"
    );
    assert!(csv.contains(",\"'-cmd\","), "{csv}");
    assert!(csv.contains("\"X-Note: line one\r\nline two\""), "{csv}");
    assert!(csv.ends_with("\r\n"));
    // Two records and the header, whatever the line breaks inside quotes.
    assert_eq!(
        csv.matches(",q1,").count() + csv.matches("\r\nq").count(),
        2
    );
}

#[test]
fn the_audit_list_is_newest_first() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    for (i, section) in ["listener", "route", "media"].iter().enumerate() {
        s.add_audit(
            "admin",
            at(i as u64),
            section,
            &format!("changed {section}"),
        )
        .unwrap();
    }
    let list = s.audit_list(2).unwrap();
    assert_eq!(
        list,
        vec![
            AuditEntry {
                who: "admin".into(),
                at: at(2),
                section: "media".into(),
                summary: "changed media".into()
            },
            AuditEntry {
                who: "admin".into(),
                at: at(1),
                section: "route".into(),
                summary: "changed route".into()
            },
        ]
    );
}

#[test]
fn a_damaged_file_is_a_clear_error() {
    let dir = TempDir::new();
    std::fs::write(
        dir.db(),
        "this is a text file, not a database\n".repeat(100),
    )
    .unwrap();
    let e = Store::open(&dir.db()).err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("pbxgate.db is not a pbxgate database or is damaged"),
        "{text}"
    );
    assert!(text.contains("moved away"), "{text}");

    // A real database whose pages were overwritten in the middle.
    let dir = TempDir::new();
    {
        let mut s = Store::open(&dir.db()).unwrap();
        let rows: Vec<CallRow> = (0..300).map(|i| full_row(&format!("d{i}"), i)).collect();
        s.upsert_calls(&rows).unwrap();
        s.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let mut bytes = std::fs::read(dir.db()).unwrap();
    assert!(bytes.len() > 16 * 4096, "{}", bytes.len());
    for b in &mut bytes[4096..16 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(dir.db(), bytes).unwrap();
    let e = Store::open(&dir.db()).err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
}

#[test]
fn a_file_from_a_newer_gateway_is_refused() {
    let dir = TempDir::new();
    {
        let s = Store::open(&dir.db()).unwrap();
        s.conn
            .execute(
                "INSERT INTO schema_version (version, applied_ms) VALUES (?1, 0)",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
    }
    let e = Store::open(&dir.db()).err().expect("refused");
    assert!(
        matches!(e, StoreError::Newer { found, known, .. } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{e:?}"
    );
    assert!(e.to_string().contains("written by a newer pbxgate"), "{e}");
}

fn event(id: &str, call: &str, sinks: &[&str]) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        call_key: call.into(),
        created: at(5),
        body: format!("{{\"event\":\"x\",\"id\":\"{id}\"}}"),
        sinks: sinks.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn events_are_kept_per_sink_in_order_until_acknowledged_and_survive_a_reopen() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    s.write_calls_and_events(
        &[],
        &[
            event("e1", "c1", &["crm", "mqtt"]),
            event("e2", "c1", &["crm"]),
            event("e3", "c2", &["crm", "mqtt"]),
        ],
    )
    .unwrap();
    drop(s);
    let mut s = Store::open(&dir.db()).unwrap();
    let crm = s.outbox_pending("crm", 10).unwrap();
    let ids: Vec<&str> = crm.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(crm[0].created, at(5));
    s.outbox_failed(crm[0].seq, "connection refused").unwrap();
    assert_eq!(s.outbox_pending("crm", 1).unwrap()[0].attempts, 1);
    s.outbox_ack(&[crm[0].seq, crm[1].seq]).unwrap();
    let left: Vec<String> = s
        .outbox_pending("crm", 10)
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(left, ["e3"]);
    // The other sink's copies are its own.
    assert_eq!(s.outbox_pending("mqtt", 10).unwrap().len(), 2);
    let backlog = s.outbox_backlog().unwrap();
    assert_eq!(
        backlog
            .iter()
            .map(|b| (b.sink.as_str(), b.depth))
            .collect::<Vec<_>>(),
        [("crm", 1), ("mqtt", 2)]
    );
}

#[test]
fn a_full_outbox_drops_the_oldest_events_of_the_sink_that_is_behind() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    let mut events: Vec<NewEvent> = (0..8)
        .map(|i| event(&format!("dead{i}"), "c", &["dead"]))
        .collect();
    events.push(event("ok0", "c", &["ok"]));
    s.write_calls_and_events(&[], &events).unwrap();
    let dropped = s
        .outbox_bound(OutboxLimits {
            max_events: 5,
            max_bytes: 1 << 20,
        })
        .unwrap();
    assert_eq!(dropped, [("dead".to_string(), 4)]);
    let dead: Vec<String> = s
        .outbox_pending("dead", 10)
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(dead, ["dead4", "dead5", "dead6", "dead7"]);
    assert_eq!(s.outbox_pending("ok", 10).unwrap().len(), 1);
    let b = s.outbox_backlog().unwrap();
    assert_eq!(b.iter().find(|b| b.sink == "dead").unwrap().dropped, 4);
}

#[test]
fn the_events_of_a_sink_no_longer_configured_are_removed() {
    let dir = TempDir::new();
    let mut s = Store::open(&dir.db()).unwrap();
    s.write_calls_and_events(&[], &[event("e1", "c", &["old", "crm"])])
        .unwrap();
    let gone = s.outbox_forget_others(&["crm".to_string()]).unwrap();
    assert_eq!(gone, [("old".to_string(), 1)]);
    assert!(s.outbox_pending("old", 10).unwrap().is_empty());
    assert_eq!(s.outbox_pending("crm", 10).unwrap().len(), 1);
}
