//! End-to-end media through the gateway's anchor: sipp plays the cloud
//! (with RTP from sipp's own G.711 recording), sipp plays the PBX's
//! signalling, and the test itself owns the PBX's RTP socket to check what
//! arrives, byte for byte.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{
    assert_has_all, md5_registrar, media_pbx, pcap_rtp, Gateway, GatewayProcess, Scenario, Sipp,
};
use pbxgate::media::dtmf::rfc4733::TelephoneEvent;
use pbxgate::media::dtmf::{Digit, DtmfDetector, ToneGenerator};
use pbxgate::media::g711::Law;
use pbxgate::media::rtp::RtpHeader;

const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

/// The PBX's signalling: sipp playing `scenario` on NET.2:35090 and
/// answering with media at NET.2:42000 (a socket the test owns) in
/// payload type `pt`.
fn pbx_uas(net: &str, scenario: &str, pt: u8) -> Sipp {
    media_pbx(scenario, &format!("{net}.2"), 42000, pt)
}

/// The cloud caller: sipp playing `scenario` from NET.7:35100, its media
/// on NET.7:40000.
fn cloud_uac(net: &str, scenario: &str) -> Sipp {
    let ip = format!("{net}.7");
    Sipp::new(scenario).on(&ip, 35100).media(&ip, 40000)
}

/// The cloud caller playing sipp's A-law recording from NET.7.
fn cloud_pcap(net: &str) -> Sipp {
    cloud_uac(net, "media_cloud_uac_pcap.xml").key("sdp_ip", format!("{net}.7"))
}

/// A call from the cloud (`caller`) to the PBX (`pbx`), each to end as its
/// scenario expects (the words say what that shows), while `during` runs.
fn call<R>(
    gw: &GatewayProcess,
    pbx: (Sipp, &str),
    caller: (Sipp, &str),
    during: impl FnOnce() -> R,
) -> R {
    Scenario::new(gw)
        .peer(pbx.0, pbx.1)
        .caller(caller.0, caller.1)
        .run_while(during)
}

/// Collects what arrives on `sock` until `quiet` passes without a packet
/// (after the first one) or `limit` is reached.
fn collect(sock: &UdpSocket, quiet: Duration, limit: Duration) -> Vec<(Vec<u8>, SocketAddr)> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = Instant::now();
    let mut last = None::<Instant>;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while start.elapsed() < limit {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                out.push((buf[..n].to_vec(), from));
                last = Some(Instant::now());
            }
            Err(_) => {
                if last.is_some_and(|l| l.elapsed() > quiet) {
                    break;
                }
            }
        }
    }
    out
}

fn media_config(route_target: &str, extra: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n[calls]\nsdp = \"anchor\"\n[media]\nport_min = 30000\nport_max = 30999\n{extra}\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"{route_target}\" }}]\n"
    )
}

/// A gateway on NET.1 anchoring media, with `media` in [media], whose
/// route sends calls to the PBX on NET.2.
fn gateway(net: &str, media: &str) -> GatewayProcess {
    let config = media_config(&format!("sip:q@{net}.2:35090"), media);
    GatewayProcess::start(&format!("{net}.1"), 35060, &config)
}

/// What reaches the PBX's RTP socket (NET.2:42000) in a call from
/// `caller` to the PBX playing `pbx` in payload type `pt`: packets until
/// `quiet` passes without one, for at most `limit`.
fn at_the_pbx(
    gw: &GatewayProcess,
    net: &str,
    (pbx, pt): (&str, u8),
    caller: (Sipp, &str),
    (quiet, limit): (Duration, Duration),
) -> Vec<(Vec<u8>, SocketAddr)> {
    let rtp = UdpSocket::bind(format!("{net}.2:42000")).expect("PBX RTP socket");
    let pbx = (pbx_uas(net, pbx, pt), "the PBX answered and got the BYE");
    call(gw, pbx, caller, || collect(&rtp, quiet, limit))
}

