//! Talk-off: the in-band DTMF detector must not report digits in speech or
//! music. Speech is synthesised with espeak-ng (several voices, rates and
//! pitches) and brought to 8 kHz 16-bit mono with sox; both are Debian
//! packages that tests/run.sh installs (tests/apt-packages.txt). Music is
//! synthesised here: chords of harmonic-rich notes, arpeggios and sweeps.

use std::path::{Path, PathBuf};
use std::process::Command;

use pbxgate::media::dtmf::tone::peak_for_dbm0;
use pbxgate::media::dtmf::{detect_all, Digit, ToneGenerator};

const RATE: f64 = 8000.0;

const PARAGRAPHS: [&str; 6] = [
    "Good morning, and thank you for calling. Your call is important to us. \
     Please listen carefully, as our menu options have recently changed. \
     If you know the extension of the person you are trying to reach, you may \
     dial it at any time. For sales, stay on the line and an agent will be \
     with you shortly.",
    "The weather tomorrow will be mostly cloudy, with a chance of showers in \
     the afternoon. Highs near sixty four degrees, lows around forty nine. \
     Winds from the south west at ten to fifteen miles per hour, gusting to \
     twenty five near the coast. Thursday looks sunny and warmer.",
    "Oh really? I had no idea! Well, I suppose we could meet at the station \
     at half past seven, unless the trains are late again, which, honestly, \
     they usually are. Would you rather take the bus? It's cheaper, but it \
     stops everywhere, and I mean everywhere.",
    "Number nine, number nine. One, two, three, four, five, six, seven, \
     eight, nine, ten. Zero. Star. Pound. Hash. Ninety nine thousand, nine \
     hundred and ninety nine. Eleven, twelve, thirteen, fourteen, fifteen.",
    "Ah, ooh, eee, aaah, oh, mmm, hmmm, la la la la, na na na, whoa, yeah, \
     uh huh, mhm. Seeeee, shhhhh, ssssss, zzzzzz, ffff, vvvv, mmmmmm, nnnnnn, \
     ooooooo, eeeeeeee, aaaaaaaa, iiiiiii.",
    "In the beginning of the twentieth century, the telephone exchange was \
     operated by hand. Operators sat in long rows before switchboards, \
     connecting calls with patch cords, listening for the caller to name \
     the party they wished to reach. Automatic exchanges changed all that, \
     first with rotary dials and later with touch tone keypads.",
];

