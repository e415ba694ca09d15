//! The relay decision for one call's media, sans-IO: which packets are
//! accepted on each leg (symmetric RTP, RFC 4961, with the source learned
//! as `latch.rs` describes), where they go, what they are counted as, and
//! when the media has stopped.
//!
//! The media thread owns the sockets; it hands every received packet to
//! `MediaRelay::handle_packet` with the buffer it was read into and sends
//! what comes back, so nothing is allocated per packet.
//!
//! A packet that arrives before the signalling has told where it may go
//! (its leg's SDP, or the other leg's, not applied yet: an answerer may
//! send as soon as its 200 leaves) is held, at most `HELD_PER_LEG` per leg
//! for `HELD_FOR`, and handed back by `pop_held` once it can be relayed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::dtmf::convert::{Converted, DtmfConverter, DtmfPath};
use super::dtmf::heard::HeardDigits;
use super::dtmf::inject::{DigitSink, Digits};
use super::g711::{alaw_to_ulaw, ulaw_to_alaw, Law};
pub use super::latch::Remote;
use super::latch::{Arrival, Decision, Latch, RtpFacts, SourceRules};
use super::leg_crypto::{LegCrypto, LegKeys};
use super::rtp::{is_rtcp, RtpHeader};
use super::srtp::SRTP_MAX_OVERHEAD;

/// Packets held per leg before the signalling says where they go.
pub const HELD_PER_LEG: usize = 16;
/// How long a held packet is worth relaying.
pub const HELD_FOR: Duration = Duration::from_millis(500);
/// Largest packet held (voice RTP is a few hundred bytes).
pub const HELD_PACKET_MAX: usize = 1500;

/// PCMU↔PCMA translation of the audio packets from one leg: same length,
/// done in place on the received buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transcode {
    /// The audio payload type this leg sends, and the law it is in.
    pub from_pt: u8,
    pub from: Law,
    /// The payload type the other leg expects.
    pub to_pt: u8,
}

/// Most bytes `MediaRelay::take_added` hands out: an event packet, with
/// room for its SRTP tag when it goes to an SRTP leg.
pub const ADDED_PACKET_MAX: usize = super::dtmf::convert::EVENT_PACKET + SRTP_MAX_OVERHEAD;

/// Which of a call's two media legs: the caller's or the callee's. (Not
/// `config::Side`, which is the network a peer is on.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegSide {
    Caller,
    Callee,
}

impl LegSide {
    pub fn other(self) -> LegSide {
        match self {
            LegSide::Caller => LegSide::Callee,
            LegSide::Callee => LegSide::Caller,
        }
    }

    fn index(self) -> usize {
        match self {
            LegSide::Caller => 0,
            LegSide::Callee => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub rtcp_in: u64,
    /// Packets missing by sequence number (RFC 3550 A.3, simplified to
    /// gaps seen in order).
    pub lost: u64,
    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    pub jitter: u32,
    pub dropped_foreign: u64,
    pub dropped_malformed: u64,
    /// Held until the signalling said where they go, then relayed.
    pub held: u64,
    /// Held but dropped: too many, too old, or too big to hold.
    pub dropped_held: u64,
    /// The source the leg's media was latched to last, and whether it was
    /// learned (not the SDP's IP).
    pub source: Option<SocketAddr>,
    pub source_learned: bool,
    /// DTMF from this leg converted for the other (see `DtmfConverter`).
    pub dtmf_rendered: u32,
    pub dtmf_detected: u32,
    /// The leg's media was SRTP (RFC 3711) at some point of the call.
    pub srtp: bool,
    /// SRTP packets refused: authentication tag wrong, replayed, or too
    /// old for the replay window. Never relayed, never learned from.
    pub dropped_auth: u64,
    /// The same for SRTCP, apart: a peer that restarts its SRTCP index
    /// under the same key (seen with baresip) has its reports refused as
    /// replays while its audio is fine.
    pub dropped_auth_rtcp: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// From an address the signalling did not name.
    Foreign,
    Malformed,
    /// The other leg has no destination yet (no SDP answer).
    NoDestination,
    /// Taken in by a conversion (a repeated RFC 4733 end packet turned
    /// into tones, audio replaced by events): nothing to send for it.
    Absorbed,
    /// Kept until the signalling says where it goes (`pop_held`).
    Held,
    /// An SRTP/SRTCP packet that did not authenticate, or a replay.
    Unauthenticated,
}

/// What becomes of one received packet. (Not `policy::AdmissionVerdict`, which
/// admits or refuses signalling.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketVerdict {
    /// Send the packet (as rewritten in the buffer) to `to` from the
    /// socket of leg `from_side`.
    Forward {
        to: SocketAddr,
        from_side: LegSide,
        /// Bytes of the (rewritten) buffer to send.
        len: usize,
    },
    Drop(DropReason),
}

/// A packet kept for later (see `HELD_FOR`).
#[derive(Clone)]
struct HeldPacket {
    src: SocketAddr,
    arrived: Instant,
    len: usize,
    data: [u8; HELD_PACKET_MAX],
}

/// A leg's held packets, oldest first; allocated the first time the leg
/// holds one and kept for the call, so holding never allocates again.
#[derive(Clone)]
struct HeldQueue {
    packets: [Option<HeldPacket>; HELD_PER_LEG],
    /// Index of the oldest.
    head: usize,
    count: usize,
}

impl HeldQueue {
    fn new() -> Box<HeldQueue> {
        Box::new(HeldQueue {
            packets: std::array::from_fn(|_| None),
            head: 0,
            count: 0,
        })
    }

    /// Adds a packet; when full the oldest makes room (fresh audio is
    /// worth more). Returns whether one was pushed out.
    fn push(&mut self, src: SocketAddr, data: &[u8], arrived: Instant) -> bool {
        let evicted = self.count == HELD_PER_LEG;
        if evicted {
            self.head = (self.head + 1) % HELD_PER_LEG;
            self.count -= 1;
        }
        let at = (self.head + self.count) % HELD_PER_LEG;
        match &mut self.packets[at] {
            Some(slot) => {
                slot.src = src;
                slot.arrived = arrived;
                slot.len = data.len();
                slot.data[..data.len()].copy_from_slice(data);
            }
            empty => {
                let mut packet = HeldPacket {
                    src,
                    arrived,
                    len: data.len(),
                    data: [0; HELD_PACKET_MAX],
                };
                packet.data[..data.len()].copy_from_slice(data);
                *empty = Some(packet);
            }
        }
        self.count += 1;
        evicted
    }

