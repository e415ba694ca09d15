//! Where one leg's media really comes from, sans-IO: which sources the
//! relay accepts on a leg and which one it sends that leg's media to.
//!
//! Peers often send RTP from another address than the `c=` line of their
//! SDP: a softphone bound to 0.0.0.0 on a multi-homed host (the kernel
//! picks the source per route), a phone or PBX behind NAT (its public
//! address), a cloud platform whose media servers are not its signalling
//! hosts. `SourceMode::Learn` (the default) accepts them the way
//! `shared/notes/media-latching.md` describes, with the SDP address
//! preferred:
//!
//! - a packet from the SDP address is accepted and latches at once;
//! - another source is latched *provisionally* after `learn_packets`
//!   consecutive in-sequence RTP packets of a payload type negotiated for
//!   the leg; the packets that establish it are relayed;
//! - within `learn_window` of the leg's first packet the SDP address
//!   replaces a provisional latch; after it the latch is final;
//! - once latched, other sources are dropped; a new offer/answer, or the
//!   latched source silent for `relearn_after`, reopens learning;
//! - `allow`, when not empty, limits the sources learning may take.
//!
//! `Strict` accepts only the SDP's IP (any port: a NAT may change it);
//! `Any` accepts every source and sends to the latest.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::config::{MediaConfig, SourceMode};

/// How every leg of a session learns its source; from `[media]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRules {
    pub mode: SourceMode,
    /// Consecutive in-sequence packets that latch a source other than the
    /// SDP address.
    pub learn_packets: u8,
    /// After the leg's first packet, how long the SDP address may still
    /// replace a learned source.
    pub learn_window: Duration,
    /// A latched source silent this long no longer holds the leg.
    pub relearn_after: Duration,
    /// Networks learning may take a source from; empty = any.
    pub allow: Arc<[IpNet]>,
}

impl Default for SourceRules {
    fn default() -> Self {
        SourceRules {
            mode: SourceMode::Learn,
            learn_packets: 3,
            learn_window: Duration::from_millis(2000),
            relearn_after: Duration::from_millis(5000),
            allow: Arc::from(Vec::new()),
        }
    }
}

impl SourceRules {
    /// The rules `[media]` sets.
    pub fn from_config(m: &MediaConfig) -> SourceRules {
        SourceRules {
            mode: m.source_mode(),
            learn_packets: m.learn_packets,
            learn_window: Duration::from_millis(m.learn_window_ms),
            relearn_after: Duration::from_millis(m.relearn_after_ms),
            allow: Arc::from(m.allow_networks()),
        }
    }

    fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

/// The RTP payload types a leg negotiated (RFC 3551 numbers 0..=127), as
/// a bit set; empty accepts any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    pub fn of(types: impl IntoIterator<Item = u8>) -> PayloadTypes {
        PayloadTypes(
            types
                .into_iter()
                .filter(|pt| *pt < 128)
                .fold(0, |set, pt| set | 1u128 << pt),
        )
    }

    pub fn contains(self, pt: u8) -> bool {
        self.0 == 0 || (pt < 128 && self.0 & (1u128 << pt) != 0)
    }
}

/// What the signalling says about one leg's far end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The address and port from the leg's SDP (c= and m=).
    pub signalled: SocketAddr,
    /// The payload types the leg may send (its offer's or answer's); a
    /// source is learned only from packets of these. Empty: any.
    pub payload_types: PayloadTypes,
}

impl Remote {
    /// A far end at `signalled` that may send any payload type.
    pub fn at(signalled: SocketAddr) -> Remote {
        Remote {
            signalled,
            payload_types: PayloadTypes::default(),
        }
    }
}

/// What the relay learned about a packet's RTP header, for learning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpFacts {
    pub sequence: u16,
    pub payload_type: u8,
    pub ssrc: u32,
}

/// A packet arriving on a leg, as the latch sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub src: SocketAddr,
    /// None for RTCP multiplexed on the RTP port (RFC 5761), which only
    /// follows a latch and never makes one.
    pub rtp: Option<RtpFacts>,
    pub now: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Relay it; the source holds (or keeps) the leg.
    Accept,
    /// From a source the leg does not take.
    Reject,
}

/// A source trying to be learned: its run of in-sequence packets.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    src: SocketAddr,
    ssrc: u32,
    next_seq: u16,
    run: u8,
    last: Instant,
}

/// Candidates tracked at once: a stranger spraying the port cannot keep
/// the real peer from completing its run.
const CANDIDATES: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Latch {
    source: Option<SocketAddr>,
    /// The latched source is the SDP's IP (never replaced by another).
    from_sdp: bool,
    /// When the leg's first packet (since learning last opened) arrived.
    opened_at: Option<Instant>,
    last_heard: Option<Instant>,
    candidates: [Option<Candidate>; CANDIDATES],
}

impl Latch {
    /// Where the leg's media goes: the latched source, else the SDP's.
    pub fn destination(&self, signalled: SocketAddr) -> SocketAddr {
        self.source.unwrap_or(signalled)
    }

