//! Digits the gateway sends to a leg of a call in progress, through the
//! real media engine (its thread, its epoll loop, real loopback sockets):
//! the test owns both far ends' RTP sockets, one of them playing sipp's
//! A-law recording as the cloud's audio, and gives the engine the commands
//! signalling gives it for an anchored call, then `SendDigits` as
//! `Core::send_dtmf` makes it. What each far end receives is read back
//! with the RFC 4733 receiver and the Q.24 detector.
//!
//! (The HTTP request that makes the core send the command is the web API's
//! test; this file checks everything from the command to the wire.)

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::pcap_rtp;
use pbxgate::media::dtmf::inject::{DigitSink, Digits};
use pbxgate::media::dtmf::rfc4733::EventReceiver;
use pbxgate::media::dtmf::{Digit, DtmfDetector};
use pbxgate::media::engine::MediaEngine;
use pbxgate::media::g711::Law;
use pbxgate::media::latch::SourceRules;
use pbxgate::media::messages::MediaCommand;
use pbxgate::media::relay::{LegSide, Remote, Transcode};
use pbxgate::media::rtp::{write_header, RtpHeader};

const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";
const SESSION: u64 = 1;

/// An anchored call through a real engine: the cloud (caller) sends PCMA
/// with telephone-event 101, the PBX (callee) PCMU with 100, as
/// signalling sets a call up after the PBX's answer.
struct Call {
    engine: MediaEngine,
    cloud: UdpSocket,
    pbx: UdpSocket,
    caller_local: SocketAddr,
    callee_local: SocketAddr,
}

impl Call {
    /// The far ends at NET.7 (cloud) and NET.21 (PBX); the relay's ports at
    /// NET.1:33000 and NET.2:33002.
    fn up(net: &str) -> Call {
        let (events, _) = smol::channel::unbounded();
        let engine = MediaEngine::start(events, 1).expect("a media thread");
        let cloud = UdpSocket::bind(format!("{net}.7:0")).unwrap();
        let pbx = UdpSocket::bind(format!("{net}.21:0")).unwrap();
        for s in [&cloud, &pbx] {
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        }
        let call = Call {
            engine,
            caller_local: format!("{net}.1:33000").parse().unwrap(),
            callee_local: format!("{net}.2:33002").parse().unwrap(),
            cloud,
            pbx,
        };
        let pcma_to_pcmu = Transcode {
            from_pt: 8,
            from: Law::Alaw,
            to_pt: 0,
        };
        let pcmu_to_pcma = Transcode {
            from_pt: 0,
            from: Law::Ulaw,
            to_pt: 8,
        };
        call.send(MediaCommand::Open {
            session: SESSION,
            caller_local: call.caller_local,
            callee_local: call.callee_local,
            timeout: Duration::from_secs(30),
            sources: SourceRules::default(),
        });
        for (side, map, transcode, peer) in [
            (LegSide::Caller, (101, 100), pcma_to_pcmu, &call.cloud),
            (LegSide::Callee, (100, 101), pcmu_to_pcma, &call.pbx),
        ] {
            call.send(MediaCommand::SetPayloadMap {
                session: SESSION,
                side,
                map: vec![map],
            });
            call.send(MediaCommand::SetTranscode {
                session: SESSION,
                side,
                transcode: Some(transcode),
            });
            call.send(MediaCommand::SetRemote {
                session: SESSION,
                side,
                remote: Remote::at(peer.local_addr().unwrap()),
            });
        }
        call.applied();
        call
    }

    fn send(&self, cmd: MediaCommand) {
        assert!(self.engine.send(cmd), "the media thread takes commands");
    }

    /// Every command sent so far is applied.
    fn applied(&self) {
        assert!(smol::block_on(self.engine.barrier(Duration::from_secs(2))));
    }

    /// What signalling sends for `Core::send_dtmf`.
    fn send_digits(&self, to: LegSide, sink: DigitSink, digits: &str) {
        self.send(MediaCommand::SendDigits {
            session: SESSION,
            to,
            sink,
            digits: Digits::parse(digits).unwrap(),
            tone_ms: 100,
            gap_ms: 70,
        });
        self.applied();
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.engine.send(MediaCommand::Close { session: SESSION });
    }
}

