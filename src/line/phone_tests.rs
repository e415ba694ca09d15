use super::*;
use crate::line::protocol::{parse_event, Digit};

fn phone() -> Phone {
    Phone::new(PhoneSettings {
        cadence: Cadence::new(&[2000, 4000]).unwrap(),
        digit_timeout: Duration::from_secs(4),
        emergency: vec!["911".into(), "112".into()],
    })
}

fn ev(line: &str) -> Event {
    parse_event(line.as_bytes()).unwrap()
}

/// A phone whose board said READY / ONHOOK and whose audio works.
fn ready(now: Instant) -> Phone {
    let mut p = phone();
    p.audio(true);
    p.board_event(&ev("READY 1 sim"), now);
    p.board_event(&ev("ONHOOK"), now);
    drain(&mut p);
    p
}

fn drain(p: &mut Phone) -> (Vec<String>, Vec<PhoneIntent>) {
    let mut cmds = Vec::new();
    while let Some(c) = p.poll_command() {
        let mut line = crate::line::protocol::Line::new();
        c.encode(&mut line).unwrap();
        cmds.push(line.trim_end().to_string());
    }
    let mut intents = Vec::new();
    while let Some(i) = p.poll_intent() {
        intents.push(i);
    }
    (cmds, intents)
}

fn press(p: &mut Phone, keys: &str, now: Instant) {
    for k in keys.chars() {
        p.board_event(
            &Event::Digit {
                digit: Digit::new(k).unwrap(),
                ms: 100,
            },
            now,
        );
    }
}

#[test]
fn an_incoming_call_rings_with_the_callers_number_and_off_hook_answers() {
    let t = Instant::now();
    let mut p = ready(t);
    assert_eq!(p.ring(Some("+4930123456")), Ok(()));
    assert_eq!(drain(&mut p).0, vec!["RING 2000/4000 +4930123456"]);
    p.board_event(&ev("OFFHOOK"), t);
    assert_eq!(
        drain(&mut p),
        (vec!["RING OFF".into()], vec![PhoneIntent::Answer])
    );
    assert_eq!(p.state(), &PhoneState::Talking);
    // A key during the call goes to the call with its length.
    p.board_event(&ev("DIGIT 5 120"), t);
    assert_eq!(
        drain(&mut p).1,
        vec![PhoneIntent::Key {
            digit: '5',
            held: Duration::from_millis(120)
        }]
    );
    // On-hook hangs up.
    p.board_event(&ev("ONHOOK"), t);
    assert_eq!(drain(&mut p).1, vec![PhoneIntent::HangUp]);
    assert_eq!(p.state(), &PhoneState::Idle);
}

#[test]
fn a_caller_id_the_board_cannot_show_rings_without_it() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(Some("alice")).unwrap();
    assert_eq!(drain(&mut p).0, vec!["RING 2000/4000"]);
}

#[test]
fn the_far_ends_bye_plays_busy_tone_until_on_hook() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(None).unwrap();
    p.board_event(&ev("OFFHOOK"), t);
    drain(&mut p);
    p.far_ended();
    assert_eq!(drain(&mut p), (vec!["TONE BUSY".into()], vec![]));
    p.board_event(&ev("ONHOOK"), t);
    // Nothing to hang up any more: only the tone stops.
    assert_eq!(drain(&mut p), (vec!["TONE OFF".into()], vec![]));
}

#[test]
fn a_caller_who_gives_up_stops_the_ringing() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(None).unwrap();
    drain(&mut p);
    p.ring_cancelled();
    assert_eq!(drain(&mut p).0, vec!["RING OFF"]);
    assert_eq!(p.ring(None), Ok(()), "idle again");
}

#[test]
fn a_busy_or_down_line_refuses_a_second_call() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(None).unwrap();
    assert_eq!(p.ring(None), Err(Unavailable::Busy));
    let mut q = phone();
    assert_eq!(q.ring(None), Err(Unavailable::Down), "no board yet");
    q.board_event(&ev("READY 1 sim"), t);
    q.board_event(&ev("ONHOOK"), t);
    assert_eq!(q.ring(None), Err(Unavailable::Down), "no audio yet");
    q.audio(true);
    assert_eq!(q.ring(None), Ok(()));
}

