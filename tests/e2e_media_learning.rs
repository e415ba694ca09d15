//! End-to-end: media source learning and no first-packet loss, with the
//! gateway's default media settings unless a test says otherwise.
//!
//! Peers behave as the field showed: a softphone bound to 0.0.0.0 (here a
//! socket the test binds to the wildcard address) receives on the address
//! its SDP names, but its packets leave from the address the kernel picks
//! for the route (on loopback 127.0.0.1), not from the SDP's. sipp plays
//! the signalling (and, where it says, the RTP from `-mi` while its SDP
//! names another address); the test owns the other RTP ends and checks
//! what arrives, byte for byte.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_has_all, media_pbx, pcap_rtp, GatewayProcess, Scenario, Sipp};
use pbxgate::media::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use pbxgate::media::rtp::{write_header, RtpHeader};

const T: Duration = Duration::from_secs(60);
const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";
/// Audio packets each end sends (2 s), then one digit.
const AUDIO_PACKETS: u16 = 100;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A gateway on NET.1 whose `[media]` holds only the port range and
/// `media` (the rest is the default), routing calls to the PBX on NET.2.
fn gateway(net: &str, media: &str) -> GatewayProcess {
    let config = format!(
        "[sip]\nt1_ms = 100\n[media]\nport_min = 30000\nport_max = 30999\n{media}\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"sip:q@{net}.2:35090\" }}]\n"
    );
    GatewayProcess::start(&format!("{net}.1"), 35060, &config)
}

/// The PBX's signalling: sipp on NET.2:35090 answering with media at
/// NET.2:`rtp_port` in payload type `pt` and telephone-event 96.
fn pbx_te(net: &str, rtp_port: u16, pt: u8) -> Sipp {
    media_pbx("media_pbx_uas_te.xml", &format!("{net}.2"), rtp_port, pt)
}

/// The cloud's signalling from NET.7: an SDP naming `sdp` with payload
/// type `pt` and telephone-event 101, in the call for `hold_ms`.
fn cloud_at(net: &str, sdp: SocketAddr, pt: u8, hold_ms: u64) -> Sipp {
    Sipp::new("media_cloud_uac_at.xml")
        .on(&format!("{net}.7"), 35100)
        .args(&["-d", &hold_ms.to_string()])
        .key("sdp_ip", sdp.ip())
        .key("sdp_port", sdp.port())
        .key("pt", pt)
}

/// A call from the cloud (`cloud`) to the PBX (`pbx`), both to end with
/// success; `during` runs once the gateway has logged the answer.
fn call<R>(gw: &GatewayProcess, pbx: Sipp, cloud: Sipp, during: impl FnOnce() -> R) -> R {
    Scenario::new(gw)
        .peer(pbx, "the PBX answered and got the BYE")
        .caller(cloud, "the cloud called and hung up")
        .run_while(|| {
            gw.wait_for_log_line(&["call answered"], Duration::from_secs(20));
            during()
        })
}

/// The RTP sockets of a cloud at NET.7:`port` and a PBX at NET.2:`port`+2,
/// where their SDPs say.
fn ends_at_their_sdp_addresses(net: &str, port: u16) -> (UdpSocket, UdpSocket) {
    let cloud = UdpSocket::bind(format!("{net}.7:{port}")).expect("cloud RTP socket");
    let pbx = UdpSocket::bind(format!("{net}.2:{}", port + 2)).expect("PBX RTP socket");
    (cloud, pbx)
}

/// What one end sends: `AUDIO_PACKETS` audio packets of payload type `pt`
/// every 20 ms (payload bytes from `seed`, so each end's differ), then
/// digit 5 as RFC 4733 events of payload type `te` (start, two updates,
/// three ends).
fn stream(pt: u8, te: u8, ssrc: u32, seed: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut seq = 1000u16.wrapping_add(u16::from(seed));
    let mut ts = 8000u32 * u32::from(seed);
    for n in 0..AUDIO_PACKETS {
        let mut p = vec![0u8; 172];
        write_header(&mut p, n == 0, pt, seq, ts, ssrc);
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = (i as u8)
                .wrapping_mul(7)
                .wrapping_add(n as u8)
                .wrapping_add(seed);
        }
        out.push(p);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
    }
    for (k, duration) in [160u16, 320, 480, 640, 640, 640].into_iter().enumerate() {
        let mut p = vec![0u8; 16];
        write_header(&mut p, k == 0, te, seq, ts, ssrc);
        p[12] = 5;
        p[13] = if k >= 3 { 0x80 | 10 } else { 10 };
        p[14..16].copy_from_slice(&duration.to_be_bytes());
        out.push(p);
        seq = seq.wrapping_add(1);
    }
    out
}