/// Sends `packets` from `from` to `to` at the 20 ms pace of real audio.
fn play(from: &UdpSocket, to: SocketAddr, packets: &[Vec<u8>]) {
    for p in packets {
        from.send_to(p, to).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `n` packets as they arrive at `sock`, parsed.
fn receive(sock: &UdpSocket, n: usize) -> Vec<(RtpHeader, Vec<u8>)> {
    let mut b = [0u8; 2048];
    (0..n)
        .map(|k| {
            let (len, _) = sock
                .recv_from(&mut b)
                .unwrap_or_else(|e| panic!("packet {k} of {n}: {e}"));
            let h = RtpHeader::parse(&b[..len]).expect("RTP");
            (h, b[..len].to_vec())
        })
        .collect()
}

fn payload(p: &(RtpHeader, Vec<u8>)) -> &[u8] {
    &p.1[p.0.payload_start..p.0.payload_end]
}

#[track_caller]
fn assert_one_stream(got: &[(RtpHeader, Vec<u8>)], ssrc: u32) {
    let seqs: Vec<u16> = got.iter().map(|p| p.0.sequence).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "no holes: {seqs:?}");
    }
    assert!(got.iter().all(|p| p.0.ssrc == ssrc), "one SSRC");
}

/// The PBX's stream: PCMU packets of quiet noise, 20 ms each.
fn pbx_audio(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let mut p = vec![0u8; 172];
            write_header(
                &mut p,
                false,
                0,
                500 + k as u16,
                8000 + 160 * k as u32,
                0xfeed,
            );
            for (i, b) in p[12..].iter_mut().enumerate() {
                *b = Law::Ulaw.encode((((i * 7 + k * 13) % 23) as i16 - 11) * 20);
            }
            p
        })
        .collect()
}

#[test]
fn digits_for_the_cloud_arrive_as_rfc4733_events_in_the_pbxs_stream() {
    let call = Call::up("127.0.180");
    let to_cloud = DigitSink {
        law: Law::Alaw,
        audio_pt: 8,
        events: Some(101),
        tones: false,
    };
    call.send_digits(LegSide::Caller, to_cloud, "1#");
    // Nothing is sent while the PBX sends nothing: the digits wait.
    call.cloud
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 64];
    assert!(call.cloud.recv_from(&mut b).is_err(), "nothing of its own");
    call.cloud
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();

    play(&call.pbx, call.callee_local, &pbx_audio(30));
    let got = receive(&call.cloud, 30);
    assert_one_stream(&got, 0xfeed);
    let mut rx = EventReceiver::new();
    let mut digits = Vec::new();
    let events: Vec<_> = got.iter().filter(|p| p.0.payload_type == 101).collect();
    for p in &events {
        rx.receive(
            p.0.marker,
            p.0.sequence,
            p.0.timestamp,
            payload(p),
            &mut |d| {
                if let Some(len) = d.duration {
                    digits.push((d.digit, d.timestamp, len));
                }
            },
        )
        .expect("well-formed telephone-events");
    }
    assert_eq!(
        digits,
        [(Digit::D1, 8000, 800), (Digit::Hash, 8000 + 1440, 800)],
        "both digits, 100 ms each, at the PBX stream's timestamps"
    );
    assert_eq!(events.len(), 14, "five updates and three ends each");
    assert_eq!(events.iter().filter(|p| p.0.marker).count(), 2);
    let ends = events.iter().filter(|p| payload(p)[1] & 0x80 != 0).count();
    assert_eq!(ends, 6);
    // The rest is the PBX's audio, transcoded for the cloud as ever.
    assert!(got
        .iter()
        .all(|p| p.0.payload_type == 101 || p.0.payload_type == 8));
}

#[test]
fn digits_for_an_inband_pbx_are_tones_in_its_audio_over_the_clouds_speech() {
    let call = Call::up("127.0.181");
    let to_pbx = DigitSink {
        law: Law::Ulaw,
        audio_pt: 0,
        events: None,
        tones: true,
    };
    let speech = pcap_rtp(PCAP);
    let ssrc = RtpHeader::parse(&speech[0]).unwrap().ssrc;
    // A second of the cloud's speech, then the digits over the next.
    play(&call.cloud, call.caller_local, &speech[..50]);
    call.send_digits(LegSide::Callee, to_pbx, "*59D");
    play(&call.cloud, call.caller_local, &speech[50..100]);
    let got = receive(&call.pbx, 100);
    assert_one_stream(&got, ssrc);
    assert!(got.iter().all(|p| p.0.payload_type == 0), "PCMU throughout");
    let mut det = DtmfDetector::new();
    let mut heard = Vec::new();
    let mut pcm = [0i16; 2048];
    for p in &got {
        let n = payload(p).len();
        Law::Ulaw.decode_slice(payload(p), &mut pcm[..n]);
        det.push(&pcm[..n], &mut |e| {
            if let Some(end) = e.end_sample {
                heard.push((e.digit.symbol(), end - e.start_sample));
            }
        });
    }
    det.push(&[0; 800], &mut |e| {
        if let Some(end) = e.end_sample {
            heard.push((e.digit.symbol(), end - e.start_sample));
        }
    });
    let symbols: String = heard.iter().map(|h| h.0).collect();
    assert_eq!(symbols, "*59D", "the digits and nothing else: {heard:?}");
    for (d, len) in heard {
        assert!((752..=848).contains(&len), "{d}: {len} samples, not 100 ms");
    }
}
