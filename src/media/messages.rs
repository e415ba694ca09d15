//! What signalling and the media threads say to each other: the only
//! link between them (a channel each way, no shared locks).
//! `MediaCommand`s go to a media thread (`MediaEngine::send`);
//! `MediaEvent`s come back on the engine's event channel.

use std::net::SocketAddr;
use std::time::Duration;

use super::dtmf::convert::DtmfPath;
use super::dtmf::inject::{DigitSink, Digits};
use super::latch::SourceRules;
use super::leg_crypto::LegKeys;
use super::relay::{LegSide, LegStats, Remote, Transcode};

/// What signalling asks of the media thread. `session` is the call's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaCommand {
    /// Bind the caller-side and callee-side RTP ports (and RTCP, +1).
    Open {
        session: u64,
        caller_local: SocketAddr,
        callee_local: SocketAddr,
        timeout: Duration,
        /// Which sources each leg's media is taken from.
        sources: SourceRules,
    },
    /// A leg's far end from a new offer or answer. Sent after the
    /// settings that come with the same answer (payload map, transcoding,
    /// DTMF), because packets held for want of it are relayed as soon as
    /// it is applied.
    SetRemote {
        session: u64,
        side: LegSide,
        remote: Remote,
    },
    /// Payload-type pairs rewritten on packets from `side`.
    SetPayloadMap {
        session: u64,
        side: LegSide,
        map: Vec<(u8, u8)>,
    },
    /// Audio from `side` translated to the other law, or not.
    SetTranscode {
        session: u64,
        side: LegSide,
        transcode: Option<Transcode>,
    },
    /// DTMF conversion on packets from `side`, and the telephone-event
    /// payload type `side` sends (its events are reported as `Digits`).
    SetDtmf {
        session: u64,
        side: LegSide,
        path: DtmfPath,
        events_in: Option<u8>,
    },
    SetHold {
        session: u64,
        hold: bool,
    },
    /// `side` speaks SRTP with these keys (RFC 3711, SDES), or plain RTP
    /// (None). Sent before the `SetRemote` of the same offer or answer,
    /// so held packets are opened with the right key.
    SetSrtp {
        session: u64,
        side: LegSide,
        keys: Option<LegKeys>,
    },
    /// The gateway sends `digits` to leg `to`, as `sink` says it takes
    /// them, in the stream relayed to it (`dtmf::inject`): each `tone_ms`
    /// long, `gap_ms` between.
    SendDigits {
        session: u64,
        to: LegSide,
        sink: DigitSink,
        digits: Digits,
        tone_ms: u16,
        gap_ms: u16,
    },
    Close {
        session: u64,
    },
    /// Answered with `token` on the engine's barrier channel once every
    /// command sent before it is applied (see `MediaEngine::barrier`).
    /// Not a session's: `session()` is meaningless for it.
    Barrier {
        token: u64,
    },
}

impl MediaCommand {
    /// The call the command is about.
    pub fn session(&self) -> u64 {
        match self {
            MediaCommand::Open { session, .. }
            | MediaCommand::SetRemote { session, .. }
            | MediaCommand::SetPayloadMap { session, .. }
            | MediaCommand::SetTranscode { session, .. }
            | MediaCommand::SetDtmf { session, .. }
            | MediaCommand::SetHold { session, .. }
            | MediaCommand::SetSrtp { session, .. }
            | MediaCommand::SendDigits { session, .. }
            | MediaCommand::Close { session } => *session,
            MediaCommand::Barrier { .. } => 0,
        }
    }
}

/// What a media thread tells signalling about a session.
// `Closed` carries both legs' counters by value: one event per call, off
// the packet path, so its size costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// The ports could not be bound: the call cannot have media.
    Failed { session: u64, reason: String },
    /// No RTP from either side for the timeout.
    TimedOut { session: u64 },
    /// DTMF digits `side` sent (RFC 4733 events, or tones the detector
    /// confirmed), one symbol per key press, oldest first: batched, at
    /// most one message per side every `epoll_loop::TIMEOUT_CHECK` and
    /// one before `Closed`.
    Digits {
        session: u64,
        side: LegSide,
        digits: String,
    },
    /// Sent when a session closes, for the call record.
    Closed {
        session: u64,
        caller: LegStats,
        callee: LegStats,
    },
}
