//! Why the store could not do what was asked, in words an admin can act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a pbxgate database or is damaged ({detail}); the history is not kept \
         until it is moved away (the gateway then starts a new one)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} was written by a newer pbxgate (schema version {found}; this one knows up to \
         {known}); run that version, or move the file away to start a new history"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path} is locked by another program ({detail}); stop it or wait")]
    Busy { path: PathBuf, detail: String },
    #[error("{path}: {what} failed: {source}")]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts an SQLite error: a damaged file and a lock say so; the rest
    /// name the step that failed.
    pub(super) fn from_sqlite(
        path: &std::path::Path,
        what: &'static str,
        e: rusqlite::Error,
    ) -> StoreError {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match &e {
            rusqlite::Error::SqliteFailure(f, msg) => match f.code {
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => StoreError::Corrupt {
                    path,
                    detail: msg.clone().unwrap_or_else(|| f.to_string()),
                },
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy {
                    path,
                    detail: msg.clone().unwrap_or_else(|| f.to_string()),
                },
                _ => StoreError::Sqlite {
                    path,
                    what,
                    source: e,
                },
            },
            _ => StoreError::Sqlite {
                path,
                what,
                source: e,
            },
        }
    }
}

/// `map_err(at(path, "what"))`: an SQLite error of step `what` on `path`.
pub(super) fn at<'a>(
    path: &'a std::path::Path,
    what: &'static str,
) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::from_sqlite(path, what, e)
}
