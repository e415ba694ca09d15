//! Keeping the history within `[history] max_calls` and `max_age_days`.

use std::time::{Duration, SystemTime};

use rusqlite::TransactionBehavior;

use super::error::at;
use super::time::to_ms;
use super::{Store, StoreError};

/// Most calls one `apply_retention` removes, so a large backlog (a lowered
/// limit) is cleared in short transactions the writer can interleave
/// with new calls.
pub const RETENTION_CHUNK: u32 = 2000;

/// What one `apply_retention` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pruned {
    pub removed: u64,
    /// More is due: call again.
    pub more: bool,
}

impl Store {
    /// Removes calls that started before `now - max_age`, then the oldest
    /// beyond the newest `max_calls`, at most `RETENTION_CHUNK` of each.
    /// Their headers and media go with them.
    pub fn apply_retention(
        &mut self,
        now: SystemTime,
        max_calls: u32,
        max_age: Duration,
    ) -> Result<Pruned, StoreError> {
        let cutoff = now.checked_sub(max_age).map(to_ms).unwrap_or(i64::MIN);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(at(&self.path, "starting retention"))?;
        let old = tx
            .execute(
                "DELETE FROM calls WHERE n IN (SELECT n FROM calls WHERE started_ms < ?1 \
                 ORDER BY started_ms LIMIT ?2)",
                (cutoff, RETENTION_CHUNK),
            )
            .map_err(at(&self.path, "removing old calls"))?;
        let over = tx
            .execute(
                "DELETE FROM calls WHERE n IN (SELECT n FROM calls \
                 ORDER BY started_ms DESC, n DESC LIMIT ?1 OFFSET ?2)",
                (RETENTION_CHUNK, max_calls),
            )
            .map_err(at(&self.path, "removing calls over max_calls"))?;
        tx.commit()
            .map_err(at(&self.path, "committing retention"))?;
        let chunk = RETENTION_CHUNK as usize;
        Ok(Pruned {
            removed: (old + over) as u64,
            more: old == chunk || over == chunk,
        })
    }
}
