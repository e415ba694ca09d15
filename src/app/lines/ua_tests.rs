//! The line's user agent alone, with SIP written by hand as the B2BUA
//! would send it.

use super::*;
use crate::line::phone::PhoneSettings;
use crate::line::protocol::{parse_event, Cadence};

fn ua() -> LineUa {
    let mut ua = LineUa::new(
        "kitchen".into(),
        "201".into(),
        true,
        LineAddressing {
            sip: "127.0.0.1:40000".parse().unwrap(),
            audio: "127.0.0.1:40000".parse().unwrap(),
            host: "kitchen.line.invalid".into(),
        },
        Phone::new(PhoneSettings {
            cadence: Cadence::new(&[2000, 4000]).unwrap(),
            digit_timeout: Duration::from_secs(4),
            emergency: vec!["911".into()],
        }),
        IdGenerator::from_seed(3),
    );
    let t = Instant::now();
    ua.audio(None, t);
    board(&mut ua, "READY 1 sim");
    board(&mut ua, "ONHOOK");
    drain(&mut ua);
    ua
}

fn board(ua: &mut LineUa, line: &str) {
    ua.board_event(&parse_event(line.as_bytes()).unwrap(), Instant::now());
}

fn drain(ua: &mut LineUa) -> (Vec<SipMessage>, Vec<LineAction>) {
    let mut msgs = Vec::new();
    while let Some(b) = ua.poll_to_core() {
        msgs.push(parse_message(&b, Framing::Stream).expect("the line sends valid SIP"));
    }
    let mut actions = Vec::new();
    while let Some(a) = ua.poll_action() {
        actions.push(a);
    }
    (msgs, actions)
}

