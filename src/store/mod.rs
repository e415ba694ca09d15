//! The data directory's database (`<data-dir>/pbxgate.db`): the call
//! history, the audit list of configuration changes, and later the event
//! outbox, in one SQLite file so that a call's row and its events are
//! written in one transaction. Blocking IO: a store lives on a thread of
//! its own (the gateway's history writer) or behind the web server's
//! blocking pool, never on the signalling loop. See docs/store.md.

mod audit;
mod calls;
mod csv;
mod error;
mod outbox;
mod retention;
mod row;
mod schema;
mod time;

#[cfg(test)]
mod tests;

pub use calls::INTERRUPTED;
pub use csv::to_csv;
pub use error::StoreError;
pub use outbox::{NewEvent, OutboxEntry, OutboxLimits, SinkBacklog};
pub use retention::{Pruned, RETENTION_CHUNK};
pub use row::{AuditEntry, CallQuery, CallRow, HeaderFilter, LegMediaRow, MAX_PAGE};
pub use schema::SCHEMA_VERSION;
pub use time::rfc3339;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use error::at;

/// The database's name in the data directory.
pub const DB_FILE_NAME: &str = "pbxgate.db";

/// The file holds callers' numbers: owner read and write only, as the
/// configuration. SQLite gives its -wal and -shm files the same mode.
const DB_FILE_MODE: u32 = 0o600;

/// How long a write waits for another connection's (the web page
/// reading while the writer commits) before it reports the file busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection to the database. Not shared between threads: each
/// thread opens its own (WAL lets readers run beside the writer).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// `<data_dir>/pbxgate.db`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(DB_FILE_NAME)
    }

    /// Opens (or creates) the database at `path`, checks that it is
    /// sound and brings its tables up to date. A damaged file is an error
    /// that says so, never a panic.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        create_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags).map_err(at(path, "opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(at(path, "setting the busy timeout"))?;
        // WAL: readers (the web page) do not block the writer, and a
        // commit appends to the log instead of rewriting pages in place.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(at(path, "switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the database cannot use WAL here; it runs in {mode} mode");
        }
        // FULL: each commit is on the card before it returns, so a power
        // cut loses nothing that was committed (NORMAL may lose the last
        // commits in WAL mode). The writer batches, so this is one fsync
        // per batch, not per call; see docs/store.md for the cost.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(at(path, "setting synchronous and foreign keys"))?;
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(at(path, "checking the file"))?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: check,
            });
        }
        schema::migrate(&mut conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates the directory and an empty file owner-only, so SQLite never
/// makes it world-readable with the process umask.
fn create_file(path: &Path) -> Result<(), StoreError> {
    let create = |source| StoreError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(DB_FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(create(e)),
    }
}
