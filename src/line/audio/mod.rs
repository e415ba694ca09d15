//! A local line's audio as one end of a call, sans-IO: 20 ms frames of
//! 8 kHz linear samples from the line's capture side become G.711 RTP
//! (with the line's keys as RFC 4733 events), and the far end's RTP goes
//! through an adaptive jitter buffer with loss concealment back to 20 ms
//! frames for playback. The audio thread (an ALSA shell) owns the device
//! and the socket and steps a [`LineEndpoint`] with `now`.
//!
//! `endpoint.rs` is the machine; `jitter.rs` the receive side's buffer,
//! `plc.rs` its concealment; `keys.rs` the send side's digits (keypad and
//! in-band, never doubled). docs/lines.md, "Audio: frames, jitter buffer,
//! keys", says how they behave.

#[cfg(feature = "alsa")]
mod alsa;
pub mod device;
mod endpoint;
mod jitter;
mod keys;
mod plc;

#[cfg(test)]
mod endpoint_tests;
#[cfg(test)]
mod jitter_tests;

pub use device::{AudioDevices, AudioError, AudioEvent, LineAudio};
pub use endpoint::{DigitSource, EndpointParams, EndpointStats, LineEndpoint};
pub use jitter::JitterSettings;

/// Samples in one frame: 20 ms at 8 kHz, one G.711 RTP packet's payload.
pub const FRAME_SAMPLES: usize = 160;

/// One frame of 16-bit linear samples.
pub type Frame = [i16; FRAME_SAMPLES];

/// The G.711 law the line's audio is sent and received in (the media
/// layer's type, named for the line's parameters).
pub use crate::media::g711::Law as G711;
