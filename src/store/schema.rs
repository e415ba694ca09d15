//! The database's tables, as numbered migrations. `schema_version` holds
//! one row per migration applied; a file from a newer gateway is refused
//! rather than written with an older idea of its tables.

use rusqlite::{Connection, TransactionBehavior};

use super::error::at;
use super::error::StoreError;
use super::time::to_ms;

/// Migration N (from 1) takes the schema from version N-1 to N. Append
/// only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: call history and the audit list.
    "
    CREATE TABLE calls (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        direction TEXT NOT NULL,
        caller_call_id TEXT NOT NULL,
        callee_call_id TEXT,
        from_uri TEXT NOT NULL,
        to_uri TEXT NOT NULL,
        route TEXT,
        target TEXT,
        emergency INTEGER NOT NULL DEFAULT 0,
        retreaver_uuid TEXT,
        retreaver_key TEXT,
        retreaver_afid TEXT,
        retreaver_sid TEXT,
        diversion TEXT,
        started_ms INTEGER NOT NULL,
        answered_ms INTEGER,
        ended_ms INTEGER,
        final_status INTEGER,
        hangup_cause TEXT
    );
    CREATE INDEX calls_started ON calls (started_ms);
    CREATE INDEX calls_uuid ON calls (retreaver_uuid);
    CREATE TABLE call_headers (
        call INTEGER NOT NULL REFERENCES calls (n) ON DELETE CASCADE,
        kind INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (call, kind, pos)
    ) WITHOUT ROWID;
    CREATE TABLE call_media (
        call INTEGER NOT NULL REFERENCES calls (n) ON DELETE CASCADE,
        leg INTEGER NOT NULL,
        codec TEXT,
        packets INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        lost INTEGER NOT NULL,
        jitter INTEGER NOT NULL,
        rtcp INTEGER NOT NULL,
        dropped_foreign INTEGER NOT NULL,
        held INTEGER NOT NULL,
        dropped_held INTEGER NOT NULL,
        source TEXT,
        source_learned INTEGER NOT NULL,
        dtmf_rendered INTEGER NOT NULL,
        dtmf_detected INTEGER NOT NULL,
        PRIMARY KEY (call, leg)
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        n INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        who TEXT NOT NULL,
        section TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    ",
    // 2: the event outbox. One row per event and sink, so each sink is
    // delivered in its own order and a failing sink's backlog can be cut
    // without touching the others'.
    "
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sink TEXT NOT NULL,
        event_id TEXT NOT NULL,
        call_key TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX outbox_sink ON outbox (sink, seq);
    CREATE TABLE outbox_dropped (
        sink TEXT PRIMARY KEY,
        events INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 3: what a routing hook decided for the call, and the DTMF digits
    // each side pressed.
    "
    ALTER TABLE calls ADD COLUMN hook TEXT;
    ALTER TABLE calls ADD COLUMN dtmf_caller TEXT NOT NULL DEFAULT '';
    ALTER TABLE calls ADD COLUMN dtmf_callee TEXT NOT NULL DEFAULT '';
    ",
    // 4: how each leg was carried: its SIP transport (UDP, TCP, TLS) and
    // whether its media was SRTP.
    "
    ALTER TABLE calls ADD COLUMN caller_transport TEXT;
    ALTER TABLE calls ADD COLUMN callee_transport TEXT;
    ALTER TABLE calls ADD COLUMN caller_srtp INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calls ADD COLUMN callee_srtp INTEGER NOT NULL DEFAULT 0;
    ",
    // 5: per leg's media, whether it was SRTP and how many SRTP packets
    // failed authentication or replay checks.
    "
    ALTER TABLE call_media ADD COLUMN srtp INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE call_media ADD COLUMN dropped_auth INTEGER NOT NULL DEFAULT 0;
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file to `SCHEMA_VERSION` in one transaction: a crash half-way
/// leaves the old version.
pub(super) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(at(path, "starting the schema check"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_ms INTEGER NOT NULL
        )",
    )
    .map_err(at(path, "creating schema_version"))?;
    let found: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(at(path, "reading schema_version"))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    let now = to_ms(std::time::SystemTime::now());
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = i as i64 + 1;
        tx.execute_batch(sql)
            .map_err(at(path, "migrating the schema"))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_ms) VALUES (?1, ?2)",
            (version, now),
        )
        .map_err(at(path, "recording the schema version"))?;
    }
    tx.commit().map_err(at(path, "committing the schema"))
}