/// Sends `packets` from `sock` to `to` every 20 ms, on a thread.
fn send_paced(
    sock: &UdpSocket,
    to: SocketAddr,
    packets: Vec<Vec<u8>>,
    delay: Duration,
) -> std::thread::JoinHandle<()> {
    let sock = sock.try_clone().expect("socket");
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        for p in packets {
            sock.send_to(&p, to).expect("send");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// What arrives on a socket, collected on a thread until `stop` is called
/// and `quiet` has passed without a packet.
struct Receiver {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Vec<u8>, SocketAddr)>>,
}

impl Receiver {
    fn start(sock: &UdpSocket, quiet: Duration) -> Receiver {
        let sock = sock.try_clone().expect("socket");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut last = Instant::now();
            let mut buf = [0u8; 2048];
            let end = Instant::now() + T;
            while Instant::now() < end {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        out.push((buf[..n].to_vec(), from));
                        last = Instant::now();
                    }
                    Err(_) => {
                        if stopped.load(Ordering::Relaxed) && last.elapsed() > quiet {
                            break;
                        }
                    }
                }
            }
            out
        });
        Receiver { stop, thread }
    }

    fn stop(self) -> Vec<(Vec<u8>, SocketAddr)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("receiver")
    }
}

/// `got` is `sent` as relayed: same number, same order, the same payload
/// after `translate` (a law conversion, or none), audio in payload type
/// `pt`, events in `te`, sequence numbers and timestamps kept.
fn assert_relayed(
    what: &str,
    got: &[(Vec<u8>, SocketAddr)],
    sent: &[Vec<u8>],
    (pt, te): (u8, u8),
    translate: impl Fn(u8) -> u8,
) {
    assert_eq!(got.len(), sent.len(), "{what}: every packet relayed once");
    for (i, ((p, _), orig)) in got.iter().zip(sent).enumerate() {
        let h = RtpHeader::parse(p).expect("RTP");
        let o = RtpHeader::parse(orig).expect("RTP");
        assert_eq!(
            (h.sequence, h.timestamp),
            (o.sequence, o.timestamp),
            "{what}: packet {i} in order"
        );
        if orig.len() == 16 {
            assert_eq!(h.payload_type, te, "{what}: packet {i} is an event");
            assert_eq!(&p[12..], &orig[12..], "{what}: event {i} untouched");
        } else {
            assert_eq!(h.payload_type, pt, "{what}: packet {i} audio type");
            let expected: Vec<u8> = orig[12..].iter().map(|b| translate(*b)).collect();
            assert_eq!(&p[12..], &expected[..], "{what}: packet {i} payload");
        }
    }
}

/// A caller and a callee that both send from 127.0.0.1 while their SDPs
/// name 127.0.NET.7 and 127.0.NET.2 (both bound to the wildcard address,
/// as baresip is), with `cloud_pt` offered and `pbx_pt` answered. Returns
/// (what the PBX got, what the cloud got, what each sent, the log line of
/// the call's media).
struct TwoEnds {
    pbx_got: Vec<(Vec<u8>, SocketAddr)>,
    cloud_got: Vec<(Vec<u8>, SocketAddr)>,
    cloud_sent: Vec<Vec<u8>>,
    pbx_sent: Vec<Vec<u8>>,
    media_line: String,
}

