//! Lines behind the whole core: a SIP call routed to a line rings it and
//! connects through the media anchor; a number dialled on a line becomes a
//! SIP call on the other side.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::line::phone::PhoneSettings;
use crate::line::protocol::{parse_event, Cadence, Command, Tone};
use crate::sip::message::HeaderName;
use crate::test_support::{audio, request, sdp, wan, Setup, Step, TestCore};

const LINE_AUDIO: &str = "127.0.0.1:41000";
const CLOUD: &str = "203.0.113.10:5060";
const PBX: &str = "10.0.0.20:5060";

fn core(routes: &str) -> TestCore {
    let mut gw = Setup::new(routes).seed(5).start();
    let line = gw.add_line(LineSetup {
        name: "kitchen".into(),
        extension: "201".into(),
        dtmf_events: true,
        phone: PhoneSettings {
            cadence: Cadence::new(&[2000, 4000]).unwrap(),
            digit_timeout: Duration::from_secs(4),
            emergency: vec!["911".into()],
        },
        audio: LINE_AUDIO.parse().unwrap(),
    });
    assert_eq!(line, 0);
    board(&mut gw, "READY 1 sim");
    board(&mut gw, "ONHOOK");
    let now = gw.now();
    gw.handle_line_input(0, LineInput::AudioReady, now);
    gw.take();
    gw
}

fn board(gw: &mut TestCore, line: &str) -> Step {
    let now = gw.now();
    gw.handle_line_input(
        0,
        LineInput::Board(parse_event(line.as_bytes()).unwrap()),
        now,
    );
    gw.take()
}

