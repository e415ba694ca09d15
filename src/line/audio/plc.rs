//! Packet-loss concealment for G.711 speech, after the idea of ITU-T G.711
//! Appendix I (not its code): a gap is filled by repeating the last pitch
//! period of what was played, faded out the longer the gap lasts, and the
//! first real samples after it are blended with the repetition so neither
//! edge clicks.
//!
//! * The period is the lag (5–15 ms, 66–200 Hz voice pitch) at which the
//!   last 20 ms best match themselves (normalised cross-correlation).
//! * The repeated cycle's last quarter is blended towards the samples one
//!   period earlier, whose natural successor is the cycle's first sample,
//!   so the cycle joins itself without a step.
//! * Full level for the first 10 ms, then a linear fade to silence at
//!   60 ms: a longer gap is not speech any more, and repeating one period
//!   for long sounds like a buzz.
//! * Recovery: the first 4 ms of real audio fade in over the continuing
//!   repetition.
//!
//! Sample-granular: the jitter buffer calls `good` and `conceal` on runs
//! of any length, since its 20 ms reads need not line up with packets.

/// Shortest and longest pitch period searched, in samples (200 Hz, 66 Hz).
const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
/// Samples matched against themselves one period back.
const MATCH: usize = 160;
/// History kept: the match window one longest period back, and more.
const HISTORY: usize = MAX_PITCH + MATCH + MAX_PITCH;
/// Samples of a gap played at full level (10 ms) and where the fade ends
/// (60 ms).
const FULL: usize = 80;
const SILENT: usize = 480;
/// Samples of real audio faded in over the repetition after a gap (4 ms).
const RECOVER: usize = 32;
/// Below this mean absolute level the history is silence, which is what
/// a gap in it becomes too.
const QUIET: i64 = 8;

#[derive(Clone, Debug)]
pub(super) struct Plc {
    /// The last `HISTORY` samples played, oldest first.
    history: [i16; HISTORY],
    /// Samples concealed in the current gap (0: not in a gap).
    erased: usize,
    period: usize,
    /// One period, its tail blended to join its head.
    cycle: [i16; MAX_PITCH],
    /// Position in `cycle` of the next sample.
    pos: usize,
    /// The gap is filled with silence (quiet history, or faded out).
    silent: bool,
}

impl Default for Plc {
    fn default() -> Self {
        Plc::new()
    }
}

impl Plc {
    pub(super) fn new() -> Plc {
        Plc {
            history: [0; HISTORY],
            erased: 0,
            period: MAX_PITCH,
            cycle: [0; MAX_PITCH],
            pos: 0,
            silent: true,
        }
    }

    /// Real samples about to be played: the first ones are blended with
    /// the repetition if they end a gap; all go into the history.
    pub(super) fn good(&mut self, samples: &mut [i16]) {
        if self.erased > 0 {
            if !self.silent {
                let n = samples.len().min(RECOVER);
                for (i, s) in samples[..n].iter_mut().enumerate() {
                    let synth = self.next_synth();
                    let w = (i + 1) as i32;
                    let mixed = (i32::from(synth) * (RECOVER as i32 - w) + i32::from(*s) * w)
                        / RECOVER as i32;
                    *s = clamp(mixed);
                }
            }
            self.erased = 0;
        }
        self.push_history(samples);
    }

    /// Fills `out` for samples that are missing; true when anything but
    /// silence was written.
    pub(super) fn conceal(&mut self, out: &mut [i16]) -> bool {
        if self.erased == 0 {
            self.start_gap();
        }
        if self.silent {
            out.fill(0);
            self.erased += out.len();
            return false;
        }
        let mut any = false;
        for s in out.iter_mut() {
            *s = self.next_synth();
            any |= *s != 0;
        }
        if self.erased >= SILENT {
            self.silent = true;
        }
        any
    }

    /// True while a gap is being filled with the repetition (not silence).
    #[cfg(test)]
    pub(super) fn concealing(&self) -> bool {
        self.erased > 0 && !self.silent
    }

    /// The next sample of the repetition at the gap's current fade.
    fn next_synth(&mut self) -> i16 {
        let raw = i32::from(self.cycle[self.pos]);
        self.pos = (self.pos + 1) % self.period;
        let e = self.erased;
        self.erased += 1;
        if e < FULL {
            return raw as i16;
        }
        if e >= SILENT {
            return 0;
        }
        let left = (SILENT - e) as i32;
        (raw * left / (SILENT - FULL) as i32) as i16
    }

