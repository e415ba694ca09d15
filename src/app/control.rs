//! What the web page and the JSON API ask of the running gateway, and what
//! they are answered. A request carries the channel its answer goes back
//! on; the signalling loop, the only owner of the core, takes the requests
//! in turn with everything else, so a request never races a SIP message.

use smol::channel::Sender;

use crate::config::{Config, ConfigError};

/// Who asked, for the audit list and the logs ("admin", "token:backup").
pub type Actor = String;

#[derive(Debug)]
pub enum ControlRequest {
    /// Check, save (keeping the file's comments) and apply a whole
    /// configuration: new calls take it at once, calls in progress keep
    /// the settings they started with.
    SaveConfig {
        config: Box<Config>,
        who: Actor,
        reply: Sender<Result<SaveReport, ConfigError>>,
    },
    /// Hang up call `call` (the gateway's record id) on every leg.
    Hangup {
        call: String,
        who: Actor,
        reply: Sender<Result<(), ControlError>>,
    },
    /// Move the caller of call `call` to `target` (a SIP URI): the
    /// current callee is hung up and `target` called in its place.
    Transfer {
        call: String,
        target: String,
        who: Actor,
        reply: Sender<Result<(), ControlError>>,
    },
    /// Send `digits` (0-9, *, #, A-D) as RFC 4733 events to one leg of
    /// call `call`.
    SendDtmf {
        call: String,
        to_caller: bool,
        digits: String,
        who: Actor,
        reply: Sender<Result<(), ControlError>>,
    },
    /// Which route an INVITE would take, and why each earlier one did not.
    TestCall {
        invite: String,
        from_lan: bool,
        reply: Sender<Result<crate::routing::Explanation, String>>,
    },
}

/// What a save did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveReport {
    /// Fields that changed and only take effect after a restart (e.g.
    /// `media.threads`).
    pub needs_restart: Vec<String>,
    /// Sections that changed (for the audit list).
    pub changed: Vec<String>,
}

/// Why a call-control request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no call in progress has the id '{0}'")]
    NoSuchCall(String),
    #[error("{0}")]
    Refused(String),
    #[error("the gateway is shutting down")]
    ShuttingDown,
}
