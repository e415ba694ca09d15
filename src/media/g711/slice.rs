//! Whole-buffer conversions, the form the RTP relay uses on a 20 ms frame.
//!
//! Every function converts `min(input.len(), output.len())` samples from the
//! start of both slices, leaves the rest of `output` untouched and returns
//! that count: a short output buffer truncates instead of panicking, and the
//! caller can tell by comparing the count with `input.len()`.

use super::sample::{
    alaw_decode, alaw_encode, alaw_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_alaw,
};

/// Applies `f` pairwise; zip stops at the shorter slice, which is the
/// documented length rule, and lets the compiler drop bounds checks.
#[inline(always)]
fn map<I: Copy, O>(input: &[I], output: &mut [O], f: impl Fn(I) -> O) -> usize {
    let n = input.len().min(output.len());
    for (o, &i) in output[..n].iter_mut().zip(&input[..n]) {
        *o = f(i);
    }
    n
}

/// Linear → PCMU; returns the number of samples converted.
pub fn encode_ulaw(input: &[i16], output: &mut [u8]) -> usize {
    map(input, output, ulaw_encode)
}

/// PCMU → linear; returns the number of samples converted.
pub fn decode_ulaw(input: &[u8], output: &mut [i16]) -> usize {
    map(input, output, ulaw_decode)
}

/// Linear → PCMA; returns the number of samples converted.
pub fn encode_alaw(input: &[i16], output: &mut [u8]) -> usize {
    map(input, output, alaw_encode)
}

/// PCMA → linear; returns the number of samples converted.
pub fn decode_alaw(input: &[u8], output: &mut [i16]) -> usize {
    map(input, output, alaw_decode)
}

/// PCMU → PCMA without going through linear; returns the number of codes
/// converted.
pub fn transcode_ulaw_to_alaw(input: &[u8], output: &mut [u8]) -> usize {
    map(input, output, ulaw_to_alaw)
}

/// PCMA → PCMU without going through linear; returns the number of codes
/// converted.
pub fn transcode_alaw_to_ulaw(input: &[u8], output: &mut [u8]) -> usize {
    map(input, output, alaw_to_ulaw)
}
