//! DTMF: RFC 4733 telephone-events and an in-band (Goertzel) detector
//! meeting ITU-T Q.24, plus tone generation.

pub mod classify;
pub mod convert;
pub mod detector;
pub mod digit;
pub mod goertzel;
pub mod heard;
pub mod inject;
pub mod rfc4733;
pub mod tone;

#[cfg(test)]
mod convert_tests;
#[cfg(test)]
mod convert_timing_tests;
#[cfg(test)]
mod detector_tests;
#[cfg(test)]
mod inject_tests;

pub use detector::{detect_all, DtmfDetector, DtmfEvent};
pub use digit::Digit;
pub use tone::ToneGenerator;