#[test]
fn pcma_passes_through_the_anchor_byte_exact_and_foreign_rtp_does_not() {
    let sent = pcap_rtp(PCAP);
    assert_eq!(sent.len(), 236, "sipp's g711a.pcap");
    let gw = gateway("127.0.80", "");
    let rtp = UdpSocket::bind("127.0.80.2:42000").expect("PBX RTP socket");
    let got = call(
        &gw,
        (
            pbx_uas("127.0.80", "media_pbx_uas.xml", 8),
            "the PBX answered and got the BYE",
        ),
        (
            cloud_pcap("127.0.80"),
            "the caller played its recording and hung up",
        ),
        || {
            // A stranger sprays the gateway's caller-side port (the first
            // pair of [media] port_min) while the call runs.
            let foreign = UdpSocket::bind("127.0.80.66:0").expect("bind");
            std::thread::sleep(Duration::from_millis(1500));
            let mut marked = vec![0u8; 172];
            marked[0] = 0x80;
            marked[1] = 8;
            marked[12..].fill(0x5a);
            for _ in 0..5 {
                let _ = foreign.send_to(&marked, "127.0.80.1:30000");
            }
            collect(&rtp, Duration::from_secs(2), Duration::from_secs(20))
        },
    );
    assert!(!got.is_empty(), "no RTP reached the PBX");
    assert!(
        got.iter()
            .all(|(_, from)| *from == "127.0.80.1:30002".parse::<SocketAddr>().unwrap()),
        "media comes from the gateway's callee-side port"
    );
    assert!(
        !got.iter()
            .any(|(p, _)| p.len() == 172 && p[12..].iter().all(|b| *b == 0x5a)),
        "a packet from a foreign address was relayed"
    );
    let payloads: Vec<&[u8]> = got.iter().map(|(p, _)| &p[12..]).collect();
    let expected: Vec<&[u8]> = sent.iter().map(|p| &p[12..]).collect();
    assert_eq!(payloads.len(), expected.len(), "every packet relayed once");
    assert!(
        payloads == expected,
        "audio payloads differ from what the caller sent"
    );
    gw.assert_logged("call answered");
}

#[test]
fn a_call_without_media_is_ended_by_the_media_timeout() {
    let gw = gateway("127.0.81", "timeout_s = 5");
    // From when the caller starts.
    let started = call(
        &gw,
        (
            pbx_uas("127.0.81", "media_pbx_uas.xml", 0),
            "the silent PBX gets a BYE too",
        ),
        (
            cloud_uac("127.0.81", "call_cloud_uac_wait_bye.xml"),
            "the silent caller gets a BYE from the gateway",
        ),
        Instant::now,
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "not before the timeout"
    );
    gw.assert_logged("no media");
}

/// The PBX accepts only the other G.711 law: the gateway transcodes, and
/// what arrives is the caller's audio decoded and re-encoded in that law.
#[test]
fn audio_is_transcoded_when_the_pbx_takes_only_the_other_law() {
    use pbxgate::media::g711::{alaw_decode, ulaw_encode};
    let sent = pcap_rtp(PCAP);
    let gw = gateway("127.0.82", "");
    let got = at_the_pbx(
        &gw,
        "127.0.82",
        ("media_pbx_uas.xml", 0),
        (
            cloud_pcap("127.0.82"),
            "the caller played A-law and hung up",
        ),
        (Duration::from_secs(2), Duration::from_secs(20)),
    );
    assert_eq!(got.len(), sent.len(), "every packet relayed once");
    for (i, ((p, _), orig)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(p[1] & 0x7f, 0, "packet {i} is PCMU");
        let expected: Vec<u8> = orig[12..]
            .iter()
            .map(|a| ulaw_encode(alaw_decode(*a)))
            .collect();
        assert_eq!(
            &p[12..],
            &expected[..],
            "packet {i}: A-law decoded and µ-law encoded"
        );
    }
    // The call's record, as logged when its media closes: codec and
    // counters per leg.
    let line = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    assert_has_all(
        &line,
        &[
            "caller_codec=\"PCMA\"",
            &format!("caller_packets={}", sent.len()),
            "caller_lost=0",
            "callee_codec=\"PCMU\"",
            "callee_packets=0",
            "foreign_dropped=0",
        ],
    );
}

