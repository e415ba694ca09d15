//! The malformed and unusual message corpus (tests/corpus/sip, our own
//! messages; manifest.tsv says what the gateway must answer). Each message
//! goes through the real sans-IO endpoint; whatever it sends is parsed back
//! and checked. Never a panic, always the expected status, and every 400
//! names its problem in the reason phrase.

use std::path::Path;
use std::time::Instant;

use pbxgate::app::{Core, CoreConfig};
use pbxgate::sip::ids::IdGenerator;
use pbxgate::sip::message::{parse_message, Framing, StreamFramer, StreamItem};
use pbxgate::sip::transport::{ConnectionId, ListenerId, Peer, Transport};

struct Row {
    file: String,
    transport: Transport,
    expect: String,
    reason: String,
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("manifest.tsv")).expect("manifest.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 4, "manifest row: {l}");
            Row {
                file: cols[0].into(),
                transport: if cols[1] == "tcp" {
                    Transport::Tcp
                } else {
                    Transport::Udp
                },
                expect: cols[2].into(),
                reason: cols[3].into(),
            }
        })
        .collect()
}

/// Feeds one corpus message to a fresh endpoint and returns the final
/// responses it sent as (status, reason).
fn answers(bytes: &[u8], transport: Transport) -> Vec<(u16, String)> {
    let mut ep = Core::new(
        CoreConfig::basic("pbxgate-test"),
        IdGenerator::from_seed(7),
        Instant::now(),
        std::time::SystemTime::now(),
    );
    let from = Peer {
        listener: ListenerId(0),
        transport,
        remote: "127.0.0.99:5099".parse().unwrap(),
        connection: transport.is_stream().then_some(ConnectionId(1)),
    };
    let now = Instant::now();
    match transport {
        Transport::Udp => ep.handle_datagram(bytes, from, now),
        Transport::Tcp | Transport::Tls => {
            let mut framer = StreamFramer::new();
            framer.push(bytes);
            while let Some(item) = framer.next_item() {
                match item {
                    StreamItem::Message(m) => ep.handle_stream_message(&m, from, now),
                    StreamItem::Ping | StreamItem::Pong => ep.note_keepalive(),
                    StreamItem::Error(e) => {
                        ep.handle_parse_error(&e, from);
                        break;
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    while let Some(output) = ep.poll_output() {
        let pbxgate::app::Output::Transmit(t) = output else {
            continue;
        };
        // Read the status line directly: a 400 for a missing From cannot
        // carry a From, so not every answer is a complete message.
        let text = String::from_utf8_lossy(&t.bytes).into_owned();
        let status_line = text.lines().next().unwrap_or_default().to_string();
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("SIP/2.0"), "not a response: {text}");
        let status: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .expect("status code");
        let reason = parts.next().unwrap_or_default().to_string();
        assert!(text.ends_with("\r\n\r\n"), "answers carry no body: {text}");
        if status >= 200 {
            out.push((status, reason));
        }
        // Answers to well-formed requests are well-formed; a 400/505 echoes
        // the request's own (possibly broken) headers, as RFC 3261 §8.2.6.2 asks.
        if status != 400 && status != 505 {
            if let Err(e) = parse_message(&t.bytes, Framing::Datagram) {
                panic!("answer does not parse: {e}\n{text}");
            }
        }
    }
    out
}

#[test]
fn corpus_messages_get_the_expected_answer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sip");
    let rows = manifest(&dir);
    assert!(
        rows.len() >= 40,
        "the corpus must hold at least 40 messages"
    );
    let mut failures = Vec::new();
    let mut rsip_rejects_what_we_process = Vec::new();
    let mut rsip_accepts_what_we_reject = Vec::new();
    for row in &rows {
        let bytes = std::fs::read(dir.join(&row.file)).expect("corpus file");
        let got = answers(&bytes, row.transport);
        let ok = match row.expect.as_str() {
            "none" => got.is_empty(),
            code => {
                let code: u16 = code.parse().expect("manifest expect column");
                !got.is_empty()
                    && got.iter().all(|(s, reason)| {
                        *s == code && (row.reason == "-" || reason.contains(&row.reason))
                    })
            }
        };
        if !ok {
            failures.push(format!(
                "{}: expected {} {}, got {:?}",
                row.file, row.expect, row.reason, got
            ));
        }
        if row.transport == Transport::Udp {
            let rsip_ok = rsip::SipMessage::try_from(bytes.as_slice()).is_ok();
            let we_process = !matches!(row.expect.as_str(), "400" | "none");
            if we_process && !rsip_ok {
                rsip_rejects_what_we_process.push(row.file.as_str());
            }
            if row.expect == "400" && rsip_ok {
                rsip_accepts_what_we_reject.push(row.file.as_str());
            }
        }
    }
    // The evidence behind docs/dependencies.md, printed with --nocapture.
    println!(
        "rsip 0.4 on the corpus: rejects {} messages the gateway processes {:?}; accepts {} the gateway answers 400 {:?}",
        rsip_rejects_what_we_process.len(),
        rsip_rejects_what_we_process,
        rsip_accepts_what_we_reject.len(),
        rsip_accepts_what_we_reject
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus messages answered wrongly:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
