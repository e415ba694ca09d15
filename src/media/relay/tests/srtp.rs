//! A leg with SRTP keys: what its peer protects is relayed plain and
//! byte-exact to the other leg, what leaves toward it is protected, and a
//! packet that does not authenticate is dropped, counted and never
//! learned from.

use super::*;
use crate::media::dtmf::convert::{AudioFormat, RenderPath};
use crate::media::leg_crypto::LegKeys;
use crate::media::srtp::{MasterKey, SrtpContext, Suite};

/// The key of the gateway's `a=crypto` line to the caller, and the
/// caller's own.
const OURS: [u8; 30] = [0x21; 30];
const THEIRS: [u8; 30] = [0x43; 30];

fn keys(suite: Suite) -> LegKeys {
    LegKeys {
        suite,
        ours: MasterKey::from_bytes(&OURS),
        theirs: MasterKey::from_bytes(&THEIRS),
    }
}

/// The caller's end: it sends with its key and receives with ours.
struct Peer {
    send: SrtpContext,
    recv: SrtpContext,
}

fn peer(suite: Suite) -> Peer {
    Peer {
        send: SrtpContext::new(suite, &MasterKey::from_bytes(&THEIRS)),
        recv: SrtpContext::new(suite, &MasterKey::from_bytes(&OURS)),
    }
}

impl Peer {
    fn protect(&mut self, p: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        buf[..p.len()].copy_from_slice(p);
        let n = self.send.protect(&mut buf, p.len()).expect("protect");
        buf[..n].to_vec()
    }
}

/// A relay whose caller leg is SRTP (strict sources, as `relay()`).
fn srtp_relay(t: Instant, suite: Suite) -> MediaRelay {
    let mut r = relay_with(t, SourceMode::Learn);
    r.set_srtp(Caller, Some(&keys(suite)));
    r
}

fn audio(seq: u16) -> Vec<u8> {
    let mut p = rtp(seq, 160 * u32::from(seq));
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

#[test]
fn srtp_from_the_caller_reaches_the_callee_as_the_plain_rtp_it_was() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        let t = Instant::now();
        let mut r = srtp_relay(t, suite);
        let mut caller = peer(suite);
        for seq in 1..=5 {
            let plain = audio(seq);
            let mut p = caller.protect(&plain);
            assert_eq!(p.len(), plain.len() + suite.rtp_tag_len());
            assert_eq!(
                forward(&mut r, Caller, &mut p),
                sent(CALLEE, Callee),
                "{suite}"
            );
            assert_eq!(p, plain, "byte-exact at the callee ({suite})");
        }
        let s = r.stats(Caller);
        assert_eq!((s.packets_in, s.dropped_auth, s.srtp), (5, 0, true));
        assert!(!r.stats(Callee).srtp);
    }
}

#[test]
fn plain_rtp_from_the_callee_leaves_protected_for_the_caller() {
    let t = Instant::now();
    let mut r = srtp_relay(t, Suite::AesCm128HmacSha1_80);
    let mut caller = peer(Suite::AesCm128HmacSha1_80);
    let plain = audio(9);
    let mut p = plain.clone();
    assert_eq!(
        forward(&mut r, Callee, &mut p),
        PacketVerdict::Forward {
            to: addr(CALLER),
            from_side: Caller,
            len: 182,
        }
    );
    let mut buf = [0u8; 2048];
    buf[..p.len()].copy_from_slice(&p);
    let n = caller
        .recv
        .unprotect(&mut buf, p.len())
        .expect("the caller opens it");
    assert_eq!(&buf[..n], &plain[..]);
}

#[test]
fn a_packet_that_fails_authentication_is_dropped_counted_and_never_learned() {
    let t = Instant::now();
    let mut r = srtp_relay(t, Suite::AesCm128HmacSha1_80);
    let mut caller = peer(Suite::AesCm128HmacSha1_80);
    // From a port the SDP did not name (a NAT's), which `learn` would
    // take after a few well-formed packets: tampered ones never count.
    let nat = "198.51.100.7:33333";
    for seq in 1..=20u16 {
        let mut p = caller.protect(&audio(seq));
        p[40] ^= 1;
        assert_eq!(
            handle(
                &mut r,
                Caller,
                addr(nat),
                &p,
                t + Duration::from_millis(20 * u64::from(seq))
            ),
            PacketVerdict::Drop(DropReason::Unauthenticated)
        );
    }
    let s = r.stats(Caller);
    assert_eq!((s.dropped_auth, s.packets_in, s.source), (20, 0, None));
    // The callee's media still goes to the SDP address, not the NAT port.
    assert_eq!(
        handle(&mut r, Callee, addr(CALLEE), &audio(1), t),
        PacketVerdict::Forward {
            to: addr(CALLER),
            from_side: Caller,
            len: 182,
        }
    );
    // A replayed packet is refused too; the real one before it passed.
    let good = caller.protect(&audio(30));
    assert_eq!(
        handle(&mut r, Caller, addr(CALLER), &good, t),
        sent(CALLEE, Callee)
    );
    assert_eq!(
        handle(&mut r, Caller, addr(CALLER), &good, t),
        PacketVerdict::Drop(DropReason::Unauthenticated)
    );
    assert_eq!(r.stats(Caller).dropped_auth, 21);
}

