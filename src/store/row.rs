//! What the store keeps of a call, and how it is looked for. The store's
//! own types: the application core maps its call records into them, so
//! the store knows rows, not the B2BUA.

use std::time::SystemTime;

/// One call as the history keeps it: what the call page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRow {
    /// The gateway's record id (stable across the legs of the call).
    pub id: String,
    /// "inbound" (cloud → PBX) or "outbound" (PBX → cloud).
    pub direction: String,
    /// The SIP Call-ID of the caller's leg.
    pub caller_call_id: String,
    /// The SIP Call-ID of the callee's leg (the last one tried).
    pub callee_call_id: Option<String>,
    pub from: String,
    pub to: String,
    pub route: Option<String>,
    /// The target URI (the last one tried).
    pub target: Option<String>,
    pub emergency: bool,
    pub retreaver_uuid: Option<String>,
    pub retreaver_key: Option<String>,
    pub retreaver_afid: Option<String>,
    pub retreaver_sid: Option<String>,
    /// For a forwarded or transferred call: the target it came from.
    pub diversion: Option<String>,
    /// X- headers of the caller's INVITE, as received.
    pub x_headers: Vec<(String, String)>,
    /// X- headers of the callee's answer (the PBX's, or a platform's).
    pub callee_x_headers: Vec<(String, String)>,
    /// Headers the gateway added to the INVITE it sent the callee (the
    /// route's header actions and the target's own headers).
    pub headers_out: Vec<(String, String)>,
    pub started: SystemTime,
    pub answered: Option<SystemTime>,
    pub ended: Option<SystemTime>,
    /// The final status the caller got.
    pub final_status: Option<u16>,
    /// Why the call ended ("caller_hangup", "no_route", ...).
    pub hangup_cause: Option<String>,
    /// What the route's hook decided ("targets: 1", "timeout", ...).
    pub hook: Option<String>,
    /// DTMF digits each side pressed, in order.
    pub dtmf_caller: String,
    pub dtmf_callee: String,
    /// Each leg's SIP transport ("UDP", "TCP", "TLS"), when known.
    pub caller_transport: Option<String>,
    pub callee_transport: Option<String>,
    /// Each leg's media was SRTP.
    pub caller_srtp: bool,
    pub callee_srtp: bool,
    pub caller_media: Option<LegMediaRow>,
    pub callee_media: Option<LegMediaRow>,
}

/// One leg's media, as counted by the media thread when the call closed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegMediaRow {
    pub codec: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub jitter: u32,
    pub rtcp: u64,
    pub dropped_foreign: u64,
    pub held: u64,
    pub dropped_held: u64,
    /// Where the leg's media came from ("203.0.113.9:41000").
    pub source: Option<String>,
    /// The source was learned from the packets, not taken from the SDP.
    pub source_learned: bool,
    pub dtmf_rendered: u32,
    pub dtmf_detected: u32,
    /// The leg's media was SRTP; SRTP packets dropped (authentication or
    /// replay).
    pub srtp: bool,
    pub dropped_auth: u64,
}

/// Most rows one search returns; page with `offset` for more.
pub const MAX_PAGE: u32 = 1000;

/// What to look for; every criterion given must hold. Newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallQuery {
    /// Calls started at or after this time.
    pub since: Option<SystemTime>,
    /// Calls started before this time.
    pub until: Option<SystemTime>,
    /// Text in the From or To URI (a number, or part of one).
    pub number: Option<String>,
    pub direction: Option<String>,
    pub route: Option<String>,
    /// A hangup cause, as the rows name it ("no_answer").
    pub cause: Option<String>,
    pub final_status: Option<u16>,
    pub retreaver_uuid: Option<String>,
    pub retreaver_key: Option<String>,
    pub retreaver_afid: Option<String>,
    pub retreaver_sid: Option<String>,
    /// A header of the call (in, from the callee, or sent to it) holding
    /// this text, optionally only a header of this name.
    pub header: Option<HeaderFilter>,
    /// At most this many rows (capped at `MAX_PAGE`).
    pub limit: u32,
    pub offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderFilter {
    /// Only headers of this name (case-insensitive); None: any.
    pub name: Option<String>,
    /// Text the value holds (case-insensitive for ASCII).
    pub contains: String,
}

impl Default for CallQuery {
    fn default() -> Self {
        CallQuery {
            since: None,
            until: None,
            number: None,
            direction: None,
            route: None,
            cause: None,
            final_status: None,
            retreaver_uuid: None,
            retreaver_key: None,
            retreaver_afid: None,
            retreaver_sid: None,
            header: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// One entry of the configuration-change audit list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who made the change (a user name, "api token NAME", "console").
    pub who: String,
    pub at: SystemTime,
    /// The configuration section changed ("route", "listener", ...).
    pub section: String,
    pub summary: String,
}
