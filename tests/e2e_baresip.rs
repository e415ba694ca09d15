//! A real softphone through the gateway, on 127.0.250.*: baresip
//! (tests/common/baresip.rs) calls from the WAN side (NET.7) through a
//! gateway anchoring the media (NET.1) to a sipp PBX (NET.2) whose RTP
//! socket the test owns. Both legs speak PCMU, so what the PBX receives
//! is compared byte for byte with what baresip played, and the digits
//! baresip presses must arrive as RFC 4733 events and in the call's
//! history.
//!
//! Plain UDP and RTP for now; issue 21's TLS + SDES-SRTP call is this
//! test with `.transport("tls").media_encryption("srtp")` on the phone
//! and TLS/SRTP in the gateway's WAN listener.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::audio::{collect, find, send_pcmu, ulaw_noise};
use common::baresip::Baresip;
use common::{media_pbx, GatewayProcess};
use pbxgate::media::dtmf::rfc4733::TelephoneEvent;
use pbxgate::media::g711::{ulaw_decode, ulaw_encode};
use pbxgate::media::rtp::RtpHeader;
use pbxgate::store::{CallQuery, CallRow, Store};

const NET: &str = "127.0.250";
/// The PBX's RTP socket, owned by the test.
const PBX_RTP_PORT: u16 = 42000;
/// The gateway's callee-side RTP port: the second pair of [media].
const GW_CALLEE_RTP_PORT: u16 = 30002;
const DIGITS: &str = "12#";

fn gateway() -> GatewayProcess {
    let config = format!(
        "[sip]\nt1_ms = 100\n[calls]\nsdp = \"anchor\"\n[media]\nport_min = 30000\nport_max = 30999\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"sip:q@{NET}.2:35090\" }}]\n"
    );
    GatewayProcess::start(&format!("{NET}.1"), 35060, &config)
}

/// The gateway's history row of the one call, once it has ended.
fn ended_call(gw: &GatewayProcess) -> CallRow {
    let found = common::poll(Duration::from_secs(10), || {
        let store = Store::open(&Store::path_in(&gw.data_dir)).ok()?;
        let rows = store.search(&CallQuery::default()).ok()?;
        rows.into_iter().find(|r| r.ended.is_some())
    });
    found.unwrap_or_else(|| panic!("no ended call in the history; log:\n{}", gw.log()))
}

#[test]
fn baresip_audio_and_digits_reach_the_pbx_through_the_gateway() {
    // What the phone's microphone plays: 0.4 s of silence, 1.6 s of the
    // pattern, then silence for the digits (the call ends before the file).
    let pattern = ulaw_noise(0x5eed_0001, 1600 * 8);
    let mut mic = vec![0i16; 400 * 8];
    mic.extend(pattern.iter().map(|b| ulaw_decode(*b)));
    mic.resize(12 * 8000, 0);
    assert!(
        pattern.iter().all(|b| ulaw_encode(ulaw_decode(*b)) == *b),
        "the pattern survives any encoder"
    );
    // What the PBX plays back: one second of another pattern, then half a
    // second of silence that pushes the pattern's end out of baresip's
    // jitter buffer (it decodes one packet per packet that arrives).
    let answer = ulaw_noise(0x5eed_0002, 8000);
    let mut pbx_plays = answer.clone();
    pbx_plays.resize(8000 + 4000, 0xff);

    let gw = gateway();
    let pbx = media_pbx("media_pbx_uas_te.xml", &format!("{NET}.2"), PBX_RTP_PORT, 0).start();
    let rtp = UdpSocket::bind(format!("{NET}.2:{PBX_RTP_PORT}")).expect("PBX RTP socket");
    let to_gw: SocketAddr = format!("{NET}.1:{GW_CALLEE_RTP_PORT}").parse().unwrap();
    let pbx_out = rtp.try_clone().expect("socket");
    let collector = std::thread::spawn(move || {
        collect(&rtp, Duration::from_millis(1500), Duration::from_secs(40))
    });

    let mut phone = Baresip::new(&format!("{NET}.7"), 35300)
        .rtp_ports(46100, 46119)
        .codecs("PCMU")
        .play(&mic)
        .start();
    let uri = phone.uri("q", &gw.wan().to_string());
    phone.dial(&uri);
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    let established = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    send_pcmu(&pbx_out, to_gw, &pbx_plays);
    // The pattern has played by 2 s; the digits go over silence.
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(established.elapsed()));
    phone.send_digits(DIGITS);
    std::thread::sleep(Duration::from_millis(2000));
    phone.hangup();
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let got = collector.join().expect("collector");
    pbx.wait(Duration::from_secs(30))
        .assert_success("the PBX answered and got the gateway's BYE");

    // Audio: PCMU, and the pattern whole and in order among it.
    let packets: Vec<(RtpHeader, &[u8])> = got
        .iter()
        .map(|p| {
            let h = RtpHeader::parse(p).expect("RTP from the gateway");
            (h, &p[h.payload_start..h.payload_end])
        })
        .collect();
    let audio: Vec<u8> = packets
        .iter()
        .filter(|(h, _)| h.payload_type == 0)
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    assert!(
        packets
            .iter()
            .all(|(h, _)| h.payload_type == 0 || h.payload_type == 96),
        "only PCMU and the PBX's telephone-event 96: {:?}",
        packets
            .iter()
            .map(|(h, _)| h.payload_type)
            .collect::<Vec<_>>()
    );
    assert!(
        find(&audio, &pattern).is_some(),
        "the PBX did not receive baresip's audio byte for byte ({} audio bytes, {} packets){}",
        audio.len(),
        packets.len(),
        phone.output()
    );

    // Digits: RFC 4733 events on the PBX's payload type 96, one event
    // (timestamp) per key, in order, each ended.
    let mut events: BTreeMap<u32, (u16, TelephoneEvent)> = BTreeMap::new();
    let mut order = Vec::new();
    for (h, p) in packets.iter().filter(|(h, _)| h.payload_type == 96) {
        let e = TelephoneEvent::decode(p).expect("telephone-event");
        if !events.contains_key(&h.timestamp) {
            order.push(h.timestamp);
        }
        let seen = events.entry(h.timestamp).or_insert((h.sequence, e));
        if e.end {
            seen.1 = e;
        }
    }
    let keys: String = order
        .iter()
        .map(|ts| {
            let e = &events[ts].1;
            assert!(e.end, "event {} at {ts} ended", e.event);
            match e.event {
                0..=9 => char::from(b'0' + e.event),
                10 => '*',
                11 => '#',
                other => panic!("event {other} is not a key"),
            }
        })
        .collect();
    assert_eq!(keys, DIGITS, "the keys baresip pressed, as RFC 4733 events");

    // The gateway's history has the digits on the caller's side.
    let row = ended_call(&gw);
    assert_eq!(row.dtmf_caller, DIGITS, "{row:#?}");
    assert_eq!(row.dtmf_callee, "", "{row:#?}");

    // And baresip heard the PBX's audio, byte-exact once decoded.
    let heard = phone.heard();
    let expected: Vec<i16> = answer.iter().map(|b| ulaw_decode(*b)).collect();
    assert!(
        find(&heard, &expected).is_some(),
        "baresip did not hear the PBX's audio whole ({} samples recorded)",
        heard.len()
    );
}
