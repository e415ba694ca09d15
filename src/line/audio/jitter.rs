//! The far end's audio between the network and the line's playback: an
//! adaptive jitter buffer in fixed room, with loss concealment.
//!
//! Samples, not packets, are buffered: each packet is decoded into a ring
//! indexed by RTP timestamp (4096 samples, 512 ms), so reordering, packets
//! of any length and reads that do not line up with packets need nothing
//! more, and a missing sample is one whose mark is clear. Playout reads 160
//! samples at the playout timestamp; runs of missing samples are concealed
//! (`plc.rs`), or are silence when there is nothing to conceal.
//!
//! Delay. Each packet's relative transit (arrival on our clock, in
//! samples, minus its timestamp) goes into a window of the last 128
//! packets (about 2.5 s). The fastest of them is the path's base; the
//! spread up to the slowest is the jitter to absorb. The target delay is
//! that spread plus one frame (a 20 ms read needs its last sample as much
//! as its first, and packets need not line up with reads), kept within
//! [`JitterSettings`]. The playout offset (our clock minus the playout
//! timestamp) is steered to between base + target and a frame more (reads
//! come every 20 ms at any phase to the arrivals): by 5 % (8 samples a
//! frame, stretched or compressed) when it is outside, give or take 5 ms
//! of the playout clock's wobble, by a whole concealed frame when it is
//! short by more than a frame (the buffer has just run dry, so the
//! repetition is what would play anyway). A spike
//! raises the target at once; it leaves the window 128 packets later and
//! the delay comes down again. The RFC 3550 §A.8 interarrival jitter is
//! kept for the stats.
//!
//! Streams. A new SSRC (the far end restarted, or a transfer behind it)
//! starts over: the old one's stragglers are dropped. Sequence numbers
//! follow RFC 3550 §A.1: a jump of more than 3000 ahead or 100 behind is
//! believed only when the next packet continues it. A timestamp that jumps
//! (the transit moves by a second or more), a talkspurt's first packet
//! (marker bit, RFC 3551 §4.1) when nothing is buffered, and a packet too
//! far ahead to fit all resynchronise the playout point to the target.
//! Whatever happens, no more than `max` of audio waits in the buffer.

use std::time::{Duration, Instant};

use super::plc::Plc;
use super::{Frame, FRAME_SAMPLES};
use crate::media::g711::Law;

/// How much delay the jitter buffer may add: `min` on a clean network,
/// up to `max` under jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitterSettings {
    pub min: Duration,
    pub max: Duration,
}

impl Default for JitterSettings {
    fn default() -> Self {
        JitterSettings {
            min: Duration::from_millis(20),
            max: Duration::from_millis(200),
        }
    }
}

/// Largest `max` the buffer's fixed room allows.
pub const MAX_DELAY: Duration = Duration::from_millis(300);
/// Longest packet taken, in samples (120 ms of G.711).
pub const MAX_PACKET: usize = 960;

const RATE: u128 = 8000;
const CAPACITY: usize = 4096;
const MASK: u32 = CAPACITY as u32 - 1;
const FRAME: i64 = FRAME_SAMPLES as i64;
/// Packets whose transits make the window.
const WINDOW: usize = 128;
/// How far the playout offset may fall short of the wanted one (5 ms:
/// the playout clock's own wobble) or exceed it (a frame more: reads come
/// every 20 ms at whatever phase to the packets' arrivals) before it is
/// steered.
const SHORT_BY: i64 = 40;
const OVER_BY: i64 = FRAME;
/// Samples stretched or compressed per frame while steering (5 %).
const STEP: usize = 8;
/// A transit that moves this much (1 s) means the timestamps jumped.
const CLOCK_JUMP: i64 = 8000;
/// RFC 3550 §A.1's bounds for believing a sequence number at once.
const MAX_DROPOUT: i16 = 3000;
const MAX_MISORDER: i16 = 100;

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inserted {
    Buffered,
    /// Its samples' time to play had passed.
    Late,
    Duplicate,
    /// From a source already replaced by a newer one.
    OldSource,
    /// A sequence number far off, not (yet) continued by the next packet.
    OutOfSequence,
    /// Empty, or longer than [`MAX_PACKET`].
    BadLength,
}

