use super::super::{SrtpContext, SrtpError, Suite, REPLAY_WINDOW};
use super::{master, pcmu};

const SSRC: u32 = 0x1234_5678;

fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
    (
        SrtpContext::new(suite, &master(7)),
        SrtpContext::new(suite, &master(7)),
    )
}

/// Protects packet `seq` with `tx`; returns the SRTP bytes in a buffer.
fn srtp(tx: &mut SrtpContext, seq: u16) -> ([u8; 200], usize) {
    let (mut buf, len) = pcmu(seq, SSRC);
    let n = tx.protect(&mut buf, len).unwrap();
    (buf, n)
}

fn open(rx: &mut SrtpContext, packet: &([u8; 200], usize)) -> Result<Vec<u8>, SrtpError> {
    let (mut buf, len) = *packet;
    let n = rx.unprotect(&mut buf, len)?;
    Ok(buf[..n].to_vec())
}

fn plain(seq: u16) -> Vec<u8> {
    let (buf, len) = pcmu(seq, SSRC);
    buf[..len].to_vec()
}

#[test]
fn round_trip_both_suites() {
    for (suite, tag) in [
        (Suite::AesCm128HmacSha1_80, 10),
        (Suite::AesCm128HmacSha1_32, 4),
    ] {
        let (mut tx, mut rx) = pair(suite);
        for seq in 1000..1300 {
            let packet = srtp(&mut tx, seq);
            assert_eq!(packet.1, 172 + tag);
            // The header stays clear, the payload does not.
            assert_eq!(packet.0[..12], plain(seq)[..12]);
            assert_ne!(packet.0[12..172], plain(seq)[12..172]);
            assert_eq!(open(&mut rx, &packet).unwrap(), plain(seq), "{suite} {seq}");
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let packet = srtp(&mut tx, 1);
    for byte in [1, 3, 11, 12, 100, 171, 172, 181] {
        for bit in [0, 7] {
            let mut bad = packet;
            bad.0[byte] ^= 1 << bit;
            assert_eq!(
                open(&mut rx, &bad),
                Err(SrtpError::AuthenticationFailed),
                "byte {byte} bit {bit}"
            );
        }
    }
    // The refusals moved nothing: the genuine packet still passes.
    assert_eq!(open(&mut rx, &packet).unwrap(), plain(1));
}

#[test]
fn a_wrong_key_is_refused() {
    let mut tx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master(7));
    let mut rx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master(8));
    let packet = srtp(&mut tx, 1);
    assert_eq!(open(&mut rx, &packet), Err(SrtpError::AuthenticationFailed));
}

#[test]
fn a_replayed_packet_is_refused() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32);
    let first = srtp(&mut tx, 500);
    let second = srtp(&mut tx, 501);
    open(&mut rx, &first).unwrap();
    open(&mut rx, &second).unwrap();
    assert_eq!(
        open(&mut rx, &second),
        Err(SrtpError::Replayed { index: 501 })
    );
    assert_eq!(
        open(&mut rx, &first),
        Err(SrtpError::Replayed { index: 500 })
    );
}

#[test]
fn late_packets_inside_the_window_pass_older_ones_are_refused() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let packets: Vec<_> = (0..300).map(|seq| srtp(&mut tx, seq)).collect();
    open(&mut rx, &packets[0]).unwrap();
    open(&mut rx, &packets[299]).unwrap();
    // 299 - 172 = 127 behind: the oldest the window still tells apart.
    let edge = 299 - (REPLAY_WINDOW as usize - 1);
    assert_eq!(open(&mut rx, &packets[edge]).unwrap(), plain(edge as u16));
    assert_eq!(
        open(&mut rx, &packets[edge - 1]),
        Err(SrtpError::TooOld {
            index: edge as u64 - 1,
            newest: 299
        })
    );
    assert_eq!(open(&mut rx, &packets[250]).unwrap(), plain(250));
}

/// A forged packet far ahead must not move the window (RFC 3711 §3.3.2:
/// only after authentication), or it would make the real packets "old".
#[test]
fn an_unauthenticated_packet_does_not_move_the_window() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    open(&mut rx, &srtp(&mut tx, 10)).unwrap();
    let mut forged = pcmu(10 + 1000, SSRC);
    forged.1 += 10;
    assert_eq!(open(&mut rx, &forged), Err(SrtpError::AuthenticationFailed));
    assert_eq!(open(&mut rx, &srtp(&mut tx, 11)).unwrap(), plain(11));
}

/// Four wraps, ROC 0 to 4: steps of 1000 (Appendix A tells the ROC for
/// any jump under 2^15) except one by one across each wrap. Every packet
/// opens only if both sides agree on the ROC: it is in the tag and the IV.
#[test]
fn rollover_counter_follows_the_wrap() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let mut seq = 65_000u16;
    let mut wraps = 0;
    while wraps < 4 || seq < 10 {
        let packet = srtp(&mut tx, seq);
        assert_eq!(open(&mut rx, &packet).unwrap(), plain(seq), "seq {seq}");
        let step = if (100..65_500).contains(&seq) {
            1000
        } else {
            1
        };
        let (next, wrapped) = seq.overflowing_add(step);
        wraps += u32::from(wrapped);
        seq = next;
    }
}