fn board_commands(step: &Step) -> Vec<Command> {
    step.lines
        .iter()
        .filter_map(|(_, a)| match a {
            LineAction::Board(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn audio_start(step: &Step) -> Option<AudioStream> {
    step.lines.iter().find_map(|(_, a)| match a {
        LineAction::AudioStart(s) => Some(*s),
        _ => None,
    })
}

#[test]
fn a_call_from_the_cloud_rings_the_line_and_connects_through_the_anchor() {
    let mut gw = core(
        "[[route]]\nname='to-kitchen'\nfrom='wan'\ntargets=[{uri='sip:201@kitchen.line.invalid'}]\n",
    );
    let offer = sdp("203.0.113.10:30000", "0 101", "sendrecv");
    let inv = request(
        "INVITE",
        CLOUD,
        "sip:+15551234567@gw.example.com",
        "cl-1",
        "",
        Some(&offer),
    )
    .replace("sip:caller@", "sip:+4930123456@");
    let out = gw.receive(&inv, wan(CLOUD));
    // The line rings with the caller's number; the cloud hears 180.
    let ring = board_commands(&out);
    assert!(
        matches!(&ring[..], [Command::Ring { caller: Some(n), .. }] if n.as_str() == "+4930123456"),
        "{ring:?}"
    );
    assert!(
        out.find(CLOUD, "SIP/2.0 180").is_some(),
        "{:?}",
        out.summary()
    );
    let out = board(&mut gw, "OFFHOOK");
    assert_eq!(board_commands(&out), vec![Command::RingOff]);
    let ok = out.one(CLOUD, "SIP/2.0 200");
    // The cloud gets the anchor's address, not the line's.
    let answered = audio(&ok.body());
    assert_eq!(answered.rtp.ip().to_string(), "192.0.2.1");
    // The line sends its audio to the anchor's port on the line's side.
    let stream = audio_start(&out).expect("the line's audio starts");
    assert_eq!(
        stream.remote.ip(),
        LINE_AUDIO.parse::<SocketAddr>().unwrap().ip()
    );
    assert!(stream.ulaw);
    assert!(stream.event_payload_type.is_some());
    let record = gw.call_records().pop().expect("a live call");
    assert_eq!(record.target.as_deref(), Some("line:kitchen"));
    assert_eq!(record.callee_transport, Some("LINE"));
    // The cloud hangs up: the line gets busy tone and its audio stops.
    let mut cloud = crate::test_support::FarEnd::caller(&inv, ok);
    let bye = cloud.request("BYE", "", None);
    let out = gw.receive(&bye, wan(CLOUD));
    assert!(out.find(CLOUD, "SIP/2.0 200").is_some());
    assert_eq!(board_commands(&out), vec![Command::Tone(Tone::Busy)]);
    assert!(out.lines.iter().any(|(_, a)| *a == LineAction::AudioStop));
    assert_eq!(gw.active_calls(), 0);
}

#[test]
fn a_line_that_is_out_of_service_refuses_with_a_reason() {
    let mut gw = core(
        "[[route]]\nname='to-kitchen'\nfrom='wan'\ntargets=[{uri='sip:201@kitchen.line.invalid'}]\n",
    );
    let now = gw.now();
    gw.handle_line_input(0, LineInput::LinkDown("port gone".into()), now);
    gw.take();
    let inv = request(
        "INVITE",
        CLOUD,
        "sip:+15551234567@gw.example.com",
        "cl-2",
        "",
        Some(&sdp("203.0.113.10:30000", "0", "sendrecv")),
    );
    let out = gw.receive(&inv, wan(CLOUD));
    let finals = out.finals();
    assert_eq!(finals.len(), 1, "{:?}", out.summary());
    assert_eq!(finals[0].status, 480);
}

#[test]
fn a_number_dialled_on_the_line_goes_to_the_pbx_and_connects() {
    let mut gw = core(&format!(
        "[[route]]\nname='line-out'\nfrom='line'\ntargets=[{{uri='sip:{PBX}'}}]\n"
    ));
    assert_eq!(
        board_commands(&board(&mut gw, "OFFHOOK")),
        vec![Command::Tone(Tone::Dial)]
    );
    board(&mut gw, "DIGIT 1 100");
    board(&mut gw, "DIGIT 0 100");
    let out = board(&mut gw, "DIGIT # 100");
    let invite = out.one(PBX, "INVITE");
    assert!(
        invite.request().uri.to_string().starts_with("sip:10@"),
        "{}",
        invite.request().uri
    );
    assert!(
        invite
            .header(&HeaderName::From)
            .unwrap()
            .contains("sip:201@"),
        "the PBX sees the line's extension"
    );
    let offered = audio(&invite.body());
    assert_eq!(
        offered.rtp.ip().to_string(),
        "10.0.0.1",
        "the anchor's LAN address"
    );
    let ringing = crate::test_support::answer(invite, 180, "pbx", None);
    let out = gw.receive(&ringing, invite.to);
    assert_eq!(board_commands(&out), vec![Command::Tone(Tone::Ringback)]);
    let ok = crate::test_support::answer(
        invite,
        200,
        "pbx",
        Some(&sdp("10.0.0.20:32000", "0", "sendrecv")),
    );
    let out = gw.receive(&ok, invite.to);
    assert!(out.find(PBX, "ACK").is_some(), "{:?}", out.summary());
    assert!(audio_start(&out).is_some());
    assert_eq!(board_commands(&out), vec![Command::ToneOff]);
    let record = gw.call_records().pop().expect("a live call");
    assert_eq!(record.caller_transport, Some("LINE"));
    assert!(record.answered.is_some());
    // On-hook: BYE to the PBX.
    let out = board(&mut gw, "ONHOOK");
    assert!(out.find(PBX, "BYE").is_some(), "{:?}", out.summary());
}

#[test]
fn an_emergency_number_dialled_on_the_line_is_placed_at_once() {
    let mut gw = core(&format!(
        "[emergency]\nnumbers=['911']\n[[route]]\nname='line-out'\nfrom='line'\ntargets=[{{uri='sip:{PBX}'}}]\n"
    ));
    board(&mut gw, "OFFHOOK");
    board(&mut gw, "DIGIT 9 100");
    board(&mut gw, "DIGIT 1 100");
    let out = board(&mut gw, "DIGIT 1 100");
    assert!(
        out.find(PBX, "INVITE").is_some(),
        "no wait: {:?}",
        out.summary()
    );
    assert!(gw.call_records().pop().unwrap().emergency);
}
