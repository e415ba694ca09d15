//! The audit list: who changed which part of the configuration, and when.

use std::time::SystemTime;

use super::error::at;
use super::row::AuditEntry;
use super::time::{from_ms, to_ms};
use super::{Store, StoreError};

/// Entries kept; older ones go as new ones come.
pub const AUDIT_KEEP: i64 = 10_000;

impl Store {
    pub fn add_audit(
        &mut self,
        who: &str,
        when: SystemTime,
        section: &str,
        summary: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(at(&self.path, "starting an audit entry"))?;
        tx.execute(
            "INSERT INTO audit (at_ms, who, section, summary) VALUES (?1, ?2, ?3, ?4)",
            (to_ms(when), who, section, summary),
        )
        .map_err(at(&self.path, "writing an audit entry"))?;
        tx.execute(
            "DELETE FROM audit WHERE n <= (SELECT MAX(n) FROM audit) - ?1",
            [AUDIT_KEEP],
        )
        .map_err(at(&self.path, "trimming the audit list"))?;
        tx.commit()
            .map_err(at(&self.path, "committing an audit entry"))
    }

    /// The newest `limit` entries, newest first.
    pub fn audit_list(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT at_ms, who, section, summary FROM audit ORDER BY n DESC LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([limit], |r| {
                    Ok(AuditEntry {
                        at: from_ms(r.get(0)?),
                        who: r.get(1)?,
                        section: r.get(2)?,
                        summary: r.get(3)?,
                    })
                })?
                .collect()
            })
            .map_err(at(&self.path, "reading the audit list"))
    }
}