/// (voice, words per minute, pitch 0-99) for each paragraph.
const VOICES: [(&str, u32, u32); 6] = [
    ("en-us", 165, 50),
    ("en+f3", 150, 70),
    ("en-us+m3", 185, 35),
    ("en+f4", 140, 85),
    ("en-us+f2", 120, 99),
    ("en+m1", 175, 20),
];

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn require(name: &str) -> PathBuf {
    match find_binary(name) {
        Some(p) => p,
        None => panic!(
            "`{name}` is not installed: this talk-off test needs espeak-ng and sox; \
             ./tests/run.sh installs them (listed in tests/apt-packages.txt), or run \
             `apt-get install -y espeak-ng sox`"
        ),
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_raw(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("read raw");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// All paragraphs as 8 kHz speech, with half a second of silence between;
/// synthesised once per test binary (tests run in parallel and would
/// otherwise share, and delete, each other's temporary files).
fn speech() -> &'static [i16] {
    static SPEECH: std::sync::OnceLock<Vec<i16>> = std::sync::OnceLock::new();
    SPEECH.get_or_init(synthesise_speech)
}

fn synthesise_speech() -> Vec<i16> {
    let espeak = require("espeak-ng");
    let sox = require("sox");
    let dir = TempDir(std::env::temp_dir().join(format!("pbxgate-talkoff-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let mut all = Vec::new();
    for (i, (text, (voice, wpm, pitch))) in PARAGRAPHS.iter().zip(VOICES).enumerate() {
        let wav = dir.0.join(format!("p{i}.wav"));
        let raw = dir.0.join(format!("p{i}.raw"));
        run_ok(
            Command::new(&espeak)
                .args([
                    "-v",
                    voice,
                    "-s",
                    &wpm.to_string(),
                    "-p",
                    &pitch.to_string(),
                ])
                .arg("-w")
                .arg(&wav)
                .arg(text),
        );
        run_ok(
            Command::new(&sox)
                .arg(&wav)
                .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
                .args(["-L", "-t", "raw"])
                .arg(&raw),
        );
        all.extend(read_raw(&raw));
        all.extend(std::iter::repeat_n(0i16, 4000));
    }
    all
}

fn scaled(x: &[i16], gain: f64) -> Vec<i16> {
    x.iter()
        .map(|&s| (f64::from(s) * gain).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn rms_dbm0(x: &[i16]) -> f64 {
    let p = x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    // A 0 dBm0 sine has RMS peak/√2.
    10.0 * (p / (peak_for_dbm0(0.0).powi(2) / 2.0)).log10()
}

#[test]
fn speech_produces_no_digits() {
    let x = speech();
    let secs = x.len() as f64 / RATE;
    assert!(secs >= 60.0, "only {secs:.1} s of speech");
    println!("talk-off on {secs:.1} s of speech");
    // As synthesised, 12 dB louder (clipping on peaks) and 20 dB quieter.
    for gain in [1.0, 4.0, 0.1] {
        let y = scaled(x, gain);
        let ev = detect_all(&y);
        assert!(
            ev.is_empty(),
            "{} digits in {secs:.0} s of speech at {:.1} dBm0 RMS: {ev:?}",
            ev.len() / 2,
            rms_dbm0(&y)
        );
    }
}

#[test]
fn digits_over_speech_are_still_heard() {
    // The detector must not be so strict that a keypad pressed while the
    // other side talks goes unheard: speech at an RMS (pauses included)
    // 15 dB below the pair's power (two tones at −6 dBm0: −3 dBm0).
    let x = speech();
    let part = &x[..8000 * 12];
    let gain = 10f64.powf((-18.0 - rms_dbm0(part)) / 20.0);
    let mut y = scaled(part, gain);
    assert!((rms_dbm0(&y) + 18.0).abs() < 0.5);
    let digits = "159#2A";
    for (i, c) in digits.chars().enumerate() {
        let d = Digit::from_symbol(c).expect("digit");
        let mut tone = Vec::new();
        ToneGenerator::digit(d, -6.0, 800).render_into(&mut tone);
        let at = 8000 + i * 12_000;
        for (s, t) in y[at..].iter_mut().zip(tone) {
            *s = s.saturating_add(t);
        }
    }
    let ev = detect_all(&y);
    let got: String = ev
        .iter()
        .filter(|e| e.end_sample.is_none())
        .map(|e| e.digit.symbol())
        .collect();
    assert_eq!(got, digits);
}

/// A note with a harmonic series (amplitude 1/k for k = 1..6), an attack,
/// decay and a slight vibrato, like a plucked or bowed instrument.
fn note(out: &mut [f64], start: usize, len: usize, hz: f64, peak: f64, vibrato: f64) {
    for n in 0..len.min(out.len().saturating_sub(start)) {
        let t = n as f64 / RATE;
        let env = (t / 0.02).min(1.0) * (-t * 1.5).exp();
        let f = hz * (1.0 + vibrato * (std::f64::consts::TAU * 5.5 * t).sin());
        let mut v = 0.0;
        for k in 1..=6 {
            let fk = f * f64::from(k);
            if fk < 3800.0 {
                v += (std::f64::consts::TAU * fk * t).sin() / f64::from(k);
            }
        }
        out[start + n] += peak * env * v;
    }
}

fn midi_hz(m: i32) -> f64 {
    440.0 * 2f64.powf(f64::from(m - 69) / 12.0)
}

/// 40 s of music-like signal: block chords, arpeggios and sweeps.
fn music() -> Vec<i16> {
    let len = 40 * 8000;
    let mut x = vec![0.0f64; len];
    // Chords: I-vi-IV-V in C, then chords whose notes sit near DTMF
    // frequencies (F5 = 698 Hz, E6 = 1319 Hz, F#6 = 1480 Hz, G#6 = 1661 Hz),
    // the hardest case for a detector, each 0.5 s, for 16 s.
    let progressions: [&[i32]; 8] = [
        &[60, 64, 67, 72],
        &[57, 60, 64, 69],
        &[53, 57, 60, 65],
        &[55, 59, 62, 67],
        &[77, 90],
        &[77, 88],
        &[79, 91, 84],
        &[77, 92],
    ];
    for bar in 0..32 {
        let chord = progressions[bar % progressions.len()];
        for (i, &m) in chord.iter().enumerate() {
            note(
                &mut x,
                bar * 4000,
                4000,
                midi_hz(m),
                3000.0,
                0.003 * i as f64,
            );
        }
    }
    // Arpeggios, sixteenth notes at 120 bpm, over two octaves, for 12 s.
    let start = 16 * 8000;
    let pattern = [72, 76, 79, 84, 88, 91, 96, 91, 88, 84, 79, 76];
    for i in 0..(12 * 8) {
        let m = pattern[i % pattern.len()] - 12 * ((i / 24) % 2) as i32;
        note(&mut x, start + i * 1000, 3000, midi_hz(m), 5000.0, 0.0);
    }
    // Sweeps: a bowed (harmonic-rich) glissando up and down 600-2000 Hz,
    // under a sustained low drone, for 12 s.
    let start = 28 * 8000;
    let mut phase = 0.0f64;
    for n in 0..(12 * 8000) {
        let t = n as f64 / RATE;
        let sweep = ((t / 3.0) * std::f64::consts::PI).sin().abs();
        let f = 600.0 * (2000.0f64 / 600.0).powf(sweep);
        phase += std::f64::consts::TAU * f / RATE;
        let mut v = 0.0;
        for k in 1..=4 {
            v += (phase * f64::from(k)).sin() / f64::from(k);
        }
        let drone = (std::f64::consts::TAU * 110.0 * t).sin()
            + 0.5 * (std::f64::consts::TAU * 220.0 * t).sin();
        x[start + n] += 4000.0 * v + 2000.0 * drone;
    }
    x.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[test]
fn music_produces_no_digits() {
    let x = music();
    assert!(x.len() as f64 / RATE >= 30.0);
    for gain in [1.0, 3.0, 0.1] {
        let y = scaled(&x, gain);
        let ev = detect_all(&y);
        assert!(ev.is_empty(), "gain {gain}: {ev:?}");
    }
}