    /// The latched source and whether it was learned (not the SDP's IP).
    pub fn source(&self) -> Option<(SocketAddr, bool)> {
        self.source.map(|s| (s, !self.from_sdp))
    }

    /// A new offer/answer for the leg. A new address drops the latch (the
    /// peer moved); the same address keeps it provisionally, so media keeps
    /// flowing while learning reopens (the SDP address may take it back
    /// within the window).
    pub fn reopen(&mut self, address_changed: bool) {
        if address_changed {
            self.source = None;
            self.from_sdp = false;
        }
        self.restart_learning();
    }

    /// The next packet starts a new window, and no run counts.
    fn restart_learning(&mut self) {
        self.opened_at = None;
        self.candidates = [None; CANDIDATES];
    }

    /// A packet arrived on the leg whose far end the signalling describes
    /// as `remote`: whether the leg takes it.
    pub fn check(&mut self, rules: &SourceRules, remote: Remote, packet: Arrival) -> Decision {
        let Arrival { src, now, .. } = packet;
        let signalled = remote.signalled;
        // The common case first: the latched source, nothing to decide.
        if self.source == Some(src) {
            self.last_heard = Some(now);
            return Decision::Accept;
        }
        match rules.mode {
            SourceMode::Any => {
                self.latch(src, same_ip(src.ip(), signalled.ip()), now);
                Decision::Accept
            }
            SourceMode::Strict => {
                if same_ip(src.ip(), signalled.ip()) {
                    self.latch(src, true, now);
                    Decision::Accept
                } else {
                    Decision::Reject
                }
            }
            SourceMode::Learn => self.learn(rules, remote, packet),
        }
    }

    fn learn(&mut self, rules: &SourceRules, remote: Remote, packet: Arrival) -> Decision {
        let Arrival { src, rtp, now } = packet;
        let signalled = remote.signalled;
        let silent = self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) >= rules.relearn_after);
        if self.source.is_some() && silent {
            // The latched source fell silent: the leg is open again, and
            // this packet is its first.
            self.reopen(true);
        }
        let opened = *self.opened_at.get_or_insert(now);
        let in_window = now.saturating_duration_since(opened) < rules.learn_window;
        if same_ip(src.ip(), signalled.ip()) {
            // The SDP address: always the leg's, unless a learned source
            // already holds it for good.
            let learned_is_final = self.source.is_some() && !self.from_sdp && !in_window;
            if learned_is_final {
                return Decision::Reject;
            }
            self.latch(src, true, now);
            return Decision::Accept;
        }
        if self.source.is_some() || !rules.allows(src.ip()) {
            return Decision::Reject;
        }
        let Some(rtp) = rtp else {
            return Decision::Reject;
        };
        if !remote.payload_types.contains(rtp.payload_type) {
            return Decision::Reject;
        }
        let run = self.count_run(src, rtp, now);
        if run >= rules.learn_packets.max(1) {
            self.latch(src, false, now);
        }
        Decision::Accept
    }

    /// Adds the packet to its source's run of in-sequence packets; returns
    /// the run's length.
    fn count_run(&mut self, src: SocketAddr, rtp: RtpFacts, now: Instant) -> u8 {
        let slot = match self
            .candidates
            .iter()
            .position(|c| c.is_some_and(|c| c.src == src))
        {
            Some(i) => i,
            None => {
                // A free slot, else the one heard from longest ago.
                let i = self
                    .candidates
                    .iter()
                    .position(Option::is_none)
                    .unwrap_or_else(|| {
                        (0..CANDIDATES)
                            .min_by_key(|i| self.candidates[*i].map(|c| c.last))
                            .unwrap_or(0)
                    });
                self.candidates[i] = None;
                i
            }
        };
        let run = match self.candidates[slot] {
            Some(c) if c.ssrc == rtp.ssrc && c.next_seq == rtp.sequence => c.run.saturating_add(1),
            _ => 1,
        };
        self.candidates[slot] = Some(Candidate {
            src,
            ssrc: rtp.ssrc,
            next_seq: rtp.sequence.wrapping_add(1),
            run,
            last: now,
        });
        run
    }

    fn latch(&mut self, src: SocketAddr, from_sdp: bool, now: Instant) {
        self.source = Some(src);
        self.from_sdp = from_sdp;
        self.last_heard = Some(now);
        self.candidates = [None; CANDIDATES];
    }

    /// Whether an RTCP packet from `src` (on the RTCP port) belongs to the
    /// leg: RTCP follows the RTP latch (its IP), else the SDP's IP.
    pub fn admits_rtcp(&self, mode: SourceMode, signalled: SocketAddr, src: SocketAddr) -> bool {
        match (mode, self.source) {
            (SourceMode::Any, _) => true,
            (SourceMode::Strict, _) => same_ip(src.ip(), signalled.ip()),
            (SourceMode::Learn, Some(l)) => same_ip(src.ip(), l.ip()),
            (SourceMode::Learn, None) => same_ip(src.ip(), signalled.ip()),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

pub(super) fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    canonical(a) == canonical(b)
}

#[cfg(test)]
#[path = "latch_tests.rs"]
mod tests;
