//! Anchored media (`[calls] sdp = "anchor"`): each far end is offered and
//! answered the gateway's own address on its side, and the media threads
//! are told, in an order that loses no packet, where each end is and how
//! packets change between them.

use super::*;
use crate::test_support::audio;

/// The gateway's RTP addresses of the first call: the first two port pairs
/// of `[media]`'s default range, on the side of each far end.
const CALLER_SIDE: &str = "192.0.2.1:20000";
const CALLEE_SIDE: &str = "10.0.0.1:20002";

/// What the media threads are told when an answer settles the caller's
/// PCMA with telephone-event 101 against the PBX's PCMU with 100: each
/// side's plan, the offerer's first, then where the answerer is. The plan
/// comes before the address because packets held for want of the address
/// are released as soon as it is, and must be translated like the rest.
fn settled(offerer: &str, answerer: &str, answerer_rtp: &str) -> Vec<String> {
    let mut v = Vec::new();
    for side in [offerer, answerer] {
        let (map, transcode) = match side {
            "Caller" => ("[(101, 100)]", "8->0"),
            _ => ("[(100, 101)]", "0->8"),
        };
        v.push(format!("media SetPayloadMap {side} {map}"));
        v.push(format!("media SetTranscode {side} {transcode}"));
        v.push(format!("media SetDtmf {side} render=false detect=false"));
    }
    v.push(format!("media SetRemote {answerer} {answerer_rtp}"));
    v
}

/// `end` offers in the dialog from `rtp` (`formats`, `direction`): the
/// core must tell the media threads where that end is now and whether it
/// holds the other before it relays the offer, which is at the gateway's
/// address on the other side, in the same direction. The relayed INVITE.
fn reoffer(gw: &mut TestCore, end: &mut FarEnd, rtp: &str, formats: &str, direction: &str) -> Sent {
    let (side, other, uri, ours) = match end.peer.remote.to_string() == CLOUD {
        true => ("Caller", PBX1, "peer", CALLEE_SIDE),
        false => ("Callee", CLOUD, "caller", CALLER_SIDE),
    };
    let offer = end.request("INVITE", "", Some(&sdp(rtp, formats, direction)));
    let out = gw.receive(&offer, end.peer);
    assert_eq!(
        out.summary(),
        [
            format!("media SetRemote {side} {rtp}"),
            format!("media SetHold {}", direction == "sendonly"),
            format!("send {other} INVITE sip:{uri}@{other} SIP/2.0"),
        ]
    );
    let relayed = out.one(other, "INVITE");
    let offer = audio(&relayed.body());
    assert_eq!(offer.rtp.to_string(), ours);
    assert_eq!(offer.direction.as_str(), direction);
    relayed.clone()
}

#[test]
fn the_offer_and_the_answer_are_anchored_and_the_media_set_up_before_the_200() {
    let mut gw = route_q("").start();
    let out = gw.receive(&cloud_invite(1), wan(CLOUD));
    // The ports are bound and the caller's address known before the
    // INVITE leaves, so nothing the caller sends early is lost.
    assert_eq!(
        out.summary(),
        [
            format!("media Open caller {CALLER_SIDE} callee {CALLEE_SIDE}"),
            format!("media SetRemote Caller {CLOUD_RTP}"),
            format!("send {PBX1} INVITE sip:q1@{PBX1} SIP/2.0"),
        ]
    );
    let to_pbx = out.one(PBX1, "INVITE");
    let offer = audio(&to_pbx.body());
    assert_eq!(offer.rtp.to_string(), CALLEE_SIDE, "the PBX sends to us");
    assert_eq!(
        offer.formats,
        ["8", "0", "101"],
        "the caller's PCMA, the PCMU we transcode to, telephone-event"
    );

    // PCMU with telephone-event 100: both directions are transcoded and
    // renumbered, all in place before the 200 lets the caller send.
    let out = gw.receive(&answer(to_pbx, 200, "pbx1", Some(&pbx_sdp())), lan(PBX1));
    assert_eq!(
        out.summary(),
        [
            settled("Caller", "Callee", PBX1_RTP),
            vec![format!("send {CLOUD} SIP/2.0 200 OK")]
        ]
        .concat()
    );
    let answered = audio(&out.one(CLOUD, "SIP/2.0 200").body());
    assert_eq!(
        answered.rtp.to_string(),
        CALLER_SIDE,
        "the caller sends to us"
    );
    assert_eq!(answered.formats, ["8", "101"], "in the caller's own terms");
}

