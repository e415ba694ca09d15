//! Dual-tone generator: 8 kHz, 16-bit linear samples, level per tone in
//! dBm0. Streams across calls so a caller can render a tone frame by frame
//! (e.g. one 20 ms packet at a time) without clicks between frames.

use super::digit::Digit;

/// Sample rate of every generated and analysed signal.
pub const SAMPLE_RATE: u32 = 8000;

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear samples.
///
/// G.711 puts its overload point at +3.17 dBm0 (µ-law), so a full-scale
/// sine (peak 32767) is +3.17 dBm0 and 0 dBm0 sits 3.17 dB below it.
pub const DBM0_PEAK: f64 = 22_747.7;

/// Peak amplitude of a sine at `dbm0`.
pub fn peak_for_dbm0(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// A pair of sines (or one, with the other level at `f64::NEG_INFINITY`)
/// of a given length, rendered on demand.
#[derive(Clone, Debug)]
pub struct ToneGenerator {
    // Phase is advanced by an accumulator in f64 so long tones (minutes of
    // comfort signals) keep their frequency; a recursive oscillator would
    // drift in amplitude.
    step: [f64; 2],
    phase: [f64; 2],
    peak: [f64; 2],
    remaining: u64,
}

impl ToneGenerator {
    /// The Q.23 pair of `digit`, both tones at `dbm0`, for `samples` samples.
    pub fn digit(digit: Digit, dbm0: f64, samples: u64) -> ToneGenerator {
        let (low, high) = digit.frequencies();
        ToneGenerator::dual(f64::from(low), dbm0, f64::from(high), dbm0, samples)
    }

    /// Any two frequencies at independent levels: tests use it for
    /// off-frequency and twisted pairs.
    pub fn dual(low_hz: f64, low_dbm0: f64, high_hz: f64, high_dbm0: f64, samples: u64) -> Self {
        let rate = f64::from(SAMPLE_RATE);
        ToneGenerator {
            step: [
                std::f64::consts::TAU * low_hz / rate,
                std::f64::consts::TAU * high_hz / rate,
            ],
            phase: [0.0; 2],
            peak: [peak_for_dbm0(low_dbm0), peak_for_dbm0(high_dbm0)],
            remaining: samples,
        }
    }

    /// Samples still to be produced.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Writes up to `out.len()` samples and returns how many were written;
    /// fewer than asked only when the tone ends. Sums beyond 16 bits are
    /// clipped as a real codec would.
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let n = usize::try_from(self.remaining).map_or(out.len(), |r| r.min(out.len()));
        for slot in &mut out[..n] {
            let mut v = 0.0;
            for i in 0..2 {
                v += self.peak[i] * self.phase[i].sin();
                self.phase[i] += self.step[i];
                if self.phase[i] >= std::f64::consts::TAU {
                    self.phase[i] -= std::f64::consts::TAU;
                }
            }
            *slot = v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
        }
        self.remaining -= n as u64;
        n
    }

    /// Appends the whole remaining tone to `out`.
    pub fn render_into(&mut self, out: &mut Vec<i16>) {
        let start = out.len();
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        out.resize(start + n, 0);
        let written = self.fill(&mut out[start..]);
        out.truncate(start + written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    #[test]
    fn level_and_length() {
        let mut out = Vec::new();
        ToneGenerator::dual(1000.0, 0.0, 0.0, f64::NEG_INFINITY, 8000).render_into(&mut out);
        assert_eq!(out.len(), 8000);
        // A sine's RMS is its peak over √2.
        let want = DBM0_PEAK / std::f64::consts::SQRT_2;
        assert!((rms(&out) - want).abs() < 2.0, "{}", rms(&out));
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut whole = Vec::new();
        ToneGenerator::digit(Digit::D5, -6.0, 1000).render_into(&mut whole);
        let mut g = ToneGenerator::digit(Digit::D5, -6.0, 1000);
        let mut parts = Vec::new();
        let mut buf = [0i16; 160];
        loop {
            let n = g.fill(&mut buf);
            parts.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
        assert_eq!(whole, parts);
        assert_eq!(g.remaining(), 0);
    }

    #[test]
    fn clips_instead_of_wrapping() {
        let mut out = Vec::new();
        ToneGenerator::dual(697.0, 3.0, 1209.0, 3.0, 400).render_into(&mut out);
        assert!(out.contains(&i16::MAX) && out.contains(&i16::MIN));
    }
}
