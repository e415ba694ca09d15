//! Issue 20's `dtmf` events end to end, on 127.0.230.*: a sipp caller
//! plays RFC 4733 digits (a pcap the test writes) through a real gateway
//! anchoring the media to a PBX that speaks RFC 4733 on another payload
//! type, and the PBX's side (a socket the test owns) presses a digit back;
//! a real HTTPS receiver gets each digit as a `dtmf` event, once, in order,
//! with its side, between the call's `answer` and `hangup`.

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::receiver::{Receiver, TestCa};
use common::{media_pbx, scenario, GatewayProcess, Scenario, Sipp};
use serde_json::Value;

const NET: &str = "127.0.230";
const RX_PORT: u16 = 9443;
const T: Duration = Duration::from_secs(60);
/// The digits the caller plays, the same key twice in a row among them:
/// two events, not one.
const CALLER_DIGITS: &str = "1#22";
/// The template of every packet's Ethernet, IPv4 and UDP headers.
const SIPP_DTMF_PCAP: &str = "/usr/share/sip-tester/dtmf_2833_1.pcap";

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pbxgate-dtmf-{}-{name}", std::process::id()))
}

/// One RFC 4733 packet (RFC 4733 section 2.3): RTP header, then event,
/// E bit and volume 10, duration.
fn event_packet(pt: u8, seq: u16, ts: u32, (code, end, duration): (u8, bool, u16)) -> Vec<u8> {
    // The marker bit on an event's first packet (section 2.5.1.1).
    let first = duration == 160;
    let mut p = vec![0x80, pt | if first { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5eed_u32.to_be_bytes());
    p.push(code);
    p.push(if end { 0x8a } else { 0x0a });
    p.extend_from_slice(&duration.to_be_bytes());
    p
}

/// The packets of `digits` as a sender makes them, with when each is
/// sent (ms from the first): per digit, an update every 20 ms for 120 ms,
/// then the end packet three times (RFC 4733 section 2.5.1.4), all at the
/// digit's own timestamp; 300 ms from one digit to the next.
fn digit_packets(pt: u8, digits: &str) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut seq = 0u16;
    for (i, ch) in digits.chars().enumerate() {
        let code = match ch {
            '0'..='9' => ch as u8 - b'0',
            '*' => 10,
            '#' => 11,
            other => panic!("no digit {other}"),
        };
        let start_ms = 300 * i as u64;
        let ts = 8000 + 2400 * i as u32;
        for k in 0..6u16 {
            let last = k == 5;
            let copies = if last { 3 } else { 1 };
            for _ in 0..copies {
                out.push((
                    start_ms + 20 * u64::from(k),
                    event_packet(pt, seq, ts, (code, last, 160 * (k + 1))),
                ));
            }
            seq += 1;
        }
    }
    out
}