    fn pop(&mut self) -> Option<&HeldPacket> {
        if self.count == 0 {
            return None;
        }
        let at = self.head;
        self.head = (self.head + 1) % HELD_PER_LEG;
        self.count -= 1;
        self.packets[at].as_ref()
    }
}

impl std::fmt::Debug for HeldQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeldQueue({} packets)", self.count)
    }
}

#[derive(Debug)]
struct Leg {
    remote: Option<Remote>,
    /// Where this leg's peer really sends from, and so where its media
    /// goes.
    latch: Latch,
    held: Option<Box<HeldQueue>>,
    stats: LegStats,
    last_seq: Option<u16>,
    /// For jitter: previous (arrival in timestamp units, RTP timestamp).
    last_transit: Option<i64>,
    clock_rate: u32,
    /// Payload types rewritten on packets from this leg (a handful).
    pt_map: [Option<(u8, u8)>; 4],
    transcode: Option<Transcode>,
    /// DTMF converted on its way from this leg, when the legs carry it
    /// differently.
    dtmf: Option<DtmfConverter>,
    /// The digits this leg sends, noticed once each (`dtmf::heard`).
    heard: HeardDigits,
    /// The leg's SRTP contexts when it negotiated RTP/SAVP (boxed: made
    /// once per call, not per packet).
    crypto: Option<Box<LegCrypto>>,
}

impl Leg {
    fn new() -> Leg {
        Leg {
            remote: None,
            latch: Latch::default(),
            held: None,
            stats: LegStats::default(),
            last_seq: None,
            last_transit: None,
            clock_rate: 8000,
            pt_map: [None; 4],
            transcode: None,
            dtmf: None,
            heard: HeardDigits::default(),
            crypto: None,
        }
    }

    fn destination(&self) -> Option<SocketAddr> {
        self.remote.map(|r| self.latch.destination(r.signalled))
    }

    fn has_held(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.count > 0)
    }

    /// Loss and jitter of an RTP packet that arrived at `arrival` (in
    /// timestamp units).
    fn count_arrival(&mut self, h: &RtpHeader, arrival: i64) {
        if let Some(last) = self.last_seq {
            let gap = h.sequence.wrapping_sub(last);
            // Forward jumps below 3000 are loss; anything else is
            // reordering or a new stream, not counted.
            if (2..3000).contains(&gap) {
                self.stats.lost += u64::from(gap - 1);
            }
            if gap != 0 && gap < 0x8000 {
                self.last_seq = Some(h.sequence);
            }
        } else {
            self.last_seq = Some(h.sequence);
        }
        let transit = arrival - i64::from(h.timestamp);
        if let Some(prev) = self.last_transit {
            let d = (transit - prev).unsigned_abs().min(u64::from(u32::MAX)) as i64;
            let j = i64::from(self.stats.jitter);
            self.stats.jitter = (j + (d - j) / 16).clamp(0, i64::from(u32::MAX)) as u32;
        }
        self.last_transit = Some(transit);
    }
}

#[derive(Debug)]
pub struct MediaRelay {
    legs: [Leg; 2],
    sources: SourceRules,
    epoch: Instant,
    last_packet: Instant,
    timeout: Duration,
    /// On hold, silence is expected: the media timeout does not run.
    on_hold: bool,
}

impl MediaRelay {
    pub fn new(now: Instant, timeout: Duration, sources: SourceRules) -> MediaRelay {
        MediaRelay {
            legs: [Leg::new(), Leg::new()],
            sources,
            epoch: now,
            last_packet: now,
            timeout,
            on_hold: false,
        }
    }

    /// The far end of `side` as the latest offer or answer gives it:
    /// learning reopens, and a changed address drops the latch (the peer
    /// moved). Packets held for want of it become ready (`pop_held`).
    pub fn set_remote(&mut self, side: LegSide, remote: Remote) {
        let leg = &mut self.legs[side.index()];
        let moved = leg.remote.map(|r| r.signalled) != Some(remote.signalled);
        leg.latch.reopen(moved);
        leg.remote = Some(remote);
    }

    /// Whether any packet is held (for the media thread: look at
    /// `pop_held` after a command).
    pub fn has_held(&self) -> bool {
        self.legs.iter().any(Leg::has_held)
    }

    /// The oldest held packet that can now be relayed, copied into `buf`:
    /// (its leg, source, length, arrival). The caller hands it to
    /// `handle_packet` as if it had just arrived. Packets held longer than
    /// `HELD_FOR` by `now` are dropped on the way.
    pub fn pop_held(
        &mut self,
        buf: &mut [u8],
        now: Instant,
    ) -> Option<(LegSide, SocketAddr, usize, Instant)> {
        for side in [LegSide::Caller, LegSide::Callee] {
            let ready = self.legs[side.index()].remote.is_some()
                && self.legs[side.other().index()].destination().is_some();
            if !ready {
                continue;
            }
            let leg = &mut self.legs[side.index()];
            let Some(q) = leg.held.as_mut() else { continue };
            while let Some(p) = q.pop() {
                if now.saturating_duration_since(p.arrived) > HELD_FOR || p.len > buf.len() {
                    leg.stats.dropped_held += 1;
                    continue;
                }
                buf[..p.len].copy_from_slice(&p.data[..p.len]);
                return Some((side, p.src, p.len, p.arrived));
            }
        }
        None
    }

