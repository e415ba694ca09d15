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