fn status(m: &SipMessage) -> u16 {
    match m {
        SipMessage::Response(r) => r.status,
        SipMessage::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn invite() -> Vec<u8> {
    invite_with(OFFER)
}

fn invite_with(offer: &str) -> Vec<u8> {
    format!(
        "INVITE sip:201@kitchen.line.invalid SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKb2b1\r\n\
         From: <sip:+4930123456@127.0.0.1>;tag=b2b\r\n\
         To: <sip:201@kitchen.line.invalid>\r\n\
         Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 69\r\n\
         Contact: <sip:pbxgate@127.0.0.1:5060;transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    )
    .into_bytes()
}

#[test]
fn an_invite_rings_the_line_and_off_hook_answers_with_the_lines_sdp() {
    let t = Instant::now();
    let mut ua = ua();
    ua.deliver(&invite(), t);
    let (msgs, actions) = drain(&mut ua);
    assert_eq!(msgs.iter().map(status).collect::<Vec<_>>(), vec![180]);
    let ring = match &actions[..] {
        [LineAction::Board(c)] => c.clone(),
        other => panic!("{other:?}"),
    };
    let mut l = crate::line::protocol::Line::new();
    ring.encode(&mut l).unwrap();
    assert_eq!(l.trim_end(), "RING 2000/4000 +4930123456");
    board(&mut ua, "OFFHOOK");
    let (msgs, actions) = drain(&mut ua);
    let SipMessage::Response(ok) = &msgs[0] else {
        panic!()
    };
    assert_eq!(ok.status, 200);
    let answer = sdp::choose(&ok.body, true).unwrap();
    assert_eq!(answer.remote, "127.0.0.1:40000".parse().unwrap());
    assert_eq!(
        (answer.payload_type, answer.event_payload_type),
        (8, Some(101))
    );
    assert!(actions.contains(&LineAction::AudioStart(AudioStream {
        remote: "127.0.0.1:30000".parse().unwrap(),
        ulaw: false,
        payload_type: 8,
        event_payload_type: Some(101),
    })));
    // The far end hangs up: 200, audio stops, busy tone.
    let tag = ok.headers.to_tag().unwrap();
    let bye = format!(
        "BYE sip:201@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKb2b2\r\n\
         From: <sip:+4930123456@127.0.0.1>;tag=b2b\r\nTo: <sip:201@kitchen.line.invalid>;tag={tag}\r\n\
         Call-ID: c1\r\nCSeq: 2 BYE\r\nMax-Forwards: 69\r\nContent-Length: 0\r\n\r\n"
    );
    ua.deliver(bye.as_bytes(), t);
    let (msgs, actions) = drain(&mut ua);
    assert_eq!(status(&msgs[0]), 200);
    assert!(actions.contains(&LineAction::AudioStop));
    assert!(actions.contains(&LineAction::Board(Command::Tone(
        crate::line::protocol::Tone::Busy
    ))));
    assert!(!ua.in_call());
}

#[test]
fn a_second_call_is_busy_and_a_down_line_says_why() {
    let t = Instant::now();
    let mut ua = ua();
    ua.deliver(&invite(), t);
    drain(&mut ua);
    let second = String::from_utf8(invite())
        .unwrap()
        .replace("Call-ID: c1", "Call-ID: c2");
    ua.deliver(second.as_bytes(), t);
    assert_eq!(status(&drain(&mut ua).0[0]), 486);

    let mut down = self::ua();
    down.link_down(t);
    down.deliver(&invite(), t);
    let SipMessage::Response(r) = &drain(&mut down).0[0] else {
        panic!()
    };
    assert_eq!(r.status, 480);
    assert!(
        r.reason.contains("line board not connected"),
        "{}",
        r.reason
    );
}

#[test]
fn an_offer_without_g711_is_refused_488() {
    let t = Instant::now();
    let mut ua = ua();
    ua.deliver(
        &invite_with(&OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 18 101")),
        t,
    );
    let (msgs, actions) = drain(&mut ua);
    assert_eq!(status(&msgs[0]), 488);
    assert!(actions.is_empty(), "the line does not ring");
}

#[test]
fn dialling_sends_an_invite_and_the_answer_is_acked_and_connects_audio() {
    let t = Instant::now();
    let mut ua = ua();
    board(&mut ua, "OFFHOOK");
    for k in "100#".chars() {
        board(&mut ua, &format!("DIGIT {k} 100"));
    }
    let (msgs, _) = drain(&mut ua);
    let SipMessage::Request(inv) = &msgs[0] else {
        panic!()
    };
    assert_eq!(inv.method, Method::Invite);
    assert_eq!(inv.uri.to_string(), "sip:100@kitchen.line.invalid");
    assert!(inv
        .headers
        .get(&HeaderName::From)
        .unwrap()
        .contains("sip:201@"));
    let call_id = inv.headers.call_id().unwrap().to_string();
    let from = inv.headers.get(&HeaderName::From).unwrap().to_string();
    let via = inv.headers.get(&HeaderName::Via).unwrap().to_string();
    let resp = |status: u16, body: &str| {
        format!(
            "SIP/2.0 {status} X\r\nVia: {via}\r\nFrom: {from}\r\nTo: <sip:100@kitchen.line.invalid>;tag=b2b\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:pbxgate@127.0.0.1:5060;transport=tcp>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    ua.deliver(resp(180, "").as_bytes(), t);
    let (_, actions) = drain(&mut ua);
    assert_eq!(
        actions,
        vec![LineAction::Board(Command::Tone(
            crate::line::protocol::Tone::Ringback
        ))]
    );
    ua.deliver(resp(200, OFFER).as_bytes(), t);
    let (msgs, actions) = drain(&mut ua);
    let SipMessage::Request(ack) = &msgs[0] else {
        panic!()
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.uri.to_string(),
        "sip:pbxgate@127.0.0.1:5060;transport=tcp"
    );
    assert!(ack
        .headers
        .get(&HeaderName::To)
        .unwrap()
        .contains("tag=b2b"));
    assert!(matches!(actions[0], LineAction::AudioStart(_)));
    assert_eq!(actions[1], LineAction::Board(Command::ToneOff));
    // A key during the call goes to the audio side.
    board(&mut ua, "DIGIT 7 150");
    assert_eq!(
        drain(&mut ua).1,
        vec![LineAction::Press {
            digit: '7',
            held: Duration::from_millis(150)
        }]
    );
    // On-hook: BYE.
    board(&mut ua, "ONHOOK");
    let (msgs, actions) = drain(&mut ua);
    let SipMessage::Request(bye) = &msgs[0] else {
        panic!()
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.cseq().unwrap().seq, 2);
    assert!(actions.contains(&LineAction::AudioStop));
}

#[test]
fn a_refused_call_is_acked_and_plays_busy_tone() {
    let t = Instant::now();
    let mut ua = ua();
    board(&mut ua, "OFFHOOK");
    for k in "5#".chars() {
        board(&mut ua, &format!("DIGIT {k} 100"));
    }
    let (msgs, _) = drain(&mut ua);
    let SipMessage::Request(inv) = &msgs[0] else {
        panic!()
    };
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\nVia: {}\r\nFrom: {}\r\nTo: <sip:5@kitchen.line.invalid>;tag=x\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        inv.headers.get(&HeaderName::Via).unwrap(),
        inv.headers.get(&HeaderName::From).unwrap(),
        inv.headers.call_id().unwrap()
    );
    ua.deliver(busy.as_bytes(), t);
    let (msgs, actions) = drain(&mut ua);
    let SipMessage::Request(ack) = &msgs[0] else {
        panic!()
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.get(&HeaderName::Via),
        inv.headers.get(&HeaderName::Via),
        "same transaction as the INVITE"
    );
    assert!(actions.contains(&LineAction::Board(Command::Tone(
        crate::line::protocol::Tone::Busy
    ))));
}