fn call_between_multihomed_ends(
    net: &str,
    ports: (u16, u16),
    (cloud_pt, pbx_pt): (u8, u8),
    media: &str,
    stranger: bool,
) -> TwoEnds {
    let gw = gateway(net, media);
    let cloud = UdpSocket::bind(("0.0.0.0", ports.0)).expect("cloud RTP socket");
    let pbx = UdpSocket::bind(("0.0.0.0", ports.1)).expect("PBX RTP socket");
    let cloud_sdp = addr(&format!("{net}.7:{}", ports.0));
    let cloud_sent = stream(cloud_pt, 101, 0xc10d, 1);
    let pbx_sent = stream(pbx_pt, 96, 0x9b8, 2);
    let (pbx_got, cloud_got) = call(
        &gw,
        pbx_te(net, ports.1, pbx_pt),
        cloud_at(net, cloud_sdp, cloud_pt, 4500),
        || {
            // The gateway's sides: the first two port pairs of the range.
            let caller_side = addr(&format!("{net}.1:30000"));
            let callee_side = addr(&format!("{net}.1:30002"));
            let at_pbx = Receiver::start(&pbx, Duration::from_millis(500));
            let at_cloud = Receiver::start(&cloud, Duration::from_millis(500));
            let a = send_paced(&cloud, caller_side, cloud_sent.clone(), Duration::ZERO);
            let b = send_paced(
                &pbx,
                callee_side,
                pbx_sent.clone(),
                Duration::from_millis(10),
            );
            if stranger {
                // A third source sprays the caller-side port mid-call with
                // RTP that looks right (in sequence, a negotiated payload
                // type).
                std::thread::sleep(Duration::from_millis(600));
                let s = UdpSocket::bind(format!("{net}.66:0")).expect("stranger");
                for seq in 0..10u16 {
                    let mut p = vec![0x5au8; 172];
                    write_header(&mut p, false, cloud_pt, seq, 160 * u32::from(seq), 0x5a5a);
                    s.send_to(&p, caller_side).expect("send");
                }
            }
            a.join().expect("cloud sender");
            b.join().expect("PBX sender");
            (at_pbx.stop(), at_cloud.stop())
        },
    );
    let media_line = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    TwoEnds {
        pbx_got,
        cloud_got,
        cloud_sent,
        pbx_sent,
        media_line,
    }
}

#[test]
fn ends_sending_from_other_addresses_than_their_sdp_get_audio_and_digits_both_ways() {
    let r = call_between_multihomed_ends("127.0.100", (43710, 43712), (0, 0), "", true);
    assert_relayed("cloud → PBX", &r.pbx_got, &r.cloud_sent, (0, 96), |b| b);
    assert_relayed("PBX → cloud", &r.cloud_got, &r.pbx_sent, (0, 101), |b| b);
    assert!(
        !r.pbx_got
            .iter()
            .any(|(p, _)| p[12..].iter().all(|b| *b == 0x5a)),
        "the third source's packets were relayed"
    );
    assert_has_all(
        &r.media_line,
        &[
            "caller_source=127.0.0.1:43710 (learned)",
            "callee_source=127.0.0.1:43712 (learned)",
            "foreign_dropped=10 ",
            &format!("caller_packets={}", r.cloud_sent.len()),
            &format!("callee_packets={}", r.pbx_sent.len()),
        ],
    );
}

#[test]
fn transcoded_audio_from_other_addresses_equals_the_reference_conversion() {
    // The cloud offers only A-law; the PBX answers µ-law.
    let r = call_between_multihomed_ends("127.0.101", (43720, 43722), (8, 0), "", false);
    assert_relayed("cloud → PBX", &r.pbx_got, &r.cloud_sent, (0, 96), |a| {
        ulaw_encode(alaw_decode(a))
    });
    assert_relayed("PBX → cloud", &r.cloud_got, &r.pbx_sent, (8, 101), |u| {
        alaw_encode(ulaw_decode(u))
    });
    assert!(
        r.media_line
            .contains("caller_source=127.0.0.1:43720 (learned)"),
        "{}",
        r.media_line
    );
}

