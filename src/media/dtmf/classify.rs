//! The decision on one analysis window: does it hold exactly one valid DTMF
//! pair, steady, on frequency, within the twist and level limits and
//! clean enough not to be speech or music? Time (confirmation over several
//! windows, gaps) is the detector's business, not this file's.
//!
//! Method. The window is 104 samples (13 ms); the DFT bin spacing is
//! therefore 8000/104 = 76.9 Hz. The plain (rectangular) DFT at the eight
//! nominal frequencies picks the strongest row and column. For those two,
//! four more bins at ±1 and ±2 spacings give, by `H(k) = ½R(k) − ¼R(k−1) −
//! ¼R(k+1)`, the Hann-windowed bins at −1, 0, +1. Hann is used for the
//! measurement because its sidelobes 3.5 bins away (941 Hz vs 1209 Hz, the
//! closest row/column pair) are 42 dB down, where the rectangular window's
//! are 21 dB down: at 8 dB twist the stronger tone would otherwise bend the
//! weaker one's frequency estimate by more than the 1 % margin there is
//! between the accept and reject tolerances. With Hann the ratio of the two
//! largest bins gives the frequency offset in closed form,
//! `δ = (2α − 1)/(α + 1)` with `α = |H(±1)|/|H(0)|`, and the amplitude
//! follows from the known Hann response at δ.

use super::digit::{Digit, HIGH_HZ, LOW_HZ};
use super::goertzel::{run_bank, Bin, Goertzel};
use super::tone::peak_for_dbm0;

/// Samples per analysis window.
pub const WINDOW: usize = 104;
/// Samples between consecutive windows (they overlap by half).
pub const HOP: usize = WINDOW / 2;
/// Samples per quarter window, the unit of the steadiness test.
pub const QUARTER: usize = WINDOW / 4;
/// Analysis sample rate.
pub const RATE: f32 = 8000.0;
/// DFT bin spacing of the window, Hz.
pub const BIN_HZ: f32 = RATE / WINDOW as f32;

/// Largest accepted frequency error of each tone, as a fraction. Q.24
/// requires operation at ±1.5 % and non-operation at ±3.5 %; the midpoint
/// leaves the same 1 % margin for estimation error on both sides.
pub const FREQ_TOLERANCE: f32 = 0.025;

/// Accepted twist, `level(high) − level(low)` in dB. Q.24 (the issue):
/// operate from −8 dB to +4 dB. The limits sit 1 dB outside so that the
/// amplitude estimate's error (largest with both tones 1.5 % off) never
/// turns an in-limit pair down; pairs at −10 dB and +6 dB are rejected.
pub const TWIST_MAX_DB: f32 = 5.0;
pub const TWIST_MIN_DB: f32 = -9.0;

/// Weakest tone accepted, dBm0. Q.24's operate range is −25 dBm0 to
/// 0 dBm0 per frequency; with −8 dB twist at the bottom of that range the
/// weaker tone is at −33 dBm0, so the floor is 3 dB below that.
pub const MIN_TONE_DBM0: f64 = -36.0;

/// Share of the window's power the two tones must carry. Speech and music
/// spread power over many components; a DTMF pair in 10 dB of white noise
/// still carries 91 % (the cut itself sits at 6 dB SNR).
pub const MIN_PURITY: f32 = 0.80;

/// Weakest quarter-window power relative to the strongest. A DTMF pair's
/// power is constant; 0.5 tolerates the beat between the two tones over
/// a 26-sample quarter (±15 %) plus noise, and rejects windows where the
/// tone is missing for more than about half a quarter (≈ 13 samples),
/// which is what gives the detector its sharp duration and pause limits.
pub const MIN_STEADINESS: f32 = 0.5;

/// Highest second harmonic of the high tone, relative to that tone, in
/// power. Q.23 keeps a keypad's unwanted components 20 dB down; voiced
/// speech has strong harmonics. The low tone's second harmonic (1394,
/// 1540, 1704, 1882 Hz) falls within a bin of the column frequencies at
/// this resolution, so it cannot be told apart and is not tested.
pub const MAX_HARMONIC: f32 = 0.0316; // −15 dB

