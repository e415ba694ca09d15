//! SDES-SRTP through the anchor: what each leg is offered and answered,
//! the keys the media thread gets, and the refusals.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;
use crate::media::srtp::{Suite, MASTER_LEN};

/// The caller's SRTP key (what it wrote after `inline:`).
const CALLER_KEY: [u8; MASTER_LEN] = [0x11; MASTER_LEN];
/// The gateway's key toward the caller, and toward the callee.
const OUR_CALLER_KEY: [u8; MASTER_LEN] = [0x22; MASTER_LEN];
const OUR_CALLEE_KEY: [u8; MASTER_LEN] = [0x33; MASTER_LEN];
/// The callee's key in its answer.
const CALLEE_KEY: [u8; MASTER_LEN] = [0x44; MASTER_LEN];

fn b64(k: &[u8; MASTER_LEN]) -> String {
    STANDARD.encode(k)
}

fn key(k: &[u8; MASTER_LEN]) -> MasterKey {
    MasterKey::from_bytes(k)
}

/// An RTP/SAVP offer whose first line has a suite the gateway lacks, the
/// second one it takes (RFC 4568 §7.1.1: the answerer picks).
fn savp_offer() -> String {
    format!(
        "v=0\r\no=cloud 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio 20000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{}\r\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{}\r\n",
        b64(&[0x55; MASTER_LEN]),
        b64(&CALLER_KEY)
    )
}

const AVP_OFFER: &str = "v=0\r\no=pbx 1 1 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\n\
                         t=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const AVP_ANSWER: &str = "v=0\r\no=pbx 1 1 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\n\
                          t=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

fn savp_answer(tag: u32) -> String {
    format!(
        "v=0\r\no=trunk 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
         m=audio 40000 RTP/SAVP 0\r\na=crypto:{tag} AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        b64(&CALLEE_KEY)
    )
}

