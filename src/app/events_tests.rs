//! The events the core emits, stepping a core with real SIP through the
//! B2BUA: the sequences sipgate.io documents for forwards and transfers,
//! causes, durations, the fields of each event.

use std::time::{Duration, Instant, SystemTime};

use crate::call::DTMF_KEPT;
use crate::events::{Cause, Direction, DtmfSide, Event, EventKind, RegistrationState};
use crate::media::messages::MediaEvent;
use crate::media::relay::LegSide;
use crate::sip::ids::IdGenerator;
use crate::sip::message::HeaderName;
use crate::sip::registration::{RegistrationState as SipState, RegistrationStatus};
use crate::test_support::{
    answer, lan, request, sdp, wan, FarEnd, Sent, Setup, TestCore, GATEWAY_WAN,
};

use super::events::EventTracker;

const CLOUD: &str = "198.51.100.7:5060";
const PBX1: &str = "10.0.0.21:5060";
const FORWARD: &str = "10.0.0.23:5060";
const AGENT: &str = "10.0.0.24:5060";

fn gateway() -> TestCore {
    let mut gw = Setup::new(&format!(
        "[calls]\nsdp = 'passthrough'\n\
         [[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n"
    ))
    .start();
    gw.set_event_headers(vec!["x-campaign-id".into()]);
    gw.set_clock_synced(true);
    gw
}

fn invite() -> String {
    request(
        "INVITE",
        CLOUD,
        &format!("sip:+18885550000@{GATEWAY_WAN}"),
        "cloud-call-1",
        "X-PH-RetreaverAFID: 5678\r\nX-Campaign-ID: c7\r\nX-Other: no\r\n",
        Some(&sdp("198.51.100.7:30000", "8 101", "sendrecv")),
    )
}

fn pbx_sdp(at: &str) -> String {
    sdp(at, "0 100", "sendrecv")
}

/// The platform's INVITE and the one the core sent the PBX.
fn dial(gw: &mut TestCore, events: &mut Vec<Event>) -> (String, Sent) {
    let inv = invite();
    let out = gw.receive(&inv, wan(CLOUD));
    events.extend(out.events.iter().cloned());
    (inv, out.one(PBX1, "INVITE").clone())
}

