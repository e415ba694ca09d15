//! Never a panic: every corpus message, mutated many ways (byte flips,
//! truncation, inserted separators and multi-byte UTF-8), goes through the
//! datagram parser and the stream framer. A cheap, deterministic stand-in
//! for the fuzzing that comes with the hardening issue.

use std::path::Path;

use pbxgate::sip::message::{parse_message, Framing, SipMessage, StreamFramer, StreamItem};

const INSERTS: &[&[u8]] = &[
    b":",
    b";",
    b",",
    b"\"",
    b"<",
    b">",
    b"[",
    b"]",
    b"%",
    b"%4",
    b"@",
    b"?",
    b"=",
    b" ",
    b"\t",
    b"\r\n",
    b"\r\n ",
    b"\0",
    b"\xff",
    "é".as_bytes(),
    "☎".as_bytes(),
    b"SIP/",
    b"z9hG4bK",
    b"Content-Length: 99999\r\n",
    b"l: -1\r\n",
    b"\r\n\r\n",
];

fn mutate(rng: &mut fastrand::Rng, original: &[u8]) -> Vec<u8> {
    let mut m = original.to_vec();
    for _ in 0..rng.usize(1..4) {
        if m.is_empty() {
            m.extend_from_slice(INSERTS[rng.usize(..INSERTS.len())]);
            continue;
        }
        let at = rng.usize(..m.len());
        match rng.u8(..4) {
            0 => m[at] = rng.u8(..),
            1 => m.truncate(at),
            2 => {
                let ins = INSERTS[rng.usize(..INSERTS.len())];
                m.splice(at..at, ins.iter().copied());
            }
            _ => {
                let end = (at + rng.usize(1..16)).min(m.len());
                m.drain(at..end);
            }
        }
    }
    m
}

#[test]
fn mutated_corpus_never_panics_and_accepted_messages_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sip");
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    assert!(files.len() >= 40);
    let mut accepted = 0;
    let mut tried = 0;
    for path in &files {
        let original = std::fs::read(path).expect("corpus file");
        for _ in 0..300 {
            let m = mutate(&mut rng, &original);
            tried += 1;
            if let Ok(msg) = parse_message(&m, Framing::Datagram) {
                accepted += 1;
                // What the gateway accepts, it can write out and read back
                // to the same message.
                let again = parse_message(&msg.to_bytes(), Framing::Stream).unwrap_or_else(|e| {
                    panic!(
                        "re-parse of serialised {}: {e}\n{}",
                        path.display(),
                        String::from_utf8_lossy(&msg.to_bytes())
                    )
                });
                match (&msg, &again) {
                    (SipMessage::Request(a), SipMessage::Request(b)) => {
                        assert_eq!(a.method, b.method);
                        assert_eq!(a.body, b.body);
                    }
                    (SipMessage::Response(a), SipMessage::Response(b)) => {
                        assert_eq!(a.status, b.status)
                    }
                    _ => panic!("request/response changed kind"),
                }
            }
            let mut f = StreamFramer::new();
            for chunk in m.chunks(rng.usize(1..200)) {
                f.push(chunk);
                while let Some(item) = f.next_item() {
                    if let StreamItem::Message(b) = item {
                        let _ = parse_message(&b, Framing::Stream);
                    }
                }
            }
        }
    }
    println!("{tried} mutations, {accepted} still parsed as valid messages");
    assert!(accepted > 0 && accepted < tried);
}