/// A packet from just before the wrap that arrives after it is told to
/// belong to the old ROC (RFC 3711 Appendix A), accepted once.
#[test]
fn a_packet_from_before_the_wrap_is_accepted_after_it() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let before: Vec<_> = (65_530..=65_535).map(|s| (s, srtp(&mut tx, s))).collect();
    let after: Vec<_> = (0..5).map(|s| (s, srtp(&mut tx, s))).collect();
    for (s, p) in &before[..4] {
        assert_eq!(open(&mut rx, p).unwrap(), plain(*s));
    }
    for (s, p) in &after {
        assert_eq!(open(&mut rx, p).unwrap(), plain(*s));
    }
    // 65534 and 65535 (ROC 0) come last.
    for (s, p) in &before[4..] {
        assert_eq!(open(&mut rx, p).unwrap(), plain(*s), "late {s}");
        assert_eq!(
            open(&mut rx, p),
            Err(SrtpError::Replayed {
                index: u64::from(*s)
            })
        );
    }
    // And the new ROC is kept: packet 5 of ROC 1.
    assert_eq!(open(&mut rx, &srtp(&mut tx, 5)).unwrap(), plain(5));
}

/// The sender keeps its ROC the same way: a packet handed to it late
/// across the wrap keeps the old ROC, and the receiver agrees.
#[test]
fn sender_handed_a_late_packet_across_the_wrap_keeps_its_roc() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let order = [65_533u16, 65_534, 0, 1, 65_535, 2];
    let packets: Vec<_> = order.iter().map(|&s| (s, srtp(&mut tx, s))).collect();
    for (s, p) in &packets {
        assert_eq!(open(&mut rx, p).unwrap(), plain(*s), "seq {s}");
    }
}

#[test]
fn streams_are_kept_per_ssrc_and_a_forged_one_takes_no_slot() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let (mut a, len) = pcmu(7, 1);
    let n = tx.protect(&mut a, len).unwrap();
    let (mut b, len) = pcmu(7, 2);
    let m = tx.protect(&mut b, len).unwrap();
    // Same sequence number, different SSRC: no replay.
    assert!(rx.unprotect(&mut a.clone(), n).is_ok());
    assert!(rx.unprotect(&mut b.clone(), m).is_ok());
    assert_eq!(rx.rtp().receiving_streams(), 2);
    let (mut forged, len) = pcmu(7, 3);
    assert_eq!(
        rx.unprotect(&mut forged, len + 10),
        Err(SrtpError::AuthenticationFailed)
    );
    assert_eq!(rx.rtp().receiving_streams(), 2);
}

#[test]
fn csrc_and_extension_stay_in_the_clear() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let mut buf = [0u8; 100];
    // V=2, X=1, CC=1; one CSRC; extension 0xBEDE with one word.
    let packet = [
        0x91, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, 0xbe, 0xde, 0, 1,
        1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9,
    ];
    buf[..packet.len()].copy_from_slice(&packet);
    let n = tx.protect(&mut buf, packet.len()).unwrap();
    assert_eq!(buf[..24], packet[..24]);
    assert_ne!(buf[24..32], packet[24..32]);
    let m = rx.unprotect(&mut buf, n).unwrap();
    assert_eq!(buf[..m], packet);
}

#[test]
fn bad_packets_get_specific_errors() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let mut buf = [0u8; 200];
    assert_eq!(
        tx.protect(&mut buf, 8),
        Err(SrtpError::TooShort { len: 8, needed: 12 })
    );
    assert_eq!(tx.protect(&mut buf, 20), Err(SrtpError::NotVersion2));
    buf[0] = 0x8f; // 15 CSRCs, in a 20-byte packet.
    assert_eq!(
        tx.protect(&mut buf, 20),
        Err(SrtpError::BadHeader { len: 20 })
    );
    buf[0] = 0x90; // An extension header cut off.
    assert_eq!(
        tx.protect(&mut buf, 14),
        Err(SrtpError::BadHeader { len: 14 })
    );
    assert_eq!(
        tx.protect(&mut buf, 201),
        Err(SrtpError::LengthBeyondBuffer {
            len: 201,
            capacity: 200
        })
    );
    let (mut full, _) = pcmu(1, SSRC);
    assert_eq!(
        tx.protect(&mut full, 195),
        Err(SrtpError::NoRoom {
            len: 195,
            needed: 10,
            capacity: 200
        })
    );
    // A packet with no room for the tag it should carry.
    let (mut short, _) = pcmu(1, SSRC);
    assert_eq!(
        rx.unprotect(&mut short, 20),
        Err(SrtpError::TooShort {
            len: 20,
            needed: 22
        })
    );
}

#[test]
fn debug_output_shows_no_key() {
    let ctx = SrtpContext::new(Suite::AesCm128HmacSha1_80, &master(0x41));
    let text = format!("{ctx:?} {:?}", master(0x41));
    assert!(!text.contains("65"), "{text}");
    assert!(text.contains("redacted"), "{text}");
}
