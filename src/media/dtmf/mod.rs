//! DTMF: RFC 4733 telephone-events and an in-band (Goertzel) detector
//! meeting ITU-T Q.24, plus tone generation.

pub mod digit;
pub mod tone;

pub use digit::Digit;
pub use tone::ToneGenerator;
