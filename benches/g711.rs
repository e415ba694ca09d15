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

const LONG: usize = 1 << 24;
const FRAME: usize = 160;
const FRAMES: usize = 1024;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` (which converts `samples` samples) until `budget` of CPU time is
/// spent, best of 5 rounds; returns Msamples/s.
fn measure(budget: Duration, samples: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = thread_cpu();
        let mut calls = 0u64;
        while thread_cpu() - start < budget {
            f();
            calls += 1;
        }
        best = best.min((thread_cpu() - start).as_nanos() as f64 / calls as f64);
    }
    samples as f64 / best * 1e3
}

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
}

/// Times `code` over every chunk of `input` into `output`, one call per chunk.
fn run<I: Copy, O>(
    budget: Duration,
    input: &[I],
    output: &mut [O],
    chunk: usize,
    code: impl Fn(&[I], &mut [O]) -> usize,
) -> f64 {
    measure(budget, input.len(), || {
        for (i, o) in input.chunks(chunk).zip(output.chunks_mut(chunk)) {
            black_box(code(black_box(i), o));
        }
        black_box(&mut *output);
    })
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

    type Row<'a> = (&'a str, Box<dyn Fn(&Input) -> f64 + 'a>);
    let rows: Vec<Row> = vec![
        (
            "ulaw_encode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.pcm,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    encode_ulaw,
                )
            }),
        ),
        (
            "alaw_encode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.pcm,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    encode_alaw,
                )
            }),
        ),
        (
            "ulaw_decode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.ulaw,
                    &mut vec![0i16; d.pcm.len()],
                    d.chunk,
                    decode_ulaw,
                )
            }),
        ),
        (
            "alaw_decode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.alaw,
                    &mut vec![0i16; d.pcm.len()],
                    d.chunk,
                    decode_alaw,
                )
            }),
        ),
        (
            "ulaw_to_alaw",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.ulaw,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    transcode_ulaw_to_alaw,
                )
            }),
        ),
        (
            "alaw_to_ulaw",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.alaw,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    transcode_alaw_to_ulaw,
                )
            }),
        ),
        (
            "table64k_ulaw_encode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.pcm,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    |i, o| encode_table64k(&ulaw64k, i, o),
                )
            }),
        ),
        (
            "table64k_alaw_encode",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.pcm,
                    &mut vec![0u8; d.pcm.len()],
                    d.chunk,
                    |i, o| encode_table64k(&alaw64k, i, o),
                )
            }),
        ),
        (
            "memcpy_2_bytes",
            Box::new(|d: &Input| {
                run(
                    budget,
                    &d.pcm,
                    &mut vec![0i16; d.pcm.len()],
                    d.chunk,
                    |i, o| {
                        o.copy_from_slice(i);
                        i.len()
                    },
                )
            }),
        ),
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