    fn start_gap(&mut self) {
        let level: i64 = self.history[HISTORY - MATCH..]
            .iter()
            .map(|&s| i64::from(s).abs())
            .sum::<i64>()
            / MATCH as i64;
        self.silent = level < QUIET;
        if self.silent {
            return;
        }
        let p = self.pitch();
        self.period = p;
        self.pos = 0;
        let h = &self.history;
        let last = HISTORY - p;
        let earlier = HISTORY - 2 * p;
        let q = (p / 4).max(1);
        for i in 0..p {
            let now = i32::from(h[last + i]);
            self.cycle[i] = if i + q >= p {
                // Towards the sample one period back, which leads into
                // the cycle's head as the real signal did.
                let w = (i + q + 1 - p) as i32;
                let before = i32::from(h[earlier + i]);
                clamp((now * (q as i32 - w) + before * w) / q as i32)
            } else {
                now as i16
            };
        }
    }

    /// The lag in `MIN_PITCH..=MAX_PITCH` at which the last `MATCH`
    /// samples best match the samples that lag earlier.
    fn pitch(&self) -> usize {
        let h = &self.history;
        let tail = &h[HISTORY - MATCH..];
        let mut best = MAX_PITCH;
        let mut best_score = f32::MIN;
        for lag in MIN_PITCH..=MAX_PITCH {
            let back = &h[HISTORY - MATCH - lag..HISTORY - lag];
            let mut cross = 0f32;
            let mut energy = 0f32;
            for (&a, &b) in tail.iter().zip(back) {
                cross += f32::from(a) * f32::from(b);
                energy += f32::from(b) * f32::from(b);
            }
            if energy <= 0.0 {
                continue;
            }
            let score = cross / energy.sqrt();
            if score > best_score {
                best_score = score;
                best = lag;
            }
        }
        best
    }

    fn push_history(&mut self, samples: &[i16]) {
        if samples.len() >= HISTORY {
            self.history
                .copy_from_slice(&samples[samples.len() - HISTORY..]);
            return;
        }
        self.history.copy_within(samples.len().., 0);
        self.history[HISTORY - samples.len()..].copy_from_slice(samples);
    }
}

fn clamp(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, n: usize, from: usize) -> Vec<i16> {
        (from..from + n)
            .map(|i| (8000.0 * (std::f64::consts::TAU * hz * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn finds_the_period_of_a_voiced_sound() {
        let mut plc = Plc::new();
        // 100 Hz: 80 samples a period.
        plc.good(&mut sine(100.0, 400, 0));
        assert_eq!(plc.pitch(), 80);
        let mut plc = Plc::new();
        plc.good(&mut sine(160.0, 400, 0));
        assert_eq!(plc.pitch(), 50);
    }

    #[test]
    fn a_gap_in_a_tone_is_filled_seamlessly_and_fades() {
        let mut plc = Plc::new();
        plc.good(&mut sine(100.0, 400, 0));
        let mut gap = [0i16; 160];
        assert!(plc.conceal(&mut gap));
        // The repetition continues the sine it follows, sample for sample
        // for 10 ms, then fading.
        let want = sine(100.0, 160, 400);
        for (i, (g, w)) in gap.iter().zip(&want).enumerate() {
            if i < FULL {
                assert!((g - w).abs() < 200, "{i}: {g} vs {w}");
            } else {
                assert!(g.abs() <= w.abs() + 1, "{i}: {g} vs {w}");
                assert_eq!(g.signum(), w.signum(), "{i}: {g} vs {w}");
            }
        }
        // Then fades to silence by 60 ms.
        let mut rest = [0i16; 400];
        plc.conceal(&mut rest);
        assert!(rest[330..].iter().all(|&s| s == 0));
        assert!(!plc.conceal(&mut gap));
    }

    #[test]
    fn recovery_blends_into_the_real_signal() {
        let mut plc = Plc::new();
        plc.good(&mut sine(100.0, 400, 0));
        let mut gap = [0i16; 40];
        plc.conceal(&mut gap);
        // Real audio comes back with a phase jump: no step at the join.
        let mut back = sine(100.0, 80, 460);
        plc.good(&mut back);
        let step = (i32::from(back[0]) - i32::from(gap[39])).abs();
        assert!(step < 1000, "{step}");
        assert!(!plc.concealing());
    }

    #[test]
    fn silence_conceals_as_silence() {
        let mut plc = Plc::new();
        plc.good(&mut [3i16; 400]);
        let mut gap = [1i16; 160];
        assert!(!plc.conceal(&mut gap));
        assert!(gap.iter().all(|&s| s == 0));
    }
}