fn kinds(events: &[Event]) -> Vec<(EventKind, String)> {
    events
        .iter()
        .map(|e| (e.event, e.call_id.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn an_answered_call_gives_new_call_answer_and_hangup_with_its_duration() {
    let mut gw = gateway();
    let mut events = Vec::new();
    let (inv, to_pbx) = dial(&mut gw, &mut events);
    assert_eq!(events.len(), 1, "{events:?}");
    gw.run_for(Duration::from_secs(2));
    let mut ok = answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp("10.0.0.21:40000")));
    ok.headers.push(HeaderName::from_wire("X-Agent"), "42");
    let out = gw.receive(&ok, lan(PBX1));
    events.extend(out.events.iter().cloned());
    let ok_to_cloud = out.one(CLOUD, "SIP/2.0 200").clone();
    let mut caller = FarEnd::caller(&inv, &ok_to_cloud);
    gw.receive(&caller.ack(&ok_to_cloud), wan(CLOUD));
    gw.run_for(Duration::from_millis(42_400));
    let out = gw.receive(&caller.request("BYE", "", None), wan(CLOUD));
    events.extend(out.events.iter().cloned());

    let id = gw.call_records()[0].id.clone();
    assert_eq!(
        kinds(&events),
        [
            (EventKind::NewCall, id.clone()),
            (EventKind::Answer, id.clone()),
            (EventKind::Hangup, id.clone())
        ]
    );
    let [new, ans, hangup] = &events[..] else {
        unreachable!()
    };
    assert_eq!(new.direction, Some(Direction::In));
    assert_eq!(new.caller_call_id.as_deref(), Some("cloud-call-1"));
    assert_eq!(new.route.as_deref(), Some("q"));
    assert_eq!(new.user, ["q1"]);
    assert_eq!(new.xph.afid.as_deref(), Some("5678"));
    assert_eq!(
        new.headers.get("X-Campaign-ID").map(String::as_str),
        Some("c7"),
        "{:?}",
        new.headers
    );
    assert_eq!(new.headers.len(), 1, "only the configured header");
    assert_eq!(new.emergency, Some(false));
    assert!(new.clock_synced);
    assert_eq!(new.timestamp, "1970-01-01T00:00:00.000Z");
    assert_eq!(ans.timestamp, "1970-01-01T00:00:02.000Z");
    assert_eq!(ans.answering_number.as_deref(), Some("q1"));
    assert!(ans.callee_call_id.is_some());
    assert_eq!(
        ans.dial_sip_headers
            .get("DialSipHeader_X-Agent")
            .map(String::as_str),
        Some("42")
    );
    assert_eq!(hangup.cause, Some(Cause::NormalClearing));
    assert_eq!(hangup.cause_detail.as_deref(), Some("caller_hangup"));
    assert_eq!(hangup.duration, Some(42));
    // Ids: 32 hex digits, each its own.
    assert!(events
        .iter()
        .all(|e| e.id.len() == 32 && e.id.bytes().all(|b| b.is_ascii_hexdigit())));
    assert_ne!(new.id, ans.id);
    assert_ne!(ans.id, hangup.id);
    // Later changes of the ended call (media counters) emit nothing more.
    assert!(gw.run_for(Duration::from_secs(60)).events.is_empty());
}

#[test]
fn a_busy_callee_gives_hangup_busy() {
    let mut gw = gateway();
    let mut events = Vec::new();
    let (_, to_pbx) = dial(&mut gw, &mut events);
    let out = gw.receive(&answer(&to_pbx, 486, "pbx1", None), lan(PBX1));
    events.extend(out.events.iter().cloned());
    let kinds: Vec<EventKind> = events.iter().map(|e| e.event).collect();
    assert_eq!(kinds, [EventKind::NewCall, EventKind::Hangup]);
    assert_eq!(events[1].cause, Some(Cause::Busy));
    assert_eq!(events[1].cause_detail.as_deref(), Some("rejected"));
    assert_eq!(events[1].status, Some(486));
    assert_eq!(events[1].duration, Some(0));
}

/// sipgate.io: newCall(A), hangup(A, forwarded), newCall(B, diversion),
/// and B carries origCallId = A.
#[test]
fn a_followed_302_gives_hangup_forwarded_then_a_new_call_from_it() {
    let mut gw = gateway();
    let mut events = Vec::new();
    let (_, to_pbx) = dial(&mut gw, &mut events);
    let mut moved = answer(&to_pbx, 302, "moved", None);
    moved
        .headers
        .push(HeaderName::Contact, format!("<sip:fwd@{FORWARD}>"));
    let out = gw.receive(&moved, lan(PBX1));
    events.extend(out.events.iter().cloned());
    let forwarded = out.one(FORWARD, "INVITE").clone();
    let out = gw.receive(
        &answer(&forwarded, 200, "fwd", Some(&pbx_sdp("10.0.0.23:40000"))),
        lan(FORWARD),
    );
    events.extend(out.events.iter().cloned());

    let records = gw.call_records();
    let (a, b) = (records[0].id.clone(), records[1].id.clone());
    assert_ne!(a, b);
    assert_eq!(
        kinds(&events),
        [
            (EventKind::NewCall, a.clone()),
            (EventKind::Hangup, a.clone()),
            (EventKind::NewCall, b.clone()),
            (EventKind::Answer, b.clone()),
        ]
    );
    assert_eq!(events[1].cause, Some(Cause::Forwarded));
    assert_eq!(events[1].status, Some(302));
    assert_eq!(events[0].orig_call_id, None);
    assert_eq!(events[2].orig_call_id.as_deref(), Some(&*a));
    assert_eq!(events[3].orig_call_id.as_deref(), Some(&*a));
    assert_eq!(
        events[2].diversion.as_deref(),
        Some(&*format!("sip:q1@{PBX1}"))
    );
    assert_eq!(events[2].caller_call_id.as_deref(), Some("cloud-call-1"));
}

/// sipgate.io: newCall(B, diversion=<transferor>), answer(B), then
/// hangup(A).
#[test]
fn a_refer_gives_the_new_call_before_the_transferors_hangup() {
    let mut gw = gateway();
    let mut events = Vec::new();
    let (inv, to_pbx) = dial(&mut gw, &mut events);
    let mut callee = FarEnd::callee(&to_pbx, "pbx1");
    let out = gw.receive(
        &answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp("10.0.0.21:40000"))),
        lan(PBX1),
    );
    events.extend(out.events.iter().cloned());
    let ok = out.one(CLOUD, "SIP/2.0 200").clone();
    let mut caller = FarEnd::caller(&inv, &ok);
    gw.receive(&caller.ack(&ok), wan(CLOUD));

    let refer = callee.request(
        "REFER",
        &format!("Refer-To: <sip:agent@{AGENT}>\r\nReferred-By: <sip:q1@{PBX1}>\r\n"),
        None,
    );
    let out = gw.receive(&refer, lan(PBX1));
    events.extend(out.events.iter().cloned());
    let to_agent = out.one(AGENT, "INVITE").clone();
    let out = gw.receive(
        &answer(&to_agent, 200, "agent", Some(&pbx_sdp("10.0.0.24:42000"))),
        lan(AGENT),
    );
    events.extend(out.events.iter().cloned());

    let records = gw.call_records();
    let a = records[0].id.clone();
    let b = records.last().unwrap().id.clone();
    assert_eq!(
        kinds(&events),
        [
            (EventKind::NewCall, a.clone()),
            (EventKind::Answer, a.clone()),
            (EventKind::NewCall, b.clone()),
            (EventKind::Answer, b.clone()),
            (EventKind::Hangup, a.clone()),
        ]
    );
    assert_eq!(events[2].orig_call_id.as_deref(), Some(&*a));
    assert_eq!(
        events[2].diversion.as_deref(),
        Some(&*format!("sip:q1@{PBX1}"))
    );
    assert_eq!(
        events[2].target.as_deref(),
        Some(&*format!("sip:agent@{AGENT}"))
    );
    assert_eq!(events[4].cause, Some(Cause::NormalClearing));
    assert_eq!(events[4].cause_detail.as_deref(), Some("transferred"));
}