/// RFC 2833 digits from the cloud (payload type 101) reach a PBX that uses
/// payload type 96 for telephone-events: renumbered, event and duration
/// untouched.
#[test]
fn rfc2833_digits_arrive_renumbered_on_the_other_leg() {
    let sent = pcap_rtp("/usr/share/sip-tester/dtmf_2833_1.pcap");
    let gw = gateway("127.0.83", "");
    let got = at_the_pbx(
        &gw,
        "127.0.83",
        ("media_pbx_uas_te.xml", 0),
        (
            cloud_uac("127.0.83", "media_cloud_uac_dtmf.xml"),
            "the caller sent digit 1 and hung up",
        ),
        (Duration::from_secs(1), Duration::from_secs(15)),
    );
    assert_eq!(got.len(), sent.len(), "every event packet relayed once");
    for (i, ((p, _), orig)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(
            p[1] & 0x7f,
            96,
            "packet {i}: the PBX's telephone-event number"
        );
        assert_eq!(p[1] & 0x80, orig[1] & 0x80, "packet {i}: marker bit kept");
        assert_eq!(p[12], 1, "packet {i}: digit 1");
        assert_eq!(
            &p[12..],
            &orig[12..],
            "packet {i}: event, end bit, volume, duration untouched"
        );
    }
    assert_eq!(
        got.iter().filter(|(p, _)| p[13] & 0x80 != 0).count(),
        3,
        "three end packets"
    );
}

/// The digits a G.711 stream carries as tones, with their lengths in
/// samples, read by the gateway's own Q.24 detector.
fn tones_in(packets: &[Vec<u8>], law: Law) -> Vec<(char, u64)> {
    let mut det = DtmfDetector::new();
    let mut got = Vec::new();
    let mut on = |e: pbxgate::media::dtmf::DtmfEvent| {
        if let Some(end) = e.end_sample {
            got.push((e.digit.symbol(), end - e.start_sample));
        }
    };
    for p in packets {
        let h = RtpHeader::parse(p).expect("RTP from the gateway");
        let payload = &p[h.payload_start..h.payload_end];
        let mut pcm = vec![0i16; payload.len()];
        law.decode_slice(payload, &mut pcm);
        det.push(&pcm, &mut on);
    }
    det.push(&[0; 1600], &mut on);
    got
}

#[test]
fn rfc2833_digits_become_tones_for_a_target_set_to_inband() {
    let config = "[sip]\nt1_ms = 100\n[calls]\nsdp = \"anchor\"\n[media]\nport_min = 30000\nport_max = 30999\n\
         [[route]]\nname = \"q\"\ntargets = [{ uri = \"sip:q@127.0.84.2:35090\", dtmf = \"inband\" }]\n";
    let gw = GatewayProcess::start("127.0.84.1", 35060, config);
    // This PBX would take events (telephone-event 96), but the target is
    // set to in-band: the setting, not the SDP, decides.
    let got = at_the_pbx(
        &gw,
        "127.0.84",
        ("media_pbx_uas_te.xml", 0),
        (
            cloud_uac("127.0.84", "media_cloud_uac_dtmf.xml"),
            "the caller sent digit 1 as RFC 2833 and hung up",
        ),
        (Duration::from_secs(1), Duration::from_secs(15)),
    );
    let packets: Vec<Vec<u8>> = got.into_iter().map(|(p, _)| p).collect();
    assert!(!packets.is_empty(), "the PBX received audio");
    for p in &packets {
        let h = RtpHeader::parse(p).expect("RTP");
        assert_eq!(h.payload_type, 0, "tones in the PBX's PCMU, no events");
    }
    let seqs: Vec<u16> = packets
        .iter()
        .map(|p| RtpHeader::parse(p).expect("RTP").sequence)
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "one stream without holes: {seqs:?}"
    );
    let digits = tones_in(&packets, Law::Ulaw);
    assert_eq!(digits.len(), 1, "one digit heard: {digits:?}");
    assert_eq!(digits[0].0, '1', "the digit the cloud sent");
    assert!(
        (2000..=2500).contains(&digits[0].1),
        "about the event's 280 ms: {} samples",
        digits[0].1
    );
}

