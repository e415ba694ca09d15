use super::super::auth::Authenticator;
use super::super::kdf::SessionKeys;
use super::super::{SrtpContext, SrtpError, Suite, SRTCP_OVERHEAD};
use super::master;

const SSRC: u32 = 0xdead_beef;

/// A sender report with one report block's worth of bytes, compounded
/// with an SDES: 8 + 20 + 24 + 12 bytes.
fn rtcp() -> ([u8; 120], usize) {
    let mut buf = [0u8; 120];
    buf[0] = 0x80;
    buf[1] = 200;
    buf[2..4].copy_from_slice(&12u16.to_be_bytes());
    buf[4..8].copy_from_slice(&SSRC.to_be_bytes());
    for (i, b) in buf[8..52].iter_mut().enumerate() {
        *b = i as u8;
    }
    buf[52] = 0x81;
    buf[53] = 202;
    buf[54..56].copy_from_slice(&2u16.to_be_bytes());
    buf[56..60].copy_from_slice(&SSRC.to_be_bytes());
    buf[60..64].copy_from_slice(b"\x01\x02hi");
    (buf, 64)
}

fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
    (
        SrtpContext::new(suite, &master(3)),
        SrtpContext::new(suite, &master(3)),
    )
}

#[test]
fn round_trip_with_e_flag_index_and_80_bit_tag() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let (mut tx, mut rx) = pair(suite);
        let (clear, len) = rtcp();
        for index in 0u32..5 {
            let mut buf = clear;
            let n = tx.protect_rtcp(&mut buf, len).unwrap();
            // 4 bytes of E and index, 10 of tag, for either suite.
            assert_eq!(n, len + 14);
            assert_eq!(buf[..8], clear[..8]);
            assert_ne!(buf[8..len], clear[8..len]);
            assert_eq!(buf[len..len + 4], (0x8000_0000 | index).to_be_bytes());
            let m = rx.unprotect_rtcp(&mut buf, n).unwrap();
            assert_eq!(buf[..m], clear[..len], "{suite} {index}");
        }
    }
}

fn protected() -> (SrtpContext, [u8; 120], usize) {
    let (mut tx, rx) = pair(Suite::AesCm128HmacSha1_80);
    let (mut buf, len) = rtcp();
    let n = tx.protect_rtcp(&mut buf, len).unwrap();
    (rx, buf, n)
}

#[test]
fn tampered_srtcp_is_refused() {
    let (mut rx, buf, n) = protected();
    for byte in [0, 5, 9, 63, 64, 67, 68, 77] {
        let mut bad = buf;
        bad[byte] ^= 0x10;
        assert_eq!(
            rx.unprotect_rtcp(&mut bad, n),
            Err(SrtpError::AuthenticationFailed),
            "byte {byte}"
        );
    }
    let mut good = buf;
    assert!(rx.unprotect_rtcp(&mut good, n).is_ok());
}

#[test]
fn replayed_srtcp_is_refused() {
    let (mut rx, buf, n) = protected();
    let mut once = buf;
    rx.unprotect_rtcp(&mut once, n).unwrap();
    let mut again = buf;
    assert_eq!(
        rx.unprotect_rtcp(&mut again, n),
        Err(SrtpError::Replayed { index: 0 })
    );
}

/// E = 0 with a valid tag: authenticated, but the session never agreed
/// to unencrypted SRTCP (RFC 4568 §6.3.2).
#[test]
fn unencrypted_srtcp_is_refused() {
    let (mut rx, _, _) = protected();
    let (mut buf, len) = rtcp();
    buf[len..len + 4].copy_from_slice(&0u32.to_be_bytes());
    let keys = SessionKeys::rtcp(&master(3));
    let auth = Authenticator::new(&keys.auth);
    let (packet, tag) = buf.split_at_mut(len + 4);
    auth.tag(&[packet], &mut tag[..10]);
    assert_eq!(
        rx.unprotect_rtcp(&mut buf, len + SRTCP_OVERHEAD),
        Err(SrtpError::SrtcpNotEncrypted)
    );
}

#[test]
fn short_srtcp_is_refused() {
    let (mut rx, mut buf, _) = protected();
    assert_eq!(
        rx.unprotect_rtcp(&mut buf, 21),
        Err(SrtpError::TooShort {
            len: 21,
            needed: 22
        })
    );
    let (mut tx, _) = pair(Suite::AesCm128HmacSha1_80);
    let (mut buf, len) = rtcp();
    assert!(matches!(
        tx.protect_rtcp(&mut buf[..len + 13], len),
        Err(SrtpError::NoRoom { needed: 14, .. })
    ));
}