/// The media thread's report of digits `side` sent in call `session`.
fn digits(gw: &mut TestCore, session: u64, side: LegSide, digits: &str) -> Vec<Event> {
    let now = gw.now();
    gw.handle_media_event(
        MediaEvent::Digits {
            session,
            side,
            digits: digits.into(),
        },
        now,
    );
    gw.take().events
}

fn dtmf_of(events: &[Event]) -> Vec<(EventKind, Option<String>, Option<DtmfSide>)> {
    events
        .iter()
        .map(|e| (e.event, e.dtmf.clone(), e.dtmf_side))
        .collect()
}

/// Digits the media thread reports become one `dtmf` event each, with
/// the side that sent them, between the answer and the hangup; the
/// record keeps at most `DTMF_KEPT` per side, and digits after the
/// hangup (the media thread's last batch) change the record but emit
/// nothing.
#[test]
fn reported_digits_give_one_dtmf_event_each_between_answer_and_hangup() {
    // Anchored media (the default): the call has a media session.
    let mut gw = Setup::new(&format!(
        "[[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n"
    ))
    .start();
    let mut events = Vec::new();
    let (inv, to_pbx) = dial(&mut gw, &mut events);
    let session = gw.call_records()[0].media_session.expect("anchored media");
    // Early media: a digit before the answer comes after newCall.
    events.extend(digits(&mut gw, session, LegSide::Caller, "0"));
    let out = gw.receive(
        &answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp("10.0.0.21:40000"))),
        lan(PBX1),
    );
    events.extend(out.events.iter().cloned());
    let ok = out.one(CLOUD, "SIP/2.0 200").clone();
    let mut caller = FarEnd::caller(&inv, &ok);
    gw.receive(&caller.ack(&ok), wan(CLOUD));
    events.extend(digits(&mut gw, session, LegSide::Caller, "12"));
    events.extend(digits(&mut gw, session, LegSide::Callee, "#"));
    events.extend(digits(&mut gw, session, LegSide::Caller, "2"));
    let out = gw.receive(&caller.request("BYE", "", None), wan(CLOUD));
    events.extend(out.events.iter().cloned());
    let late = digits(&mut gw, session, LegSide::Callee, "9");
    assert!(late.is_empty(), "after the hangup: {late:?}");

    use DtmfSide::{Callee, Caller};
    let d = |c: &str, side| (EventKind::Dtmf, Some(c.to_string()), Some(side));
    assert_eq!(
        dtmf_of(&events),
        [
            (EventKind::NewCall, None, None),
            d("0", Caller),
            (EventKind::Answer, None, None),
            d("1", Caller),
            d("2", Caller),
            d("#", Callee),
            d("2", Caller),
            (EventKind::Hangup, None, None),
        ]
    );
    let id = gw.call_records()[0].id.clone();
    for e in &events {
        assert_eq!(e.call_id.as_deref(), Some(&*id));
        assert!(e.event != EventKind::Dtmf || e.caller_call_id.as_deref() == Some("cloud-call-1"));
    }
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "each event its own id");
    let r = &gw.call_records()[0];
    assert_eq!(
        (r.dtmf_caller.as_str(), r.dtmf_callee.as_str()),
        ("0122", "#9")
    );
}