#[test]
fn an_offer_in_the_dialog_from_either_side_is_anchored_and_moves_the_media() {
    let mut gw = route_q("").start();
    let mut up = call_up(&mut gw, &[]);
    gw.take();

    // The PBX puts the caller on hold, from another port.
    let to_caller = reoffer(
        &mut gw,
        &mut up.callee,
        "10.0.0.21:40010",
        "0 100",
        "sendonly",
    );

    // The caller accepts; its answer goes back in the PBX's terms, after
    // the plan for the offerer's side (now the PBX's) and then the
    // caller's address are in place.
    let accept = sdp(CLOUD_RTP, "8 101", "recvonly");
    let out = gw.receive(&answer(&to_caller, 200, "", Some(&accept)), wan(CLOUD));
    assert_eq!(
        out.summary(),
        [
            settled("Callee", "Caller", CLOUD_RTP),
            vec![format!("send {PBX1} SIP/2.0 200 OK")]
        ]
        .concat()
    );
    let ok = out.one(PBX1, "SIP/2.0 200");
    let answered = audio(&ok.body());
    assert_eq!(answered.rtp.to_string(), CALLEE_SIDE);
    assert_eq!(answered.formats, ["0", "100"]);
    let out = gw.receive(&up.callee.ack(ok), lan(PBX1));
    out.one(CLOUD, "ACK");

    // The caller resumes from another port.
    reoffer(
        &mut gw,
        &mut up.caller,
        "198.51.100.7:30010",
        "8 101",
        "sendrecv",
    );
}

#[test]
fn the_next_target_after_a_failure_gets_a_fresh_offer_at_the_callee_side() {
    let mut gw = route_q("").start();
    let (_, first) = dial(&mut gw);
    let out = gw.receive(&answer(&first, 503, "pbx1", None), lan(PBX1));
    assert_eq!(out.count(CLOUD, ""), 0, "the caller hears nothing of it");
    assert_eq!(
        out.media().count(),
        0,
        "the ports bound for the first target serve the next"
    );
    let second = out.one(PBX2, "INVITE");
    assert_ne!(
        second.header(&HeaderName::CallId),
        first.header(&HeaderName::CallId),
        "a new leg"
    );
    let offer = audio(&second.body());
    assert_eq!(offer.rtp.to_string(), CALLEE_SIDE);
    assert_eq!(offer.formats, ["8", "0", "101"]);

    let pbx2_sdp = sdp("10.0.0.22:41000", "8", "sendrecv");
    let out = gw.receive(&answer(second, 200, "pbx2", Some(&pbx2_sdp)), lan(PBX2));
    assert!(
        out.summary()
            .contains(&"media SetRemote Callee 10.0.0.22:41000".to_string()),
        "{out:?}"
    );
    let answered = audio(&out.one(CLOUD, "SIP/2.0 200").body());
    assert_eq!(answered.rtp.to_string(), CALLER_SIDE);
    assert_eq!(
        answered.formats,
        ["8", "101"],
        "the caller's events stay: the gateway renders them as tones"
    );
}

#[test]
fn the_media_session_closes_with_the_call() {
    let mut gw = route_q("").start();
    let mut up = call_up(&mut gw, &[]);
    let out = gw.receive(&up.caller.request("BYE", "", None), wan(CLOUD));
    assert_eq!(out.media().count(), 1, "{out:?}");
    assert_eq!(out.position("media Close"), Some(0), "{out:?}");
    out.one(PBX1, "BYE");
}
