//! The codes behave as G.711's quantisation says: decoder output values,
//! code identity, monotonic encoding and the error bound of each segment.

use super::{all_codes, all_samples};
use crate::media::g711::*;

/// Decoder output values of G.711 tables 1a and 2a for positive codes, per
/// segment: first value, step, in the standard's units (13-bit magnitude
/// scale 4096 for A-law, 14-bit scale 8159 for µ-law). Written from the
/// standard, not from our rules.
const ALAW_SEGMENTS: [(i16, i16); 8] = [
    (1, 2),
    (33, 2),
    (66, 4),
    (132, 8),
    (264, 16),
    (528, 32),
    (1056, 64),
    (2112, 128),
];
const ULAW_SEGMENTS: [(i16, i16); 8] = [
    (0, 2),
    (33, 4),
    (99, 8),
    (231, 16),
    (495, 32),
    (1023, 64),
    (2079, 128),
    (4191, 256),
];

/// Segment (0..=7) and interval (0..=15) of a code, sign as +1 / -1, after
/// undoing the law's bit inversion.
fn fields(c: u8, inversion: u8, positive_when_set: bool) -> (usize, i16, i16) {
    let t = c ^ inversion;
    let positive = (t & 0x80 != 0) == positive_when_set;
    (
        usize::from((t >> 4) & 7),
        i16::from(t & 0x0F),
        if positive { 1 } else { -1 },
    )
}

#[test]
fn every_code_decodes_to_the_standards_output_value() {
    // µ-law sends all bits inverted and the sign bit set for positive;
    // A-law inverts the even bits only. Both scale to 16 bits.
    for (law, decode, inversion, segments, scale) in [
        (
            "µ-law",
            ulaw_decode as fn(u8) -> i16,
            0x7F,
            ULAW_SEGMENTS,
            4,
        ),
        ("A-law", alaw_decode, 0x55, ALAW_SEGMENTS, 8),
    ] {
        for c in all_codes() {
            let (seg, m, sign) = fields(c, inversion, true);
            let (first, step) = segments[seg];
            assert_eq!(
                decode(c),
                sign * (first + m * step) * scale,
                "{law} {c:#04x}"
            );
        }
    }
}

#[test]
fn well_known_anchors() {
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
    assert_eq!(alaw_decode(0xAA), 32256);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(ulaw_encode(0), 0xFF);
    assert_eq!(ulaw_encode(-1), 0x7F);
    assert_eq!(ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ulaw_encode(i16::MIN), 0x00);
    assert_eq!(alaw_encode(0), 0xD5);
    assert_eq!(alaw_encode(-1), 0x55);
    assert_eq!(alaw_encode(i16::MAX), 0xAA);
    assert_eq!(alaw_encode(i16::MIN), 0x2A);
}

/// µ-law has a positive and a negative zero; 0 encodes to the positive one
/// (0xFF), so 0x7F is the only code that does not survive decode → encode.
#[test]
fn encode_of_decode_is_identity_on_codes() {
    for c in all_codes() {
        let expected = if c == 0x7F { 0xFF } else { c };
        assert_eq!(ulaw_encode(ulaw_decode(c)), expected, "µ-law {c:#04x}");
        assert_eq!(alaw_encode(alaw_decode(c)), c, "A-law {c:#04x}");
    }
}

#[test]
fn decode_encode_decode_is_decode() {
    for c in all_codes() {
        assert_eq!(ulaw_decode(ulaw_encode(ulaw_decode(c))), ulaw_decode(c));
        assert_eq!(alaw_decode(alaw_encode(alaw_decode(c))), alaw_decode(c));
    }
}

/// A larger input never gives a smaller decoded value (codes themselves are
/// not ordered as numbers), and every code is reached.
#[test]
fn encode_is_monotonic_and_onto() {
    for (encode, decode, codes) in [
        (
            ulaw_encode as fn(i16) -> u8,
            ulaw_decode as fn(u8) -> i16,
            256,
        ),
        (alaw_encode, alaw_decode, 256),
    ] {
        let mut seen = [false; 256];
        let mut previous = i16::MIN;
        for s in all_samples() {
            let c = encode(s);
            seen[usize::from(c)] = true;
            let v = decode(c);
            assert!(v >= previous, "{s}: {v} after {previous}");
            previous = v;
        }
        assert_eq!(seen.iter().filter(|&&x| x).count(), codes);
    }
}

/// Round trip error: at most half a quantisation step of the code's segment
/// (µ-law: 8 << k in 16-bit units; A-law: 16 in segments 0 and 1, then
/// 16 << (k - 1)). Only µ-law can overload: past its last decision value
/// (8159 · 4) every sample takes the top code.
#[test]
fn round_trip_error_is_within_half_a_step_per_segment() {
    const ULAW_OVERLOAD: i32 = 8159 * 4;
    let mut ulaw_worst = [0i32; 8];
    let mut alaw_worst = [0i32; 8];
    for s in all_samples() {
        let x = i32::from(s);
        // One's complement mirror: the magnitude the quantiser sees.
        let mirrored = if x < 0 { -x - 1 } else { x };

        let c = ulaw_encode(s);
        let seg = usize::from(((!c) >> 4) & 7);
        let error = (i32::from(ulaw_decode(c)) - x).abs();
        if mirrored >= ULAW_OVERLOAD {
            assert_eq!(c & 0x7F, 0, "µ-law {s} past overload");
        } else {
            assert!(error <= (8 << seg) / 2, "µ-law {s}: error {error}");
            ulaw_worst[seg] = ulaw_worst[seg].max(error);
        }

        let c = alaw_encode(s);
        let seg = usize::from(((c ^ 0x55) >> 4) & 7);
        let step = if seg == 0 { 16 } else { 16 << (seg - 1) };
        let error = (i32::from(alaw_decode(c)) - x).abs();
        assert!(error <= step / 2, "A-law {s}: error {error}");
        alaw_worst[seg] = alaw_worst[seg].max(error);
    }
    // The bound is tight: some input in every segment reaches it.
    assert_eq!(ulaw_worst, [4, 8, 16, 32, 64, 128, 256, 512]);
    assert_eq!(alaw_worst, [8, 8, 16, 32, 64, 128, 256, 512]);
}

/// Each code is reached by one contiguous run of inputs whose middle is the
/// decoded value, except where the interval is cut: µ-law's zero codes (the
/// zero interval straddles 0) and top codes (the overload region).
#[test]
fn decoded_value_is_the_middle_of_the_inputs_that_give_the_code() {
    for (encode, decode, cut) in [
        (
            ulaw_encode as fn(i16) -> u8,
            ulaw_decode as fn(u8) -> i16,
            &[0x00u8, 0x7F, 0x80, 0xFF][..],
        ),
        (alaw_encode, alaw_decode, &[][..]),
    ] {
        let mut range = [(i32::MAX, i32::MIN); 256];
        for s in all_samples() {
            let r = &mut range[usize::from(encode(s))];
            r.0 = r.0.min(i32::from(s));
            r.1 = r.1.max(i32::from(s));
        }
        for c in all_codes().filter(|c| !cut.contains(c)) {
            let (lo, hi) = range[usize::from(c)];
            // Inputs lo..=hi stand for [lo, hi + 1).
            assert_eq!(i32::from(decode(c)) * 2, lo + hi + 1, "{c:#04x}");
        }
    }
}
