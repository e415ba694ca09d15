//! Lookup tables for every G.711 conversion, computed at compile time from
//! the rules in `reference.rs`, so there is nothing to initialise at run time
//! and nothing that can disagree with the rules.
//!
//! Encoding tables are indexed by the sample reduced to the bits the law
//! actually uses (14 for µ-law, 13 for A-law), not by all 16 bits: 16 KiB and
//! 8 KiB stay in L1 beside the frame being coded, where a 64 KiB table would
//! not (`benches/g711.rs` measures both; the reduced index costs one shift).

use super::reference::{
    alaw_decode_reference, alaw_encode_reference, ulaw_decode_reference, ulaw_encode_reference,
};

/// Low bits of a 16-bit sample that µ-law ignores.
pub(super) const ULAW_DROPPED_BITS: u32 = 2;
/// Low bits of a 16-bit sample that A-law ignores.
pub(super) const ALAW_DROPPED_BITS: u32 = 3;

const ULAW_ENCODE_LEN: usize = 1 << (16 - ULAW_DROPPED_BITS);
const ALAW_ENCODE_LEN: usize = 1 << (16 - ALAW_DROPPED_BITS);

/// A table of `$len` entries, entry `$i` being `$value`: a `while` loop,
/// because `for` and closures cannot run in a constant. (A macro, not a
/// `const fn`: a `const fn` cannot take the rule to apply as an argument.)
macro_rules! table {
    ($len:expr, |$i:ident| $value:expr) => {{
        let mut t = [0; $len];
        let mut $i = 0;
        while $i < $len {
            t[$i] = $value;
            $i += 1;
        }
        t
    }};
}

/// µ-law code of every 14-bit sample, indexed by `(s as u16) >> 2`. The
/// index goes back to a sample with the same upper bits: the low bits do
/// not change the code.
pub(super) static ULAW_ENCODE: [u8; ULAW_ENCODE_LEN] = table!(ULAW_ENCODE_LEN, |i| {
    ulaw_encode_reference((i << ULAW_DROPPED_BITS) as u16 as i16)
});

/// A-law code of every 13-bit sample, indexed by `(s as u16) >> 3`.
pub(super) static ALAW_ENCODE: [u8; ALAW_ENCODE_LEN] = table!(ALAW_ENCODE_LEN, |i| {
    alaw_encode_reference((i << ALAW_DROPPED_BITS) as u16 as i16)
});

/// 16-bit value of every µ-law code.
pub(super) static ULAW_DECODE: [i16; 256] = table!(256, |c| ulaw_decode_reference(c as u8));

/// 16-bit value of every A-law code.
pub(super) static ALAW_DECODE: [i16; 256] = table!(256, |c| alaw_decode_reference(c as u8));

/// PCMU → PCMA: the A-law code of each µ-law code's decoded value.
pub(super) static ULAW_TO_ALAW: [u8; 256] = table!(256, |c| {
    alaw_encode_reference(ulaw_decode_reference(c as u8))
});

/// PCMA → PCMU: the µ-law code of each A-law code's decoded value.
pub(super) static ALAW_TO_ULAW: [u8; 256] = table!(256, |c| {
    ulaw_encode_reference(alaw_decode_reference(c as u8))
});
