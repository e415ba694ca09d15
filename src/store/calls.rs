//! Call rows: written as a call goes (start, answer, end, media counters),
//! read back by id or by search.

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::error::at;
use super::row::{CallQuery, CallRow, LegMediaRow, MAX_PAGE};
use super::time::{from_ms, to_ms};
use super::{Store, StoreError};

/// `call_headers.kind`: which of the call's header lists.
const HEADERS_IN: i64 = 0;
const HEADERS_FROM_CALLEE: i64 = 1;
const HEADERS_OUT: i64 = 2;

/// The cause of a call the gateway stopped in the middle of.
pub const INTERRUPTED: &str = "interrupted";

/// `call_media.leg`.
const CALLER: i64 = 0;
const CALLEE: i64 = 1;

const CALL_COLUMNS: &str = "n, id, direction, caller_call_id, callee_call_id, from_uri, to_uri, \
     route, target, emergency, retreaver_uuid, retreaver_key, retreaver_afid, retreaver_sid, \
     diversion, started_ms, answered_ms, ended_ms, final_status, hangup_cause, hook, \
     dtmf_caller, dtmf_callee, caller_transport, callee_transport, caller_srtp, callee_srtp";

impl Store {
    /// Writes one call's row as it is now (inserted the first time,
    /// replaced after).
    pub fn upsert_call(&mut self, row: &CallRow) -> Result<(), StoreError> {
        self.upsert_calls(std::slice::from_ref(row))
    }