fn anchor() -> MediaAnchor {
    MediaAnchor::new(&MediaConfig {
        port_min: 40000,
        port_max: 40007,
        ..MediaConfig::default()
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn start(
    a: &mut MediaAnchor,
    offer: &str,
    mode: SrtpMode,
    tls: bool,
) -> Result<CallMedia, Refusal> {
    a.start_with(
        offer.as_bytes(),
        ip("192.0.2.1"),
        DtmfMode::Auto,
        (mode, tls, key(&OUR_CALLER_KEY)),
    )
}

fn refusal(r: Result<CallMedia, Refusal>) -> String {
    match r {
        Err(Refusal::Offer(why)) => why,
        other => panic!("{other:?}"),
    }
}

fn commands(a: &mut MediaAnchor) -> Vec<MediaCommand> {
    std::iter::from_fn(|| a.poll_command()).collect()
}

fn srtp_commands(cmds: &[MediaCommand]) -> Vec<(LegSide, Option<LegKeys>)> {
    cmds.iter()
        .filter_map(|c| match c {
            MediaCommand::SetSrtp { side, keys, .. } => Some((*side, keys.clone())),
            _ => None,
        })
        .collect()
}

/// The index of the first command that is `SetRemote` for `side`.
fn set_remote_at(cmds: &[MediaCommand], side: LegSide) -> usize {
    cmds.iter()
        .position(|c| matches!(c, MediaCommand::SetRemote { side: s, .. } if *s == side))
        .expect("SetRemote")
}

fn srtp_at(cmds: &[MediaCommand], side: LegSide) -> usize {
    cmds.iter()
        .position(|c| matches!(c, MediaCommand::SetSrtp { side: s, .. } if *s == side))
        .expect("SetSrtp")
}

#[test]
fn an_srtp_caller_is_answered_with_our_key_and_the_pbx_gets_plain_rtp() {
    let mut a = anchor();
    let mut m = start(&mut a, &savp_offer(), SrtpMode::Offer, true).expect("start");
    let offer = a
        .offer_to_callee_with(1, &mut m, ip("10.0.0.1"), DtmfMode::Auto, None)
        .expect("offer");
    let offer = String::from_utf8(offer).unwrap();
    assert!(offer.contains(" RTP/AVP 0 8 101\r\n"), "{offer}");
    assert!(!offer.contains("crypto"), "no key goes to the PBX: {offer}");
    let cmds = commands(&mut a);
    // The caller's keys before its address: held packets are opened.
    assert!(srtp_at(&cmds, LegSide::Caller) < set_remote_at(&cmds, LegSide::Caller));
    assert_eq!(
        srtp_commands(&cmds),
        vec![(
            LegSide::Caller,
            Some(LegKeys {
                suite: Suite::AesCm128HmacSha1_32,
                ours: key(&OUR_CALLER_KEY),
                theirs: key(&CALLER_KEY),
            })
        )]
    );
    let (answer, _) = a.answer(1, &mut m, AVP_ANSWER.as_bytes()).expect("answer");
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.contains(" RTP/SAVP 0 101\r\n"), "{answer}");
    // The offered line's tag and suite, our key (RFC 4568 §7.1.2).
    assert!(
        answer.contains(&format!(
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{}\r\n",
            b64(&OUR_CALLER_KEY)
        )),
        "{answer}"
    );
    assert_eq!(answer.matches("a=crypto").count(), 1, "{answer}");
    assert!(!answer.contains(&b64(&CALLER_KEY)), "{answer}");
    let cmds = commands(&mut a);
    assert!(srtp_commands(&cmds).is_empty(), "the callee leg is plain");
    assert_eq!(m.encrypted(), [true, false]);
}

#[test]
fn an_srtp_target_is_offered_savp_and_its_answer_keys_the_callee_leg() {
    let mut a = anchor();
    let mut m = start(&mut a, AVP_OFFER, SrtpMode::Off, false).expect("start");
    let offer = a
        .offer_to_callee_with(
            1,
            &mut m,
            ip("10.0.0.1"),
            DtmfMode::Auto,
            Some((SrtpMode::Require, key(&OUR_CALLEE_KEY))),
        )
        .expect("offer");
    let offer = String::from_utf8(offer).unwrap();
    assert!(offer.contains(" RTP/SAVP 0 8 101\r\n"), "{offer}");
    assert!(
        offer.contains(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            b64(&OUR_CALLEE_KEY)
        )),
        "{offer}"
    );
    commands(&mut a);
    let (answer, _) = a
        .answer(1, &mut m, savp_answer(1).as_bytes())
        .expect("answer");
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.contains(" RTP/AVP 0\r\n"), "{answer}");
    assert!(!answer.contains("crypto"), "{answer}");
    let cmds = commands(&mut a);
    assert!(srtp_at(&cmds, LegSide::Callee) < set_remote_at(&cmds, LegSide::Callee));
    assert_eq!(
        srtp_commands(&cmds),
        vec![(
            LegSide::Callee,
            Some(LegKeys {
                suite: Suite::AesCm128HmacSha1_80,
                ours: key(&OUR_CALLEE_KEY),
                theirs: key(&CALLEE_KEY),
            })
        )]
    );
    assert_eq!(m.encrypted(), [false, true]);
}

#[test]
fn offers_the_leg_s_setting_does_not_allow_are_refused_with_the_reason() {
    let mut a = anchor();
    let why = refusal(start(&mut a, &savp_offer(), SrtpMode::Off, true));
    assert!(why.contains("SRTP not enabled on this listener"), "{why}");
    let why = refusal(start(&mut a, AVP_OFFER, SrtpMode::Require, true));
    assert!(why.contains("SRTP required"), "{why}");
    let why = refusal(start(&mut a, &savp_offer(), SrtpMode::Offer, false));
    assert!(why.contains("only over TLS"), "{why}");
    // Only suites the gateway lacks.
    let only_256 = savp_offer().replace(
        "a=crypto:2 AES_CM_128_HMAC_SHA1_32",
        "a=crypto:2 F8_128_HMAC_SHA1_80",
    );
    let why = refusal(start(&mut a, &only_256, SrtpMode::Offer, true));
    assert!(why.contains("no usable a=crypto"), "{why}");
    assert!(
        !why.contains(&b64(&CALLER_KEY)),
        "no key in a reason: {why}"
    );
    let dtls = savp_offer().replace("RTP/SAVP", "UDP/TLS/RTP/SAVP");
    let why = refusal(start(&mut a, &dtls, SrtpMode::Offer, true));
    assert!(why.contains("not supported"), "{why}");
    // A plain offer on an `offer` listener stays plain.
    let m = start(&mut a, AVP_OFFER, SrtpMode::Offer, true).expect("plain");
    assert_eq!(m.encrypted(), [false, false]);
    assert!(!a.ports_short(), "refused offers take no ports");
}

