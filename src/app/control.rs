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
    /// Stop cleanly (un-register, as on SIGTERM) and start again with the
    /// same arguments: for the fields that need a restart. Answered once
    /// the stop has begun.
    Restart {
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
    /// The digits cannot be sent as written (the API answers 422).
    #[error("{0}")]
    BadDigits(String),
    #[error("the gateway is shutting down")]
    ShuttingDown,
}

/// A request an admin pasted (or the page built) for "Test a call": line
/// ends made CRLF, the body and its length dropped (routing reads the
/// request line and headers only), then parsed as SIP.
pub fn parse_pasted_invite(text: &str) -> Result<crate::sip::message::Request, String> {
    use crate::sip::message::{parse_message, Framing, SipMessage};
    let text = text.trim_start();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let mut msg = String::with_capacity(head.len() + 32);
    for line in head.lines() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            continue;
        }
        msg.push_str(line.trim_end_matches('\r'));
        msg.push_str("\r\n");
    }
    msg.push_str("Content-Length: 0\r\n\r\n");
    match parse_message(msg.as_bytes(), Framing::Datagram) {
        Ok(SipMessage::Request(r)) => Ok(r),
        Ok(SipMessage::Response(_)) => Err("this is a response, not a request".into()),
        Err(e) => Err(format!("not a SIP request: {}", e.reason)),
    }
}
