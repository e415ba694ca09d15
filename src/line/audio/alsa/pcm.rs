//! One ALSA device of a line, opened for a call: negotiates what the device
//! offers (8 kHz mono S16 preferred; other rates, channel counts, S32 and
//! FLOAT accepted and converted), moves 20 ms periods as the line's 8 kHz
//! mono frames, and recovers from xruns. Opened non-blocking: the audio
//! thread waits in `poll` on the capture device and the RTP socket together.
//!
//! A failure it cannot recover from comes back as [`DeviceError`]; the
//! audio thread then closes the device and opens it again later.

use std::ffi::CString;
use std::time::{Duration, Instant};

use alsa::pcm::{Access, Frames, HwParams, State, PCM};
use alsa::poll::{pollfd, Descriptors};
use alsa::{Direction, ValueOr};

use super::convert::{f32_to_frame, frame_to_f32, DeviceBuf, SampleFormat};
use super::resample::{period_frames, Resample};
use crate::line::audio::{Frame, FRAME_SAMPLES};

/// The line's rate.
const LINE_RATE: u32 = 8_000;
/// Periods in the capture buffer: room for a late wake-up of the thread.
const CAPTURE_PERIODS: usize = 8;
/// Periods in the playback buffer; the thread keeps it [`PLAYBACK_FILL`] full.
const PLAYBACK_PERIODS: usize = 6;
/// Periods of audio kept queued in the playback device: one being played
/// and one ready, so a thread woken a little late does not underrun.
pub const PLAYBACK_FILL: usize = 2;
/// Xruns closer together than this are one burst, logged once.
const BURST: Duration = Duration::from_secs(1);

/// Why a device is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("{device}: {error}")]
    Failed { device: String, error: String },
}

impl DeviceError {
    fn new(device: &str, error: impl std::fmt::Display) -> DeviceError {
        DeviceError::Failed {
            device: device.to_string(),
            error: error.to_string(),
        }
    }

    pub fn device(&self) -> &str {
        match self {
            DeviceError::Failed { device, .. } => device,
        }
    }

    pub fn error(&self) -> &str {
        match self {
            DeviceError::Failed { error, .. } => error,
        }
    }
}

/// What was agreed with the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub format: SampleFormat,
    pub rate: u32,
    pub channels: usize,
    /// Frames in 20 ms at `rate`.
    pub period: usize,
    /// The device's buffer, in frames.
    pub buffer: usize,
}

/// An open device.
pub struct Device {
    pcm: PCM,
    name: String,
    dir: Direction,
    pub got: Negotiated,
    /// One period in the device's format.
    buf: DeviceBuf,
    /// Capture: frames of `buf` filled so far (reads may be partial).
    filled: usize,
    /// One period at the device rate, mono.
    mono: Vec<f32>,
    /// One frame at 8 kHz, as floats (the resampler's side of the line).
    line: [f32; FRAME_SAMPLES],
    resampler: Option<Resample>,
    pub xruns: u64,
    last_xrun: Option<Instant>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({} {:?} {:?})", self.name, self.dir, self.got)
    }
}