/// Why a window was not a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToneVerdict {
    Hit(Digit),
    /// Below the level floor.
    Quiet,
    /// Too little of the power in the best row and column.
    NotTonal,
    /// Power varies across the window (the tone starts, stops or is not
    /// a steady pair).
    Unsteady,
    OffFrequency,
    Twist,
    Harmonic,
}

/// What the detector already knows about a window when it asks for a
/// verdict: the samples, the rectangular DFT at the eight nominal
/// frequencies and the power of each quarter.
pub struct Window<'a> {
    pub samples: &'a [f32],
    pub low: [Bin; 4],
    pub high: [Bin; 4],
    pub quarter_energy: [f32; 4],
}

/// Precomputed filters for the fine measurement, built once.
#[derive(Clone, Debug)]
pub struct Classifier {
    // Rectangular bins at k = −2, −1, +1, +2 spacings around each nominal
    // frequency (k = 0 comes from the detector) and at the high tones'
    // second harmonics, each over half a window: two halves join into the
    // window's bin, as the detector's nominal bins do.
    low_side: [[HalfBin; 4]; 4],
    high_side: [[HalfBin; 4]; 4],
    high_harmonic: [HalfBin; 4],
    min_amp: f32,
    /// Windows classified so far (one per hop).
    windows: u64,
    /// The second half's fine bins of the last window that got that far:
    /// the next window's first half, when it asks for the same row and
    /// column. A held digit then costs half the fine measurement.
    last_half: Option<LastHalf>,
}

/// One frequency's filter over half a window, and e^{-jω·HOP}, which moves
/// the second half's phase reference to the window's start.
#[derive(Clone, Copy, Debug)]
struct HalfBin {
    filter: Goertzel,
    shift: Bin,
}