#[test]
fn off_hook_gives_dial_tone_and_digits_are_placed_after_the_inter_digit_wait() {
    let t = Instant::now();
    let mut p = ready(t);
    p.board_event(&ev("OFFHOOK"), t);
    assert_eq!(drain(&mut p).0, vec!["TONE DIAL"]);
    press(&mut p, "1", t);
    assert_eq!(
        drain(&mut p).0,
        vec!["TONE OFF"],
        "the first key stops dial tone"
    );
    press(&mut p, "00", t + Duration::from_secs(1));
    assert_eq!(p.poll_timeout(), Some(t + Duration::from_secs(5)));
    p.handle_timeout(t + Duration::from_millis(4999));
    assert_eq!(drain(&mut p).1, vec![], "not yet");
    p.handle_timeout(t + Duration::from_secs(5));
    assert_eq!(
        drain(&mut p).1,
        vec![PhoneIntent::Dial {
            number: "100".into(),
            emergency: false
        }]
    );
    assert_eq!(p.state(), &PhoneState::Calling);
    p.far_ringing();
    assert_eq!(drain(&mut p).0, vec!["TONE RINGBACK"]);
    p.far_answered();
    assert_eq!(drain(&mut p).0, vec!["TONE OFF"]);
    assert_eq!(p.state(), &PhoneState::Talking);
}

#[test]
fn hash_places_the_number_at_once() {
    let t = Instant::now();
    let mut p = ready(t);
    p.board_event(&ev("OFFHOOK"), t);
    press(&mut p, "4711#", t);
    assert_eq!(
        drain(&mut p).1,
        vec![PhoneIntent::Dial {
            number: "4711".into(),
            emergency: false
        }]
    );
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn an_emergency_number_is_placed_the_moment_it_matches() {
    let t = Instant::now();
    let mut p = ready(t);
    p.board_event(&ev("OFFHOOK"), t);
    press(&mut p, "91", t);
    assert_eq!(drain(&mut p).1, vec![]);
    press(&mut p, "1", t);
    assert_eq!(
        drain(&mut p).1,
        vec![PhoneIntent::Dial {
            number: "911".into(),
            emergency: true
        }]
    );
}

#[test]
fn left_off_the_hook_ends_in_busy_tone() {
    let t = Instant::now();
    let mut p = ready(t);
    p.board_event(&ev("OFFHOOK"), t);
    drain(&mut p);
    p.handle_timeout(t + FIRST_DIGIT_TIMEOUT);
    assert_eq!(drain(&mut p), (vec!["TONE BUSY".into()], vec![]));
    // Digits now do nothing.
    press(&mut p, "1", t + FIRST_DIGIT_TIMEOUT);
    assert_eq!(drain(&mut p), (vec![], vec![]));
}

#[test]
fn a_lost_link_or_a_fault_ends_the_call_and_takes_the_line_down() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(None).unwrap();
    p.board_event(&ev("OFFHOOK"), t);
    drain(&mut p);
    p.link_down();
    assert_eq!(drain(&mut p).1, vec![PhoneIntent::HangUp]);
    assert!(!p.in_service());
    assert_eq!(p.down_reason().as_deref(), Some("line board not connected"));
    // The board comes back with the handset still up: no dial tone until
    // it goes down and up again (it was a call, not a new lift).
    p.board_event(&ev("READY 1 sim"), t);
    p.board_event(&ev("OFFHOOK"), t);
    assert!(p.in_service());
    p.board_event(&ev("FAULT thermal too hot"), t);
    assert_eq!(
        p.down_reason().as_deref(),
        Some("line board fault: thermal (too hot)")
    );
    assert_eq!(p.ring(None), Err(Unavailable::Down));
}

#[test]
fn a_board_restart_while_ringing_rings_again() {
    let t = Instant::now();
    let mut p = ready(t);
    p.ring(Some("123")).unwrap();
    drain(&mut p);
    p.board_event(&ev("READY 1 sim"), t);
    p.board_event(&ev("ONHOOK"), t);
    assert_eq!(drain(&mut p).0, vec!["RING 2000/4000 123"]);
}

#[test]
fn on_hook_while_calling_cancels_the_attempt() {
    let t = Instant::now();
    let mut p = ready(t);
    p.board_event(&ev("OFFHOOK"), t);
    press(&mut p, "5#", t);
    drain(&mut p);
    p.far_ringing();
    p.board_event(&ev("ONHOOK"), t);
    assert_eq!(
        drain(&mut p),
        (
            vec!["TONE RINGBACK".into(), "TONE OFF".into()],
            vec![PhoneIntent::HangUp]
        )
    );
}
