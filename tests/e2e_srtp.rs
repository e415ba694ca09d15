//! SIP over TLS with SDES-SRTP on one leg and plain SIP/RTP on the other,
//! on 127.0.244.*: a real baresip (its `srtp` module, `srtp-mand`: RTP/SAVP
//! with `a=crypto`) calls over TLS into the gateway's WAN listener
//! (`transports = ["udp", "tls"]`, `srtp = "offer"`), which anchors the
//! media and calls a plain sipp PBX over UDP. The gateway decrypts what
//! baresip sends and relays plain PCMU: the PBX must receive baresip's
//! audio byte for byte and its digits as RFC 4733 events; baresip must
//! hear the PBX's audio, which the gateway encrypted for it.
//!
//! baresip 1.0 does not verify the server certificate (the gateway's is
//! self-signed) and its TLS connection and RTP leave from 127.0.0.1
//! (allowed by the WAN listener, and learned: only from packets that
//! authenticate).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::audio::{collect, find, send_pcmu, ulaw_noise};
use common::baresip::Baresip;
use common::{media_pbx, Gateway};
use pbxgate::media::dtmf::rfc4733::TelephoneEvent;
use pbxgate::media::g711::{ulaw_decode, ulaw_encode};
use pbxgate::media::rtp::RtpHeader;

const NET: &str = "127.0.244";
const TLS_PORT: u16 = 35061;
/// The PBX's RTP socket, owned by the test.
const PBX_RTP_PORT: u16 = 42000;
/// The gateway's callee-side RTP port: the second pair of [media].
const GW_CALLEE_RTP_PORT: u16 = 30002;
const DIGITS: &str = "47";

#[test]
fn an_srtp_phone_over_tls_reaches_a_plain_pbx_byte_exact() {
    let pattern = ulaw_noise(0x5eed_0021, 1600 * 8);
    let mut mic = vec![0i16; 400 * 8];
    mic.extend(pattern.iter().map(|b| ulaw_decode(*b)));
    mic.resize(12 * 8000, 0);
    assert!(pattern.iter().all(|b| ulaw_encode(ulaw_decode(*b)) == *b));
    let answer = ulaw_noise(0x5eed_0022, 8000);
    let mut pbx_plays = answer.clone();
    pbx_plays.resize(8000 + 4000, 0xff);

    let ip = format!("{NET}.1");
    let mut g = Gateway::new(&ip, 35060);
    g.config = format!(
        "[sip]\nt1_ms = 100\n[calls]\nsdp = \"anchor\"\n[media]\nport_min = 30000\nport_max = 30999\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"sip:q@{NET}.2:35090\" }}]\n"
    );
    g.wan = format!(
        "allow = [\"127.0.0.0/8\"]\ntransports = [\"udp\", \"tls\"]\n\
         tls_bind = \"{ip}:{TLS_PORT}\"\nsrtp = \"offer\"\n"
    );
    // The SIP dumps (received by the core, sent by the shell).
    g.rust_log = "info,pbxgate::app=debug,pbxgate::gateway::signalling=debug".into();
    let gw = g.start();
    gw.wait_for_output("tls ", Duration::from_secs(10));
    let pbx = media_pbx("media_pbx_uas_te.xml", &format!("{NET}.2"), PBX_RTP_PORT, 0).start();
    let rtp = UdpSocket::bind(format!("{NET}.2:{PBX_RTP_PORT}")).expect("PBX RTP socket");
    let to_gw: SocketAddr = format!("{NET}.1:{GW_CALLEE_RTP_PORT}").parse().unwrap();
    let pbx_out = rtp.try_clone().expect("socket");
    let collector = std::thread::spawn(move || {
        collect(&rtp, Duration::from_millis(1500), Duration::from_secs(40))
    });

    let mut phone = Baresip::new(&format!("{NET}.7"), 35300)
        .rtp_ports(46200, 46219)
        .codecs("PCMU")
        .transport("tls")
        .media_encryption("srtp-mand")
        .play(&mic)
        .start();
    let uri = phone.uri("q", &format!("{ip}:{TLS_PORT}"));
    phone.dial(&uri);
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    let established = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    send_pcmu(&pbx_out, to_gw, &pbx_plays);
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(established.elapsed()));
    phone.send_digits(DIGITS);
    std::thread::sleep(Duration::from_millis(2000));
    phone.hangup();
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let got = collector.join().expect("collector");
    pbx.wait(Duration::from_secs(30))
        .assert_success("the PBX answered and got the gateway's BYE");

    // The PBX got plain RTP (it could not have read SRTP): PCMU with the
    // pattern whole and in order, and the digits as RFC 4733 events.
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
        find(&audio, &pattern).is_some(),
        "the PBX did not receive baresip's audio byte for byte ({} audio bytes, {} packets){}\n{}",
        audio.len(),
        packets.len(),
        phone.output(),
        gw.log()
    );
    let mut keys = String::new();
    let mut last_ts = None;
    for (h, p) in packets.iter().filter(|(h, _)| h.payload_type == 96) {
        let e = TelephoneEvent::decode(p).expect("telephone-event");
        if last_ts != Some(h.timestamp) {
            last_ts = Some(h.timestamp);
            keys.push(char::from(b'0' + e.event));
        }
    }
    assert_eq!(keys, DIGITS, "baresip's keys, as RFC 4733 events");

    // baresip heard the PBX's audio, encrypted for it by the gateway.
    let heard = phone.heard();
    let expected: Vec<i16> = answer.iter().map(|b| ulaw_decode(*b)).collect();
    assert!(
        find(&heard, &expected).is_some(),
        "baresip did not hear the PBX's audio whole ({} samples recorded)",
        heard.len()
    );

    // The caller's leg was SRTP and nothing failed authentication; the
    // SIP debug dump never shows a key.
    let media = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    let log = gw.log();
    assert!(
        media.contains("caller_srtp=true") && media.contains("callee_srtp=false"),
        "{media}"
    );
    // No audio packet was refused. (SRTCP refusals are counted apart:
    // baresip 1.0 may restart its SRTCP index under the same key, whose
    // reports are then refused as replays; they carry no audio.)
    assert!(media.contains("srtp_dropped=0"), "{media}");
    assert!(log.contains("RTP/SAVP"), "the SDP was dumped at debug");
    assert!(
        log.contains("inline:<redacted>"),
        "keys redacted in the dump"
    );
    for line in log.lines().filter(|l| l.contains("inline:")) {
        assert!(
            line.contains("inline:<redacted>"),
            "a key in the log: {line}"
        );
    }
    // The history keeps how each leg was carried (written when the media
    // thread reported the call's counters).
    let path = pbxgate::store::Store::path_in(&gw.data_dir);
    let row = common::poll(Duration::from_secs(10), || {
        let store = pbxgate::store::Store::open(&path).ok()?;
        let rows = store.search(&pbxgate::store::CallQuery::default()).ok()?;
        rows.into_iter().next().filter(|r| r.caller_media.is_some())
    })
    .expect("the call's row with its media");
    assert_eq!(
        (
            row.caller_transport.as_deref(),
            row.callee_transport.as_deref()
        ),
        (Some("TLS"), Some("UDP"))
    );
    assert!(row.caller_srtp && !row.callee_srtp, "{row:#?}");
    let caller = row.caller_media.expect("caller media");
    assert!(caller.srtp && caller.dropped_auth == 0, "{caller:#?}");
}
