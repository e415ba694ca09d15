//! What every handler may reach: the core's snapshot, the channel to the
//! signalling loop, the configuration in force, and the data directory
//! (its database is opened per request on the blocking pool).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use smol::channel::Sender;

use crate::app::{ControlRequest, SharedUpdater, StatusBoard, WebhookTester};
use crate::config::Config;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct WebContext {
    pub status: StatusBoard,
    /// Requests to the signalling loop (saves, hang-ups, transfers, DTMF,
    /// test calls); each carries its own reply channel.
    pub control: Sender<ControlRequest>,
    /// The configuration in force: the loop replaces it after each save.
    pub config: Arc<RwLock<Config>>,
    /// The configuration file (for backup) and the data directory.
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub started: Instant,
    pub version: &'static str,
    /// Sends a webhook's test event (`None`: no gateway behind the page).
    pub webhook_tester: Option<WebhookTester>,
    /// Firmware updates (RAUC on the appliance; `None`: none here).
    pub updater: Option<SharedUpdater>,
}

impl WebContext {
    /// A copy of the configuration in force.
    pub fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` on a connection to the data directory's database, on the
    /// blocking pool (SQLite calls block; the server's tasks must not).
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let path = Store::path_in(&self.data_dir);
        smol::unblock(move || {
            let mut store = Store::open(&path)?;
            f(&mut store)
        })
        .await
    }
}

/// Who made a request that passed authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// For the audit list and the logs: the user name ("admin"), or
    /// "token NAME" for an API token.
    pub who: String,
    /// The session's CSRF token, for the forms a page renders; None with
    /// a bearer token (no forms, and no CSRF needed).
    pub csrf: Option<String>,
}
