//! End-to-end media through the gateway's anchor: sipp plays the cloud
//! (with RTP from sipp's own G.711 recording), sipp plays the PBX's
//! signalling, and the test itself owns the PBX's RTP socket to check what
//! arrives, byte for byte.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{scenario, sipp, GatewayProcess, SippBackground};

const T: Duration = Duration::from_secs(60);
const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

fn sc(name: &str) -> String {
    scenario(name).to_str().expect("path").to_string()
}

/// RTP packets (UDP payloads) of a pcap file (Ethernet or raw IPv4 frames).
fn pcap_rtp(path: &str) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).expect("sipp's pcap (tests/run.sh installs sip-tester)");
    let link = u32::from_le_bytes([d[20], d[21], d[22], d[23]]);
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes([d[off + 8], d[off + 9], d[off + 10], d[off + 11]]) as usize;
        let frame = &d[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ip = if link == 1 { &frame[14..] } else { frame };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        out.push(ip[ihl + 8..].to_vec());
    }
    out
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

#[test]
fn pcma_passes_through_the_anchor_byte_exact_and_foreign_rtp_does_not() {
    let sent = pcap_rtp(PCAP);
    assert_eq!(sent.len(), 236, "sipp's g711a.pcap");
    let gw = GatewayProcess::start(
        "127.0.80.1",
        35060,
        &media_config("sip:q@127.0.80.2:35090", ""),
    );
    let rtp = UdpSocket::bind("127.0.80.2:42000").expect("PBX RTP socket");
    let pbx = SippBackground::start(&[
        "-sf",
        &sc("media_pbx_uas.xml"),
        "-i",
        "127.0.80.2",
        "-p",
        "35090",
        "-m",
        "1",
        "-key",
        "rtp_port",
        "42000",
        "-key",
        "pt",
        "8",
    ]);
    let remote = gw.wan().to_string();
    let s = sc("media_cloud_uac_pcap.xml");
    let caller = std::thread::spawn(move || {
        sipp(
            &[
                "-sf",
                &s,
                &remote,
                "-i",
                "127.0.80.7",
                "-mi",
                "127.0.80.7",
                "-mp",
                "40000",
                "-p",
                "35100",
                "-m",
                "1",
            ],
            T,
        )
    });
    // A stranger sprays the gateway's caller-side port (the first pair of
    // [media] port_min) while the call runs.
    let foreign = UdpSocket::bind("127.0.80.66:0").expect("bind");
    std::thread::sleep(Duration::from_millis(1500));
    let mut marked = vec![0u8; 172];
    marked[0] = 0x80;
    marked[1] = 8;
    marked[12..].fill(0x5a);
    for _ in 0..5 {
        let _ = foreign.send_to(&marked, "127.0.80.1:30000");
    }
    let got = collect(&rtp, Duration::from_secs(2), Duration::from_secs(20));
    caller
        .join()
        .expect("caller")
        .assert_success("the caller played its recording and hung up");
    pbx.wait(T)
        .assert_success("the PBX answered and got the BYE");
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
    let log = gw.log();
    assert!(log.contains("call answered"), "{log}");
}

#[test]
fn a_call_without_media_is_ended_by_the_media_timeout() {
    let gw = GatewayProcess::start(
        "127.0.81.1",
        35060,
        &media_config("sip:q@127.0.81.2:35090", "timeout_s = 5"),
    );
    let pbx = SippBackground::start(&[
        "-sf",
        &sc("media_pbx_uas.xml"),
        "-i",
        "127.0.81.2",
        "-p",
        "35090",
        "-m",
        "1",
        "-key",
        "rtp_port",
        "42000",
        "-key",
        "pt",
        "0",
    ]);
    let started = Instant::now();
    sipp(
        &[
            "-sf",
            &sc("call_cloud_uac_wait_bye.xml"),
            &gw.wan().to_string(),
            "-i",
            "127.0.81.7",
            "-p",
            "35100",
            "-m",
            "1",
        ],
        T,
    )
    .assert_success("the silent caller gets a BYE from the gateway");
    pbx.wait(T).assert_success("the silent PBX gets a BYE too");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "not before the timeout"
    );
    assert!(gw.log().contains("no media"), "{}", gw.log());
}

/// The PBX accepts only the other G.711 law: the gateway transcodes, and
/// what arrives is the caller's audio decoded and re-encoded in that law.
#[test]
fn audio_is_transcoded_when_the_pbx_takes_only_the_other_law() {
    use pbxgate::media::g711::{alaw_decode, ulaw_encode};
    let sent = pcap_rtp(PCAP);
    let gw = GatewayProcess::start(
        "127.0.82.1",
        35060,
        &media_config("sip:q@127.0.82.2:35090", ""),
    );
    let rtp = UdpSocket::bind("127.0.82.2:42000").expect("PBX RTP socket");
    let pbx = SippBackground::start(&[
        "-sf",
        &sc("media_pbx_uas.xml"),
        "-i",
        "127.0.82.2",
        "-p",
        "35090",
        "-m",
        "1",
        "-key",
        "rtp_port",
        "42000",
        "-key",
        "pt",
        "0",
    ]);
    let remote = gw.wan().to_string();
    let s = sc("media_cloud_uac_pcap.xml");
    let caller = std::thread::spawn(move || {
        sipp(
            &[
                "-sf",
                &s,
                &remote,
                "-i",
                "127.0.82.7",
                "-mi",
                "127.0.82.7",
                "-mp",
                "40000",
                "-p",
                "35100",
                "-m",
                "1",
            ],
            T,
        )
    });
    let got = collect(&rtp, Duration::from_secs(2), Duration::from_secs(20));
    caller
        .join()
        .expect("caller")
        .assert_success("the caller played A-law and hung up");
    pbx.wait(T)
        .assert_success("the µ-law PBX answered and got the BYE");
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
}

/// RFC 2833 digits from the cloud (payload type 101) reach a PBX that uses
/// payload type 96 for telephone-events: renumbered, event and duration
/// untouched.
#[test]
fn rfc2833_digits_arrive_renumbered_on_the_other_leg() {
    let sent = pcap_rtp("/usr/share/sip-tester/dtmf_2833_1.pcap");
    let gw = GatewayProcess::start(
        "127.0.83.1",
        35060,
        &media_config("sip:q@127.0.83.2:35090", ""),
    );
    let rtp = UdpSocket::bind("127.0.83.2:42000").expect("PBX RTP socket");
    let pbx = SippBackground::start(&[
        "-sf",
        &sc("media_pbx_uas_te.xml"),
        "-i",
        "127.0.83.2",
        "-p",
        "35090",
        "-m",
        "1",
        "-key",
        "rtp_port",
        "42000",
        "-key",
        "pt",
        "0",
    ]);
    let remote = gw.wan().to_string();
    let s = sc("media_cloud_uac_dtmf.xml");
    let caller = std::thread::spawn(move || {
        sipp(
            &[
                "-sf",
                &s,
                &remote,
                "-i",
                "127.0.83.7",
                "-mi",
                "127.0.83.7",
                "-mp",
                "40000",
                "-p",
                "35100",
                "-m",
                "1",
            ],
            T,
        )
    });
    let got = collect(&rtp, Duration::from_secs(1), Duration::from_secs(15));
    caller
        .join()
        .expect("caller")
        .assert_success("the caller sent digit 1 and hung up");
    pbx.wait(T)
        .assert_success("the PBX answered and got the BYE");
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