impl HalfBin {
    fn new(freq_hz: f32) -> HalfBin {
        HalfBin {
            filter: Goertzel::new(freq_hz, RATE, HOP),
            shift: Bin::rotation(std::f32::consts::TAU * freq_hz / RATE * HOP as f32),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct LastHalf {
    window: u64,
    row: usize,
    col: usize,
    bins: [Bin; 9],
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new()
    }
}

const SIDE_OFFSETS: [f32; 4] = [-2.0, -1.0, 1.0, 2.0];

/// One tone's measurement: frequency offset in bins and peak amplitude.
#[derive(Clone, Copy, Debug)]
struct Tone {
    delta: f32,
    amp: f32,
}

impl Classifier {
    pub fn new() -> Classifier {
        let side = |f: f32| SIDE_OFFSETS.map(|k| HalfBin::new(f + k * BIN_HZ));
        Classifier {
            low_side: LOW_HZ.map(side),
            high_side: HIGH_HZ.map(side),
            high_harmonic: HIGH_HZ.map(|f| HalfBin::new(2.0 * f)),
            min_amp: peak_for_dbm0(MIN_TONE_DBM0) as f32,
            windows: 0,
            last_half: None,
        }
    }

    /// The eight side bins of `row` and `col` and the column's second
    /// harmonic over the whole window, `SIDE_OFFSETS` order. Computed per
    /// half and joined; the first half comes from the previous window when
    /// it measured the same pair.
    fn fine_bins(&mut self, samples: &[f32], row: usize, col: usize) -> [Bin; 9] {
        let (l, h) = (&self.low_side[row], &self.high_side[col]);
        let bins = [
            l[0],
            l[1],
            l[2],
            l[3],
            h[0],
            h[1],
            h[2],
            h[3],
            self.high_harmonic[col],
        ];
        let filters = bins.map(|b| b.filter);
        let second = run_bank(&filters, &samples[HOP..WINDOW]);
        let first = match self.last_half {
            Some(h) if h.window + 1 == self.windows && h.row == row && h.col == col => h.bins,
            _ => run_bank(&filters, &samples[..HOP]),
        };
        self.last_half = Some(LastHalf {
            window: self.windows,
            row,
            col,
            bins: second,
        });
        std::array::from_fn(|i| first[i] + second[i] * bins[i].shift)
    }

    /// `w.samples` must be the whole window, and consecutive calls must be
    /// consecutive windows (one hop apart), as the detector makes them.
    pub fn classify(&mut self, w: &Window<'_>) -> ToneVerdict {
        self.windows += 1;
        let n = WINDOW as f32;
        let energy: f32 = w.quarter_energy.iter().sum();
        let power = energy / n;
        // Two tones at the floor carry min_amp² of power between them.
        if power < self.min_amp * self.min_amp {
            return ToneVerdict::Quiet;
        }
        let row = strongest(&w.low);
        let col = strongest(&w.high);
        // Rectangular estimate of the pair's power (a tone of amplitude A
        // on a bin gives |R| = A·N/2, power A²/2). Scalloping can cost up
        // to 4 dB here, so the cut is loose; it only spares the fine
        // measurement on windows that are plainly not a pair.
        let rough = 2.0 * (w.low[row].norm_sqr() + w.high[col].norm_sqr()) / (n * n);
        if rough < 0.25 * power {
            return ToneVerdict::NotTonal;
        }
        let (qmin, qmax) = w
            .quarter_energy
            .iter()
            .fold((f32::MAX, 0.0f32), |(lo, hi), &e| (lo.min(e), hi.max(e)));
        if qmin < MIN_STEADINESS * qmax {
            return ToneVerdict::Unsteady;
        }
        let s = self.fine_bins(w.samples, row, col);
        let low = measure([s[0], s[1], s[2], s[3]], w.low[row]);
        let high = measure([s[4], s[5], s[6], s[7]], w.high[col]);
        let off = |t: Tone, f: f32| (t.delta * BIN_HZ / f).abs() > FREQ_TOLERANCE;
        if off(low, LOW_HZ[row]) || off(high, HIGH_HZ[col]) {
            return ToneVerdict::OffFrequency;
        }
        if low.amp < self.min_amp || high.amp < self.min_amp {
            return ToneVerdict::Quiet;
        }
        let twist = (high.amp * high.amp) / (low.amp * low.amp);
        if twist > db_to_power(TWIST_MAX_DB) || twist < db_to_power(TWIST_MIN_DB) {
            return ToneVerdict::Twist;
        }
        let tones = (low.amp * low.amp + high.amp * high.amp) / 2.0;
        if tones < MIN_PURITY * power {
            return ToneVerdict::NotTonal;
        }
        let h = s[8].abs() * 2.0 / n;
        if h * h > MAX_HARMONIC * high.amp * high.amp {
            return ToneVerdict::Harmonic;
        }
        match Digit::from_keypad_position(row, col) {
            Some(d) => ToneVerdict::Hit(d),
            None => ToneVerdict::NotTonal,
        }
    }
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

fn strongest(bins: &[Bin; 4]) -> usize {
    let mut best = 0;
    for (i, b) in bins.iter().enumerate() {
        if b.norm_sqr() > bins[best].norm_sqr() {
            best = i;
        }
    }
    best
}

/// Frequency offset and amplitude of the tone near one nominal frequency,
/// from the bins around it (`side`, in `SIDE_OFFSETS` order) and on it.
fn measure(side: [Bin; 4], centre: Bin) -> Tone {
    let r = [side[0], side[1], centre, side[2], side[3]];
    let hann = |k: usize| (r[k].scale(0.5) + (r[k - 1] + r[k + 1]).scale(-0.25)).abs();
    let (below, mid, above) = (hann(1), hann(2), hann(3));
    let (side_mag, sign) = if above >= below {
        (above, 1.0)
    } else {
        (below, -1.0)
    };
    if mid <= 0.0 {
        return Tone {
            delta: f32::INFINITY,
            amp: 0.0,
        };
    }
    let alpha = side_mag / mid;
    let delta = sign * (2.0 * alpha - 1.0) / (alpha + 1.0);
    // A tone of amplitude A gives |H(0)| = A·N/4·W(δ); measure from the
    // larger of the two bins, where the response is flatter.
    let n = WINDOW as f32;
    let amp = if alpha > 1.0 {
        4.0 * side_mag / (n * hann_response(1.0 - delta.abs()))
    } else {
        4.0 * mid / (n * hann_response(delta))
    };
    Tone { delta, amp }
}

/// Hann window's normalised amplitude response at `x` bins off centre,
/// sinc(x)/(1 − x²), in its large-N form (the N = 104 form differs by
/// under 2e-4).
fn hann_response(x: f32) -> f32 {
    let x = x.abs();
    if (x - 1.0).abs() < 1e-4 {
        return 0.5;
    }
    if x < 1e-6 {
        return 1.0;
    }
    let px = std::f32::consts::PI * x;
    (px.sin() / px / (1.0 - x * x)).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_response_shape() {
        assert!((hann_response(0.0) - 1.0).abs() < 1e-6);
        assert!((hann_response(1.0) - 0.5).abs() < 1e-6);
        assert!((hann_response(0.5) - 0.8488).abs() < 1e-3);
        assert!(hann_response(2.0) < 1e-6);
    }

    fn analyse(x: &[f32]) -> (Tone, Tone) {
        let g = |f: f32| Goertzel::new(f, RATE, WINDOW).run(x);
        let side = |f: f32| SIDE_OFFSETS.map(|k| g(f + k * BIN_HZ));
        (
            measure(side(LOW_HZ[0]), g(LOW_HZ[0])),
            measure(side(HIGH_HZ[3]), g(HIGH_HZ[3])),
        )
    }

    /// A window measured from two joined halves, the first kept from the
    /// previous window, gives what the whole window gives.
    #[test]
    fn joined_halves_match_the_whole_window_across_consecutive_windows() {
        let x: Vec<f32> = (0..3 * HOP)
            .map(|n| {
                let t = n as f32 / RATE;
                6000.0 * (std::f32::consts::TAU * 706.0 * t).sin()
                    + 3000.0 * (std::f32::consts::TAU * 1460.0 * t + 0.3).sin()
            })
            .collect();
        let mut c = Classifier::new();
        let bins = |w: &[f32], col: usize| {
            let g = |f: f32| Goertzel::new(f, RATE, WINDOW).run(w);
            let mut v: Vec<Bin> = SIDE_OFFSETS.map(|k| g(LOW_HZ[0] + k * BIN_HZ)).to_vec();
            v.extend(SIDE_OFFSETS.map(|k| g(HIGH_HZ[col] + k * BIN_HZ)));
            v.push(g(2.0 * HIGH_HZ[col]));
            v
        };
        let whole = |w: &[f32]| bins(w, 1);
        let check = |got: [Bin; 9], want: Vec<Bin>| {
            let scale = want.iter().map(|b| b.abs()).fold(0.0f32, f32::max);
            for (a, b) in got.iter().zip(&want) {
                let d = Bin::new(a.re - b.re, a.im - b.im).abs();
                assert!(d < 1e-4 * scale, "{a:?} vs {b:?}");
            }
        };
        let first = &x[..WINDOW];
        c.windows += 1;
        check(c.fine_bins(first, 0, 1), whole(first));
        // The next window's first half is the last one's second: with it
        // blanked out, the result can only be right if the kept half is used.
        let second = &x[HOP..HOP + WINDOW];
        let mut blanked = second.to_vec();
        blanked[..HOP].fill(0.0);
        c.windows += 1;
        check(c.fine_bins(&blanked, 0, 1), whole(second));
        // Another pair, or a skipped window, measures both halves afresh.
        c.windows += 1;
        check(c.fine_bins(&blanked, 0, 2), bins(&blanked, 2));
        c.windows += 2;
        check(c.fine_bins(&blanked, 0, 2), bins(&blanked, 2));
    }

    #[test]
    fn measures_offset_and_amplitude() {
        for (fl, fh) in [(697.0, 1633.0), (707.5, 1657.5), (686.5, 1608.5)] {
            let x: Vec<f32> = (0..WINDOW)
                .map(|n| {
                    let t = n as f32 / RATE;
                    5000.0 * (std::f32::consts::TAU * fl * t).sin()
                        + 2000.0 * (std::f32::consts::TAU * fh * t + 1.0).sin()
                })
                .collect();
            let (lo, hi) = analyse(&x);
            let lo_hz = 697.0 + lo.delta * BIN_HZ;
            let hi_hz = 1633.0 + hi.delta * BIN_HZ;
            assert!((lo_hz - fl).abs() < 2.0, "{lo_hz} vs {fl}");
            assert!((hi_hz - fh).abs() < 2.0, "{hi_hz} vs {fh}");
            assert!((lo.amp / 5000.0 - 1.0).abs() < 0.03, "{}", lo.amp);
            assert!((hi.amp / 2000.0 - 1.0).abs() < 0.03, "{}", hi.amp);
        }
    }
}