/// 20 ms PCMU packets of `pcm` from sequence 1000, timestamp 160000.
fn pcmu_packets(pcm: &[i16]) -> Vec<Vec<u8>> {
    pcm.chunks(160)
        .enumerate()
        .map(|(i, c)| {
            let mut p = vec![0u8; 12 + c.len()];
            p[0] = 0x80;
            p[2..4].copy_from_slice(&(1000 + i as u16).to_be_bytes());
            p[4..8].copy_from_slice(&(160_000 + 160 * i as u32).to_be_bytes());
            p[8..12].copy_from_slice(&0x0b0c_0d0eu32.to_be_bytes());
            Law::Ulaw.encode_slice(c, &mut p[12..]);
            p
        })
        .collect()
}

/// What reaches the cloud's RTP socket (NET.7:40010) when the PBX (no
/// telephone-event in its SDP) sends `packets` to the gateway every 20 ms
/// in a call from the cloud.
fn at_the_cloud(gw: &GatewayProcess, net: &str, packets: &[Vec<u8>]) -> Vec<(Vec<u8>, SocketAddr)> {
    let pbx_rtp = UdpSocket::bind(format!("{net}.2:42000")).expect("PBX RTP socket");
    let cloud_rtp = UdpSocket::bind(format!("{net}.7:40010")).expect("cloud RTP socket");
    let to_gw: SocketAddr = format!("{net}.1:30002").parse().expect("addr");
    call(
        gw,
        (
            pbx_uas(net, "media_pbx_uas.xml", 0),
            "the PBX answered and got the BYE",
        ),
        (
            cloud_uac(net, "media_cloud_uac_listen.xml").key("rtp_port", 40010),
            "the cloud was answered on the expected port and hung up",
        ),
        || {
            std::thread::sleep(Duration::from_millis(1500));
            for p in packets {
                pbx_rtp.send_to(p, to_gw).expect("send");
                std::thread::sleep(Duration::from_millis(20));
            }
            collect(
                &cloud_rtp,
                Duration::from_millis(800),
                Duration::from_secs(10),
            )
        },
    )
}

#[test]
fn tones_from_an_inband_pbx_reach_the_cloud_as_rfc2833_events() {
    let gw = gateway("127.0.85", "");
    // The PBX dials 7 then # in-band.
    let mut pcm = vec![0i16; 8 * 1400];
    for (digit, from_ms, ms) in [('7', 200u64, 150u64), ('#', 650, 100)] {
        let d = Digit::from_symbol(digit).expect("digit");
        let at = (from_ms * 8) as usize;
        ToneGenerator::digit(d, -10.0, ms * 8).fill(&mut pcm[at..]);
    }
    let got = at_the_cloud(&gw, "127.0.85", &pcmu_packets(&pcm));
    let parsed: Vec<(RtpHeader, Vec<u8>)> = got
        .into_iter()
        .map(|(p, _)| (RtpHeader::parse(&p).expect("RTP"), p))
        .collect();
    let events: Vec<(RtpHeader, TelephoneEvent)> = parsed
        .iter()
        .filter(|(h, _)| h.payload_type == 101)
        .map(|(h, p)| {
            (
                *h,
                TelephoneEvent::decode(&p[h.payload_start..h.payload_end]).expect("event"),
            )
        })
        .collect();
    // One event per digit: the packets of each share a timestamp.
    let mut digits: Vec<(u32, u8)> = events.iter().map(|(h, e)| (h.timestamp, e.event)).collect();
    digits.dedup();
    assert_eq!(
        digits.iter().map(|d| d.1).collect::<Vec<_>>(),
        [7, 11],
        "7 then # as events 7 and 11"
    );
    for (ts, code) in &digits {
        let of: Vec<&(RtpHeader, TelephoneEvent)> =
            events.iter().filter(|(h, _)| h.timestamp == *ts).collect();
        assert!(of[0].0.marker, "event {code} starts with the marker bit");
        assert_eq!(
            of.iter().filter(|(_, e)| e.end).count(),
            3,
            "event {code}: three ends"
        );
    }
    // Where the tones were: 7 at 200 ms, # at 650 ms (timestamp units).
    let offset = |ts: u32| i64::from(ts.wrapping_sub(160_000));
    assert!((1500..=1700).contains(&offset(digits[0].0)), "{digits:?}");
    assert!((5100..=5300).contains(&offset(digits[1].0)), "{digits:?}");
    // Audio around the digits still flows, in one numbered stream.
    assert!(parsed.iter().filter(|(h, _)| h.payload_type == 0).count() >= 30);
    let seqs: Vec<u16> = parsed.iter().map(|(h, _)| h.sequence).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "one stream without holes: {seqs:?}"
    );
    let line = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    assert_has_all(
        &line,
        &[
            "callee_packets=70",
            "callee_lost=0",
            "callee_dtmf_detected=2",
        ],
    );
}

