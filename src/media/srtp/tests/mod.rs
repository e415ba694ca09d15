//! Known answers from RFC 3711 Appendix B and libsrtp's reference packets
//! (`vectors`), and the behaviour of the contexts (`rtp`, `rtcp`).

mod replay;
mod rtcp;
mod rtp;
mod sdes;
mod vectors;

use super::{MasterKey, MASTER_LEN};

pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The master key and salt of RFC 3711 B.3 (also libsrtp's test key).
pub(super) fn rfc_master() -> MasterKey {
    let bytes = hex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6");
    MasterKey::from_bytes(&bytes.try_into().unwrap())
}

pub(super) fn master(fill: u8) -> MasterKey {
    let mut bytes = [0u8; MASTER_LEN];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = fill.wrapping_add(i as u8);
    }
    MasterKey::from_bytes(&bytes)
}

/// A 20 ms PCMU packet: 12-byte header, 160 payload bytes, in a buffer
/// with room for the SRTP tag.
pub(super) fn pcmu(seq: u16, ssrc: u32) -> ([u8; 200], usize) {
    let mut buf = [0u8; 200];
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in buf[12..172].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
    (buf, 172)
}
