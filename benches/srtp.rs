//! SRTP CPU cost per packet on one core: protect and unprotect of a
//! 172-byte RTP packet (12-byte header, 160 bytes of 20 ms PCMU) for both
//! SDES suites, beside copying the same packet into a relay buffer, the
//! work plain relaying does per packet besides its syscalls. Figures are
//! CPU nanoseconds of this thread per packet (not wall time: the machine
//! is shared), best of 5 rounds (`common::measure`).
//!
//! Every row includes the copy of the packet into the working buffer, as
//! the relay's receive does; unprotect also includes a fresh receiving
//! context every 1024 packets (the replay window refuses a packet twice,
//! so the same 1024 packets are replayed to a new context, about 1 µs in
//! 1024 packets). A counting allocator checks that protect and unprotect
//! allocate nothing.
//!
//! Run: `cargo bench --bench srtp`.

use std::hint::black_box;
use std::time::Duration;

use pbxgate::media::srtp::{MasterKey, SrtpContext, Suite, MASTER_LEN, SRTP_MAX_OVERHEAD};

mod common;
use common::measure;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

const PACKET: usize = 172;
const BUF: usize = 2048;
const RING: usize = 1024;

fn key() -> MasterKey {
    let mut bytes = [0u8; MASTER_LEN];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    MasterKey::from_bytes(&bytes)
}

fn rtp(seq: u16) -> [u8; PACKET] {
    let mut p = [0xffu8; PACKET];
    p[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(13) ^ 0x55;
    }
    p
}

fn row(name: &str, ns: f64, anchor: f64) {
    println!(
        "{name:<42} {ns:>8.1} ns/packet   {:>8.1} ns over the copy",
        ns - anchor
    );
}

fn main() {
    let budget = Duration::from_millis(300);
    let plain = rtp(1);
    let mut buf = [0u8; BUF];
    #[cfg(target_arch = "x86_64")]
    println!(
        "CPU AES instructions: {}",
        std::arch::is_x86_feature_detected!("aes")
    );
    println!("SRTP per {PACKET}-byte RTP packet, CPU time of this thread, best of 5");

    let mut seq = 0u16;
    let copy = measure(budget, 64, || {
        seq = seq.wrapping_add(1);
        buf[..PACKET].copy_from_slice(black_box(&plain));
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        black_box(&mut buf);
    });
    row("plain copy (relaying anchor)", copy, copy);

    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let mut tx = SrtpContext::new(suite, &key());
        let mut seq = 0u16;
        let protect = measure(budget, 64, || {
            seq = seq.wrapping_add(1);
            buf[..PACKET].copy_from_slice(black_box(&plain));
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            let n = tx.protect(&mut buf, PACKET).expect("protect");
            black_box(n);
        });
        row(&format!("{suite} protect"), protect, copy);

        // The ring: packets 0..RING protected once, opened by a new
        // receiving context each time round.
        let mut sender = SrtpContext::new(suite, &key());
        let ring: Vec<([u8; PACKET + SRTP_MAX_OVERHEAD], usize)> = (0..RING as u16)
            .map(|s| {
                let mut b = [0u8; PACKET + SRTP_MAX_OVERHEAD];
                b[..PACKET].copy_from_slice(&rtp(s));
                let n = sender.protect(&mut b, PACKET).expect("protect");
                (b, n)
            })
            .collect();
        let mut rx = SrtpContext::new(suite, &key());
        let mut i = 0;
        let unprotect = measure(budget, 64, || {
            if i == RING {
                i = 0;
                rx = SrtpContext::new(suite, &key());
            }
            let (packet, n) = &ring[i];
            buf[..*n].copy_from_slice(black_box(&packet[..*n]));
            let m = rx.unprotect(&mut buf, *n).expect("unprotect");
            black_box(m);
            i += 1;
        });
        row(&format!("{suite} unprotect"), unprotect, copy);

        // Nothing allocated per packet.
        let mut rx = SrtpContext::new(suite, &key());
        let mut tx = SrtpContext::new(suite, &key());
        counting_alloc::start(false);
        for s in 0..10_000u16 {
            buf[..PACKET].copy_from_slice(&plain);
            buf[2..4].copy_from_slice(&s.to_be_bytes());
            let n = tx.protect(&mut buf, PACKET).expect("protect");
            rx.unprotect(&mut buf, n).expect("unprotect");
        }
        let allocs = counting_alloc::stop();
        println!(
            "{:<42} {allocs:>8} allocations in 10000 protect+unprotect",
            suite.name()
        );
    }
}
