//! The event outbox (docs/events.md): an event counts as emitted once its
//! rows are committed here, one row per sink, in the same transaction as
//! the call row it belongs to. Each sink's sender reads its rows oldest
//! first, delivers, and deletes what was acknowledged, so an event is
//! delivered at least once and in order per sink (and so per call).

use rusqlite::{params, TransactionBehavior};

use super::calls::write_call;
use super::error::at;
use super::row::CallRow;
use super::time::{from_ms, to_ms};
use super::{Store, StoreError};

/// An event to append: its body (the event as JSON, the one form every
/// sink formats from) for each of `sinks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique, stable across retries: receivers de-duplicate on it.
    pub event_id: String,
    /// The call it belongs to (its `callId`), or "registration": order is
    /// kept per sink, which keeps it per call.
    pub call_key: String,
    pub created: std::time::SystemTime,
    pub body: String,
    /// The sinks (webhook names, "mqtt") that are to get it.
    pub sinks: Vec<String>,
}

/// One undelivered event of one sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub sink: String,
    pub event_id: String,
    pub call_key: String,
    pub created: std::time::SystemTime,
    pub body: String,
    /// Deliveries tried so far.
    pub attempts: u32,
}

/// Bounds of the outbox (`[events]`): when a sink's backlog would pass
/// them, its oldest events are dropped (counted per sink).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxLimits {
    pub max_events: u64,
    pub max_bytes: u64,
}

/// What the status page and /metrics show per sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkBacklog {
    pub sink: String,
    pub depth: u64,
    pub oldest: Option<std::time::SystemTime>,
    /// Events dropped because the outbox was full while this sink failed.
    pub dropped: u64,
}

