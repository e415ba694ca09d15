//! The record of one call: what the status page shows and what the events
//! issue sends to webhooks. Written by the B2BUA as the call progresses.

use std::time::SystemTime;

use serde::Serialize;

use crate::media::relay::LegSide;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallDirection {
    /// Cloud → PBX (arrived on a WAN listener).
    Inbound,
    /// PBX → cloud (arrived on a LAN listener).
    Outbound,
}

/// Why a call ended, as events report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupCause {
    /// The caller hung up (BYE from the caller's side).
    CallerHangup,
    /// The callee hung up (BYE from the callee's side).
    CalleeHangup,
    /// The caller cancelled before the answer.
    Cancelled,
    /// The callee refused (4xx/5xx/6xx that is not failed over).
    Rejected,
    /// No target answered: all failed or timed out.
    NoAnswer,
    /// No route matched the call.
    NoRoute,
    /// The concurrent-call limit was reached.
    Busy,
    /// The callee forwarded the call (3xx); the forwarded call is a new record.
    Forwarded,
    /// The callee transferred the caller (REFER); the transferred call is a new record.
    Transferred,
    /// The caller never acknowledged the answer.
    AckTimeout,
    /// No session refresh (RFC 4028) arrived in time.
    SessionExpired,
    /// No RTP from either side for `[media] timeout_s`.
    MediaTimeout,
    /// The media ports could not be opened, or the SDP was unusable.
    MediaFailed,
    /// The gateway shut down.
    Shutdown,
    /// An administrator hung it up (web page or API).
    Administrator,
}

impl HangupCause {
    pub const ALL: [HangupCause; 15] = [
        HangupCause::CallerHangup,
        HangupCause::CalleeHangup,
        HangupCause::Cancelled,
        HangupCause::Rejected,
        HangupCause::NoAnswer,
        HangupCause::NoRoute,
        HangupCause::Busy,
        HangupCause::Forwarded,
        HangupCause::Transferred,
        HangupCause::AckTimeout,
        HangupCause::SessionExpired,
        HangupCause::MediaTimeout,
        HangupCause::MediaFailed,
        HangupCause::Shutdown,
        HangupCause::Administrator,
    ];

    /// The cause as the history and events name it (its serialised name).
    pub fn name(&self) -> &'static str {
        match self {
            HangupCause::CallerHangup => "caller_hangup",
            HangupCause::CalleeHangup => "callee_hangup",
            HangupCause::Cancelled => "cancelled",
            HangupCause::Rejected => "rejected",
            HangupCause::NoAnswer => "no_answer",
            HangupCause::NoRoute => "no_route",
            HangupCause::Busy => "busy",
            HangupCause::Forwarded => "forwarded",
            HangupCause::Transferred => "transferred",
            HangupCause::AckTimeout => "ack_timeout",
            HangupCause::SessionExpired => "session_expired",
            HangupCause::MediaTimeout => "media_timeout",
            HangupCause::MediaFailed => "media_failed",
            HangupCause::Shutdown => "shutdown",
            HangupCause::Administrator => "administrator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// The gateway's own identifier, stable across the legs.
    pub id: String,
    pub direction: CallDirection,
    /// Call-ID of the leg towards the caller.
    pub caller_call_id: String,
    /// Call-ID of the leg towards the callee (the last one tried).
    pub callee_call_id: Option<String>,
    pub from: String,
    pub to: String,
    pub route: Option<String>,
    /// A call from the LAN to an emergency number (`[emergency] numbers`).
    pub emergency: bool,
    /// The target URI the call went to (the last one tried).
    pub target: Option<String>,
    pub retreaver_uuid: Option<String>,
    pub retreaver_key: Option<String>,
    pub retreaver_afid: Option<String>,
    pub retreaver_sid: Option<String>,
    /// Every X- header of the INVITE, as received.
    pub x_headers: Vec<(String, String)>,
    /// X- headers of the callee's 200 OK and final responses (Twilio
    /// reports them as `DialSipHeader_X-name=value`).
    pub callee_x_headers: Vec<(String, String)>,
    /// Headers the gateway added to the INVITE to the callee: the route's
    /// header actions and the target's own headers.
    pub headers_out: Vec<(String, String)>,
    /// For a forwarded or transferred call: the target it was diverted from.
    pub diversion: Option<String>,
    pub started: SystemTime,
    pub answered: Option<SystemTime>,
    pub ended: Option<SystemTime>,
    /// The final status sent to the caller (200 when answered).
    pub final_status: Option<u16>,
    pub hangup_cause: Option<HangupCause>,
    /// Each leg's SIP transport, "UDP", "TCP" or "TLS" (the callee's: the
    /// leg tried last).
    pub caller_transport: Option<&'static str>,
    pub callee_transport: Option<&'static str>,
    /// What the route's hook decided, when the route has one: "targets: 2",
    /// "rejected: 486", "no change", "timeout", "error: ...".
    pub hook: Option<String>,
    /// Media counters per leg, when the gateway anchored the media.
    pub media: Option<MediaSummary>,
    /// DTMF digits the caller's and the callee's side sent (keypad
    /// symbols, in order; RFC 4733 events and detected tones), at most
    /// `DTMF_KEPT` each (`add_dtmf`).
    pub dtmf_caller: String,
    pub dtmf_callee: String,
    /// The media session (the gateway's internal call number), to attach
    /// the counters that arrive when the media thread closes it.
    #[serde(skip)]
    pub media_session: Option<u64>,
}

/// Most DTMF digits a record keeps per side: enough for any menu, PIN or
/// account number, and a bound on what a peer can make the history keep.
pub const DTMF_KEPT: usize = 64;

impl CallRecord {
    /// Appends the digits `side` sent, up to `DTMF_KEPT`; returns how many
    /// did not fit (0: all kept).
    pub fn add_dtmf(&mut self, side: LegSide, digits: &str) -> usize {
        let kept = match side {
            LegSide::Caller => &mut self.dtmf_caller,
            LegSide::Callee => &mut self.dtmf_callee,
        };
        // Keypad symbols are ASCII: one byte each.
        let room = DTMF_KEPT.saturating_sub(kept.len());
        let take = digits.len().min(room);
        kept.push_str(digits.get(..take).unwrap_or(""));
        digits.len() - take
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaSummary {
    pub caller: LegMediaStats,
    pub callee: LegMediaStats,
    pub caller_codec: Option<&'static str>,
    pub callee_codec: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LegMediaStats {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub jitter: u32,
    pub rtcp: u64,
    pub dropped_foreign: u64,
    /// Held until the call's media was set up, then relayed; held and
    /// dropped (too many, too old).
    pub held: u64,
    pub dropped_held: u64,
    /// Where the leg's media came from (the latched source), and whether
    /// that was learned rather than the SDP's address.
    pub source: Option<std::net::SocketAddr>,
    pub source_learned: bool,
    /// DTMF digits from this leg converted for the other one: events
    /// rendered as tones, tones detected and sent as events.
    pub dtmf_rendered: u32,
    pub dtmf_detected: u32,
    /// The leg's media was SRTP (RFC 3711, SDES keys).
    pub srtp: bool,
    /// SRTP/SRTCP packets from the leg that failed authentication or
    /// replay checks, dropped.
    pub dropped_auth: u64,
    /// SRTCP packets refused the same way (counted apart: reports, not
    /// audio).
    pub dropped_auth_rtcp: u64,
}