#[test]
fn a_plain_answer_ends_a_require_target_and_falls_back_on_an_offer_target() {
    for (mode, ok) in [(SrtpMode::Require, false), (SrtpMode::Offer, true)] {
        let mut a = anchor();
        let mut m = start(&mut a, AVP_OFFER, SrtpMode::Off, false).expect("start");
        a.offer_to_callee_with(
            1,
            &mut m,
            ip("10.0.0.1"),
            DtmfMode::Auto,
            Some((mode, key(&OUR_CALLEE_KEY))),
        )
        .expect("offer");
        commands(&mut a);
        let r = a.answer(1, &mut m, AVP_ANSWER.as_bytes());
        match r {
            Ok(_) => {
                assert!(ok, "{mode:?} accepted plain RTP");
                assert!(srtp_commands(&commands(&mut a)).is_empty());
                assert_eq!(m.encrypted(), [false, false]);
            }
            Err(why) => {
                assert!(!ok, "{mode:?}: {why}");
                assert!(why.contains("require"), "{why}");
                assert!(commands(&mut a).is_empty(), "nothing applied");
            }
        }
    }
}

#[test]
fn answers_that_do_not_fit_the_offer_are_refused() {
    let mut a = anchor();
    let mut m = start(&mut a, AVP_OFFER, SrtpMode::Off, false).expect("start");
    a.offer_to_callee_with(1, &mut m, ip("10.0.0.1"), DtmfMode::Auto, None)
        .expect("offer");
    let why = a.answer(1, &mut m, savp_answer(1).as_bytes()).unwrap_err();
    assert!(why.contains("plain RTP offer"), "{why}");
    a.offer_to_callee_with(
        1,
        &mut m,
        ip("10.0.0.1"),
        DtmfMode::Auto,
        Some((SrtpMode::Offer, key(&OUR_CALLEE_KEY))),
    )
    .expect("offer");
    let why = a.answer(1, &mut m, savp_answer(7).as_bytes()).unwrap_err();
    assert!(why.contains("tag 7"), "{why}");
}

#[test]
fn a_re_invite_keeps_each_leg_s_keys_and_a_new_caller_key_is_applied() {
    let mut a = anchor();
    let mut m = start(&mut a, &savp_offer(), SrtpMode::Offer, true).expect("start");
    a.offer_to_callee_with(1, &mut m, ip("10.0.0.1"), DtmfMode::Auto, None)
        .expect("offer");
    a.answer(1, &mut m, AVP_ANSWER.as_bytes()).expect("answer");
    commands(&mut a);
    // Hold from the caller, same key: nothing new for the media thread.
    let mut body = savp_offer()
        .replace("a=crypto:1", "a=sendonly\r\na=crypto:1")
        .into_bytes();
    a.offer(1, &mut m, (0, 1), &mut body).expect("re-offer");
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains(" RTP/AVP ") && !text.contains("crypto"),
        "{text}"
    );
    assert!(srtp_commands(&commands(&mut a)).is_empty());
    let reanswer = a
        .reanswer(1, &mut m, (0, 1), AVP_ANSWER.as_bytes())
        .expect("reanswer");
    let reanswer = String::from_utf8(reanswer).unwrap();
    assert!(
        reanswer.contains(&format!("inline:{}", b64(&OUR_CALLER_KEY))),
        "{reanswer}"
    );
    // A new key from the caller (RFC 4568 §7.1.4) is applied at once.
    let rekeyed = savp_offer().replace(&b64(&CALLER_KEY), &b64(&[0x66; MASTER_LEN]));
    let mut body = rekeyed.into_bytes();
    a.offer(1, &mut m, (0, 1), &mut body).expect("re-offer");
    let cmds = commands(&mut a);
    assert_eq!(srtp_commands(&cmds).len(), 1, "{cmds:?}");
    assert!(srtp_at(&cmds, LegSide::Caller) < set_remote_at(&cmds, LegSide::Caller));
    // Dropping SRTP mid-call is refused.
    let mut plain = AVP_OFFER.as_bytes().to_vec();
    let why = a.offer(1, &mut m, (0, 1), &mut plain).unwrap_err();
    assert!(why.contains("drops SRTP"), "{why}");
    // So is another suite under the gateway's unchanged key.
    let mut other_suite = savp_offer()
        .replace("AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80")
        .into_bytes();
    let why = a.offer(1, &mut m, (0, 1), &mut other_suite).unwrap_err();
    assert!(why.contains("crypto suite"), "{why}");
}
