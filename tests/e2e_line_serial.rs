//! The box's serial shell and the line-board simulator (`pbxgate linesim`)
//! over a real pseudo-terminal: commands and events both ways, and the link
//! coming back after the board's terminal is closed and made again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::linesim::Sim;
use futures_lite::FutureExt;
use pbxgate::line::protocol::{Cadence, CallerNumber, Command, Digit, Event, LineError, Tone};
use pbxgate::line::serial::{LinkEvent, SerialError, SerialLink, SerialSettings};

const WAIT: Duration = Duration::from_secs(10);

fn next(link: &SerialLink) -> LinkEvent {
    smol::block_on(
        async { link.events().recv().await.expect("link thread ended") }.or(async {
            smol::Timer::after(WAIT).await;
            panic!("no link event within {WAIT:?}")
        }),
    )
}

fn expect_event(link: &SerialLink, want: &Event) {
    match next(link) {
        LinkEvent::Event(e) if e == *want => {}
        other => panic!("wanted {want:?}, got {other:?}"),
    }
}

fn expect_up(link: &SerialLink) {
    match next(link) {
        LinkEvent::Up => {}
        other => panic!("wanted Up, got {other:?}"),
    }
    // docs/line-protocol.md: RESET is answered with READY and the hook state.
    assert!(matches!(
        next(link),
        LinkEvent::Event(Event::Ready { protocol: 1, .. })
    ));
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pbxgate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(link: &Path) -> SerialSettings {
    let mut s = SerialSettings::new(link.to_str().unwrap(), 115_200);
    s.retry = Duration::from_millis(100);
    s
}

#[test]
fn box_and_simulator_exchange_ring_hook_digits_and_tones() {
    let dir = temp_dir("line-exchange");
    let port = dir.join("board");
    let mut sim = Sim::start(&port);
    let link = SerialLink::spawn(settings(&port)).unwrap();
    expect_up(&link);
    sim.expect("<< RESET");
    expect_event(&link, &Event::OnHook);

    link.send(Command::Ring {
        cadence: Cadence::new(&[2000, 4000]).unwrap(),
        caller: Some(CallerNumber::new("+4930123456").unwrap()),
    });
    sim.expect("<< RING 2000/4000 +4930123456");

    sim.say("offhook");
    expect_event(&link, &Event::OffHook);
    link.send(Command::RingOff);
    link.send(Command::Tone(Tone::Dial));
    sim.expect("<< RING OFF");
    sim.expect("<< TONE DIAL");

    let started = Instant::now();
    sim.say("digits 12# 80 40");
    for key in ['1', '2', '#'] {
        let digit = Digit::new(key).unwrap();
        expect_event(&link, &Event::Digit { digit, ms: 80 });
    }
    // Each key is reported at its release: 80 + 40 + 80 + 40 + 80 ms.
    assert!(started.elapsed() >= Duration::from_millis(320));

    // A line that is not protocol is reported and the link stays up.
    sim.say("raw HELLO there");
    match next(&link) {
        LinkEvent::Malformed(LineError::UnknownVerb(v)) => assert_eq!(v.as_str(), "HELLO"),
        other => panic!("wanted Malformed, got {other:?}"),
    }
    sim.say("flash 300");
    expect_event(&link, &Event::Flash { ms: 300 });
    link.send(Command::VersionQuery);
    sim.expect("<< VERSION?");
    assert!(matches!(
        next(&link),
        LinkEvent::Event(Event::Version { protocol: 1, .. })
    ));
    sim.kill();
}

#[test]
fn the_link_waits_for_the_port_and_comes_back_after_it_goes() {
    let dir = temp_dir("line-reconnect");
    let port = dir.join("board");
    // No board yet: one clear error naming the port, then quiet retries.
    let link = SerialLink::spawn(settings(&port)).unwrap();
    match next(&link) {
        LinkEvent::Down(e @ SerialError::Open { .. }) => {
            assert!(e.to_string().contains(port.to_str().unwrap()), "{e}")
        }
        other => panic!("wanted Down(Open), got {other:?}"),
    }

    let mut sim = Sim::start(&port);
    expect_up(&link);
    expect_event(&link, &Event::OnHook);
    sim.say("offhook");
    expect_event(&link, &Event::OffHook);

    // The board's terminal closes: the box sees it go...
    sim.kill();
    match next(&link) {
        LinkEvent::Down(SerialError::Lost { .. }) => {}
        other => panic!("wanted Down(Lost), got {other:?}"),
    }
    // ...and when a new one appears at the same path, starts over with RESET.
    let sim = Sim::start(&port);
    loop {
        // Failed opens while the path was stale are reported once at most.
        match next(&link) {
            LinkEvent::Down(SerialError::Open { .. }) => continue,
            LinkEvent::Up => break,
            other => panic!("wanted Up, got {other:?}"),
        }
    }
    assert!(matches!(next(&link), LinkEvent::Event(Event::Ready { .. })));
    expect_event(&link, &Event::OnHook);
    sim.expect("<< RESET");
    link.send(Command::Tone(Tone::Busy));
    sim.expect("<< TONE BUSY");
    drop(link);
    sim.kill();
    let _ = std::fs::remove_dir_all(dir);
}
