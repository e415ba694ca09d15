//! The codec both ways, and property-style runs over random values and bytes
//! (seeded, so a failure repeats).

use super::*;

fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(0x0005_eed2)
}

const KEYS: &[u8] = b"0123456789*#ABCD";

fn word(r: &mut fastrand::Rng, max: usize, alphabet: &[u8]) -> String {
    let n = r.usize(1..=max);
    (0..n)
        .map(|_| alphabet[r.usize(..alphabet.len())] as char)
        .collect()
}

fn note(r: &mut fastrand::Rng) -> Note {
    let text: String = (0..r.usize(0..=60))
        .map(|_| r.u8(0x20..=0x7e) as char)
        .collect();
    // Leading or trailing spaces do not survive a line; values with them are
    // not made by the box or the simulator.
    Note::new("t", text.trim()).unwrap()
}

fn random_command(r: &mut fastrand::Rng) -> Command {
    match r.u8(0..6) {
        0 => {
            let steps: Vec<u16> = (0..2 * r.usize(1..=4))
                .map(|_| r.u16(20..=10_000))
                .collect();
            let caller = r.bool().then(|| {
                let plus = if r.bool() { "+" } else { "" };
                CallerNumber::new(&format!("{plus}{}", word(r, 19, b"0123456789*#"))).unwrap()
            });
            Command::Ring {
                cadence: Cadence::new(&steps).unwrap(),
                caller,
            }
        }
        1 => Command::RingOff,
        2 => Command::Tone(Tone::ALL[r.usize(..Tone::ALL.len())]),
        3 => Command::ToneOff,
        4 => Command::Reset,
        _ => Command::VersionQuery,
    }
}

fn random_event(r: &mut fastrand::Rng) -> Event {
    let fw = |r: &mut fastrand::Rng| {
        let graphic: Vec<u8> = (0x21..=0x7e).collect();
        Firmware::new("f", &word(r, 32, &graphic)).unwrap()
    };
    match r.u8(0..8) {
        0 => Event::Ready {
            protocol: r.u16(1..),
            firmware: fw(r),
        },
        1 => Event::Version {
            protocol: r.u16(1..),
            firmware: fw(r),
        },
        2 => Event::OffHook,
        3 => Event::OnHook,
        4 => Event::Flash {
            ms: r.u16(1..=FLASH_MAX_MS),
        },
        5 => Event::Digit {
            digit: Digit::new(KEYS[r.usize(..KEYS.len())] as char).unwrap(),
            ms: r.u16(1..=DIGIT_MAX_MS),
        },
        6 => Event::Fault {
            reason: FaultReason::ALL[r.usize(..FaultReason::ALL.len())],
            note: note(r),
        },
        _ => Event::Error {
            kind: BoardErrorKind::ALL[r.usize(..BoardErrorKind::ALL.len())],
            note: note(r),
        },
    }
}

#[test]
fn every_command_encodes_to_a_line_that_parses_back() {
    let mut r = rng();
    let mut line = Line::new();
    for _ in 0..20_000 {
        let c = random_command(&mut r);
        c.encode(&mut line).unwrap();
        assert!(
            line.ends_with('\n') && line.len() <= LINE_MAX + 1,
            "{line:?}"
        );
        assert_eq!(parse_command(line.as_bytes()), Ok(c), "{line:?}");
    }
}

#[test]
fn every_event_encodes_to_a_line_that_parses_back() {
    let mut r = rng();
    let mut line = Line::new();
    for _ in 0..20_000 {
        let e = random_event(&mut r);
        e.encode(&mut line).unwrap();
        assert!(line.len() <= LINE_MAX + 1, "{line:?}");
        assert_eq!(parse_event(line.as_bytes()), Ok(e), "{line:?}");
    }
}

#[test]
fn the_longest_command_fits() {
    let c = Command::Ring {
        cadence: Cadence::new(&[10_000; 8]).unwrap(),
        caller: Some(CallerNumber::new("+1234567890123456789").unwrap()),
    };
    let mut line = Line::new();
    c.encode(&mut line).unwrap();
    assert_eq!(line.len(), 73 + 1);
}

