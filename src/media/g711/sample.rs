//! One-sample conversions: a table lookup each. They are `#[inline]` so that
//! per-sample loops elsewhere (mixing, DTMF generation) cost the same as the
//! slice functions.

use super::tables::{
    ALAW_DECODE, ALAW_DROPPED_BITS, ALAW_ENCODE, ALAW_TO_ULAW, ULAW_DECODE, ULAW_DROPPED_BITS,
    ULAW_ENCODE, ULAW_TO_ALAW,
};

/// µ-law code of a 16-bit linear sample (its 14 upper bits count).
#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    // The shifted u16 is below the table length, so no bounds check remains.
    ULAW_ENCODE[usize::from(s as u16 >> ULAW_DROPPED_BITS)]
}

/// 16-bit linear value of a µ-law code (the middle of its interval).
#[inline]
pub fn ulaw_decode(c: u8) -> i16 {
    ULAW_DECODE[usize::from(c)]
}

/// A-law code of a 16-bit linear sample (its 13 upper bits count).
#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENCODE[usize::from(s as u16 >> ALAW_DROPPED_BITS)]
}

/// 16-bit linear value of an A-law code (the middle of its interval).
#[inline]
pub fn alaw_decode(c: u8) -> i16 {
    ALAW_DECODE[usize::from(c)]
}

/// PCMU code → PCMA code, equal to `alaw_encode(ulaw_decode(c))`.
#[inline]
pub fn ulaw_to_alaw(c: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(c)]
}

/// PCMA code → PCMU code, equal to `ulaw_encode(alaw_decode(c))`.
#[inline]
pub fn alaw_to_ulaw(c: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(c)]
}
