//! Samples between what a device takes and the line's 8 kHz mono frames:
//! the three formats we accept, downmix on capture (the mean of the
//! channels) and upmix on playback (the same sample on every channel).
//! Plain functions over caller-owned buffers, so nothing allocates per frame.

/// The sample formats the line accepts from a device, in order of preference:
/// S16 needs no conversion; the bare `jack` PCM offers FLOAT only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    S16,
    S32,
    F32,
}

impl SampleFormat {
    pub const PREFERENCE: [SampleFormat; 3] =
        [SampleFormat::S16, SampleFormat::S32, SampleFormat::F32];

    pub fn alsa(self) -> alsa::pcm::Format {
        match self {
            SampleFormat::S16 => alsa::pcm::Format::s16(),
            SampleFormat::S32 => alsa::pcm::Format::s32(),
            SampleFormat::F32 => alsa::pcm::Format::float(),
        }
    }
}

/// One 20 ms period of interleaved device samples, in the device's format.
#[derive(Debug)]
pub enum DeviceBuf {
    S16(Vec<i16>),
    S32(Vec<i32>),
    F32(Vec<f32>),
}

impl DeviceBuf {
    /// A buffer for `frames` frames of `channels` channels, allocated once
    /// when the device is opened.
    pub fn new(format: SampleFormat, frames: usize, channels: usize) -> DeviceBuf {
        let n = frames * channels;
        match format {
            SampleFormat::S16 => DeviceBuf::S16(vec![0; n]),
            SampleFormat::S32 => DeviceBuf::S32(vec![0; n]),
            SampleFormat::F32 => DeviceBuf::F32(vec![0.0; n]),
        }
    }

    /// Downmixes the interleaved samples into `mono` (one value per frame,
    /// full scale ±1.0).
    pub fn mix_to_mono(&self, channels: usize, mono: &mut [f32]) {
        match self {
            DeviceBuf::S16(b) => downmix(b, channels, mono, |s| f32::from(s) / 32_768.0),
            DeviceBuf::S32(b) => downmix(b, channels, mono, |s| s as f32 / 2_147_483_648.0),
            DeviceBuf::F32(b) => downmix(b, channels, mono, |s| s),
        }
    }

    /// Writes `mono` to every channel of the interleaved buffer.
    pub fn fill_from_mono(&mut self, channels: usize, mono: &[f32]) {
        match self {
            DeviceBuf::S16(b) => upmix(mono, channels, b, |x| {
                (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
            }),
            DeviceBuf::S32(b) => upmix(mono, channels, b, |x| {
                // f32 cannot hold i32::MAX exactly; the cast saturates.
                (f64::from(x) * 2_147_483_648.0).round() as i32
            }),
            DeviceBuf::F32(b) => upmix(mono, channels, b, |x| x.clamp(-1.0, 1.0)),
        }
    }
}

fn downmix<S: Copy>(buf: &[S], channels: usize, mono: &mut [f32], f: impl Fn(S) -> f32) {
    let scale = 1.0 / channels as f32;
    for (frame, out) in buf.chunks_exact(channels).zip(mono.iter_mut()) {
        *out = frame.iter().map(|&s| f(s)).sum::<f32>() * scale;
    }
}

fn upmix<S: Copy>(mono: &[f32], channels: usize, buf: &mut [S], f: impl Fn(f32) -> S) {
    for (frame, &x) in buf.chunks_exact_mut(channels).zip(mono.iter()) {
        frame.fill(f(x));
    }
}

/// Line samples (16-bit) to full-scale floats.
pub fn frame_to_f32(frame: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(frame) {
        *o = f32::from(s) / 32_768.0;
    }
}

/// Full-scale floats to line samples, saturating (a resampler's ringing
/// may overshoot ±1.0 a little).
pub fn f32_to_frame(input: &[f32], frame: &mut [i16]) {
    for (o, &x) in frame.iter_mut().zip(input) {
        *o = (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s16_mono_round_trips_exactly() {
        let samples: Vec<i16> = (0..160).map(|i| (i * 409 - 32_768) as i16).collect();
        let mut dev = DeviceBuf::new(SampleFormat::S16, 160, 1);
        let mut mono = [0f32; 160];
        frame_to_f32(&samples, &mut mono);
        dev.fill_from_mono(1, &mono);
        let mut back_f = [0f32; 160];
        dev.mix_to_mono(1, &mut back_f);
        let mut back = [0i16; 160];
        f32_to_frame(&back_f, &mut back);
        assert_eq!(&back[..], &samples[..]);
    }

    #[test]
    fn stereo_downmix_is_the_mean_and_upmix_copies() {
        let mut dev = DeviceBuf::new(SampleFormat::F32, 2, 2);
        dev.fill_from_mono(2, &[0.5, -0.25]);
        match &dev {
            DeviceBuf::F32(b) => assert_eq!(b, &vec![0.5, 0.5, -0.25, -0.25]),
            other => panic!("{other:?}"),
        }
        let dev = DeviceBuf::S32(vec![i32::MAX, 0, i32::MIN, i32::MIN]);
        let mut mono = [0f32; 2];
        dev.mix_to_mono(2, &mut mono);
        assert!((mono[0] - 0.5).abs() < 1e-6);
        assert!((mono[1] + 1.0).abs() < 1e-6);
    }

    #[test]
    fn overshoot_saturates_instead_of_wrapping() {
        let mut frame = [0i16; 2];
        f32_to_frame(&[1.2, -1.5], &mut frame);
        assert_eq!(frame, [32_767, -32_768]);
        let mut dev = DeviceBuf::new(SampleFormat::S32, 1, 1);
        dev.fill_from_mono(1, &[1.5]);
        match dev {
            DeviceBuf::S32(b) => assert_eq!(b[0], i32::MAX),
            other => panic!("{other:?}"),
        }
    }
}