impl Device {
    /// Opens `name` for capture or playback and agrees a format.
    pub fn open(name: &str, dir: Direction) -> Result<Device, DeviceError> {
        // A name from the configuration may hold a NUL; ALSA's own words
        // would not say which name was bad.
        let cname = CString::new(name)
            .map_err(|_| DeviceError::new(name, "the PCM name contains a NUL byte"))?;
        let pcm = PCM::open(&cname, dir, true).map_err(|e| DeviceError::new(name, e))?;
        let got = negotiate(&pcm, dir).map_err(|e| DeviceError::new(name, e))?;
        let resampler = if got.rate == LINE_RATE {
            None
        } else {
            let (from, to) = match dir {
                Direction::Capture => (got.rate, LINE_RATE),
                Direction::Playback => (LINE_RATE, got.rate),
            };
            Some(Resample::new(from, to).map_err(|e| DeviceError::new(name, e))?)
        };
        if dir == Direction::Capture {
            // Non-blocking capture does not start itself from poll: only a
            // read would start it.
            pcm.start().map_err(|e| DeviceError::new(name, e))?;
        }
        Ok(Device {
            pcm,
            name: name.to_string(),
            dir,
            got,
            buf: DeviceBuf::new(got.format, got.period, got.channels),
            filled: 0,
            mono: vec![0.0; got.period],
            line: [0.0; FRAME_SAMPLES],
            resampler,
            xruns: 0,
            last_xrun: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The descriptors to poll for this device, written to `fds`; returns how many.
    pub fn poll_fds(&self, fds: &mut [pollfd]) -> Result<usize, DeviceError> {
        let n = self.pcm.count();
        if n > fds.len() {
            return Err(DeviceError::new(
                &self.name,
                format!(
                    "needs {n} poll descriptors, more than the {} we keep",
                    fds.len()
                ),
            ));
        }
        self.pcm
            .fill(&mut fds[..n])
            .map_err(|e| DeviceError::new(&self.name, e))
    }

    /// After `poll`: lets the plugin clear its wake-up (the `jack` PCM reads
    /// a byte from its pipe here); true when the device reported an error.
    pub fn poll_revents(&self, fds: &[pollfd]) -> Result<bool, DeviceError> {
        let flags = self
            .pcm
            .revents(fds)
            .map_err(|e| DeviceError::new(&self.name, e))?;
        Ok(flags.intersects(alsa::poll::Flags::ERR | alsa::poll::Flags::NVAL))
    }

    /// Capture: the next 20 ms frame if a whole period is in; `Ok(false)`
    /// when the device has no more for now.
    pub fn read_frame(&mut self, frame: &mut Frame, now: Instant) -> Result<bool, DeviceError> {
        let ch = self.got.channels;
        loop {
            let from = self.filled * ch;
            let r = match &mut self.buf {
                DeviceBuf::S16(b) => self.pcm.io_i16().and_then(|io| io.readi(&mut b[from..])),
                DeviceBuf::S32(b) => self.pcm.io_i32().and_then(|io| io.readi(&mut b[from..])),
                DeviceBuf::F32(b) => self.pcm.io_f32().and_then(|io| io.readi(&mut b[from..])),
            };
            match r {
                Ok(n) => {
                    self.filled += n;
                    if self.filled >= self.got.period {
                        self.filled = 0;
                        self.period_to_frame(frame)?;
                        return Ok(true);
                    }
                    if n == 0 {
                        return Ok(false);
                    }
                }
                Err(e) if e.errno() == libc::EAGAIN => return Ok(false),
                Err(e) => {
                    self.recover(e, now)?;
                    self.filled = 0;
                    return Ok(false);
                }
            }
        }
    }

    fn period_to_frame(&mut self, frame: &mut Frame) -> Result<(), DeviceError> {
        self.buf.mix_to_mono(self.got.channels, &mut self.mono);
        match &mut self.resampler {
            None => f32_to_frame(&self.mono, frame),
            Some(r) => {
                r.process(&self.mono, &mut self.line)
                    .map_err(|e| DeviceError::new(&self.name, e))?;
                f32_to_frame(&self.line, frame);
            }
        }
        Ok(())
    }

    /// Playback: frames queued in the device and not yet played.
    pub fn queued(&mut self, now: Instant) -> Result<usize, DeviceError> {
        match self.pcm.avail_update() {
            Ok(avail) => Ok(self.got.buffer.saturating_sub(avail.max(0) as usize)),
            Err(e) => {
                self.recover(e, now)?;
                Ok(0)
            }
        }
    }

    /// Playback: whether fewer than [`PLAYBACK_FILL`] periods are queued.
    pub fn wants_frame(&mut self, now: Instant) -> Result<bool, DeviceError> {
        Ok(self.queued(now)? < PLAYBACK_FILL * self.got.period)
    }

    /// Playback: queues one 20 ms frame.
    pub fn write_frame(&mut self, frame: &Frame, now: Instant) -> Result<(), DeviceError> {
        match &mut self.resampler {
            None => frame_to_f32(frame, &mut self.mono),
            Some(r) => {
                frame_to_f32(frame, &mut self.line);
                r.process(&self.line, &mut self.mono)
                    .map_err(|e| DeviceError::new(&self.name, e))?;
            }
        }
        self.buf.fill_from_mono(self.got.channels, &self.mono);
        let r = match &self.buf {
            DeviceBuf::S16(b) => self.pcm.io_i16().and_then(|io| io.writei(b)),
            DeviceBuf::S32(b) => self.pcm.io_i32().and_then(|io| io.writei(b)),
            DeviceBuf::F32(b) => self.pcm.io_f32().and_then(|io| io.writei(b)),
        };
        match r {
            // A short write (the device was fuller than it said) drops the
            // rest of the frame: the next top-up sees the real fill level.
            Ok(_) => Ok(()),
            Err(e) if e.errno() == libc::EAGAIN => Ok(()),
            Err(e) => self.recover(e, now),
        }
    }

    /// An xrun (EPIPE) or a suspend (ESTRPIPE): prepare the device again and
    /// go on; counted, logged once per burst. Anything else is a failure.
    fn recover(&mut self, e: alsa::Error, now: Instant) -> Result<(), DeviceError> {
        let errno = e.errno();
        if errno != libc::EPIPE && errno != libc::ESTRPIPE && errno != libc::EINTR {
            return Err(DeviceError::new(&self.name, e));
        }
        self.pcm
            .try_recover(e, true)
            .map_err(|e| DeviceError::new(&self.name, e))?;
        if self.dir == Direction::Capture && self.pcm.state() != State::Running {
            self.pcm
                .start()
                .map_err(|e| DeviceError::new(&self.name, e))?;
        }
        self.xruns += 1;
        let new_burst = self.last_xrun.is_none_or(|t| now.duration_since(t) > BURST);
        self.last_xrun = Some(now);
        if new_burst {
            tracing::warn!(
                device = %self.name,
                direction = ?self.dir,
                xruns = self.xruns,
                "audio device {}: recovered (prepared again); further xruns within 1 s are counted, not logged",
                if self.dir == Direction::Capture { "overrun" } else { "underrun" },
            );
        }
        Ok(())
    }
}

/// Agrees access, format, channels, rate and period with the device.
fn negotiate(pcm: &PCM, dir: Direction) -> Result<Negotiated, String> {
    let alsa = |e: alsa::Error| e.to_string();
    let hwp = HwParams::any(pcm).map_err(alsa)?;
    hwp.set_access(Access::RWInterleaved).map_err(alsa)?;
    let format = SampleFormat::PREFERENCE
        .into_iter()
        .find(|f| hwp.test_format(f.alsa()).is_ok())
        .ok_or("the device offers none of the sample formats S16, S32, FLOAT")?;
    hwp.set_format(format.alsa()).map_err(alsa)?;
    let channels = hwp.set_channels_near(1).map_err(alsa)? as usize;
    let rate = hwp
        .set_rate_near(LINE_RATE, ValueOr::Nearest)
        .map_err(alsa)?;
    if !rate.is_multiple_of(50) {
        // A period must hold exactly 20 ms; every common rate does.
        return Err(format!(
            "the device runs at {rate} Hz, which has no whole number of frames in 20 ms"
        ));
    }
    let period = period_frames(rate);
    hwp.set_period_size_near(period as Frames, ValueOr::Nearest)
        .map_err(alsa)?;
    let periods = match dir {
        Direction::Capture => CAPTURE_PERIODS,
        Direction::Playback => PLAYBACK_PERIODS,
    };
    let buffer = hwp
        .set_buffer_size_near((period * periods) as Frames)
        .map_err(alsa)? as usize;
    pcm.hw_params(&hwp).map_err(alsa)?;
    let swp = pcm.sw_params_current().map_err(alsa)?;
    swp.set_avail_min(period as Frames).map_err(alsa)?;
    if dir == Direction::Playback {
        // Start playing as soon as one period is queued.
        swp.set_start_threshold(period as Frames).map_err(alsa)?;
    }
    pcm.sw_params(&swp).map_err(alsa)?;
    Ok(Negotiated {
        format,
        rate,
        channels: channels.max(1),
        period,
        buffer,
    })
}