    /// Writes a batch of rows in one transaction: one sync to the card
    /// for the lot.
    pub fn upsert_calls(&mut self, rows: &[CallRow]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(&self.path, "starting a write"))?;
        for row in rows {
            write_call(&tx, row).map_err(at(&self.path, "writing a call"))?;
        }
        tx.commit().map_err(at(&self.path, "committing calls"))
    }

    /// The call with record id `id`.
    pub fn call(&self, id: &str) -> Result<Option<CallRow>, StoreError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = ?1");
        let found = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([id], read_call).optional())
            .map_err(at(&self.path, "reading a call"))?;
        match found {
            Some((n, row)) => self.complete(n, row).map(Some),
            None => Ok(None),
        }
    }

    /// The calls that match `q`, newest first.
    pub fn search(&self, q: &CallQuery) -> Result<Vec<CallRow>, StoreError> {
        let (clause, params) = where_clause(q);
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls {clause} \
             ORDER BY started_ms DESC, n DESC LIMIT {} OFFSET {}",
            q.limit.min(MAX_PAGE),
            q.offset
        );
        let found: Vec<(i64, CallRow)> = self
            .conn
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(params), read_call)?
                    .collect()
            })
            .map_err(at(&self.path, "searching calls"))?;
        found
            .into_iter()
            .map(|(n, row)| self.complete(n, row))
            .collect()
    }

    /// Marks the calls a previous run left without an end (it was killed
    /// or lost power mid-call) with the cause "interrupted": no call
    /// outlives the process. Call before any new call is written.
    pub fn close_interrupted(&mut self) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE calls SET hangup_cause = ?1 WHERE ended_ms IS NULL",
                [INTERRUPTED],
            )
            .map(|n| n as u64)
            .map_err(at(&self.path, "closing interrupted calls"))
    }

    /// How many calls the history holds.
    pub fn count_calls(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(at(&self.path, "counting calls"))
    }

    /// Adds a row's headers and media.
    fn complete(&self, n: i64, mut row: CallRow) -> Result<CallRow, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT kind, name, value FROM call_headers WHERE call = ?1 ORDER BY kind, pos",
            )
            .map_err(at(&self.path, "reading headers"))?;
        let headers = s
            .query_map([n], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect::<Result<Vec<(i64, String, String)>, _>>())
            .map_err(at(&self.path, "reading headers"))?;
        for (kind, name, value) in headers {
            match kind {
                HEADERS_IN => row.x_headers.push((name, value)),
                HEADERS_FROM_CALLEE => row.callee_x_headers.push((name, value)),
                HEADERS_OUT => row.headers_out.push((name, value)),
                _ => {}
            }
        }
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT leg, codec, packets, bytes, lost, jitter, rtcp, dropped_foreign, held, \
                 dropped_held, source, source_learned, dtmf_rendered, dtmf_detected, srtp, \
                 dropped_auth FROM call_media WHERE call = ?1",
            )
            .map_err(at(&self.path, "reading media"))?;
        let legs = s
            .query_map([n], |r| Ok((r.get::<_, i64>(0)?, read_media(r)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(at(&self.path, "reading media"))?;
        for (leg, media) in legs {
            match leg {
                CALLER => row.caller_media = Some(media),
                CALLEE => row.callee_media = Some(media),
                _ => {}
            }
        }
        Ok(row)
    }
}

pub(super) fn write_call(tx: &Transaction<'_>, r: &CallRow) -> rusqlite::Result<()> {
    let n: i64 = tx
        .prepare_cached(
            "INSERT INTO calls (id, direction, caller_call_id, callee_call_id, from_uri, to_uri, \
             route, target, emergency, retreaver_uuid, retreaver_key, retreaver_afid, \
             retreaver_sid, diversion, started_ms, answered_ms, ended_ms, final_status, \
             hangup_cause, hook, dtmf_caller, dtmf_callee, caller_transport, callee_transport, \
             caller_srtp, callee_srtp) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26) \
             ON CONFLICT (id) DO UPDATE SET direction = excluded.direction, \
             caller_call_id = excluded.caller_call_id, callee_call_id = excluded.callee_call_id, \
             from_uri = excluded.from_uri, to_uri = excluded.to_uri, route = excluded.route, \
             target = excluded.target, emergency = excluded.emergency, \
             retreaver_uuid = excluded.retreaver_uuid, retreaver_key = excluded.retreaver_key, \
             retreaver_afid = excluded.retreaver_afid, retreaver_sid = excluded.retreaver_sid, \
             diversion = excluded.diversion, started_ms = excluded.started_ms, \
             answered_ms = excluded.answered_ms, ended_ms = excluded.ended_ms, \
             final_status = excluded.final_status, hangup_cause = excluded.hangup_cause, \
             hook = excluded.hook, dtmf_caller = excluded.dtmf_caller, \
             dtmf_callee = excluded.dtmf_callee, caller_transport = excluded.caller_transport, \
             callee_transport = excluded.callee_transport, caller_srtp = excluded.caller_srtp, \
             callee_srtp = excluded.callee_srtp \
             RETURNING n",
        )?
        .query_row(
            params![
                r.id,
                r.direction,
                r.caller_call_id,
                r.callee_call_id,
                r.from,
                r.to,
                r.route,
                r.target,
                r.emergency,
                r.retreaver_uuid,
                r.retreaver_key,
                r.retreaver_afid,
                r.retreaver_sid,
                r.diversion,
                to_ms(r.started),
                r.answered.map(to_ms),
                r.ended.map(to_ms),
                r.final_status,
                r.hangup_cause,
                r.hook,
                r.dtmf_caller,
                r.dtmf_callee,
                r.caller_transport,
                r.callee_transport,
                r.caller_srtp,
                r.callee_srtp,
            ],
            |row| row.get(0),
        )?;
    // A few headers and two legs: rewriting them is cheaper than working
    // out what changed.
    tx.prepare_cached("DELETE FROM call_headers WHERE call = ?1")?
        .execute([n])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO call_headers (call, kind, pos, name, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (kind, list) in [
        (HEADERS_IN, &r.x_headers),
        (HEADERS_FROM_CALLEE, &r.callee_x_headers),
        (HEADERS_OUT, &r.headers_out),
    ] {
        for (pos, (name, value)) in list.iter().enumerate() {
            insert.execute(params![n, kind, pos as i64, name, value])?;
        }
    }
    tx.prepare_cached("DELETE FROM call_media WHERE call = ?1")?
        .execute([n])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO call_media (call, leg, codec, packets, bytes, lost, jitter, rtcp, \
         dropped_foreign, held, dropped_held, source, source_learned, dtmf_rendered, \
         dtmf_detected, srtp, dropped_auth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    for (leg, media) in [(CALLER, &r.caller_media), (CALLEE, &r.callee_media)] {
        let Some(m) = media else { continue };
        insert.execute(params![
            n,
            leg,
            m.codec,
            int(m.packets),
            int(m.bytes),
            int(m.lost),
            m.jitter,
            int(m.rtcp),
            int(m.dropped_foreign),
            int(m.held),
            int(m.dropped_held),
            m.source,
            m.source_learned,
            m.dtmf_rendered,
            m.dtmf_detected,
            m.srtp,
            int(m.dropped_auth),
        ])?;
    }
    Ok(())
}

/// SQLite integers are signed 64-bit; a counter never reaches the limit.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

fn read_call(r: &Row<'_>) -> rusqlite::Result<(i64, CallRow)> {
    let status: Option<i64> = r.get(18)?;
    let row = CallRow {
        id: r.get(1)?,
        direction: r.get(2)?,
        caller_call_id: r.get(3)?,
        callee_call_id: r.get(4)?,
        from: r.get(5)?,
        to: r.get(6)?,
        route: r.get(7)?,
        target: r.get(8)?,
        emergency: r.get(9)?,
        retreaver_uuid: r.get(10)?,
        retreaver_key: r.get(11)?,
        retreaver_afid: r.get(12)?,
        retreaver_sid: r.get(13)?,
        diversion: r.get(14)?,
        started: from_ms(r.get(15)?),
        answered: r.get::<_, Option<i64>>(16)?.map(from_ms),
        ended: r.get::<_, Option<i64>>(17)?.map(from_ms),
        final_status: status.and_then(|s| u16::try_from(s).ok()),
        hangup_cause: r.get(19)?,
        hook: r.get(20)?,
        dtmf_caller: r.get(21)?,
        dtmf_callee: r.get(22)?,
        caller_transport: r.get(23)?,
        callee_transport: r.get(24)?,
        caller_srtp: r.get(25)?,
        callee_srtp: r.get(26)?,
        x_headers: Vec::new(),
        callee_x_headers: Vec::new(),
        headers_out: Vec::new(),
        caller_media: None,
        callee_media: None,
    };
    Ok((r.get(0)?, row))
}

fn read_media(r: &Row<'_>) -> rusqlite::Result<LegMediaRow> {
    Ok(LegMediaRow {
        codec: r.get(1)?,
        packets: uint(r, 2)?,
        bytes: uint(r, 3)?,
        lost: uint(r, 4)?,
        jitter: u32::try_from(uint(r, 5)?).unwrap_or(u32::MAX),
        rtcp: uint(r, 6)?,
        dropped_foreign: uint(r, 7)?,
        held: uint(r, 8)?,
        dropped_held: uint(r, 9)?,
        source: r.get(10)?,
        source_learned: r.get(11)?,
        dtmf_rendered: u32::try_from(uint(r, 12)?).unwrap_or(u32::MAX),
        dtmf_detected: u32::try_from(uint(r, 13)?).unwrap_or(u32::MAX),
        srtp: r.get(14)?,
        dropped_auth: uint(r, 15)?,
    })
}

/// `%text%` for LIKE, with the pattern characters of `text` taken
/// literally (`ESCAPE '\'`).
fn contains(text: &str) -> Value {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    Value::Text(p)
}

/// The WHERE clause of a search and its parameters, in order. Only
/// placeholders carry what the user typed.
fn where_clause(q: &CallQuery) -> (String, Vec<Value>) {
    let mut terms: Vec<&str> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(t) = q.since {
        terms.push("started_ms >= ?");
        params.push(Value::Integer(to_ms(t)));
    }
    if let Some(t) = q.until {
        terms.push("started_ms < ?");
        params.push(Value::Integer(to_ms(t)));
    }
    if let Some(n) = &q.number {
        terms.push("(from_uri LIKE ? ESCAPE '\\' OR to_uri LIKE ? ESCAPE '\\')");
        params.push(contains(n));
        params.push(contains(n));
    }
    for (column, value) in [
        ("direction = ?", &q.direction),
        ("route = ?", &q.route),
        ("hangup_cause = ?", &q.cause),
        ("retreaver_uuid = ?", &q.retreaver_uuid),
        ("retreaver_key = ?", &q.retreaver_key),
        ("retreaver_afid = ?", &q.retreaver_afid),
        ("retreaver_sid = ?", &q.retreaver_sid),
    ] {
        if let Some(v) = value {
            terms.push(column);
            params.push(Value::Text(v.clone()));
        }
    }
    if let Some(s) = q.final_status {
        terms.push("final_status = ?");
        params.push(Value::Integer(i64::from(s)));
    }
    if let Some(h) = &q.header {
        match &h.name {
            Some(name) => {
                terms.push(
                    "EXISTS (SELECT 1 FROM call_headers h WHERE h.call = calls.n \
                     AND h.name = ? COLLATE NOCASE AND h.value LIKE ? ESCAPE '\\')",
                );
                params.push(Value::Text(name.clone()));
            }
            None => terms.push(
                "EXISTS (SELECT 1 FROM call_headers h WHERE h.call = calls.n \
                 AND h.value LIKE ? ESCAPE '\\')",
            ),
        }
        params.push(contains(&h.contains));
    }
    if terms.is_empty() {
        return (String::new(), params);
    }
    (format!("WHERE {}", terms.join(" AND ")), params)
}