#[test]
fn strict_sources_keep_the_old_rule_only_the_sdp_address_is_heard() {
    let r = call_between_multihomed_ends(
        "127.0.102",
        (43730, 43732),
        (0, 0),
        "source = \"strict\"",
        false,
    );
    assert!(r.pbx_got.is_empty(), "strict relayed a foreign source");
    assert!(r.cloud_got.is_empty(), "strict relayed a foreign source");
    let dropped = r.cloud_sent.len() + r.pbx_sent.len();
    assert!(
        r.media_line
            .contains(&format!("foreign_dropped={dropped} ")),
        "{}",
        r.media_line
    );
}

/// Under strict a peer at its SDP address is still heard (the old
/// behaviour, not just silence).
#[test]
fn strict_sources_relay_a_peer_that_sends_from_its_sdp_address() {
    let net = "127.0.103";
    let gw = gateway(net, "source = \"strict\"");
    let (cloud, pbx) = ends_at_their_sdp_addresses(net, 43740);
    let sent = stream(0, 101, 0x77, 3);
    let got = call(
        &gw,
        pbx_te(net, 43742, 0),
        cloud_at(net, cloud.local_addr().expect("addr"), 0, 3500),
        || {
            let at_pbx = Receiver::start(&pbx, Duration::from_millis(500));
            send_paced(
                &cloud,
                addr(&format!("{net}.1:30000")),
                sent.clone(),
                Duration::ZERO,
            )
            .join()
            .expect("sender");
            at_pbx.stop()
        },
    );
    assert_relayed("cloud → PBX", &got, &sent, (0, 96), |b| b);
}

/// A stranger latches the PBX's leg first; the PBX then sends from its SDP
/// address within the learning window and takes its leg back.
#[test]
fn the_real_peer_from_its_sdp_address_replaces_an_earlier_source() {
    let net = "127.0.104";
    let gw = gateway(net, "");
    let (cloud, pbx) = ends_at_their_sdp_addresses(net, 43750);
    let decoy = UdpSocket::bind(format!("{net}.99:43752")).expect("decoy socket");
    let cloud_sent = stream(0, 101, 0xc1, 4);
    let (pbx_got, decoy_got) = call(
        &gw,
        pbx_te(net, 43752, 0),
        cloud_at(net, cloud.local_addr().expect("addr"), 0, 4000),
        || {
            let callee_side = addr(&format!("{net}.1:30002"));
            let at_pbx = Receiver::start(&pbx, Duration::from_millis(500));
            let at_decoy = Receiver::start(&decoy, Duration::from_millis(500));
            // The decoy: five in-sequence packets of a negotiated type.
            for seq in 0..5u16 {
                let mut p = vec![0x33u8; 172];
                write_header(&mut p, false, 0, seq, 160 * u32::from(seq), 0xdec0);
                decoy.send_to(&p, callee_side).expect("send");
                std::thread::sleep(Duration::from_millis(20));
            }
            // The cloud talks; 0.5 s later the real PBX starts, from its
            // SDP address, well within the 2 s window.
            let a = send_paced(
                &cloud,
                addr(&format!("{net}.1:30000")),
                cloud_sent.clone(),
                Duration::ZERO,
            );
            let b = send_paced(
                &pbx,
                callee_side,
                stream(0, 96, 0x9b, 5),
                Duration::from_millis(500),
            );
            a.join().expect("cloud sender");
            b.join().expect("PBX sender");
            (at_pbx.stop(), at_decoy.stop())
        },
    );
    let seqs = |got: &[(Vec<u8>, SocketAddr)]| -> Vec<u16> {
        got.iter()
            .map(|(p, _)| RtpHeader::parse(p).expect("RTP").sequence)
            .collect()
    };
    let (to_pbx, to_decoy) = (seqs(&pbx_got), seqs(&decoy_got));
    // Everything the cloud sent went to one or the other, the decoy only
    // before the PBX was heard, the PBX everything after.
    let last_decoy = to_decoy.iter().max().copied().unwrap_or(0);
    let first_pbx = to_pbx.iter().min().copied().expect("the PBX got media");
    assert!(
        last_decoy < first_pbx,
        "decoy got {to_decoy:?} after the PBX's {first_pbx}"
    );
    assert_eq!(
        to_pbx.len() + to_decoy.len(),
        cloud_sent.len(),
        "every packet went somewhere once"
    );
    assert!(
        to_pbx.len() > cloud_sent.len() / 2,
        "the PBX got the call's media: {} of {}",
        to_pbx.len(),
        cloud_sent.len()
    );
    let line = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    assert!(
        line.contains(&format!("callee_source={net}.2:43752 (sdp)")),
        "{line}"
    );
}

