//! Audio the end-to-end tests play and check: µ-law noise that survives
//! any G.711 encoder, the PBX side's RTP sent and collected on a plain
//! socket, a pattern found in a stream.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// `n` µ-law bytes of noise over the whole range, without the two codes
/// of zero (0xff, 0x7f): every other code decodes to a value that any
/// G.711 encoder turns back into the same code, so audio made of them
/// survives baresip's own encoder byte for byte.
pub fn ulaw_noise(mut x: u32, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = (x >> 24) as u8;
        if b & 0x7f != 0x7f {
            out.push(b);
        }
    }
    out
}

/// Every packet that reaches `sock` until `quiet` passes without one
/// (after the first) or `limit` is reached.
pub fn collect(sock: &UdpSocket, quiet: Duration, limit: Duration) -> Vec<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let start = Instant::now();
    let mut last = None::<Instant>;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while start.elapsed() < limit {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                out.push(buf[..n].to_vec());
                last = Some(Instant::now());
            }
            Err(_) if last.is_some_and(|l| l.elapsed() > quiet) => break,
            Err(_) => {}
        }
    }
    out
}

/// 20 ms PCMU packets of `payload` from the PBX, every 20 ms.
pub fn send_pcmu(sock: &UdpSocket, to: SocketAddr, payload: &[u8]) {
    for (i, chunk) in payload.chunks(160).enumerate() {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&(500 + i as u16).to_be_bytes());
        p.extend_from_slice(&(8000 + 160 * i as u32).to_be_bytes());
        p.extend_from_slice(&0x0ba2_e51bu32.to_be_bytes());
        p.extend_from_slice(chunk);
        sock.send_to(&p, to).expect("send");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where `needle` starts in `hay`, if it is there whole.
pub fn find<T: PartialEq>(hay: &[T], needle: &[T]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Normalised cross-correlation of two equally long runs of samples: 1.0
/// for the same waveform at any gain.
pub fn ncc(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa * bb).sqrt()
}

/// Where `got[at..at + window]` best matches `reference` (the offset into
/// `reference`), and the normalised cross-correlation there. For audio that
/// went through a device and a codec: the delay is unknown, the waveform
/// must be kept.
pub fn align(reference: &[f32], got: &[f32], at: usize, window: usize) -> Option<(usize, f64)> {
    let w = got.get(at..at + window)?;
    (0..reference.len().checked_sub(window)? + 1)
        .map(|off| (off, ncc(&reference[off..off + window], w)))
        .max_by(|x, y| x.1.total_cmp(&y.1))
}

/// Test audio: seven tones between 300 Hz and 2.8 kHz at unrelated
/// frequencies, slowly swelling, so no two half-seconds look alike and the
/// whole of it passes a telephone band and any resampler.
pub fn signal(rate: u32, seconds: f32) -> Vec<f32> {
    const TONES: [(f32, f32); 7] = [
        (313.0, 0.0),
        (577.0, 1.1),
        (911.0, 2.3),
        (1297.0, 0.7),
        (1733.0, 1.9),
        (2203.0, 2.9),
        (2711.0, 0.4),
    ];
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let swell = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 1.3 * t).sin();
            let sum: f32 = TONES
                .iter()
                .map(|(f, ph)| (2.0 * std::f32::consts::PI * f * t + ph).sin())
                .sum();
            0.09 * swell * sum
        })
        .collect()
}

/// Raw S16LE, as ALSA's `file` plugin reads it.
pub fn write_s16(path: &std::path::Path, samples: &[f32]) {
    let bytes: Vec<u8> = samples
        .iter()
        .flat_map(|&x| ((x * 32_767.0) as i16).to_le_bytes())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

/// Raw S16LE, as ALSA's `file` plugin writes it (empty if there is none).
pub fn read_s16(path: &std::path::Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
        .collect()
}

/// The first sample after which `got` carries audio, plus 100 ms.
pub fn audio_start(got: &[f32]) -> usize {
    got.iter().position(|x| x.abs() > 0.05).unwrap_or(0) + 800
}

/// `got` holds `reference` somewhere after its silent start: align half a
/// second, then the normalised cross-correlation over `check` samples there
/// must be 0.98 or better.
#[track_caller]
pub fn assert_carries(reference: &[f32], got: &[f32], check: usize, what: &str) {
    let at = audio_start(got);
    let (off, first) = align(reference, got, at, 4_000)
        .unwrap_or_else(|| panic!("{what}: only {} samples ({at} before audio)", got.len()));
    let n = check.min(got.len() - at).min(reference.len() - off);
    let whole = ncc(&reference[off..off + n], &got[at..at + n]);
    eprintln!(
        "{what}: aligned at {off}/{at}, ncc {first:.4} over 0.5 s, {whole:.4} over {n} samples"
    );
    assert!(n >= 8_000, "{what}: only {n} samples to compare");
    assert!(
        whole >= 0.98,
        "{what}: normalised cross-correlation {whole:.4} < 0.98"
    );
}

/// `got` holds `reference` after a jitter buffer: the buffer may shift the
/// alignment a little when it adapts its delay (it stretches or conceals a
/// few milliseconds), so each quarter second of `got` is aligned on its own
/// (near the previous alignment). Two thirds of them must correlate at 0.98
/// or better, none may be silent or foreign.
#[track_caller]
pub fn assert_carries_windows(reference: &[f32], got: &[f32], seconds: f32, what: &str) {
    const W: usize = 2_000;
    let at = audio_start(got);
    let n = (seconds * 4.0) as usize;
    let (mut off, _) = align(reference, got, at, W).expect("audio to compare");
    let mut scores = Vec::new();
    for k in 0..n {
        let g = at + k * W;
        let Some(w) = got.get(g..g + W) else { break };
        let expect = off + k * W;
        // A resynchronisation may move it by up to the buffer's depth.
        let lo = expect.saturating_sub(1_600);
        let hi = (expect + 1_600).min(reference.len().saturating_sub(W));
        let (o, score) = (lo..=hi)
            .map(|o| (o, ncc(&reference[o..o + W], w)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((expect, 0.0));
        off = o - k * W;
        scores.push(score);
    }
    let good = scores.iter().filter(|&&s| s >= 0.98).count();
    eprintln!("{what}: per-quarter-second ncc {scores:.3?}");
    assert!(
        scores.len() >= n,
        "{what}: only {} quarter seconds of audio",
        scores.len()
    );
    assert!(
        good * 3 >= n * 2,
        "{what}: {good} of {n} quarter seconds correlate at 0.98"
    );
    assert!(
        scores.iter().all(|&s| s >= 0.5),
        "{what}: a quarter second that is not the audio sent"
    );
}
