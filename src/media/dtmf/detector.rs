//! In-band DTMF detector: 8 kHz 16-bit samples in, digit start/end events
//! out, the sample count as the only clock.
//!
//! Timing. Windows of 104 samples are analysed every 52 samples (see
//! `classify`). A window only hits when the pair fills it to within about
//! 13 samples, so:
//!
//! * a digit is confirmed after [`CONFIRM_HITS`] consecutive hits: a tone
//!   of 40 ms always holds four whole windows, whatever its alignment,
//!   while one of 28 ms or less never yields four hits;
//! * a digit ends after [`END_MISSES`] consecutive windows without it: a
//!   40 ms pause always spoils at least seven windows, a gap of 22 ms or
//!   less at most five. A gap that short between two equal digits is
//!   bridged (one event), which also covers Q.24's rule that interruptions
//!   of 10 ms must not split a digit. A different digit confirmed while
//!   one is active ends the first and starts the second at once.
//!
//! Edges. A window hits only when the tone is missing from at most about
//! half a quarter ([`EDGE`], 13 samples) at one end, and windows start a
//! hop (52 samples) apart, so the first hit window starts between 13
//! samples before the tone's onset and 39 after it, and the last one ends
//! between 39 before its offset and 13 after it. Events report the middle
//! of those spans, `first_start − EDGE` and `last_end + EDGE`: each edge
//! within about half a hop (26 samples, 3.3 ms, plus the beat between the
//! tones) of the real one, the length within 6 ms, where the bare window
//! edges made it up to 10 ms short (`detector_tests`: measured start
//! −30…+32, end −33…+31, length −46…+42 samples). An RFC 4733 event made
//! from the digit gets the tone's length, not the detector's latency.

use super::classify::{Classifier, ToneVerdict, Window, HOP, QUARTER, RATE, WINDOW};
use super::digit::{Digit, HIGH_HZ, LOW_HZ};
use super::goertzel::{run_bank, Bin, Goertzel};

/// Consecutive hit windows that confirm a digit.
pub const CONFIRM_HITS: u32 = 4;
/// Consecutive windows without the digit that end it.
pub const END_MISSES: u32 = 6;
/// Samples by which a hit window's edge overlaps silence at most (half a
/// quarter: see `classify::MIN_STEADINESS`); the edge estimates are the
/// first hit window's start minus this and the last one's end plus this.
pub const EDGE: u64 = (QUARTER / 2) as u64;

/// A digit seen in the signal. Emitted twice per digit: once when it is
/// confirmed (`end_sample: None`) and once when it stops, with the same
/// `start_sample` so the two can be paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfEvent {
    pub digit: Digit,
    /// Index (from the first sample pushed) where the tone began, as
    /// estimated from the first hit window.
    pub start_sample: u64,
    /// Index just after the tone ended, as estimated from the last hit
    /// window; `None` while it lasts.
    pub end_sample: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Active {
    digit: Digit,
    start: u64,
    last_hit_end: u64,
    misses: u32,
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    digit: Digit,
    hits: u32,
    first_start: u64,
}

/// Sans-IO in-band DTMF detector; one per direction of a call.
#[derive(Clone, Debug)]
pub struct DtmfDetector {
    // First half: the previous hop; second half: the hop being filled.
    window: [f32; WINDOW],
    fill: usize,
    // Samples consumed so far, i.e. the index of the next sample.
    clock: u64,
    // Half-window DFTs at the eight nominal frequencies: joining two
    // consecutive halves gives the window's DFT, so each sample goes
    // through the eight filters once instead of twice.
    half_low: [Goertzel; 4],
    half_high: [Goertzel; 4],
    // e^{-jω·HOP} per frequency: moves the second half's phase reference
    // to the window start.
    shift_low: [Bin; 4],
    shift_high: [Bin; 4],
    prev_low: [Bin; 4],
    prev_high: [Bin; 4],
    prev_quarters: [f32; 2],
    have_prev: bool,
    classifier: Classifier,
    active: Option<Active>,
    candidate: Option<Candidate>,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        DtmfDetector::new()
    }
}

impl DtmfDetector {
    pub fn new() -> DtmfDetector {
        let shift = |f: f32| Bin::rotation(std::f32::consts::TAU * f / RATE * HOP as f32);
        DtmfDetector {
            window: [0.0; WINDOW],
            fill: 0,
            clock: 0,
            half_low: LOW_HZ.map(|f| Goertzel::new(f, RATE, HOP)),
            half_high: HIGH_HZ.map(|f| Goertzel::new(f, RATE, HOP)),
            shift_low: LOW_HZ.map(shift),
            shift_high: HIGH_HZ.map(shift),
            prev_low: [Bin::ZERO; 4],
            prev_high: [Bin::ZERO; 4],
            prev_quarters: [0.0; 2],
            have_prev: false,
            classifier: Classifier::new(),
            active: None,
            candidate: None,
        }
    }