    /// Keeps a packet that arrived before it could be relayed.
    fn hold(
        &mut self,
        side: LegSide,
        src: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> PacketVerdict {
        let leg = &mut self.legs[side.index()];
        if packet.len() > HELD_PACKET_MAX {
            leg.stats.dropped_held += 1;
            return PacketVerdict::Drop(DropReason::NoDestination);
        }
        let q = leg.held.get_or_insert_with(HeldQueue::new);
        if q.push(src, packet, now) {
            leg.stats.dropped_held += 1;
        }
        leg.stats.held += 1;
        PacketVerdict::Drop(DropReason::Held)
    }

    /// SRTP on `side` with `keys` from the latest offer/answer, or plain
    /// RTP (None). A new key starts a new context (rollover counter and
    /// replay window from zero, as for a new SDES key, RFC 4568 §7.1.4);
    /// the other direction's context goes on (`LegCrypto::update`).
    pub fn set_srtp(&mut self, side: LegSide, keys: Option<&LegKeys>) {
        let leg = &mut self.legs[side.index()];
        match (leg.crypto.as_mut(), keys) {
            (Some(c), Some(k)) => c.update(k),
            (_, k) => leg.crypto = k.map(|k| Box::new(LegCrypto::new(k))),
        }
        leg.stats.srtp |= keys.is_some();
    }

    pub fn set_clock_rate(&mut self, side: LegSide, hz: u32) {
        self.legs[side.index()].clock_rate = hz.max(1);
    }

    pub fn set_hold(&mut self, on_hold: bool, now: Instant) {
        self.on_hold = on_hold;
        self.last_packet = now;
    }

    pub fn stats(&self, side: LegSide) -> LegStats {
        let (dtmf_rendered, dtmf_detected) = self.dtmf_counts(side);
        let leg = &self.legs[side.index()];
        let source = leg.latch.source();
        LegStats {
            dtmf_rendered,
            dtmf_detected,
            source: source.map(|s| s.0),
            source_learned: source.is_some_and(|s| s.1),
            ..leg.stats
        }
    }

    /// An RTCP packet arrived on `side`'s RTCP socket (RTP port + 1) from
    /// `src`: relayed to the other leg's RTCP port, without touching the
    /// RTP latch.
    pub fn handle_rtcp(
        &mut self,
        side: LegSide,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> PacketVerdict {
        let len = len.min(buf.len());
        let mode = self.sources.mode;
        let leg = &mut self.legs[side.index()];
        let admitted = leg
            .remote
            .is_some_and(|r| leg.latch.admits_rtcp(mode, r.signalled, src));
        if !admitted {
            leg.stats.dropped_foreign += 1;
            return PacketVerdict::Drop(DropReason::Foreign);
        }
        let len = match self.open(side, buf, len, true) {
            Ok(n) => n,
            Err(drop) => return drop,
        };
        let leg = &mut self.legs[side.index()];
        leg.stats.rtcp_in += 1;
        self.last_packet = now;
        let Some(to) = self.legs[side.other().index()].destination() else {
            return PacketVerdict::Drop(DropReason::NoDestination);
        };
        let len = match self.seal(side, buf, len, true) {
            Ok(n) => n,
            Err(drop) => return drop,
        };
        PacketVerdict::Forward {
            to: SocketAddr::new(to.ip(), to.port().wrapping_add(1)),
            from_side: side.other(),
            len,
        }
    }

    /// SRTP/SRTCP from `side`'s peer to plain (RFC 3711 §3.3, §3.4), when
    /// the leg has keys; a packet that does not authenticate is counted
    /// and dropped here, before anything learns from it.
    fn open(
        &mut self,
        side: LegSide,
        buf: &mut [u8],
        len: usize,
        rtcp: bool,
    ) -> Result<usize, PacketVerdict> {
        let leg = &mut self.legs[side.index()];
        let Some(c) = leg.crypto.as_mut() else {
            return Ok(len);
        };
        c.open(buf, len, rtcp).map_err(|_| {
            if rtcp {
                leg.stats.dropped_auth_rtcp += 1;
            } else {
                leg.stats.dropped_auth += 1;
            }
            PacketVerdict::Drop(DropReason::Unauthenticated)
        })
    }

    /// A packet from `side` protected for the other leg, when that leg has
    /// keys. Fails only when the buffer has no room for the trailer, or
    /// the key is spent (RFC 3711 §3.2.1).
    fn seal(
        &mut self,
        side: LegSide,
        buf: &mut [u8],
        len: usize,
        rtcp: bool,
    ) -> Result<usize, PacketVerdict> {
        let Some(c) = self.legs[side.other().index()].crypto.as_mut() else {
            return Ok(len);
        };
        c.seal(buf, len, rtcp).map_err(|_| {
            self.legs[side.index()].stats.dropped_malformed += 1;
            PacketVerdict::Drop(DropReason::Malformed)
        })
    }

    /// Payload-type translation between the legs: `(from, to)` pairs applied
    /// to packets leaving `side`'s peer towards the other leg (telephone-event
    /// renumbering; audio codecs when both are static G.711 of one law).
    pub fn set_payload_map(&mut self, side: LegSide, map: &[(u8, u8)]) {
        let leg = &mut self.legs[side.index()];
        leg.pt_map = [None; 4];
        for (slot, pair) in leg.pt_map.iter_mut().zip(map) {
            *slot = Some(*pair);
        }
    }

    /// Audio from `side` is translated to the other G.711 law (None: the
    /// legs agree and audio passes byte for byte).
    pub fn set_transcode(&mut self, side: LegSide, t: Option<Transcode>) {
        self.legs[side.index()].transcode = t;
    }

    /// How DTMF is converted on packets from `side` (an empty path: not
    /// at all). The state of a conversion under way is dropped.
    pub fn set_dtmf(&mut self, side: LegSide, path: DtmfPath) {
        let leg = &mut self.legs[side.index()];
        match leg.dtmf.as_mut() {
            // Kept for its numbering and the digits it is sending.
            Some(c) => c.set_path(path),
            None if !path.is_empty() => leg.dtmf = Some(DtmfConverter::new(path)),
            None => {}
        }
    }

    /// The telephone-event payload type `side` sends (from the latest
    /// offer/answer; None: it sends no RFC 4733 events): its events are
    /// noticed as digits (`take_digits`).
    pub fn set_events_in(&mut self, side: LegSide, pt: Option<u8>) {
        self.legs[side.index()].heard.set_events_pt(pt);
    }

    /// The digits `side` sent since the last call (RFC 4733 events, one per
    /// event, and tones the detector confirmed), as keypad symbols; None
    /// when there were none.
    pub fn take_digits(&mut self, side: LegSide) -> Option<String> {
        let heard = &mut self.legs[side.index()].heard;
        (!heard.is_empty()).then(|| heard.take())
    }

    /// Sends `digits` to leg `to` as `sink` says it takes them, on the
    /// stream relayed to it from the other leg (`dtmf::inject`), each
    /// `tone_ms` long with `gap_ms` between. That direction's converter is
    /// made if it had none. Returns how many digits were queued (fewer
    /// when too many are already waiting).
    pub fn send_digits(
        &mut self,
        to: LegSide,
        sink: DigitSink,
        digits: &Digits,
        tone_ms: u16,
        gap_ms: u16,
    ) -> usize {
        self.legs[to.other().index()]
            .dtmf
            .get_or_insert_with(|| DtmfConverter::new(DtmfPath::default()))
            .send_digits(sink, digits.as_slice(), tone_ms, gap_ms)
    }

    /// Digits still to be sent to leg `to`.
    pub fn digits_pending(&self, to: LegSide) -> usize {
        self.legs[to.other().index()]
            .dtmf
            .as_ref()
            .map_or(0, DtmfConverter::digits_pending)
    }

    /// Digits converted on packets from `side`: (rendered as tones,
    /// detected and sent as events).
    pub fn dtmf_counts(&self, side: LegSide) -> (u32, u32) {
        self.legs[side.index()]
            .dtmf
            .as_ref()
            .map_or((0, 0), |c| (c.digits_rendered(), c.digits_detected()))
    }

    /// The packet a conversion adds right after the one just forwarded from
    /// `side` (same destination), copied into `out` (at least
    /// `ADDED_PACKET_MAX` bytes); its length, 0 when there is none.
    pub fn take_added(&mut self, side: LegSide, out: &mut [u8]) -> usize {
        let n = self.legs[side.index()]
            .dtmf
            .as_mut()
            .map_or(0, |c| c.take_added(out));
        if n == 0 {
            return 0;
        }
        // It goes where the packet from `side` went: sealed for that leg
        // like the rest of its stream.
        self.seal(side, out, n, false).unwrap_or(0)
    }

    /// Rewrites the `len`-byte RTP packet from `side` (header `h`) in `buf`
    /// for the other leg (DTMF conversion, payload type, G.711 law);
    /// returns the length to send, None when nothing is.
    fn rewrite(
        &mut self,
        side: LegSide,
        h: &RtpHeader,
        buf: &mut [u8],
        len: usize,
    ) -> Option<usize> {
        let leg = &mut self.legs[side.index()];
        if let Some(conv) = leg.dtmf.as_mut() {
            let converted = conv.convert(h, buf);
            conv.drain_detected(&mut leg.heard);
            match converted {
                Converted::Absorb => return None,
                Converted::Forward(n) => {
                    conv.finish(h.sequence, &mut buf[..n]);
                    return Some(n);
                }
                Converted::Pass => {}
            }
        }
        let packet = &mut buf[..len];
        if let Some(t) = leg.transcode.filter(|t| t.from_pt == h.payload_type) {
            // One loop per law, so each is a plain table lookup per byte.
            let payload = &mut packet[h.payload_start..h.payload_end];
            match t.from {
                Law::Ulaw => payload.iter_mut().for_each(|b| *b = ulaw_to_alaw(*b)),
                Law::Alaw => payload.iter_mut().for_each(|b| *b = alaw_to_ulaw(*b)),
            }
            super::rtp::set_payload_type(packet, t.to_pt);
        } else if let Some((_, to)) = leg
            .pt_map
            .iter()
            .flatten()
            .find(|(from, _)| *from == h.payload_type)
        {
            super::rtp::set_payload_type(packet, *to);
        }
        if let Some(conv) = leg.dtmf.as_mut() {
            conv.finish(h.sequence, packet);
        }
        Some(len)
    }

    /// A packet of `len` bytes in `buf` arrived on `side`'s socket from
    /// `src`. When it is to be forwarded it is rewritten in `buf` for the
    /// other leg (which may change its length: the whole buffer is
    /// writable scratch space) and the verdict says how many bytes to send.
    pub fn handle_packet(
        &mut self,
        side: LegSide,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> PacketVerdict {
        let len = len.min(buf.len());
        let Some(remote) = self.legs[side.index()].remote else {
            return self.hold(side, src, &buf[..len], now);
        };
        let Some(to) = self.legs[side.other().index()].destination() else {
            return self.hold(side, src, &buf[..len], now);
        };
        let arrival = self.arrival_units(side, now);
        // RTCP multiplexed on the RTP port (RFC 5761) is SRTCP on an SRTP
        // leg. Opened before the latch sees it: only packets that pass
        // authentication are learned or latched from.
        let len = match self.open(side, buf, len, is_rtcp(&buf[..len])) {
            Ok(n) => n,
            Err(drop) => return drop,
        };
        let leg = &mut self.legs[side.index()];
        let packet = &buf[..len];
        // The RTP header, parsed once for learning, the counters and the
        // rewriting; None for RTCP multiplexed on the RTP port (RFC 5761).
        let header = if is_rtcp(packet) {
            None
        } else {
            match RtpHeader::parse(packet) {
                Ok(h) => Some(h),
                Err(_) => {
                    leg.stats.dropped_malformed += 1;
                    return PacketVerdict::Drop(DropReason::Malformed);
                }
            }
        };
        let facts = header.as_ref().map(|h| RtpFacts {
            sequence: h.sequence,
            payload_type: h.payload_type,
            ssrc: h.ssrc,
        });
        let decision = leg.latch.check(
            &self.sources,
            remote,
            Arrival {
                src,
                rtp: facts,
                now,
            },
        );
        if decision == Decision::Reject {
            leg.stats.dropped_foreign += 1;
            return PacketVerdict::Drop(DropReason::Foreign);
        }
        match &header {
            None => leg.stats.rtcp_in += 1,
            Some(h) => {
                leg.stats.packets_in += 1;
                leg.stats.bytes_in += len as u64;
                leg.count_arrival(h, arrival);
                leg.heard.on_packet(h, packet);
            }
        }
        self.last_packet = now;
        // RTCP passes untouched.
        let rtcp = header.is_none();
        let len = match header {
            None => len,
            Some(h) => match self.rewrite(side, &h, buf, len) {
                Some(n) => n,
                None => return PacketVerdict::Drop(DropReason::Absorbed),
            },
        };
        let len = match self.seal(side, buf, len, rtcp) {
            Ok(n) => n,
            Err(drop) => return drop,
        };
        PacketVerdict::Forward {
            to,
            from_side: side.other(),
            len,
        }
    }

    /// When the media timeout would fire, if it runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.on_hold).then_some(self.last_packet + self.timeout)
    }

    /// True once no packet came from either side for the timeout (and the
    /// call is not on hold): the call should end.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.poll_timeout().is_some_and(|at| now >= at)
    }

    fn arrival_units(&self, side: LegSide, now: Instant) -> i64 {
        // In f64: exact to the sample for months, and no 128-bit
        // division on every packet.
        let hz = f64::from(self.legs[side.index()].clock_rate);
        (now.saturating_duration_since(self.epoch).as_secs_f64() * hz) as i64
    }
}

/// A datagram read from one of a session's sockets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    pub side: LegSide,
    /// Read on the RTCP socket (RTP port + 1).
    pub rtcp: bool,
    pub src: SocketAddr,
    pub len: usize,
}