/// What the buffer has seen and done since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets taken in (late ones included, duplicates not).
    pub received: u64,
    pub late: u64,
    pub duplicate: u64,
    /// Expected minus received, RFC 3550 §6.4.1 (all sources together).
    pub lost: u64,
    /// Frames played with concealed samples in them.
    pub concealed: u64,
    /// Playout point moved to the target at once (stream start, new
    /// source, timestamp jump, talkspurt, overflow).
    pub resyncs: u64,
    /// RFC 3550 §A.8 interarrival jitter.
    pub jitter: Duration,
    /// The delay the buffer steers to.
    pub target: Duration,
    /// Audio buffered ahead of the playout point at the last playout.
    pub depth: Duration,
}

pub(super) struct JitterBuffer {
    min: i64,
    max: i64,
    law: Law,
    epoch: Instant,
    samples: [i16; CAPACITY],
    present: [bool; CAPACITY],
    plc: Plc,
    ssrc: Option<u32>,
    old_ssrc: Option<u32>,
    /// A stream is on: the fields below mean something.
    started: bool,
    synced: bool,
    // Sequence numbers, extended past their wrap.
    base_seq: i64,
    highest_seq: i64,
    /// Bit n: highest_seq − n was received (duplicates).
    seen: u64,
    bad_seq: Option<u16>,
    // Timestamps, extended past their wrap (`ext as u32` is the timestamp).
    last_ts: u32,
    last_ext: i64,
    play_ext: i64,
    newest_end: i64,
    transits: [i64; WINDOW],
    transit_len: usize,
    transit_pos: usize,
    last_transit: Option<i64>,
    /// RFC 3550 §A.8 estimate, in samples, scaled by 16.
    jitter16: i64,
    target: i64,
    received_stream: u64,
    lost_before: u64,
    stats: JitterStats,
}

impl JitterBuffer {
    pub(super) fn new(settings: JitterSettings, law: Law, now: Instant) -> JitterBuffer {
        let max = to_samples(settings.max.min(MAX_DELAY)).max(FRAME);
        let min = to_samples(settings.min).clamp(0, max);
        JitterBuffer {
            min,
            max,
            law,
            epoch: now,
            samples: [0; CAPACITY],
            present: [false; CAPACITY],
            plc: Plc::new(),
            ssrc: None,
            old_ssrc: None,
            started: false,
            synced: false,
            base_seq: 0,
            highest_seq: 0,
            seen: 0,
            bad_seq: None,
            last_ts: 0,
            last_ext: 0,
            play_ext: 0,
            newest_end: 0,
            transits: [0; WINDOW],
            transit_len: 0,
            transit_pos: 0,
            last_transit: None,
            jitter16: 0,
            target: FRAME.clamp(min, max),
            received_stream: 0,
            lost_before: 0,
            stats: JitterStats::default(),
        }
    }