/// sipp's own RTP from `-mi` while its SDP names another address: the
/// cloud's recording reaches a PBX that is itself multi-homed, byte for
/// byte, and both sources are learned.
#[test]
fn sipp_media_from_another_address_than_its_sdp_is_learned() {
    let net = "127.0.105";
    let sent = pcap_rtp(PCAP);
    let gw = gateway(net, "");
    let pbx = UdpSocket::bind(("0.0.0.0", 43762)).expect("PBX RTP socket");
    let (i, mi) = (format!("{net}.7"), format!("{net}.17"));
    let cloud = Sipp::new("media_cloud_uac_pcap.xml")
        .on(&i, 35100)
        .media(&mi, 40000)
        .key("sdp_ip", &i);
    let at_pbx = call(
        &gw,
        media_pbx("media_pbx_uas.xml", &format!("{net}.2"), 43762, 8),
        cloud,
        || {
            let at_pbx = Receiver::start(&pbx, Duration::from_millis(500));
            // The PBX talks back (from 127.0.0.1, its SDP says NET.2).
            send_paced(
                &pbx,
                addr(&format!("{net}.1:30002")),
                stream(8, 96, 0x9b, 6),
                Duration::from_millis(200),
            )
            .join()
            .expect("PBX sender");
            at_pbx
        },
    );
    // Stopped once the cloud has played its recording and hung up.
    let got = at_pbx.stop();
    let payloads: Vec<&[u8]> = got.iter().map(|(p, _)| &p[12..]).collect();
    let expected: Vec<&[u8]> = sent.iter().map(|p| &p[12..]).collect();
    assert_eq!(payloads.len(), expected.len(), "every packet relayed once");
    assert!(payloads == expected, "the recording arrived changed");
    let line = gw.wait_for_log_line(&["call media"], Duration::from_secs(5));
    assert_has_all(
        &line,
        &[
            &format!("caller_source={net}.17:40000 (learned)"),
            "callee_source=127.0.0.1:43762 (learned)",
        ],
    );
}

/// A PBX (sipp, `scenario`) that starts its RTP the moment its 200 leaves
/// or the ACK arrives: every packet of its recording reaches the cloud.
fn pbx_media_at_once_loses_nothing(net: &str, scenario: &str) {
    let sent = pcap_rtp(PCAP);
    let gw = gateway(net, "");
    let cloud = UdpSocket::bind(format!("{net}.7:43770")).expect("cloud RTP socket");
    let at_cloud = Receiver::start(&cloud, Duration::from_millis(700));
    let pbx = Sipp::new(scenario)
        .on(&format!("{net}.2"), 35090)
        .media(&format!("{net}.2"), 42000);
    call(
        &gw,
        pbx,
        cloud_at(net, addr(&format!("{net}.7:43770")), 8, 8500),
        || (),
    );
    let got = at_cloud.stop();
    let seqs: Vec<u16> = got
        .iter()
        .map(|(p, _)| RtpHeader::parse(p).expect("RTP").sequence)
        .collect();
    let expected: Vec<u16> = sent
        .iter()
        .map(|p| RtpHeader::parse(p).expect("RTP").sequence)
        .collect();
    assert_eq!(
        seqs.len(),
        expected.len(),
        "packets lost: {:?}",
        expected
            .iter()
            .filter(|s| !seqs.contains(s))
            .collect::<Vec<_>>()
    );
    assert_eq!(seqs, expected, "in order");
}

#[test]
fn a_pbx_sending_as_its_200_leaves_loses_no_packet() {
    pbx_media_at_once_loses_nothing("127.0.106", "media_pbx_uas_rtp_after_200.xml");
}

#[test]
fn a_pbx_sending_as_the_ack_arrives_loses_no_packet() {
    pbx_media_at_once_loses_nothing("127.0.107", "media_pbx_uas_rtp_after_ack.xml");
}