#[test]
fn a_side_keeps_at_most_its_cap_of_digits() {
    let mut gw = Setup::new(&format!(
        "[[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n"
    ))
    .start();
    let mut events = Vec::new();
    dial(&mut gw, &mut events);
    let session = gw.call_records()[0].media_session.expect("anchored");
    let many = "0123456789".repeat(7);
    let got = digits(&mut gw, session, LegSide::Callee, &many[..DTMF_KEPT - 2]);
    assert_eq!(got.len(), DTMF_KEPT - 2);
    let got = digits(&mut gw, session, LegSide::Callee, "*#AB");
    assert_eq!(
        dtmf_of(&got),
        [
            (EventKind::Dtmf, Some("*".into()), Some(DtmfSide::Callee)),
            (EventKind::Dtmf, Some("#".into()), Some(DtmfSide::Callee)),
        ],
        "two fit"
    );
    assert!(digits(&mut gw, session, LegSide::Callee, "5").is_empty());
    let r = &gw.call_records()[0];
    assert_eq!(r.dtmf_callee.len(), DTMF_KEPT);
    assert!(r.dtmf_callee.ends_with("*#"));
    // The other side has its own room.
    assert_eq!(digits(&mut gw, session, LegSide::Caller, "7").len(), 1);
}

fn status(state: SipState) -> RegistrationStatus {
    RegistrationStatus {
        account: "trunk".into(),
        state,
        public_address: None,
        registrar: None,
    }
}

/// Up when granted, down when failing or un-registered; a refresh
/// (Registering again) and a repeat of the same state say nothing.
#[test]
fn registration_events_follow_up_and_down_transitions() {
    let t0 = Instant::now();
    let mut tracker = EventTracker::new(IdGenerator::from_seed(1), t0, SystemTime::UNIX_EPOCH);
    tracker.set_clock_synced(true);
    let registered = SipState::Registered {
        expires_at: t0 + Duration::from_secs(3600),
        contact: "<sip:gw@192.0.2.1>".into(),
    };
    let failing = SipState::Failing {
        reason: "403 Forbidden".into(),
        attempts: 1,
        next_attempt: t0,
    };
    let mut seen = Vec::new();
    let steps = [
        SipState::Starting,
        SipState::Registering,
        registered.clone(),
        SipState::Registering,
        registered.clone(),
        failing.clone(),
        failing,
        registered,
        SipState::Unregistered,
    ];
    for (i, s) in steps.into_iter().enumerate() {
        seen.extend(tracker.on_registrations(&[status(s)], t0 + Duration::from_secs(i as u64)));
    }
    let got: Vec<(RegistrationState, Option<&str>, &str)> = seen
        .iter()
        .map(|e| (e.state.unwrap(), e.reason.as_deref(), e.timestamp.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (RegistrationState::Up, None, "1970-01-01T00:00:02.000Z"),
            (
                RegistrationState::Down,
                Some("403 Forbidden"),
                "1970-01-01T00:00:05.000Z"
            ),
            (RegistrationState::Up, None, "1970-01-01T00:00:07.000Z"),
            (
                RegistrationState::Down,
                Some("unregistered"),
                "1970-01-01T00:00:08.000Z"
            ),
        ]
    );
    assert!(seen.iter().all(|e| e.event == EventKind::Registration
        && e.account.as_deref() == Some("trunk")
        && e.call_id.is_none()));
}

/// Times come from the wall clock read at start: a clock that was not
/// synced then is never reported as synced.
#[test]
fn clock_synced_needs_a_synced_clock_at_start() {
    let t0 = Instant::now();
    let mut tracker = EventTracker::new(IdGenerator::from_seed(1), t0, SystemTime::UNIX_EPOCH);
    tracker.set_clock_synced(false);
    tracker.set_clock_synced(true);
    let e = tracker.on_registrations(&[status(SipState::Unregistered)], t0);
    assert!(!e[0].clock_synced);
}
