use super::super::sdes::{CryptoAttribute, SdesError};
use super::super::Suite;
use super::master;

/// RFC 4568 §4's example line, after `a=crypto:`: MKI 1:32 (refused).
const RFC_4568_S4: &str =
    "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

#[test]
fn rfc_example_keys_without_mki_are_read() {
    let a = CryptoAttribute::parse(
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
    )
    .unwrap();
    assert_eq!(a.tag, 1);
    assert_eq!(a.suite, Suite::AesCm128HmacSha1_80);
    assert_eq!(a.lifetime, Some(1 << 20));
    // Written back without the lifetime, which an answer does not repeat.
    assert_eq!(
        a.to_value(),
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
    );

    // §5.1's offer key, tag 2, _32, with a session parameter.
    let b = CryptoAttribute::parse(
        "2\tAES_CM_128_HMAC_SHA1_32  inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1048576 WSH=128 FEC_ORDER=FEC_SRTP -FOO",
    )
    .unwrap();
    assert_eq!(b.tag, 2);
    assert_eq!(b.suite, Suite::AesCm128HmacSha1_32);
    assert_eq!(b.lifetime, Some(1_048_576));
    assert_eq!(b.window_hint, Some(128));
    assert_ne!(a.key, b.key);
}

#[test]
fn mki_is_refused_with_a_reason() {
    for line in [
        RFC_4568_S4,
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
        // §6.1: the MKI without a lifetime.
        "1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2|1066:4",
    ] {
        let err = CryptoAttribute::parse(line).unwrap_err();
        assert_eq!(err, SdesError::Mki, "{line}");
        assert!(err.to_string().contains("MKI is not supported"));
    }
    // §5.1's F8 line with two keys: the suite is refused first.
    let f8 = "2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP";
    assert_eq!(
        CryptoAttribute::parse(f8),
        Err(SdesError::UnknownSuite("F8_128_HMAC_SHA1_80".into()))
    );
    let two_keys = f8.replacen("F8_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80", 1);
    assert_eq!(
        CryptoAttribute::parse(&two_keys),
        Err(SdesError::SeveralKeys)
    );
}

#[test]
fn unsupported_or_malformed_lines_are_refused_by_name() {
    let key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    let cases: Vec<(String, SdesError)> = vec![
        ("".into(), SdesError::MissingTag),
        (
            "x1 AES_CM_128_HMAC_SHA1_80".into(),
            SdesError::BadTag("x1".into()),
        ),
        (
            "1234567890 AES_CM_128_HMAC_SHA1_80".into(),
            SdesError::BadTag("1234567890".into()),
        ),
        ("1".into(), SdesError::MissingSuite),
        (
            format!("1 AEAD_AES_128_GCM {key}"),
            SdesError::UnknownSuite("AEAD_AES_128_GCM".into()),
        ),
        (
            format!("1 AES_256_CM_HMAC_SHA1_80 {key}"),
            SdesError::UnknownSuite("AES_256_CM_HMAC_SHA1_80".into()),
        ),
        ("1 AES_CM_128_HMAC_SHA1_80".into(), SdesError::MissingKey),
        (
            "1 AES_CM_128_HMAC_SHA1_80 uri:https://x".into(),
            SdesError::KeyMethod("uri".into()),
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1u*CVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR".into(),
            SdesError::KeyNotBase64,
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc".into(),
            SdesError::KeyLength(21),
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBRPS1uQCVe"
                .into(),
            SdesError::KeyLength(36),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^x"),
            SdesError::BadLifetime("2^x".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^64"),
            SdesError::BadLifetime("2^64".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^20|1:4|9"),
            SdesError::TooManyKeyFields,
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} KDR=1"),
            SdesError::SessionParam("KDR".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} UNENCRYPTED_SRTCP"),
            SdesError::SessionParam("UNENCRYPTED_SRTCP".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} UNAUTHENTICATED_SRTP"),
            SdesError::SessionParam("UNAUTHENTICATED_SRTP".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} FEC_KEY={key}"),
            SdesError::SessionParam("FEC_KEY".into()),
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} NEW_THING"),
            SdesError::SessionParam("NEW_THING".into()),
        ),
    ];
    for (line, err) in cases {
        assert_eq!(CryptoAttribute::parse(&line), Err(err), "{line}");
    }
}

#[test]
fn an_offer_line_round_trips_and_hides_its_key_in_debug() {
    let line = CryptoAttribute::new(7, Suite::AesCm128HmacSha1_32, master(0x30));
    let value = line.to_value();
    assert!(
        value.starts_with("7 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{value}"
    );
    assert_eq!(value.len(), "7 AES_CM_128_HMAC_SHA1_32 inline:".len() + 40);
    let back = CryptoAttribute::parse(&value).unwrap();
    assert_eq!(back, line);
    let debug = format!("{back:?}");
    let inline = &value[value.len() - 40..];
    assert!(!debug.contains(inline), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

/// An answer made from one side's parsed offer and another key: each
/// side's key protects what that side sends (RFC 4568 §6.1).
#[test]
fn keys_from_lines_drive_contexts() {
    use super::super::SrtpContext;
    let offer = CryptoAttribute::parse(
        &CryptoAttribute::new(1, Suite::AesCm128HmacSha1_80, master(1)).to_value(),
    )
    .unwrap();
    let mut alice_tx = SrtpContext::new(offer.suite, &master(1));
    let mut bob_rx = SrtpContext::new(offer.suite, &offer.key);
    let (mut buf, len) = super::pcmu(9, 99);
    let n = alice_tx.protect(&mut buf, len).unwrap();
    assert_eq!(bob_rx.unprotect(&mut buf, n), Ok(len));
}