    /// Samples consumed so far.
    pub fn samples_seen(&self) -> u64 {
        self.clock
    }

    /// The digit currently sounding, if one is confirmed.
    pub fn active(&self) -> Option<Digit> {
        self.active.map(|a| a.digit)
    }

    /// How far the confirmed digit is known to sound so far: the end it
    /// would get if it stopped now. It only grows, up to the digit's
    /// `end_sample`, so a sender reporting the duration while the end is
    /// unconfirmed never reports more than the final one.
    pub fn heard_until(&self) -> Option<u64> {
        self.active.map(|a| a.last_hit_end + EDGE)
    }

    /// Feeds samples; calls `out` for every digit start and end they
    /// complete. Any slice length works: state carries across calls.
    pub fn push(&mut self, samples: &[i16], out: &mut impl FnMut(DtmfEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (HOP - self.fill).min(rest.len());
            let dst = &mut self.window[HOP + self.fill..HOP + self.fill + take];
            for (d, &s) in dst.iter_mut().zip(&rest[..take]) {
                *d = f32::from(s);
            }
            self.fill += take;
            self.clock += take as u64;
            rest = &rest[take..];
            if self.fill == HOP {
                self.end_of_hop(out);
                self.fill = 0;
            }
        }
    }

    fn end_of_hop(&mut self, out: &mut impl FnMut(DtmfEvent)) {
        let half = &self.window[HOP..];
        let cur_low = run_bank(&self.half_low, half);
        let cur_high = run_bank(&self.half_high, half);
        let quarters = [energy(&half[..QUARTER]), energy(&half[QUARTER..])];
        if self.have_prev {
            let join = |a: Bin, b: Bin, s: Bin| a + b * s;
            let mut low = [Bin::ZERO; 4];
            let mut high = [Bin::ZERO; 4];
            for i in 0..4 {
                low[i] = join(self.prev_low[i], cur_low[i], self.shift_low[i]);
                high[i] = join(self.prev_high[i], cur_high[i], self.shift_high[i]);
            }
            let verdict = self.classifier.classify(&Window {
                samples: &self.window,
                low,
                high,
                quarter_energy: [
                    self.prev_quarters[0],
                    self.prev_quarters[1],
                    quarters[0],
                    quarters[1],
                ],
            });
            let hit = match verdict {
                ToneVerdict::Hit(d) => Some(d),
                _ => None,
            };
            self.track(hit, self.clock - WINDOW as u64, self.clock, out);
        }
        self.prev_low = cur_low;
        self.prev_high = cur_high;
        self.prev_quarters = quarters;
        self.have_prev = true;
        self.window.copy_within(HOP.., 0);
    }

    /// The time rules: confirmation, bridging and ending.
    fn track(&mut self, hit: Option<Digit>, start: u64, end: u64, out: &mut impl FnMut(DtmfEvent)) {
        self.candidate = match (hit, self.candidate) {
            (Some(d), Some(c)) if c.digit == d => Some(Candidate {
                hits: c.hits.saturating_add(1),
                ..c
            }),
            (Some(d), _) => Some(Candidate {
                digit: d,
                hits: 1,
                first_start: start,
            }),
            (None, _) => None,
        };
        if let Some(a) = &mut self.active {
            if hit == Some(a.digit) {
                a.misses = 0;
                a.last_hit_end = end;
            } else {
                a.misses += 1;
            }
        }
        let confirmed = self
            .candidate
            .filter(|c| c.hits >= CONFIRM_HITS && Some(c.digit) != self.active());
        if let Some(a) = self.active {
            if a.misses >= END_MISSES || confirmed.is_some() {
                out(DtmfEvent {
                    digit: a.digit,
                    start_sample: a.start.saturating_sub(EDGE),
                    end_sample: Some(a.last_hit_end + EDGE),
                });
                self.active = None;
            }
        }
        if let Some(c) = confirmed {
            self.active = Some(Active {
                digit: c.digit,
                start: c.first_start,
                last_hit_end: end,
                misses: 0,
            });
            out(DtmfEvent {
                digit: c.digit,
                start_sample: c.first_start.saturating_sub(EDGE),
                end_sample: None,
            });
        }
    }
}

/// Every event a new detector reports in a whole recording, fed in
/// 160-sample (20 ms) frames as the relay feeds it: for checks on
/// recordings (the detector's and the talk-off tests). The relay pushes
/// its frames itself, with no vector to fill.
pub fn detect_all(samples: &[i16]) -> Vec<DtmfEvent> {
    let mut det = DtmfDetector::new();
    let mut events = Vec::new();
    for frame in samples.chunks(160) {
        det.push(frame, &mut |e| events.push(e));
    }
    events
}

fn energy(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum()
}
