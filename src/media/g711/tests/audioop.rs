//! Cross-check against Python's `audioop` (Sun's g711.c conventions), every
//! input and every code, from `tests/media/g711_audioop.txt` (written by
//! `tests/media/gen_g711_vectors.py`).
//!
//! audioop and we agree on every A-law code, on every decoded value and on
//! µ-law for samples >= 0. For negative samples audioop's µ-law negates the
//! 14-bit value where G.191 (and we) take its one's complement, a magnitude
//! one larger. Exactly: for `x < 0`, ours(x) is audioop's code of the
//! positive sample `!x` with the sign bit cleared, and audioop(x) is ours of
//! `x - 4`. They differ on 508 inputs: the 4 samples (one 14-bit step) at
//! each of the 127 negative decision values, where audioop picks the code
//! one step further from zero (-1..=-4 get 0x7E, -8, instead of 0x7F, 0).

use super::all_codes;
use crate::media::g711::*;

const VECTORS: &str = include_str!("../../../../tests/media/g711_audioop.txt");
const SECTIONS: [&str; 4] = ["lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin"];

/// The lines of a section, up to the next section name.
fn section<'a>(name: &str) -> impl Iterator<Item = &'a str> + use<'a, '_> {
    VECTORS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip_while(move |l| *l != name)
        .skip(1)
        .take_while(|l| !SECTIONS.contains(l))
        .flat_map(str::split_whitespace)
}

/// An encode section expanded back to one code per input, -32768 first.
fn encoded(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(65536);
    for run in section(name) {
        let (code, count) = run.split_once(':').expect("code:count");
        let code = u8::from_str_radix(code, 16).expect("hex code");
        let count: usize = count.parse().expect("run length");
        out.extend(std::iter::repeat_n(code, count));
    }
    assert_eq!(out.len(), 65536, "{name} covers every input");
    out
}

fn decoded(name: &str) -> Vec<i16> {
    let out: Vec<i16> = section(name)
        .map(|v| v.parse().expect("decimal value"))
        .collect();
    assert_eq!(out.len(), 256, "{name} covers every code");
    out
}

fn sample_at(i: usize) -> i16 {
    (i as i32 + i32::from(i16::MIN)) as i16
}

#[test]
fn alaw_encode_equals_audioop_for_every_input() {
    for (i, &theirs) in encoded("lin2alaw").iter().enumerate() {
        let s = sample_at(i);
        assert_eq!(alaw_encode(s), theirs, "{s}");
    }
}

#[test]
fn ulaw_encode_relates_to_audioop_exactly_as_documented() {
    let theirs = encoded("lin2ulaw");
    let audioop = |s: i16| theirs[(i32::from(s) - i32::from(i16::MIN)) as usize];
    let mut differing = 0;
    for i in 0..theirs.len() {
        let s = sample_at(i);
        let ours = ulaw_encode(s);
        if s >= 0 {
            assert_eq!(ours, audioop(s), "{s}");
            continue;
        }
        assert_eq!(ours, audioop(!s) & 0x7F, "{s}");
        if ours != audioop(s) {
            differing += 1;
            // One quantisation step, towards zero.
            assert_eq!(ours, audioop(s) + 1, "{s}");
        }
        // The same statement in the other direction: audioop's code of x is
        // ours of x - 4 (down to the clipped end).
        if s >= i16::MIN + 4 {
            assert_eq!(audioop(s), ulaw_encode(s - 4), "{s}");
        }
    }
    assert_eq!(differing, 127 * 4);
}

#[test]
fn decode_equals_audioop_for_every_code() {
    let ulaw = decoded("ulaw2lin");
    let alaw = decoded("alaw2lin");
    for c in all_codes() {
        assert_eq!(ulaw_decode(c), ulaw[usize::from(c)], "µ-law {c:#04x}");
        assert_eq!(alaw_decode(c), alaw[usize::from(c)], "A-law {c:#04x}");
    }
}
