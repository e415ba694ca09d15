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
