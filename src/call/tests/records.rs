//! The record a call hands out for the history as it goes: at the start,
//! on each new target, at the answer, at the end and when the media
//! counters arrive; and nothing in between.

use super::*;
use crate::media::messages::MediaEvent;
use crate::media::relay::LegStats;

/// Route `q` with header actions and a target header: what the INVITE to
/// the PBX carries besides the caller's.
fn with_headers() -> Setup {
    Setup::new(&format!(
        "[[route]]\nname='q'\n\
         targets=[{{ uri='sip:q1@{PBX1}', headers=['X-Campaign-ID: 1234'] }}, {{ uri='sip:q2@{PBX2}' }}]\n\
         headers=[{{ action='rename', from='X-PH-RetreaverAFID', name='X-Publisher-ID' }}]\n"
    ))
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.into(), value.into())
}

#[test]
fn the_record_is_handed_out_at_start_answer_end_and_media_close() {
    let mut gw = with_headers().start();
    let invite = cloud_invite(1);
    let out = gw.receive(&invite, wan(CLOUD));
    let [started] = &out.records[..] else {
        panic!("one record at the start: {:?}", out.records)
    };
    assert_eq!(started.route.as_deref(), Some("q"));
    assert_eq!(started.target.as_deref(), Some(&*format!("sip:q1@{PBX1}")));
    assert_eq!(started.retreaver_afid.as_deref(), Some("5678"));
    assert!(started.callee_call_id.is_some() && started.answered.is_none());
    assert_eq!(
        started.headers_out,
        [h("X-Publisher-ID", "5678"), h("X-Campaign-ID", "1234")]
    );
    let to_pbx = out.one(PBX1, "INVITE").clone();

    let ringing = gw.receive(&answer(&to_pbx, 180, "pbx1", None), lan(PBX1));
    assert!(ringing.records.is_empty(), "ringing changes no record");

    let mut ok = answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp()));
    ok.headers
        .push(HeaderName::Other("X-Agent".into()), "agent-7");
    let out = gw.receive(&ok, lan(PBX1));
    let [answered] = &out.records[..] else {
        panic!("one record at the answer: {:?}", out.records)
    };
    assert_eq!(answered.id, started.id);
    assert!(answered.answered.is_some());
    assert_eq!(answered.final_status, Some(200));
    assert_eq!(answered.callee_x_headers, [h("X-Agent", "agent-7")]);
    let to_caller = out.one(CLOUD, "SIP/2.0 200").clone();

    let mut caller = FarEnd::caller(&invite, &to_caller);
    let out = gw.receive(&caller.ack(&to_caller), wan(CLOUD));
    assert!(out.records.is_empty(), "the ACK changes no record");

    let out = gw.receive(&caller.request("BYE", "", None), wan(CLOUD));
    let [ended] = &out.records[..] else {
        panic!("one record at the end: {:?}", out.records)
    };
    assert_eq!(ended.id, started.id);
    assert!(ended.ended.is_some());
    assert_eq!(ended.hangup_cause, Some(HangupCause::CallerHangup));

    // The media thread's counters come after the call is over.
    let caller_stats = LegStats {
        packets_in: 42,
        dtmf_detected: 3,
        ..LegStats::default()
    };
    gw.handle_media_event(
        MediaEvent::Closed {
            session: 1,
            caller: caller_stats,
            callee: LegStats::default(),
        },
        std::time::Instant::now(),
    );
    let out = gw.take();
    let [counted] = &out.records[..] else {
        panic!("one record with the counters: {:?}", out.records)
    };
    assert_eq!(counted.id, started.id);
    let media = counted.media.as_ref().expect("media");
    assert_eq!((media.caller.packets, media.caller.dtmf_detected), (42, 3));
    assert!(media.caller_codec.is_some(), "{media:?}");
}

#[test]
fn a_failover_and_the_refusal_that_ends_the_call_are_handed_out() {
    let mut gw = route_q(PASSTHROUGH).start();
    let (_, to_pbx1) = dial(&mut gw);
    let out = gw.receive(&answer(&to_pbx1, 503, "pbx1", None), lan(PBX1));
    let [moved] = &out.records[..] else {
        panic!("one record for the next target: {:?}", out.records)
    };
    assert_eq!(moved.target.as_deref(), Some(&*format!("sip:q2@{PBX2}")));
    let to_pbx2 = out.one(PBX2, "INVITE").clone();
    let out = gw.receive(&answer(&to_pbx2, 486, "pbx2", None), lan(PBX2));
    let [ended] = &out.records[..] else {
        panic!("one record at the end: {:?}", out.records)
    };
    assert_eq!(ended.final_status, Some(486));
    assert_eq!(ended.hangup_cause, Some(HangupCause::Rejected));
}

#[test]
fn a_call_refused_before_it_starts_has_one_record() {
    let mut gw = Setup::new("").start();
    let out = gw.receive(&cloud_invite(1), wan(CLOUD));
    out.one(CLOUD, "SIP/2.0 480");
    let [refused] = &out.records[..] else {
        panic!("one record: {:?}", out.records)
    };
    assert_eq!(refused.hangup_cause, Some(HangupCause::NoRoute));
    assert_eq!(refused.final_status, Some(480));
}
