//! 20 ms of audio from one rate to another, for devices that do not offer
//! 8 kHz. rubato's synchronous FFT resampler with both sides fixed: the
//! device clock is the line's clock, so the ratio is exact and constant, and
//! every call turns one 20 ms period into one 20 ms period (no FIFO between
//! the device and the line). Its buffers are allocated at construction;
//! `process_into_buffer` allocates nothing (rubato's real-time note). It
//! delays the audio by half its FFT block: 10 ms with a 20 ms chunk.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Frames in 20 ms at `rate` (the line's frame duration).
pub fn period_frames(rate: u32) -> usize {
    rate as usize / 50
}

pub struct Resample {
    fft: Fft<f32>,
    input: usize,
    output: usize,
}

impl std::fmt::Debug for Resample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resample({} -> {} frames)", self.input, self.output)
    }
}

impl Resample {
    /// A mono resampler from 20 ms at `from` Hz to 20 ms at `to` Hz. Both
    /// rates must be multiples of 50 (a whole number of frames in 20 ms).
    pub fn new(from: u32, to: u32) -> Result<Resample, String> {
        let input = period_frames(from);
        let output = period_frames(to);
        if !from.is_multiple_of(50) || !to.is_multiple_of(50) || input == 0 || output == 0 {
            return Err(format!(
                "cannot resample {from} Hz to {to} Hz in 20 ms periods"
            ));
        }
        let fft = Fft::<f32>::new(from as usize, to as usize, input, 1, FixedSync::Both)
            .map_err(|e| format!("resampler {from} Hz to {to} Hz: {e}"))?;
        if fft.input_frames_next() != input || fft.output_frames_next() != output {
            return Err(format!(
                "resampler {from} Hz to {to} Hz takes {} frames for {}, not {input} for {output}",
                fft.input_frames_next(),
                fft.output_frames_next()
            ));
        }
        Ok(Resample { fft, input, output })
    }

    /// Resamples one period: `input` has the input period's frames, `output`
    /// receives the output period's.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), String> {
        let src = InterleavedSlice::new(&input[..self.input], 1, self.input)
            .map_err(|e| e.to_string())?;
        let mut dst = InterleavedSlice::new_mut(&mut output[..self.output], 1, self.output)
            .map_err(|e| e.to_string())?;
        self.fft
            .process_into_buffer(&src, &mut dst, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The delay it adds, in output frames.
    #[cfg(test)]
    pub fn delay(&self) -> usize {
        self.fft.output_delay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    /// 48 kHz in, 8 kHz out: the tone comes out at its frequency, delayed
    /// by the reported delay, with the amplitude kept.
    #[test]
    fn down_from_48k_keeps_a_tone() {
        let mut r = Resample::new(48_000, 8_000).unwrap();
        let input = tone(48_000, 600.0, 960 * 20);
        let mut out = vec![0f32; 160 * 20];
        for (i, o) in input.chunks(960).zip(out.chunks_mut(160)) {
            r.process(i, o).unwrap();
        }
        let d = r.delay();
        assert!(d <= 160, "delay {d}");
        let want = tone(8_000, 600.0, out.len());
        // Skip the start-up (delay and a period of settling).
        let err: f32 = out[d + 320..]
            .iter()
            .zip(&want[320..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn up_to_44k1_keeps_a_tone() {
        let mut r = Resample::new(8_000, 44_100).unwrap();
        let input = tone(8_000, 1_000.0, 160 * 20);
        let mut out = vec![0f32; 882 * 20];
        for (i, o) in input.chunks(160).zip(out.chunks_mut(882)) {
            r.process(i, o).unwrap();
        }
        let d = r.delay();
        let want = tone(44_100, 1_000.0, out.len());
        let err: f32 = out[d + 1_764..]
            .iter()
            .zip(&want[1_764..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn odd_rates_are_refused_with_the_reason() {
        let e = Resample::new(11_025, 8_000).unwrap_err();
        assert!(e.contains("11025 Hz"), "{e}");
    }
}