/// The relay's decision on one received packet (RTP, or RTCP on the RTCP
/// socket): the one place the media thread calls into `MediaRelay` for
/// packets, on the batched path and for released held packets alike. A
/// packet a conversion adds (an RFC 4733 event next to audio) is copied
/// into `added`, to go out right after the forwarded one; its length is the
/// second value (0: none).
pub(crate) fn decide(
    relay: &mut MediaRelay,
    p: Received,
    buf: &mut [u8],
    added: &mut [u8; ADDED_PACKET_MAX],
    now: Instant,
) -> (PacketVerdict, usize) {
    if p.rtcp {
        (relay.handle_rtcp(p.side, p.src, buf, p.len, now), 0)
    } else {
        let v = relay.handle_packet(p.side, p.src, buf, p.len, now);
        let extra = match v {
            PacketVerdict::Forward { .. } => relay.take_added(p.side, added),
            PacketVerdict::Drop(_) => 0,
        };
        (v, extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceMode;
    use crate::media::rtp::write_header;
    use LegSide::{Callee, Caller};

    mod srtp;

    /// The far ends' SDP addresses in `relay()`.
    const CALLER: &str = "198.51.100.7:20000";
    const CALLEE: &str = "10.0.0.21:30000";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn rtp(seq: u16, ts: u32) -> Vec<u8> {
        let mut p = vec![0u8; 172];
        write_header(&mut p, false, 0, seq, ts, 0x1111);
        p
    }

    /// Hands a copy of `p` to the relay as the engine would: in a
    /// packet-sized scratch buffer.
    fn handle(
        r: &mut MediaRelay,
        side: LegSide,
        src: SocketAddr,
        p: &[u8],
        now: Instant,
    ) -> PacketVerdict {
        let mut buf = [0u8; 2048];
        buf[..p.len()].copy_from_slice(p);
        r.handle_packet(side, src, &mut buf, p.len(), now)
    }

    /// A 172-byte `rtp(seq, ts)` from `src` on `side`'s socket at `now`.
    fn send(
        r: &mut MediaRelay,
        side: LegSide,
        src: &str,
        (seq, ts): (u16, u32),
        now: Instant,
    ) -> PacketVerdict {
        handle(r, side, addr(src), &rtp(seq, ts), now)
    }

    /// A 172-byte packet sent on to `to` from the socket of `from_side`.
    fn sent(to: &str, from_side: LegSide) -> PacketVerdict {
        PacketVerdict::Forward {
            to: addr(to),
            from_side,
            len: 172,
        }
    }

    /// Runs `p` through the relay from `side` and returns what leaves.
    fn forward(r: &mut MediaRelay, side: LegSide, p: &mut Vec<u8>) -> PacketVerdict {
        let src = r.legs[side.index()].remote.expect("remote").signalled;
        let mut buf = [0u8; 2048];
        buf[..p.len()].copy_from_slice(p);
        let v = r.handle_packet(side, src, &mut buf, p.len(), Instant::now());
        if let PacketVerdict::Forward { len, .. } = v {
            *p = buf[..len].to_vec();
        }
        v
    }

    /// The tests written before source learning: `strict` keeps what they
    /// check.
    fn relay(now: Instant) -> MediaRelay {
        relay_with(now, SourceMode::Strict)
    }

    fn relay_with(now: Instant, mode: SourceMode) -> MediaRelay {
        let rules = SourceRules {
            mode,
            ..SourceRules::default()
        };
        let mut r = MediaRelay::new(now, Duration::from_secs(30), rules);
        r.set_remote(Caller, Remote::at(addr(CALLER)));
        r.set_remote(Callee, Remote::at(addr(CALLEE)));
        r
    }

    /// A relay that knows only the caller's SDP address (no answer yet).
    fn unanswered(now: Instant) -> MediaRelay {
        let mut r = MediaRelay::new(now, Duration::from_secs(30), SourceRules::default());
        r.set_remote(Caller, Remote::at(addr(CALLER)));
        r
    }

    #[test]
    fn media_goes_to_the_signalled_address_until_the_peer_is_heard() {
        let t = Instant::now();
        let mut r = relay(t);
        // Caller → callee: the callee has not sent yet, so its SDP address.
        assert_eq!(
            send(&mut r, Caller, CALLER, (1, 160), t),
            sent(CALLEE, Callee)
        );
        // Nothing signalled for a leg yet: nowhere to send.
        let mut fresh = unanswered(t);
        assert_eq!(
            send(&mut fresh, Caller, CALLER, (1, 160), t),
            PacketVerdict::Drop(DropReason::Held)
        );
    }

    #[test]
    fn the_port_a_nat_chose_is_latched_but_only_from_the_signalled_ip() {
        let t = Instant::now();
        let mut r = relay(t);
        let nat = "10.0.0.21:41000";
        // The callee's packets come from another port (NAT): latched.
        assert_eq!(send(&mut r, Callee, nat, (1, 0), t), sent(CALLER, Caller));
        assert_eq!(send(&mut r, Caller, CALLER, (1, 0), t), sent(nat, Callee));
        // A foreign address is neither relayed nor latched.
        let foreign = "203.0.113.66:41000";
        assert_eq!(
            send(&mut r, Callee, foreign, (2, 160), t),
            PacketVerdict::Drop(DropReason::Foreign)
        );
        assert_eq!(send(&mut r, Caller, CALLER, (2, 160), t), sent(nat, Callee));
        assert_eq!(r.stats(Callee).dropped_foreign, 1);
        // Unless the session accepts any source.
        let mut any = relay_with(t, SourceMode::Any);
        let v = send(&mut any, Callee, foreign, (3, 320), t);
        assert!(matches!(v, PacketVerdict::Forward { .. }));
    }

    #[test]
    fn a_new_sdp_address_drops_the_latch() {
        let t = Instant::now();
        let mut r = relay(t);
        send(&mut r, Callee, "10.0.0.21:41000", (1, 0), t);
        r.set_remote(Callee, Remote::at(addr("10.0.0.22:30002")));
        assert_eq!(
            send(&mut r, Caller, CALLER, (1, 0), t),
            sent("10.0.0.22:30002", Callee)
        );
        assert_eq!(
            send(&mut r, Callee, "10.0.0.21:41000", (2, 160), t),
            PacketVerdict::Drop(DropReason::Foreign)
        );
    }

    #[test]
    fn loss_jitter_and_malformed_packets_are_counted() {
        let t = Instant::now();
        let mut r = relay(t);
        // 20 ms packets, sequence 1..=10 without 4 and 7, arriving on time.
        for seq in (1u16..=10).filter(|s| *s != 4 && *s != 7) {
            let at = t + Duration::from_millis(20 * u64::from(seq));
            send(&mut r, Caller, CALLER, (seq, 160 * u32::from(seq)), at);
        }
        let s = r.stats(Caller);
        assert_eq!((s.packets_in, s.lost, s.jitter), (8, 2, 0));
        // Late arrivals raise the jitter estimate.
        let late = t + Duration::from_millis(20 * 11 + 15);
        send(&mut r, Caller, CALLER, (11, 160 * 11), late);
        assert!(r.stats(Caller).jitter > 0);
        let src = addr(CALLER);
        assert_eq!(
            handle(&mut r, Caller, src, &[0x80, 0, 1], t),
            PacketVerdict::Drop(DropReason::Malformed)
        );
        assert_eq!(
            handle(&mut r, Caller, src, &[0x80, 200, 0, 6, 0, 0, 0, 1], t),
            PacketVerdict::Forward {
                to: addr(CALLEE),
                from_side: Callee,
                len: 8,
            }
        );
        assert_eq!(r.stats(Caller).rtcp_in, 1);
    }

    #[test]
    fn rtcp_goes_to_the_port_above_and_leaves_the_rtp_latch_alone() {
        let t = Instant::now();
        let mut r = relay(t);
        send(&mut r, Callee, "10.0.0.21:41000", (1, 0), t);
        assert_eq!(
            r.handle_rtcp(Callee, addr("10.0.0.21:41001"), &mut [0x80u8; 172], 172, t),
            sent("198.51.100.7:20001", Caller)
        );
        assert_eq!(
            send(&mut r, Caller, CALLER, (1, 0), t),
            sent("10.0.0.21:41000", Callee)
        );
        assert_eq!(
            r.handle_rtcp(
                Caller,
                addr("203.0.113.1:20001"),
                &mut [0x80u8; 172],
                172,
                t
            ),
            PacketVerdict::Drop(DropReason::Foreign)
        );
    }

    #[test]
    fn telephone_events_are_renumbered_between_legs() {
        let t = Instant::now();
        let mut r = relay(t);
        r.set_payload_map(Caller, &[(101, 96)]);
        let mut p = rtp(1, 0);
        crate::media::rtp::set_payload_type(&mut p, 101);
        forward(&mut r, Caller, &mut p);
        assert_eq!(RtpHeader::parse(&p).unwrap().payload_type, 96);
        let mut audio = rtp(2, 160);
        forward(&mut r, Caller, &mut audio);
        assert_eq!(
            RtpHeader::parse(&audio).unwrap().payload_type,
            0,
            "unmapped types pass unchanged"
        );
        forward(&mut r, Callee, &mut p);
        assert_eq!(
            RtpHeader::parse(&p).unwrap().payload_type,
            96,
            "maps are per direction"
        );
    }

    #[test]
    fn audio_is_translated_between_laws_in_place() {
        let t = Instant::now();
        let mut r = relay(t);
        r.set_transcode(
            Caller,
            Some(Transcode {
                from_pt: 0,
                from: Law::Ulaw,
                to_pt: 8,
            }),
        );
        let mut p = rtp(1, 0);
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let before = p.clone();
        forward(&mut r, Caller, &mut p);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(h.payload_type, 8);
        for (a, b) in before[12..].iter().zip(&p[12..]) {
            assert_eq!(*b, ulaw_to_alaw(*a));
        }
        assert_eq!(p[..1], before[..1]);
        assert_eq!(
            p[2..12],
            before[2..12],
            "sequence, timestamp, SSRC untouched"
        );
        // Telephone-events are not audio: untouched by the transcoder.
        let mut ev = rtp(2, 160);
        crate::media::rtp::set_payload_type(&mut ev, 101);
        let copy = ev.clone();
        forward(&mut r, Caller, &mut ev);
        assert_eq!(ev, copy);
    }

    #[test]
    fn silence_ends_the_call_unless_it_is_on_hold() {
        let t = Instant::now();
        let mut r = relay(t);
        send(&mut r, Caller, CALLER, (1, 0), t + Duration::from_secs(5));
        assert!(!r.timed_out(t + Duration::from_secs(34)));
        assert!(r.timed_out(t + Duration::from_secs(35)));
        r.set_hold(true, t + Duration::from_secs(35));
        assert_eq!(r.poll_timeout(), None);
        assert!(!r.timed_out(t + Duration::from_secs(500)));
        r.set_hold(false, t + Duration::from_secs(500));
        assert!(r.timed_out(t + Duration::from_secs(530)));
    }

    /// Hands every held packet that is ready back to the relay, as the
    /// media thread does after a command; returns the verdicts.
    fn release(r: &mut MediaRelay, now: Instant) -> Vec<(SocketAddr, PacketVerdict)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Some((side, src, len, arrived)) = r.pop_held(&mut buf, now) {
            assert!(arrived <= now);
            out.push((src, r.handle_packet(side, src, &mut buf, len, arrived)));
        }
        out
    }

    #[test]
    fn packets_before_the_answer_is_applied_are_held_then_relayed_in_order() {
        let t = Instant::now();
        let mut r = unanswered(t);
        // The callee sends as soon as its 200 leaves, before the gateway
        // has applied its answer: held, not dropped.
        for seq in 1..=3u16 {
            let at = t + Duration::from_millis(20 * u64::from(seq));
            assert_eq!(
                send(&mut r, Callee, CALLEE, (seq, 160 * u32::from(seq)), at),
                PacketVerdict::Drop(DropReason::Held)
            );
        }
        // So are the caller's packets: the callee has no address yet.
        assert_eq!(
            send(&mut r, Caller, CALLER, (1, 160), t),
            PacketVerdict::Drop(DropReason::Held)
        );
        assert!(r.has_held());
        assert!(release(&mut r, t).is_empty(), "nothing can go yet");
        r.set_remote(Callee, Remote::at(addr(CALLEE)));
        let out = release(&mut r, t + Duration::from_millis(70));
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], (addr(CALLER), sent(CALLEE, Callee)));
        for v in &out[1..] {
            assert_eq!(*v, (addr(CALLEE), sent(CALLER, Caller)));
        }
        assert!(!r.has_held());
        let s = r.stats(Callee);
        assert_eq!((s.held, s.dropped_held, s.packets_in), (3, 0, 3));
    }

    #[test]
    fn holding_keeps_the_newest_sixteen_for_half_a_second() {
        let t = Instant::now();
        let mut r = unanswered(t);
        for seq in 0..20u16 {
            let at = t + Duration::from_millis(20 * u64::from(seq));
            send(&mut r, Callee, CALLEE, (seq, 160 * u32::from(seq)), at);
        }
        r.set_remote(Callee, Remote::at(addr(CALLEE)));
        // At 0.8 s: packets 0..=3 were pushed out by newer ones, 4..=14
        // (arrived before 0.3 s) are too old; 15..=19 go.
        let mut buf = [0u8; 2048];
        let mut seqs = Vec::new();
        while let Some((_, _, len, _)) = r.pop_held(&mut buf, t + Duration::from_millis(800)) {
            seqs.push(RtpHeader::parse(&buf[..len]).expect("rtp").sequence);
        }
        assert_eq!(seqs, vec![15, 16, 17, 18, 19]);
        let s = r.stats(Callee);
        assert_eq!((s.held, s.dropped_held), (20, 15));
    }

    #[test]
    fn a_source_other_than_the_sdp_is_learned_and_every_packet_relayed() {
        let t = Instant::now();
        let mut r = relay_with(t, SourceMode::Learn);
        let real = "127.0.0.1:41000";
        for seq in 1..=5u16 {
            let at = t + Duration::from_millis(20 * u64::from(seq));
            assert_eq!(
                send(&mut r, Caller, real, (seq, 160 * u32::from(seq)), at),
                sent(CALLEE, Callee),
                "packet {seq}"
            );
        }
        // The callee's media now goes where the caller really is.
        assert_eq!(send(&mut r, Callee, CALLEE, (1, 0), t), sent(real, Caller));
        let s = r.stats(Caller);
        assert_eq!((s.source, s.source_learned), (Some(addr(real)), true));
        // A third source is refused and counted.
        assert_eq!(
            send(&mut r, Caller, "127.0.0.99:5000", (50, 0), t),
            PacketVerdict::Drop(DropReason::Foreign)
        );
        assert_eq!(r.stats(Caller).dropped_foreign, 1);
        // RTCP follows: from the learned host, not from the SDP's.
        assert!(matches!(
            r.handle_rtcp(Caller, addr("127.0.0.1:41001"), &mut [0x80u8; 80], 80, t),
            PacketVerdict::Forward { .. }
        ));
        assert_eq!(
            r.handle_rtcp(Caller, addr("198.51.100.7:20001"), &mut [0x80u8; 80], 80, t),
            PacketVerdict::Drop(DropReason::Foreign)
        );
    }

    /// Digits to the callee ride on the caller's packets, even where that
    /// direction had no DTMF conversion (and is transcoded): events at the
    /// callee's payload type in place of the audio, one stream; a new
    /// offer/answer in the middle neither drops them nor renumbers.
    #[test]
    fn digits_sent_to_a_leg_ride_on_the_other_legs_packets_across_a_new_answer() {
        use crate::media::dtmf::inject::{DigitSink, Digits};
        use crate::media::dtmf::rfc4733::TelephoneEvent;
        let t = Instant::now();
        let mut r = relay(t);
        let pcmu_to_pcma = Transcode {
            from_pt: 0,
            from: Law::Ulaw,
            to_pt: 8,
        };
        r.set_transcode(Caller, Some(pcmu_to_pcma));
        let sink = DigitSink {
            law: Law::Alaw,
            audio_pt: 8,
            events: Some(96),
            tones: false,
        };
        let digits = Digits::parse("4").unwrap();
        assert_eq!(r.send_digits(Callee, sink, &digits, 100, 70), 1);
        assert_eq!(r.digits_pending(Callee), 1);
        assert_eq!(r.digits_pending(Caller), 0);
        let mut out = Vec::new();
        for seq in 1..=10u16 {
            if seq == 3 {
                // A re-INVITE's answer: the same plan again.
                r.set_dtmf(Caller, DtmfPath::default());
            }
            let mut p = rtp(seq, 160 * u32::from(seq));
            assert!(matches!(
                forward(&mut r, Caller, &mut p),
                PacketVerdict::Forward { .. }
            ));
            out.push(RtpHeader::parse(&p).unwrap());
            let ev = TelephoneEvent::decode(&p[12..]).ok();
            if out.len() <= 7 {
                assert_eq!(out.last().unwrap().payload_type, 96, "packet {seq}");
                assert_eq!(ev.map(|e| e.event), Some(4));
            } else {
                assert_eq!(
                    out.last().unwrap().payload_type,
                    8,
                    "transcoded audio again"
                );
                assert_eq!(p.len(), 172);
            }
        }
        let seqs: Vec<u16> = out.iter().map(|h| h.sequence).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        assert!(out[0].marker && out[1..].iter().all(|h| !h.marker || h.payload_type == 8));
        assert_eq!(r.digits_pending(Callee), 0);
        // The callee's packets to the caller were never touched.
        let mut back = rtp(1, 0);
        let copy = back.clone();
        forward(&mut r, Callee, &mut back);
        assert_eq!(back, copy);
    }

    /// The packets of one RFC 4733 digit from `ssrc` at `pt`: five
    /// updates, then the end packet three times (RFC 4733 2.5.1.4), all at
    /// the event's timestamp `ts`.
    fn event_packets(pt: u8, code: u8, seq: u16, ts: u32) -> Vec<Vec<u8>> {
        use crate::media::dtmf::rfc4733::TelephoneEvent;
        let one = |seq: u16, duration: u16, end: bool| {
            let mut p = vec![0u8; 16];
            write_header(&mut p, seq == 0, pt, seq, ts, 0x2222);
            let block = TelephoneEvent {
                event: code,
                end,
                reserved: false,
                volume: 10,
                duration,
            };
            p[12..].copy_from_slice(&block.encode().unwrap());
            p
        };
        let mut out: Vec<Vec<u8>> = (0..5u16)
            .map(|i| one(seq + i, 160 * (i + 1), false))
            .collect();
        out.extend((0..3).map(|_| one(seq + 5, 960, true)));
        out
    }

    /// Both legs speak RFC 4733 (on their own numbers): every event
    /// packet is relayed as before, and each leg's digits are noticed once
    /// per event, not per packet or per repeated end packet; a leg whose
    /// telephone-event type is not known has no digits noticed.
    #[test]
    fn each_legs_telephone_events_are_noticed_once_per_event() {
        let t = Instant::now();
        let mut r = relay(t);
        r.set_payload_map(Caller, &[(101, 96)]);
        r.set_payload_map(Callee, &[(96, 101)]);
        r.set_events_in(Caller, Some(101));
        r.set_events_in(Callee, Some(96));
        let mut relayed = 0;
        for (i, code) in [1u8, 11, 11].into_iter().enumerate() {
            let i = i as u16;
            for mut p in event_packets(101, code, 10 + 6 * i, 800 * u32::from(i)) {
                assert!(matches!(
                    forward(&mut r, Caller, &mut p),
                    PacketVerdict::Forward { .. }
                ));
                assert_eq!(p[1] & 0x7f, 96, "renumbered as before");
                relayed += 1;
            }
        }
        assert_eq!(relayed, 24);
        for mut p in event_packets(96, 9, 500, 4000) {
            forward(&mut r, Callee, &mut p);
        }
        assert_eq!(r.take_digits(Caller).as_deref(), Some("1##"));
        assert_eq!(r.take_digits(Caller), None, "taken");
        assert_eq!(r.take_digits(Callee).as_deref(), Some("9"));
        // The caller's events on the callee's number are not its events.
        for mut p in event_packets(96, 5, 100, 9000) {
            forward(&mut r, Caller, &mut p);
        }
        assert_eq!(r.take_digits(Caller), None);
        r.set_events_in(Caller, None);
        for mut p in event_packets(101, 5, 200, 9800) {
            forward(&mut r, Caller, &mut p);
        }
        assert_eq!(r.take_digits(Caller), None, "no telephone-event type");
    }

    /// A leg without RFC 4733 whose tones the gateway detects for the
    /// other: the digit the detector confirmed is noticed once.
    #[test]
    fn a_tone_the_detector_confirms_is_noticed_once() {
        use crate::media::dtmf::convert::{AudioFormat, DetectPath};
        use crate::media::dtmf::{Digit, ToneGenerator};
        let t = Instant::now();
        let mut r = relay(t);
        r.set_dtmf(
            Caller,
            DtmfPath {
                render: None,
                detect: Some(DetectPath {
                    audio_in: AudioFormat {
                        law: Law::Ulaw,
                        payload_type: 0,
                    },
                    events_out: 101,
                    keep_audio: false,
                }),
            },
        );
        // 100 ms of silence, 7 for 120 ms, silence to 600 ms; then 7 again.
        let mut pcm = vec![0i16; 8 * 1200];
        ToneGenerator::digit(Digit::D7, -10.0, 120 * 8).fill(&mut pcm[800..]);
        ToneGenerator::digit(Digit::Star, -10.0, 120 * 8).fill(&mut pcm[8 * 700..]);
        for (i, chunk) in pcm.chunks(160).enumerate() {
            let mut p = rtp(i as u16, 160 * i as u32);
            Law::Ulaw.encode_slice(chunk, &mut p[12..172]);
            forward(&mut r, Caller, &mut p);
        }
        assert_eq!(r.take_digits(Caller).as_deref(), Some("7*"));
        assert_eq!(r.stats(Caller).dtmf_detected, 2);
        assert_eq!(r.take_digits(Callee), None);
    }
}