#[test]
fn srtcp_is_opened_and_rtcp_to_the_caller_sealed() {
    let t = Instant::now();
    let mut r = srtp_relay(t, Suite::AesCm128HmacSha1_32);
    let mut caller = peer(Suite::AesCm128HmacSha1_32);
    // A receiver report: V=2, PT=201, length 7 words, SSRC.
    let mut rr = vec![0u8; 32];
    rr[..8].copy_from_slice(&[0x81, 201, 0, 7, 0, 0, 0x11, 0x11]);
    rr[8..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    let mut buf = [0u8; 2048];
    buf[..rr.len()].copy_from_slice(&rr);
    let n = caller.send.protect_rtcp(&mut buf, rr.len()).expect("srtcp");
    match r.handle_rtcp(Caller, addr("198.51.100.7:20001"), &mut buf, n, t) {
        PacketVerdict::Forward { len, .. } => assert_eq!(&buf[..len], &rr[..]),
        v => panic!("{v:?}"),
    }
    // Altered: dropped and counted.
    let mut buf2 = [0u8; 2048];
    buf2[..rr.len()].copy_from_slice(&rr);
    let n = caller
        .send
        .protect_rtcp(&mut buf2, rr.len())
        .expect("srtcp");
    buf2[12] ^= 0x80;
    assert_eq!(
        r.handle_rtcp(Caller, addr("198.51.100.7:20001"), &mut buf2, n, t),
        PacketVerdict::Drop(DropReason::Unauthenticated)
    );
    // Counted apart from the audio's refusals.
    let s = r.stats(Caller);
    assert_eq!((s.dropped_auth_rtcp, s.dropped_auth), (1, 0));
    // The callee's plain RTCP leaves as SRTCP the caller opens.
    let mut buf3 = [0u8; 2048];
    buf3[..rr.len()].copy_from_slice(&rr);
    let len = match r.handle_rtcp(Callee, addr("10.0.0.21:30001"), &mut buf3, rr.len(), t) {
        PacketVerdict::Forward { len, .. } => len,
        v => panic!("{v:?}"),
    };
    let n = caller.recv.unprotect_rtcp(&mut buf3, len).expect("opened");
    assert_eq!(&buf3[..n], &rr[..]);
}

/// Events the relay adds next to rendered tones (`both`) go to an SRTP
/// leg protected like the rest of its stream.
#[test]
fn event_packets_the_relay_adds_for_an_srtp_leg_are_protected() {
    let t = Instant::now();
    let mut r = srtp_relay(t, Suite::AesCm128HmacSha1_80);
    let mut caller = peer(Suite::AesCm128HmacSha1_80);
    r.set_dtmf(
        Callee,
        DtmfPath {
            render: Some(RenderPath {
                events_in: 101,
                tones_out: AudioFormat {
                    law: Law::Ulaw,
                    payload_type: 0,
                },
                also_events: Some(96),
            }),
            detect: None,
        },
    );
    let mut added_seen = 0;
    // The repeated end packets each with a sequence number of their own,
    // as an SRTP sender's are (a repeated number is a replay).
    for (i, mut p) in event_packets(101, 5, 100, 8000).into_iter().enumerate() {
        crate::media::rtp::set_sequence(&mut p, 100 + i as u16);
        let mut buf = [0u8; 2048];
        buf[..p.len()].copy_from_slice(&p);
        let mut added = [0u8; ADDED_PACKET_MAX];
        let got = Received {
            side: Callee,
            rtcp: false,
            src: addr(CALLEE),
            len: p.len(),
        };
        let (v, extra) = decide(&mut r, got, &mut buf, &mut added, t);
        if let PacketVerdict::Forward { len, .. } = v {
            caller
                .recv
                .unprotect(&mut buf, len)
                .expect("the forwarded packet opens");
        }
        if extra > 0 {
            added_seen += 1;
            let n = caller
                .recv
                .unprotect(&mut added, extra)
                .expect("the added packet opens");
            assert_eq!(RtpHeader::parse(&added[..n]).unwrap().payload_type, 96);
        }
    }
    assert!(added_seen > 0, "events went on next to the tones");
}

/// A new key from the caller (a re-INVITE) restarts only the inbound
/// context: what the gateway sends on with its unchanged key goes on
/// from where it was (a restarted SRTCP index would reuse keystream).
#[test]
fn a_new_peer_key_leaves_the_outbound_context_as_it_was() {
    let t = Instant::now();
    let suite = Suite::AesCm128HmacSha1_80;
    let mut r = srtp_relay(t, suite);
    let mut rr = vec![0u8; 32];
    rr[..8].copy_from_slice(&[0x81, 201, 0, 7, 0, 0, 0x22, 0x22]);
    let rtcp_to_caller = |r: &mut MediaRelay| {
        let mut buf = [0u8; 2048];
        buf[..rr.len()].copy_from_slice(&rr);
        match r.handle_rtcp(Callee, addr("10.0.0.21:30001"), &mut buf, rr.len(), t) {
            PacketVerdict::Forward { len, .. } => buf[..len].to_vec(),
            v => panic!("{v:?}"),
        }
    };
    let first = rtcp_to_caller(&mut r);
    let new_theirs = MasterKey::from_bytes(&[0x77; 30]);
    r.set_srtp(
        Caller,
        Some(&LegKeys {
            theirs: new_theirs.clone(),
            ..keys(suite)
        }),
    );
    let second = rtcp_to_caller(&mut r);
    // The SRTCP index (E flag and 31 bits before the tag) went on.
    let index = |p: &[u8]| {
        let at = p.len() - 10 - 4;
        u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) & 0x7fff_ffff
    };
    assert_eq!((index(&first), index(&second)), (0, 1));
    // And the caller's packets under its new key are opened.
    let mut fresh = SrtpContext::new(suite, &new_theirs);
    let plain = audio(40);
    let mut p = {
        let mut b = [0u8; 2048];
        b[..plain.len()].copy_from_slice(&plain);
        let n = fresh.protect(&mut b, plain.len()).unwrap();
        b[..n].to_vec()
    };
    assert_eq!(forward(&mut r, Caller, &mut p), sent(CALLEE, Callee));
    assert_eq!(p, plain);
}
