//! G.711 throughput on one core, in Msamples/s of CPU time of this thread
//! (not wall time: the machine is shared).
//!
//! Three inputs: `long` is 16 Mi samples of the same LCG noise as the C
//! anchor in `../shared/bench/g711/` (so its "plain table" figures compare
//! directly); `frame` codes that noise in 160-sample (20 ms) frames, one call
//! per frame, as the RTP relay does; `quiet` is the same in frames at a
//! speech-like level (±2048), where table locality is better.
//!
//! `table64k` rows encode through a 65,536-entry table indexed by all 16
//! bits, built here with the same loop shape, to weigh it against the
//! module's 16 K / 8 K tables indexed by the 14 / 13 bits the laws use.
//!
//! Run: `cargo bench --bench g711` (bench/g711.sh adds the C anchor).

use std::hint::black_box;
use std::time::Duration;

use pbxgate::media::g711::*;

mod common;
use common::measure;

const LONG: usize = 1 << 24;
const FRAME: usize = 160;
const FRAMES: usize = 1024;

/// The anchor's generator: x = x * 1664525 + 1013904223, sample = x >> 16,
/// here optionally scaled down by `shift` bits.
fn noise(n: usize, shift: u32) -> Vec<i16> {
    let mut x: u32 = 1;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            ((x >> 16) as u16 as i16) >> shift
        })
        .collect()
}

/// One workload: linear samples and their codes in both laws.
struct Input {
    pcm: Vec<i16>,
    ulaw: Vec<u8>,
    alaw: Vec<u8>,
    /// Samples per call: the whole buffer or one frame.
    chunk: usize,
}

impl Input {
    fn new(pcm: Vec<i16>, chunk: usize) -> Input {
        let mut ulaw = vec![0; pcm.len()];
        let mut alaw = vec![0; pcm.len()];
        encode_ulaw(&pcm, &mut ulaw);
        encode_alaw(&pcm, &mut alaw);
        Input {
            pcm,
            ulaw,
            alaw,
            chunk,
        }
    }

    fn pcm(&self) -> &[i16] {
        &self.pcm
    }

    fn ulaw(&self) -> &[u8] {
        &self.ulaw
    }

    fn alaw(&self) -> &[u8] {
        &self.alaw
    }
}

/// Times `code` over every chunk of `input` into `output`, one call per
/// chunk; returns Msamples/s.
fn run<I: Copy, O>(
    budget: Duration,
    input: &[I],
    output: &mut [O],
    chunk: usize,
    code: impl Fn(&[I], &mut [O]) -> usize,
) -> f64 {
    let ns = measure(budget, 1, || {
        for (i, o) in input.chunks(chunk).zip(output.chunks_mut(chunk)) {
            black_box(code(black_box(i), o));
        }
        black_box(&mut *output);
    });
    input.len() as f64 / ns * 1e3
}

/// One row of the table: an operation, timed on each input.
type Row<'a> = (&'a str, Box<dyn Fn(&Input) -> f64 + 'a>);

/// The row that times `code` from `from(input)` into a buffer of `O` as
/// long as the input.
fn row<'a, I: Copy + 'a, O: Clone + Default + 'a>(
    name: &'a str,
    budget: Duration,
    from: fn(&Input) -> &[I],
    code: impl Fn(&[I], &mut [O]) -> usize + 'a,
) -> Row<'a> {
    let time = move |d: &Input| {
        let mut output = vec![O::default(); d.pcm.len()];
        run(budget, from(d), &mut output, d.chunk, &code)
    };
    (name, Box::new(time))
}

fn table64k(encode: fn(i16) -> u8) -> Vec<u8> {
    (0..=u16::MAX).map(|i| encode(i as i16)).collect()
}

/// The plain-table loop: all 16 bits of the sample index the table.
fn encode_table64k(table: &[u8], input: &[i16], output: &mut [u8]) -> usize {
    let n = input.len().min(output.len());
    for (o, &s) in output[..n].iter_mut().zip(&input[..n]) {
        *o = table[usize::from(s as u16)];
    }
    n
}

fn main() {
    let budget = Duration::from_millis(200);
    let inputs = [
        ("long", Input::new(noise(LONG, 0), LONG)),
        ("frame", Input::new(noise(FRAME * FRAMES, 0), FRAME)),
        ("quiet", Input::new(noise(FRAME * FRAMES, 4), FRAME)),
    ];
    let ulaw64k = table64k(ulaw_encode);
    let alaw64k = table64k(alaw_encode);
    assert!(inputs[0]
        .1
        .pcm
        .iter()
        .all(|&s| ulaw64k[usize::from(s as u16)] == ulaw_encode(s)));

    let rows: Vec<Row> = vec![
        row("ulaw_encode", budget, Input::pcm, encode_ulaw),
        row("alaw_encode", budget, Input::pcm, encode_alaw),
        row("ulaw_decode", budget, Input::ulaw, decode_ulaw),
        row("alaw_decode", budget, Input::alaw, decode_alaw),
        row("ulaw_to_alaw", budget, Input::ulaw, transcode_ulaw_to_alaw),
        row("alaw_to_ulaw", budget, Input::alaw, transcode_alaw_to_ulaw),
        row("table64k_ulaw_encode", budget, Input::pcm, |i, o| {
            encode_table64k(&ulaw64k, i, o)
        }),
        row("table64k_alaw_encode", budget, Input::pcm, |i, o| {
            encode_table64k(&alaw64k, i, o)
        }),
        row("memcpy_2_bytes", budget, Input::pcm, |i, o: &mut [i16]| {
            o.copy_from_slice(i);
            i.len()
        }),
    ];

    println!(
        "g711: Msamples/s, CPU time on one core; long = {} Mi samples of noise, frame = {FRAME}-sample \
         calls over the same noise, quiet = frames at ±2048",
        LONG >> 20
    );
    println!("  {:<22} {:>9} {:>9} {:>9}", "op", "long", "frame", "quiet");
    for (name, f) in &rows {
        let figures: Vec<String> = inputs
            .iter()
            .map(|(_, d)| format!("{:>9.1}", f(d)))
            .collect();
        println!("  {name:<22} {}", figures.join(" "));
    }
}