/// A pcap of `packets` for sipp's `play_pcap_audio`, each in the framing
/// of sipp's own DTMF recording (its first frame's Ethernet, IPv4 and UDP
/// headers, lengths adjusted, UDP checksum 0: none, RFC 768).
fn write_pcap(path: &Path, packets: &[(u64, Vec<u8>)]) {
    let d = std::fs::read(SIPP_DTMF_PCAP).expect("sipp's pcap (tests/run.sh installs sip-tester)");
    let incl = u32::from_le_bytes([d[32], d[33], d[34], d[35]]) as usize;
    let frame = &d[40..40 + incl];
    let ip = 14;
    let ihl = usize::from(frame[ip] & 0x0f) * 4;
    let udp = ip + ihl;
    let headers = &frame[..udp + 8];
    let mut out = d[..24].to_vec();
    for (ms, rtp) in packets {
        let mut f = headers.to_vec();
        let ip_len = (ihl + 8 + rtp.len()) as u16;
        f[ip + 2..ip + 4].copy_from_slice(&ip_len.to_be_bytes());
        // The IPv4 header checksum over the new length (RFC 791).
        f[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let sum = f[ip..udp]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        f[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
        f[udp + 4..udp + 6].copy_from_slice(&(8 + rtp.len() as u16).to_be_bytes());
        f[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
        f.extend_from_slice(rtp);
        let secs = 1_700_000_000 + (ms / 1000) as u32;
        let usecs = ((ms % 1000) * 1000) as u32;
        for v in [secs, usecs, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f);
    }
    std::fs::write(path, out).unwrap();
}

/// tests/sipp/media_cloud_uac_dtmf.xml playing `pcap` instead of sipp's
/// recording of the digit 1, and waiting 3 s (the digits take 1 s) before
/// the BYE.
fn write_scenario(path: &Path, pcap: &Path) {
    let xml = std::fs::read_to_string(scenario("media_cloud_uac_dtmf.xml")).unwrap();
    assert!(xml.contains(SIPP_DTMF_PCAP) && xml.contains("milliseconds=\"2000\""));
    let xml = xml
        .replace(SIPP_DTMF_PCAP, pcap.to_str().unwrap())
        .replace("milliseconds=\"2000\"", "milliseconds=\"3000\"");
    std::fs::write(path, xml).unwrap();
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[test]
fn rfc4733_digits_from_both_sides_reach_the_webhook_once_each_in_order() {
    let pcap = temp_path("digits.pcap");
    let xml = temp_path("uac.xml");
    let ca_file = temp_path("ca.pem");
    write_pcap(&pcap, &digit_packets(101, CALLER_DIGITS));
    write_scenario(&xml, &pcap);
    let ca = TestCa::new();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let rx_ip = format!("{NET}.8");
    let rx = Receiver::start(
        format!("{rx_ip}:{RX_PORT}").parse().unwrap(),
        Some(ca.issue(&rx_ip)),
    );
    let config = format!(
        "[sip]\nt1_ms = 100\n[calls]\nsdp = \"anchor\"\n[media]\nport_min = 30000\nport_max = 30999\n\
         [[webhook]]\nname = \"crm\"\nurl = \"https://{rx_ip}:{RX_PORT}/events\"\nformat = \"json\"\n\
         ca_file = \"{}\"\ntimeout_ms = 5000\n\
         [[route]]\nname = \"q\"\nfrom = \"wan\"\ntargets = [{{ uri = \"sip:q@{NET}.2:35090\" }}]\n",
        ca_file.display()
    );
    let gw = GatewayProcess::start(&format!("{NET}.1"), 35060, &config);

    // The PBX: telephone-event 96 (the caller's is 101), its RTP on a
    // socket the test owns, from which it presses 9 once the caller's
    // media arrives (the gateway's callee-side address).
    let pbx_rtp = UdpSocket::bind(format!("{NET}.2:42000")).unwrap();
    pbx_rtp
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let caller_ip = format!("{NET}.7");
    let relayed = Scenario::new(&gw)
        .peer(
            media_pbx("media_pbx_uas_te.xml", &format!("{NET}.2"), 42000, 0),
            "the PBX answered and got the BYE",
        )
        .caller(
            Sipp::new(xml.to_str().unwrap())
                .on(&caller_ip, 35100)
                .media(&caller_ip, 40000),
            "the caller played its digits and hung up",
        )
        .timeout(T)
        .run_while(|| {
            let mut buf = [0u8; 2048];
            let mut relayed = Vec::new();
            let mut pressed = false;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(8) {
                let Ok((n, gateway)) = pbx_rtp.recv_from(&mut buf) else {
                    continue;
                };
                relayed.push(buf[..n].to_vec());
                if !pressed {
                    pressed = true;
                    for (_, p) in digit_packets(96, "9") {
                        pbx_rtp.send_to(&p, gateway).unwrap();
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            relayed
        });
    for f in [&pcap, &xml, &ca_file] {
        let _ = std::fs::remove_file(f);
    }
    // Every packet went through, renumbered: the digits were not taken
    // out of the media to be reported.
    let sent = digit_packets(101, CALLER_DIGITS);
    assert_eq!(relayed.len(), sent.len(), "every event packet relayed");
    assert!(relayed.iter().all(|p| p[1] & 0x7f == 96));

    let want = 3 + CALLER_DIGITS.len() + 1;
    let got = rx.wait_for(want, T);
    let events: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect();
    assert_eq!(events.len(), want, "{events:#?}");
    let names: Vec<&str> = events.iter().map(|e| s(&e["event"])).collect();
    let call_id = s(&events[0]["callId"]);
    assert!(!call_id.is_empty());
    assert!(events.iter().all(|e| s(&e["callId"]) == call_id));
    let answer = names.iter().position(|n| *n == "answer").expect("answer");
    let hangup = names.iter().position(|n| *n == "hangup").expect("hangup");
    assert_eq!((names[0], hangup), ("newCall", want - 1), "{names:?}");
    let dtmf: Vec<&Value> = events.iter().filter(|e| e["event"] == "dtmf").collect();
    assert_eq!(dtmf.len(), CALLER_DIGITS.len() + 1, "{events:#?}");
    for (i, e) in events.iter().enumerate() {
        if e["event"] == "dtmf" {
            assert!(
                answer < i && i < hangup,
                "dtmf between answer and hangup: {names:?}"
            );
        }
    }
    let pressed_by = |side: &str| -> String {
        dtmf.iter()
            .filter(|e| e["dtmfSide"] == side)
            .map(|e| s(&e["dtmf"]))
            .collect()
    };
    assert_eq!(pressed_by("caller"), CALLER_DIGITS, "{dtmf:#?}");
    assert_eq!(pressed_by("callee"), "9", "{dtmf:#?}");
    let mut ids: Vec<&str> = events.iter().map(|e| s(&e["id"])).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), want, "each event once, each its own id");
    // Nothing more comes (no event per packet, none after the hangup).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(rx.accepted().len(), want);
}