#[test]
fn garbage_never_panics_and_mutated_lines_mostly_fail_cleanly() {
    let mut r = rng();
    let mut line = Line::new();
    for _ in 0..50_000 {
        let len = r.usize(0..120);
        let bytes: Vec<u8> = (0..len).map(|_| r.u8(..)).collect();
        let _ = parse_event(&bytes);
        let _ = parse_command(&bytes);
        // Near misses: a valid line with one byte changed.
        random_event(&mut r).encode(&mut line).unwrap();
        let mut near = line.as_bytes().to_vec();
        let i = r.usize(..near.len());
        near[i] = r.u8(..);
        if let Ok(e) = parse_event(&near) {
            // Whatever parses must encode again within the limits.
            e.encode(&mut line).unwrap();
        }
        random_command(&mut r).encode(&mut line).unwrap();
        let mut near = line.as_bytes().to_vec();
        let i = r.usize(..near.len());
        near[i] = r.u8(..);
        if let Ok(c) = parse_command(&near) {
            c.encode(&mut line).unwrap();
        }
    }
}

#[test]
fn examples_from_the_doc() {
    assert_eq!(
        parse_command(b"RING 2000/4000 +4930123456\n"),
        Ok(Command::Ring {
            cadence: Cadence::new(&[2000, 4000]).unwrap(),
            caller: Some(CallerNumber::new("+4930123456").unwrap()),
        })
    );
    assert_eq!(
        parse_command(b"RING 400/200/400/2000\r\n").map(|_| ()),
        Ok(())
    );
    assert_eq!(
        parse_command(b"TONE RINGBACK"),
        Ok(Command::Tone(Tone::Ringback))
    );
    assert_eq!(
        parse_event(b"DIGIT # 120\n"),
        Ok(Event::Digit {
            digit: Digit::new('#').unwrap(),
            ms: 120
        })
    );
    assert_eq!(
        parse_event(b"FAULT thermal ring generator at 95 C"),
        Ok(Event::Fault {
            reason: FaultReason::Thermal,
            note: Note::new("t", "ring generator at 95 C").unwrap()
        })
    );
    assert_eq!(parse_event(b"READY 1 linesim-0.1.0").map(|_| ()), Ok(()));
}

#[test]
fn bad_lines_get_specific_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty line"),
        (b"\r\n", "empty line"),
        (b"HELLO", "unknown verb 'HELLO'"),
        (b"OFFHOOK now", "OFFHOOK has a word too many: 'now'"),
        (b"DIGIT 5", "DIGIT needs a duration"),
        (b"DIGIT 55 100", "'55' is not a key (0-9, *, #, A-D)"),
        (b"DIGIT e 100", "'e' is not a key (0-9, *, #, A-D)"),
        (
            b"DIGIT 5 +100",
            "digit duration '+100' is not a decimal number",
        ),
        (b"DIGIT 5 0", "digit duration 0 is out of range 1..=60000"),
        (
            b"FLASH 99999",
            "flash duration 99999 is out of range 1..=2000",
        ),
        (b"FAULT melted", "unknown fault reason 'melted'"),
        (b"READY 0 x", "protocol 0 is out of range 1..=65535"),
        (b"READY 1", "READY needs a firmware name"),
        (b"READY  1 x", "READY needs a protocol version"),
        (
            b"OFF\xc3\xa9HOOK",
            "byte 0xc3 at column 3 is not printable ASCII",
        ),
        (b"ON\tHOOK", "byte 0x09 at column 2 is not printable ASCII"),
    ];
    for (bytes, want) in cases {
        let got = parse_event(bytes).unwrap_err().to_string();
        assert_eq!(&got, want, "{:?}", String::from_utf8_lossy(bytes));
    }
    let long = [b'A'; LINE_MAX + 1];
    assert_eq!(parse_event(&long), Err(LineError::TooLong));
    let commands: &[(&[u8], &str)] = &[
        (b"RING", "RING needs a cadence or OFF"),
        (
            b"RING 2000",
            "cadence needs 2 to 8 on/off durations, an even count",
        ),
        (
            b"RING 2000/4000/1/1",
            "cadence step 1 is out of range 20..=10000",
        ),
        (
            b"RING 2000/4000 12a",
            "caller number needs 1 to 20 of 0-9, * or #, after an optional +",
        ),
        (b"RING 2000/4000 1 2", "RING has a word too many: '2'"),
        (b"TONE CONGESTION", "unknown tone 'CONGESTION'"),
        (b"TONE off", "unknown tone 'off'"),
        (b"reset", "unknown verb 'reset'"),
    ];
    for (bytes, want) in commands {
        let got = parse_command(bytes).unwrap_err().to_string();
        assert_eq!(&got, want, "{:?}", String::from_utf8_lossy(bytes));
    }
}
