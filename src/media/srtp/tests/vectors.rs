use super::super::cipher::AesCm;
use super::super::kdf::{derive, Label, SessionKeys};
use super::super::{SrtpContext, Suite};
use super::{hex, rfc_master};

/// RFC 3711 B.2: the AES-CM keystream of session key 2B7E...4F3C and salt
/// F0F1...FCFD for SSRC 0 and index 0 (so IV F0F1...FCFD0000), blocks
/// 0-2 and 0xFEFF-0xFF01.
#[test]
fn aes_cm_keystream_is_rfc_3711_b2() {
    let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let cm = AesCm::new(&key, &salt);
    let mut stream = vec![0u8; 0xff02 * 16];
    cm.apply(0, 0, &mut stream);
    let block = |n: usize| &stream[n * 16..n * 16 + 16];
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// RFC 3711 B.3: session keys of the master key E1F9...4139, salt
/// 0EC6...ABE6, index 0, key derivation rate 0.
#[test]
fn key_derivation_is_rfc_3711_b3() {
    let keys = SessionKeys::rtp(&rfc_master());
    assert_eq!(
        keys.cipher.to_vec(),
        hex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(keys.salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        keys.auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
    // The RFC lists 94 bytes of the auth label's keystream: derivation of
    // any length is one keystream, cut.
    let mut long = [0u8; 94];
    derive(&rfc_master(), Label::RtpAuth, &mut long);
    assert_eq!(
        long.to_vec(),
        hex(
            "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
        )
    );
}

/// The SRTCP labels give other keys than the SRTP ones.
#[test]
fn srtcp_keys_differ_from_srtp_keys() {
    let rtp = SessionKeys::rtp(&rfc_master());
    let rtcp = SessionKeys::rtcp(&rfc_master());
    assert_ne!(rtp.cipher, rtcp.cipher);
    assert_ne!(rtp.auth, rtcp.auth);
    assert_ne!(rtp.salt, rtcp.salt);
}

const PLAIN_RTP: &str = "800f1234decafbadcafebabe abababababababababababababababab";
/// libsrtp's reference packet (srtp_driver "against reference packet"):
/// the RTP packet above, SSRC 0xCAFEBABE, seq 0x1234, under the B.3 key.
const SRTP_80: &str =
    "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb";

fn in_buffer(bytes: &[u8]) -> ([u8; 64], usize) {
    let mut buf = [0u8; 64];
    buf[..bytes.len()].copy_from_slice(bytes);
    (buf, bytes.len())
}

#[test]
fn protect_gives_libsrtp_reference_packet() {
    let mut ctx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    let (mut buf, len) = in_buffer(&hex(PLAIN_RTP));
    let n = ctx.protect(&mut buf, len).unwrap();
    assert_eq!(buf[..n].to_vec(), hex(SRTP_80));
}

#[test]
fn unprotect_reads_libsrtp_reference_packet() {
    let mut ctx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    let (mut buf, len) = in_buffer(&hex(SRTP_80));
    let n = ctx.unprotect(&mut buf, len).unwrap();
    assert_eq!(buf[..n].to_vec(), hex(PLAIN_RTP));
}

/// `_32` differs from `_80` only in the tag's length (RFC 4568 §6.2.2):
/// the same packet, the first 4 bytes of the same HMAC.
#[test]
fn sha1_32_tag_is_the_first_four_bytes() {
    let mut ctx = SrtpContext::new(Suite::AesCm128HmacSha1_32, &rfc_master());
    let (mut buf, len) = in_buffer(&hex(PLAIN_RTP));
    let n = ctx.protect(&mut buf, len).unwrap();
    let full = hex(SRTP_80);
    assert_eq!(n, full.len() - 6);
    assert_eq!(buf[..n], full[..n]);
}

const PLAIN_RTCP: &str = "81c8000bcafebabe abababababababababababababababab";
/// libsrtp's reference SRTCP packet: E flag set, SRTCP index 1 (libsrtp
/// counts from 1; RFC 3711 §3.4 from 0), 80-bit tag.
const SRTCP_80: &str =
    "81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798";

#[test]
fn unprotect_rtcp_reads_libsrtp_reference_packet() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let mut ctx = SrtpContext::new(suite, &rfc_master());
        let (mut buf, len) = in_buffer(&hex(SRTCP_80));
        let n = ctx.unprotect_rtcp(&mut buf, len).unwrap();
        assert_eq!(buf[..n].to_vec(), hex(PLAIN_RTCP), "{suite}");
    }
}

#[test]
fn protect_rtcp_gives_libsrtp_reference_packet() {
    let mut ctx = SrtpContext::new(Suite::AesCm128HmacSha1_32, &rfc_master());
    ctx.rtcp_mut().set_next_index(0xcafebabe, 1);
    let (mut buf, len) = in_buffer(&hex(PLAIN_RTCP));
    let n = ctx.protect_rtcp(&mut buf, len).unwrap();
    assert_eq!(buf[..n].to_vec(), hex(SRTCP_80));
}