    pub(super) fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.lost = self.lost_before + self.lost_in_stream();
        s.jitter = from_samples(self.jitter16 / 16);
        s.target = from_samples(self.target);
        s
    }

    fn lost_in_stream(&self) -> u64 {
        if !self.started {
            return 0;
        }
        let expected = (self.highest_seq - self.base_seq + 1).max(0) as u64;
        expected.saturating_sub(self.received_stream)
    }

    /// Our clock in samples since the buffer was made.
    fn clock(&self, now: Instant) -> i64 {
        let ns = now.saturating_duration_since(self.epoch).as_nanos();
        i64::try_from(ns * RATE / 1_000_000_000).unwrap_or(i64::MAX)
    }

    /// Takes one audio packet's payload (codes in the buffer's law).
    pub(super) fn insert(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: &[u8],
        now: Instant,
    ) -> Inserted {
        let len = payload.len();
        if len == 0 || len > MAX_PACKET {
            return Inserted::BadLength;
        }
        if self.ssrc != Some(ssrc) {
            if self.old_ssrc == Some(ssrc) {
                return Inserted::OldSource;
            }
            if self.ssrc.is_some() {
                self.old_ssrc = self.ssrc;
                self.lost_before += self.lost_in_stream();
                self.started = false;
            }
            self.ssrc = Some(ssrc);
        }
        let arrival = self.clock(now);
        if !self.started {
            self.start_stream(seq, ts);
        } else {
            match self.sequence(seq) {
                Ok(()) => {}
                Err(e) => return e,
            }
        }
        self.received_stream += 1;
        self.stats.received += 1;

        let d = i64::from(ts.wrapping_sub(self.last_ts) as i32);
        let ext = self.last_ext + d;
        if d > 0 {
            self.last_ts = ts;
            self.last_ext = ext;
        }
        let transit = arrival - ext;
        let mut jumped = false;
        if let Some(last) = self.last_transit {
            let moved = (transit - last).abs();
            if moved >= CLOCK_JUMP {
                jumped = true;
                self.transit_len = 0;
                self.transit_pos = 0;
            } else {
                // RFC 3550 §A.8: J += (|D| − J) / 16, kept scaled by 16.
                self.jitter16 += moved - (self.jitter16 + 8) / 16;
            }
        }
        self.last_transit = Some(transit);
        self.record_transit(transit);

        let end = ext + len as i64;
        let idle = self.newest_end <= self.play_ext;
        if !self.synced || jumped || (marker && idle) || end - self.play_ext > CAPACITY as i64 {
            self.resync(arrival);
        }
        if end <= self.play_ext {
            self.stats.late += 1;
            return Inserted::Late;
        }
        let from = (self.play_ext - ext).max(0) as usize;
        for (i, &code) in payload.iter().enumerate().skip(from) {
            let idx = (ext as u32).wrapping_add(i as u32) & MASK;
            self.samples[idx as usize] = self.law.decode(code);
            self.present[idx as usize] = true;
        }
        self.newest_end = self.newest_end.max(end);
        // Never more than `max` waiting (plus the packet being read).
        if self.newest_end - self.play_ext > self.max + FRAME {
            self.skip_to(self.newest_end - self.max);
            self.stats.resyncs += 1;
        }
        Inserted::Buffered
    }

    /// A packet of the stream that carries no audio (a telephone-event):
    /// it used a sequence number, which is then neither lost nor a gap.
    pub(super) fn note_sequence(&mut self, ssrc: u32, seq: u16) {
        if self.started && self.ssrc == Some(ssrc) && self.sequence(seq).is_ok() {
            self.received_stream += 1;
        }
    }

    fn start_stream(&mut self, seq: u16, ts: u32) {
        self.started = true;
        self.synced = false;
        self.base_seq = i64::from(seq);
        self.highest_seq = i64::from(seq);
        self.seen = 0;
        self.bad_seq = None;
        self.received_stream = 0;
        self.last_ts = ts;
        self.last_ext = i64::from(ts);
        self.transit_len = 0;
        self.transit_pos = 0;
        self.last_transit = None;
    }

    /// RFC 3550 §A.1, with a bit mask of the last 64 for duplicates.
    fn sequence(&mut self, seq: u16) -> Result<(), Inserted> {
        let highest = self.highest_seq as u16;
        let d = seq.wrapping_sub(highest) as i16;
        if d > 0 && d < MAX_DROPOUT {
            self.highest_seq += i64::from(d);
            self.seen = if d >= 64 { 0 } else { self.seen << d };
            self.seen |= 1;
            self.bad_seq = None;
            return Ok(());
        }
        if d <= 0 && d > -MAX_MISORDER {
            let back = u32::from(d.unsigned_abs());
            if back < 64 {
                if self.seen & (1 << back) != 0 {
                    self.stats.duplicate += 1;
                    return Err(Inserted::Duplicate);
                }
                self.seen |= 1 << back;
            }
            return Ok(());
        }
        // Far off: the sender restarted its numbering if the next packet
        // follows this one.
        if self.bad_seq == Some(seq) {
            self.lost_before += self.lost_in_stream();
            self.base_seq = i64::from(seq);
            self.highest_seq = i64::from(seq);
            self.received_stream = 0;
            self.seen = 1;
            self.bad_seq = None;
            return Ok(());
        }
        self.bad_seq = Some(seq.wrapping_add(1));
        Err(Inserted::OutOfSequence)
    }

    fn record_transit(&mut self, transit: i64) {
        self.transits[self.transit_pos] = transit;
        self.transit_pos = (self.transit_pos + 1) % WINDOW;
        self.transit_len = (self.transit_len + 1).min(WINDOW);
        let window = &self.transits[..self.transit_len];
        let (lo, hi) = window
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        self.target = (hi - lo + FRAME).clamp(self.min, self.max);
    }

    /// The playout offset to steer to: the path's base plus the target.
    fn wanted_offset(&self) -> Option<i64> {
        let window = &self.transits[..self.transit_len];
        window.iter().min().map(|base| base + self.target)
    }

    fn resync(&mut self, arrival: i64) {
        if let Some(want) = self.wanted_offset() {
            self.skip_to(arrival - want);
            self.newest_end = self.newest_end.max(self.play_ext);
            self.synced = true;
            self.stats.resyncs += 1;
        }
    }

    /// Moves the playout point, forgetting what lies between.
    fn skip_to(&mut self, play_ext: i64) {
        let gap = (play_ext - self.play_ext).unsigned_abs();
        if play_ext < self.play_ext || gap >= CAPACITY as u64 {
            self.present.fill(false);
        } else {
            for i in 0..gap as u32 {
                let idx = (self.play_ext as u32).wrapping_add(i) & MASK;
                self.present[idx as usize] = false;
            }
        }
        self.play_ext = play_ext;
    }

    /// The next 20 ms for playback.
    pub(super) fn playout(&mut self, now: Instant, out: &mut Frame) {
        if !self.synced {
            out.fill(0);
            self.stats.depth = Duration::ZERO;
            return;
        }
        let offset = self.clock(now) - self.play_ext;
        let error = self.wanted_offset().map_or(0, |w| w - offset);
        let concealed = if error > FRAME + SHORT_BY {
            // Short of a whole frame: the buffer ran dry (a late packet,
            // a spike); one frame of concealment buys the time without
            // consuming anything.
            self.plc.conceal(out)
        } else {
            let take = match error {
                e if e > SHORT_BY => FRAME_SAMPLES - STEP,
                e if e < -OVER_BY => FRAME_SAMPLES + STEP,
                _ => FRAME_SAMPLES,
            };
            let mut scratch = [0i16; FRAME_SAMPLES + STEP];
            let concealed = self.read(&mut scratch[..take]);
            resample(&scratch[..take], out);
            concealed
        };
        if concealed {
            self.stats.concealed += 1;
        }
        self.stats.depth = from_samples((self.newest_end - self.play_ext).max(0));
    }

    /// Reads `into.len()` samples from the playout point on, concealing
    /// the missing ones; true when any concealment was not silence.
    fn read(&mut self, into: &mut [i16]) -> bool {
        let at = self.play_ext as u32;
        let idx = |i: usize| (at.wrapping_add(i as u32) & MASK) as usize;
        let mut concealed = false;
        let mut i = 0;
        while i < into.len() {
            let here = self.present[idx(i)];
            let mut j = i;
            while j < into.len() && self.present[idx(j)] == here {
                if here {
                    into[j] = self.samples[idx(j)];
                    self.present[idx(j)] = false;
                }
                j += 1;
            }
            if here {
                self.plc.good(&mut into[i..j]);
            } else {
                concealed |= self.plc.conceal(&mut into[i..j]);
            }
            i = j;
        }
        self.play_ext += into.len() as i64;
        concealed
    }
}

/// Linear interpolation of `input` onto `out`'s length: the time-scale
/// step of steering (±5 %, a small pitch change for a moment).
fn resample(input: &[i16], out: &mut [i16]) {
    if input.len() == out.len() {
        out.copy_from_slice(input);
        return;
    }
    let n_in = input.len();
    let n_out = out.len();
    for (k, o) in out.iter_mut().enumerate() {
        // Position k·n_in/n_out in 1/n_out steps.
        let pos = k * n_in;
        let i = pos / n_out;
        let frac = (pos % n_out) as i32;
        let a = i32::from(input[i.min(n_in - 1)]);
        let b = i32::from(input[(i + 1).min(n_in - 1)]);
        *o = (a + (b - a) * frac / n_out as i32) as i16;
    }
}

fn to_samples(d: Duration) -> i64 {
    i64::try_from(d.as_nanos() * RATE / 1_000_000_000).unwrap_or(i64::MAX)
}

fn from_samples(s: i64) -> Duration {
    Duration::from_nanos(s.max(0) as u64 * 1_000_000_000 / RATE as u64)
}
