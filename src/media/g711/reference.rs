//! The G.711 coding rules written out as plain arithmetic, one sample at a
//! time. They are `const fn` so that the lookup tables in `tables.rs` are
//! computed from them at compile time; the tests hold every table against
//! them. Nothing on the media path calls these directly.
//!
//! Conventions shared by both laws (the ones of ITU-T G.191, the ITU's own
//! reference software for G.711):
//!
//! * The input is 16-bit linear PCM; µ-law uses its 14 most significant bits,
//!   A-law its 13. The dropped low bits are truncated (arithmetic shift).
//! * A negative sample is mirrored by one's complement (`!v`), not by
//!   negation, so `s` and `!s` (= `-s - 1`) always get codes that differ only
//!   in the sign bit: the quantiser is symmetric around -½ LSB, which is what
//!   a two's complement value that stands for the interval `[v, v + 1)` needs.
//!   Sun's widely copied `g711.c` (and Python's `audioop`) do the same for
//!   A-law but negate for µ-law; see `docs/media.md` for the exact difference.
//! * Decoding returns the mid-point of the code's quantisation interval,
//!   scaled back to 16 bits, as the decoder output values of G.711's tables.

/// Sign bit of a code after the law's bit inversion has been undone: set for
/// positive samples in both laws.
const POSITIVE: u8 = 0x80;

/// µ-law's bias in 14-bit units: adding it to the magnitude moves every
/// segment boundary onto a power of two (33 · 4 = 0x84 = 132 in 16-bit units).
const ULAW_BIAS: u16 = 33;

/// Largest biased 14-bit magnitude; anything above is the top code.
const ULAW_BIASED_MAX: u16 = 0x1FFF;

/// A-law inverts the even bits of every code so that idle channels (small
/// amplitudes) still have enough ones on the line.
const ALAW_EVEN_BITS: u8 = 0x55;

/// Drops the low `dropped_bits` of a sample and splits the rest into the
/// magnitude the quantiser sees and the sign bit of the code.
const fn sign_magnitude(s: i16, dropped_bits: u32) -> (u16, u8) {
    let v = s >> dropped_bits;
    if v < 0 {
        (!v as u16, 0)
    } else {
        (v as u16, POSITIVE)
    }
}

/// Index of the highest set bit; `x` must not be zero.
const fn top_bit(x: u16) -> u32 {
    15 - x.leading_zeros()
}

/// µ-law encode (G.711 table 2a): 14-bit magnitude plus the bias of 33, so
/// segment `k` (0..=7) holds biased magnitudes in `[32 << k, 64 << k)`; the
/// four mantissa bits are the ones just below the segment's leading one.
/// Biased magnitudes are held at 0x1FFF: beyond that lies only G.711's
/// overload region, which belongs to the top code.
/// The seven magnitude bits are sent inverted; the sign bit is 1 for
/// positive samples.
pub const fn ulaw_encode_reference(s: i16) -> u8 {
    let (magnitude, sign) = sign_magnitude(s, 2);
    let mut biased = magnitude + ULAW_BIAS;
    if biased > ULAW_BIASED_MAX {
        biased = ULAW_BIASED_MAX;
    }
    // biased >= 33, so its top bit is at least 5: segment 0 starts there.
    let segment = top_bit(biased) - 5;
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    sign | (0x7F ^ ((segment as u8) << 4 | mantissa as u8))
}

/// µ-law decode: the interval of biased magnitudes for segment `k` and
/// mantissa `m` is `[(16 + m) << (k + 1), (17 + m) << (k + 1))`; its mid-point
/// is `(2m + 33) << k`. Removing the bias gives the 14-bit value, times four
/// the 16-bit one. The two zero codes (0xFF, 0x7F) both decode to 0.
pub const fn ulaw_decode_reference(c: u8) -> i16 {
    let t = !c;
    let segment = (t >> 4) & 0x07;
    let mantissa = (t & 0x0F) as i16;
    let magnitude = (((2 * mantissa + 33) << segment) - 33) * 4;
    if t & POSITIVE != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// A-law encode (G.711 table 1a): 13-bit input, 12-bit magnitude. Segment 0
/// covers magnitudes 0..32 with a step of 2, segment `k` (1..=7) covers
/// `[16 << k, 32 << k)` with a step of `1 << k`; the mantissa is the four
/// bits below the leading one (segment 0 has no leading one). The sign bit is
/// set for positive samples, then the even bits are inverted. The 12-bit
/// magnitude cannot exceed the top segment, so no clipping is needed.
pub const fn alaw_encode_reference(s: i16) -> u8 {
    let (magnitude, sign) = sign_magnitude(s, 3);
    let (segment, mantissa) = if magnitude < 32 {
        (0, magnitude >> 1)
    } else {
        // magnitude in [32, 4096): top bit 5..=11 is segment 1..=7.
        let segment = top_bit(magnitude) - 4;
        (segment, (magnitude >> segment) & 0x0F)
    };
    (sign | (segment as u8) << 4 | mantissa as u8) ^ ALAW_EVEN_BITS
}

/// A-law decode: the mid-point of the code's interval in 13-bit units is
/// `2m + 1` in segment 0 and `(2m + 33) << (k - 1)` in segment `k`; times
/// eight gives 16 bits. A-law has no zero code: the smallest values are ±8.
pub const fn alaw_decode_reference(c: u8) -> i16 {
    let t = c ^ ALAW_EVEN_BITS;
    let segment = (t >> 4) & 0x07;
    let mantissa = (t & 0x0F) as i16;
    let magnitude = if segment == 0 {
        (2 * mantissa + 1) * 8
    } else {
        ((2 * mantissa + 33) << (segment - 1)) * 8
    };
    if t & POSITIVE != 0 {
        magnitude
    } else {
        -magnitude
    }
}
