//! In-band DTMF detector throughput on one core, in CPU time of this thread
//! (not wall time: the machine is shared). Three inputs, because the cost
//! depends on how often a window reaches the fine measurement: white
//! noise (almost never), keyed digits at 50 % duty (half the time) and a
//! continuous digit (every window).
//!
//! Run: `cargo bench --bench dtmf`

use std::hint::black_box;
use std::time::Duration;

use pbxgate::media::dtmf::{Digit, DtmfDetector, ToneGenerator};

mod common;
use common::measure;

/// One second of each input at 8 kHz.
fn inputs() -> [(&'static str, Vec<i16>); 3] {
    let mut rng = fastrand::Rng::with_seed(12345);
    let noise: Vec<i16> = (0..8000).map(|_| rng.i16(-3000..=3000)).collect();
    let mut keyed = Vec::new();
    for d in Digit::ALL.iter().cycle().take(10) {
        ToneGenerator::digit(*d, -10.0, 400).render_into(&mut keyed);
        keyed.resize(keyed.len() + 400, 0);
    }
    let mut steady = Vec::new();
    ToneGenerator::digit(Digit::D5, -10.0, 8000).render_into(&mut steady);
    [
        ("white noise", noise),
        ("digits, 50 % duty", keyed),
        ("continuous digit", steady),
    ]
}

/// File name of each input for `PBXGATE_DTMF_DUMP` (bench/dtmf.sh).
fn file_name(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        + ".s16"
}

fn main() {
    let budget = Duration::from_millis(400);
    // bench/dtmf.sh runs the anchor (spandsp) on exactly these signals.
    if let Ok(dir) = std::env::var("PBXGATE_DTMF_DUMP") {
        for (name, x) in inputs() {
            let bytes: Vec<u8> = x.iter().flat_map(|s| s.to_le_bytes()).collect();
            let path = std::path::Path::new(&dir).join(file_name(name));
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("dtmf bench: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    }
    println!("dtmf: in-band detector, 8 kHz i16 in 160-sample frames, CPU time on one core");
    for (name, x) in inputs() {
        let mut det = DtmfDetector::new();
        let mut events = 0u64;
        let ns = measure(budget, 1, || {
            for frame in black_box(&x).chunks(160) {
                det.push(frame, &mut |e| {
                    black_box(e);
                    events += 1;
                });
            }
        });
        let msps = x.len() as f64 / ns * 1e3;
        let mut once = DtmfDetector::new();
        let mut digits = 0u64;
        once.push(&x, &mut |e| digits += u64::from(e.end_sample.is_some()));
        once.push(&[0; 800], &mut |e| {
            digits += u64::from(e.end_sample.is_some())
        });
        println!(
            "  {name:<18} {msps:>7.1} Msamples/s  {:>6.0} real-time channels  ({:.1} µs per second of audio)  digits={digits}  file={}",
            msps * 1e6 / 8000.0,
            ns / 1e3,
            file_name(name)
        );
        black_box(events);
    }
}