impl Store {
    /// Writes call rows and events in one transaction: a call's row and
    /// the events it produced are both on disk or neither is.
    pub fn write_calls_and_events(
        &mut self,
        rows: &[CallRow],
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(&self.path, "starting a write"))?;
        for row in rows {
            write_call(&tx, row).map_err(at(&self.path, "writing a call"))?;
        }
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO outbox (sink, event_id, call_key, created_ms, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(at(&self.path, "preparing an event"))?;
            for e in events {
                for sink in &e.sinks {
                    insert
                        .execute(params![
                            sink,
                            e.event_id,
                            e.call_key,
                            to_ms(e.created),
                            e.body
                        ])
                        .map_err(at(&self.path, "writing an event"))?;
                }
            }
        }
        tx.commit()
            .map_err(at(&self.path, "committing calls and events"))
    }

    /// Marks the calls a previous run left open (see `close_interrupted`)
    /// and appends the events `hangups` makes of their rows, in one
    /// transaction: a cut call gets its hangup exactly once, however often
    /// the gateway restarts. Rows already marked by an earlier start are
    /// not offered again. Returns how many calls were marked.
    pub fn close_interrupted_with_events(
        &mut self,
        hangups: impl FnOnce(&[CallRow]) -> Vec<NewEvent>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare(
                "SELECT id FROM calls WHERE ended_ms IS NULL \
                 AND (hangup_cause IS NULL OR hangup_cause <> ?1) ORDER BY started_ms, n",
            )
            .and_then(|mut s| s.query_map([super::INTERRUPTED], |r| r.get(0))?.collect())
            .map_err(at(&self.path, "reading interrupted calls"))?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(row) = self.call(id)? {
                rows.push(row);
            }
        }
        let events = hangups(&rows);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(&self.path, "starting a write"))?;
        let marked = tx
            .execute(
                "UPDATE calls SET hangup_cause = ?1 WHERE ended_ms IS NULL",
                [super::INTERRUPTED],
            )
            .map_err(at(&self.path, "closing interrupted calls"))? as u64;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO outbox (sink, event_id, call_key, created_ms, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(at(&self.path, "preparing an event"))?;
            for e in &events {
                for sink in &e.sinks {
                    insert
                        .execute(params![
                            sink,
                            e.event_id,
                            e.call_key,
                            to_ms(e.created),
                            e.body
                        ])
                        .map_err(at(&self.path, "writing an event"))?;
                }
            }
        }
        tx.commit()
            .map_err(at(&self.path, "closing interrupted calls"))?;
        Ok(marked)
    }

    /// Up to `limit` undelivered events of `sink`, oldest first.
    pub fn outbox_pending(&self, sink: &str, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, sink, event_id, call_key, created_ms, body, attempts \
                 FROM outbox WHERE sink = ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(at(&self.path, "reading the outbox"))?;
        let rows = stmt
            .query_map(params![sink, limit], |r| {
                Ok(OutboxEntry {
                    seq: r.get(0)?,
                    sink: r.get(1)?,
                    event_id: r.get(2)?,
                    call_key: r.get(3)?,
                    created: from_ms(r.get(4)?),
                    body: r.get(5)?,
                    attempts: r.get::<_, i64>(6)?.max(0) as u32,
                })
            })
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(at(&self.path, "reading the outbox"))?;
        Ok(rows)
    }

    /// Removes delivered entries.
    pub fn outbox_ack(&mut self, seqs: &[i64]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(&self.path, "starting a write"))?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM outbox WHERE seq = ?1")
                .map_err(at(&self.path, "acknowledging events"))?;
            for s in seqs {
                del.execute([s])
                    .map_err(at(&self.path, "acknowledging events"))?;
            }
        }
        tx.commit().map_err(at(&self.path, "acknowledging events"))
    }

    /// Counts a failed delivery of entry `seq` and keeps why.
    pub fn outbox_failed(&mut self, seq: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
                params![seq, error],
            )
            .map(|_| ())
            .map_err(at(&self.path, "noting a failed delivery"))
    }

    /// The outbox's entries and the characters of their bodies, as
    /// `outbox_bound` measures them (a scan of the whole table).
    pub fn outbox_size(&self) -> Result<(u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?.max(0) as u64,
                        r.get::<_, i64>(1)?.max(0) as u64,
                    ))
                },
            )
            .map_err(at(&self.path, "measuring the outbox"))
    }

    /// Keeps the outbox within `limits`: while it is over, the oldest
    /// entries of the sink with the largest backlog (the failing one) are
    /// dropped and counted. Returns what was dropped, per sink.
    pub fn outbox_bound(&mut self, limits: OutboxLimits) -> Result<Vec<(String, u64)>, StoreError> {
        let mut dropped: Vec<(String, u64)> = Vec::new();
        loop {
            let (count, bytes): (i64, i64) = self
                .conn
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(at(&self.path, "measuring the outbox"))?;
            let over_count = (count as u64).saturating_sub(limits.max_events);
            if over_count == 0 && (bytes as u64) <= limits.max_bytes {
                return Ok(dropped);
            }
            let sink: Option<String> = self
                .conn
                .query_row(
                    "SELECT sink FROM outbox GROUP BY sink ORDER BY COUNT(*) DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .ok();
            let Some(sink) = sink else {
                return Ok(dropped);
            };
            // At least one, at most what is over (or a chunk for bytes).
            let n = over_count.clamp(1, 1000) as i64;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(at(&self.path, "starting a write"))?;
            let removed = tx
                .execute(
                    "DELETE FROM outbox WHERE seq IN \
                     (SELECT seq FROM outbox WHERE sink = ?1 ORDER BY seq LIMIT ?2)",
                    params![sink, n],
                )
                .map_err(at(&self.path, "dropping old events"))? as u64;
            tx.execute(
                "INSERT INTO outbox_dropped (sink, events) VALUES (?1, ?2) \
                 ON CONFLICT (sink) DO UPDATE SET events = events + ?2",
                params![sink, removed as i64],
            )
            .map_err(at(&self.path, "counting dropped events"))?;
            tx.commit().map_err(at(&self.path, "dropping old events"))?;
            match dropped.iter_mut().find(|(s, _)| *s == sink) {
                Some((_, d)) => *d += removed,
                None => dropped.push((sink, removed)),
            }
            if removed == 0 {
                return Ok(dropped);
            }
        }
    }

    /// Removes the undelivered events of every sink not in `keep` (a
    /// webhook removed or renamed, MQTT turned off): nothing would ever
    /// deliver them, and they would count against the bounds. Returns how
    /// many went, per sink.
    pub fn outbox_forget_others(
        &mut self,
        keep: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sink, COUNT(*) FROM outbox GROUP BY sink")
            .map_err(at(&self.path, "reading the outbox"))?;
        let present = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(at(&self.path, "reading the outbox"))?;
        drop(stmt);
        let mut gone = Vec::new();
        for (sink, n) in present {
            if keep.contains(&sink) {
                continue;
            }
            self.conn
                .execute("DELETE FROM outbox WHERE sink = ?1", [&sink])
                .map_err(at(&self.path, "removing a sink's events"))?;
            gone.push((sink, n.max(0) as u64));
        }
        Ok(gone)
    }

    /// Per sink: undelivered events, the oldest one's time, events dropped.
    pub fn outbox_backlog(&self) -> Result<Vec<SinkBacklog>, StoreError> {
        let mut out: Vec<SinkBacklog> = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sink, COUNT(*), MIN(created_ms) FROM outbox GROUP BY sink")
            .map_err(at(&self.path, "reading the outbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SinkBacklog {
                    sink: r.get(0)?,
                    depth: r.get::<_, i64>(1)?.max(0) as u64,
                    oldest: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    dropped: 0,
                })
            })
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(at(&self.path, "reading the outbox"))?;
        out.extend(rows);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sink, events FROM outbox_dropped")
            .map_err(at(&self.path, "reading the outbox"))?;
        let dropped = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(at(&self.path, "reading the outbox"))?;
        for (sink, n) in dropped {
            match out.iter_mut().find(|b| b.sink == sink) {
                Some(b) => b.dropped = n.max(0) as u64,
                None => out.push(SinkBacklog {
                    sink,
                    depth: 0,
                    oldest: None,
                    dropped: n.max(0) as u64,
                }),
            }
        }
        out.sort_by(|a, b| a.sink.cmp(&b.sink));
        Ok(out)
    }
}