/// A call from the cloud to a gateway behind NAT, public address
/// 127.0.86.200: the cloud's scenario checks the answer's Contact and SDP
/// and sends its BYE to that Contact.
fn call_through_nat(gw: &GatewayProcess, net: &str) {
    call(
        gw,
        (
            pbx_uas(net, "media_pbx_uas.xml", 0),
            "the PBX answered and got the BYE",
        ),
        (
            cloud_uac(net, "call_cloud_uac_nat.xml"),
            "the cloud got the public address in Contact and SDP and hung up",
        ),
        || (),
    );
}

#[test]
fn behind_nat_calls_advertise_the_configured_public_address() {
    let gw = Gateway {
        config: media_config("sip:q@127.0.86.2:35090", ""),
        wan: "allow = [\"127.0.0.0/8\"]\npublic_address = \"127.0.86.200\"\n".into(),
        ..Gateway::new("127.0.86.1", 35060)
    }
    .start();
    call_through_nat(&gw, "127.0.86");
}

#[test]
fn behind_nat_calls_advertise_the_address_the_registrar_reports() {
    // The registrar says it sees the gateway at 127.0.86.200 (Via
    // received=): the gateway re-registers with it and uses it for calls.
    let registrar = md5_registrar("127.0.87.5", 60, 1, ("127.0.86.200", 35060)).start();
    let account = "[[account]]\nname = \"cloud\"\nregistrar = \"sip:127.0.87.5:35160\"\nusername = \"alice\"\n\
                   password = \"secret\"\nexpires_s = 60\nkeepalive_interval_s = 0\n";
    let mut gw = gateway("127.0.87", account);
    gw.wait_for_log_line(
        &["public address the registrar reports"],
        Duration::from_secs(10),
    );
    call_through_nat(&gw, "127.0.87");
    assert!(gw.terminate(Duration::from_secs(10)).is_some(), "stops");
    registrar
        .wait(Duration::from_secs(20))
        .assert_success("the registrar saw the learned address in the refresh and the un-REGISTER");
}

/// With two media threads, consecutive calls (consecutive session ids)
/// land on different threads; each relays its audio whole.
#[test]
fn calls_on_either_media_thread_are_relayed() {
    let sent = pcap_rtp(PCAP);
    let gw = gateway("127.0.88", "threads = 2");
    gw.wait_for_output("2 media thread(s)", Duration::from_secs(5));
    for call in 1..=2 {
        let got = at_the_pbx(
            &gw,
            "127.0.88",
            ("media_pbx_uas.xml", 8),
            (
                cloud_pcap("127.0.88"),
                "the caller played its audio and hung up",
            ),
            (Duration::from_secs(2), Duration::from_secs(20)),
        );
        assert_eq!(
            got.len(),
            sent.len(),
            "call {call}: every packet relayed once"
        );
        for (i, ((p, _), orig)) in got.iter().zip(&sent).enumerate() {
            assert_eq!(
                p[12..],
                orig[12..],
                "call {call}, packet {i}: byte-exact audio"
            );
        }
    }
}

/// Both legs PCMU (the cloud offers PCMU and telephone-event, the PBX
/// answers PCMU): the PBX's audio reaches the cloud byte for byte.
#[test]
fn pcmu_passes_through_the_anchor_byte_exact() {
    let gw = gateway("127.0.89", "");
    // A second of noise-like audio over the whole µ-law range.
    let mut x = 0x1234_5678u32;
    let pcm: Vec<i16> = (0..8000)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 16) as i16
        })
        .collect();
    let sent = pcmu_packets(&pcm);
    let got = at_the_cloud(&gw, "127.0.89", &sent);
    assert_eq!(got.len(), sent.len(), "every packet relayed once");
    for (i, ((p, _), orig)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(p[1] & 0x7f, 0, "packet {i} is PCMU");
        assert_eq!(p[12..], orig[12..], "packet {i}: byte-exact audio");
    }
}
