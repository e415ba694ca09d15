//! The slice functions' length rule and the `Law` helpers.

use super::all_samples;
use crate::media::g711::*;

#[test]
fn slices_equal_per_sample_conversion() {
    let pcm: Vec<i16> = all_samples().collect();
    let mut u = vec![0u8; pcm.len()];
    let mut a = vec![0u8; pcm.len()];
    assert_eq!(encode_ulaw(&pcm, &mut u), pcm.len());
    assert_eq!(encode_alaw(&pcm, &mut a), pcm.len());
    for (i, &s) in pcm.iter().enumerate() {
        assert_eq!(u[i], ulaw_encode(s));
        assert_eq!(a[i], alaw_encode(s));
    }

    let codes: Vec<u8> = (0..=255).collect();
    let mut lin = [0i16; 256];
    let mut out = [0u8; 256];
    decode_ulaw(&codes, &mut lin);
    assert!(codes.iter().zip(lin).all(|(&c, v)| v == ulaw_decode(c)));
    decode_alaw(&codes, &mut lin);
    assert!(codes.iter().zip(lin).all(|(&c, v)| v == alaw_decode(c)));
    transcode_ulaw_to_alaw(&codes, &mut out);
    assert!(codes.iter().zip(out).all(|(&c, x)| x == ulaw_to_alaw(c)));
    transcode_alaw_to_ulaw(&codes, &mut out);
    assert!(codes.iter().zip(out).all(|(&c, x)| x == alaw_to_ulaw(c)));
}

#[test]
fn slices_convert_the_shorter_length_and_leave_the_rest() {
    let pcm = [0i16, 1000, -1000];
    let mut short = [0x11u8; 2];
    assert_eq!(encode_ulaw(&pcm, &mut short), 2);
    assert_eq!(short, [ulaw_encode(0), ulaw_encode(1000)]);

    let mut long = [0x11u8; 5];
    assert_eq!(encode_alaw(&pcm, &mut long), 3);
    assert_eq!(long[3..], [0x11, 0x11]);

    let mut lin = [7i16; 4];
    assert_eq!(decode_ulaw(&[0xFF, 0x80], &mut lin), 2);
    assert_eq!(lin, [0, 32124, 7, 7]);
    assert_eq!(decode_alaw(&[0xD5, 0xAA, 0x2A], &mut lin[..1]), 1);
    assert_eq!(lin[0], 8);

    let mut codes = [0u8; 1];
    assert_eq!(transcode_ulaw_to_alaw(&[0xFF, 0xFF], &mut codes), 1);
    assert_eq!(transcode_alaw_to_ulaw(&[], &mut codes), 0);
    assert_eq!(encode_ulaw(&[], &mut []), 0);
}

#[test]
fn law_payload_types_and_names() {
    for law in [Law::Ulaw, Law::Alaw] {
        assert_eq!(Law::from_payload_type(law.payload_type()), Some(law));
    }
    assert_eq!(Law::Ulaw.payload_type(), 0);
    assert_eq!(Law::Alaw.payload_type(), 8);
    assert_eq!(Law::Ulaw.encoding_name(), "PCMU");
    assert_eq!(Law::Alaw.encoding_name(), "PCMA");
    assert_eq!(Law::from_payload_type(101), None);
    assert_eq!(Law::from_payload_type(3), None);
}

#[test]
fn law_dispatches_to_its_functions() {
    assert_eq!(Law::Ulaw.silence(), ulaw_encode(0));
    assert_eq!(Law::Alaw.silence(), alaw_encode(0));
    for s in [i16::MIN, -5000, -1, 0, 1, 5000, i16::MAX] {
        assert_eq!(Law::Ulaw.encode(s), ulaw_encode(s));
        assert_eq!(Law::Alaw.encode(s), alaw_encode(s));
        assert_eq!(Law::Ulaw.decode(s as u8), ulaw_decode(s as u8));
        assert_eq!(Law::Alaw.decode(s as u8), alaw_decode(s as u8));
    }
    let pcm = [300i16, -300];
    let (mut u, mut a, mut lin) = ([0u8; 2], [0u8; 2], [0i16; 2]);
    assert_eq!(Law::Ulaw.encode_slice(&pcm, &mut u), 2);
    assert_eq!(Law::Alaw.encode_slice(&pcm, &mut a), 2);
    assert_eq!(u, [ulaw_encode(300), ulaw_encode(-300)]);
    assert_eq!(a, [alaw_encode(300), alaw_encode(-300)]);
    assert_eq!(Law::Ulaw.decode_slice(&u, &mut lin), 2);
    assert_eq!(lin, [ulaw_decode(u[0]), ulaw_decode(u[1])]);
    assert_eq!(Law::Alaw.decode_slice(&a, &mut lin), 2);
    assert_eq!(lin, [alaw_decode(a[0]), alaw_decode(a[1])]);
}
