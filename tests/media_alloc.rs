//! The media path allocates nothing per relayed packet: the real engine
//! (`pbxgate::media::engine::spawn`) relays between real loopback sockets
//! while a counting global allocator counts every allocation in the
//! process (all threads). Its own test binary, so the allocator (shared
//! with the `relay_load` bench: `benches/common/counting_alloc.rs`) is
//! only here. The test fails on a single allocation in the window.
//!
//! `PBXGATE_ALLOC_TRACE=1` prints a backtrace of the first few, to find
//! where they come from. (That is how smol's reactor was found to allocate
//! on every wake, which is why the media thread has its own epoll loop on
//! Linux: docs/media.md.)

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use pbxgate::media::dtmf::convert::{AudioFormat, DetectPath, DtmfPath};
use pbxgate::media::dtmf::inject::{DigitSink, Digits};
use pbxgate::media::engine::spawn;
use pbxgate::media::g711::{alaw_to_ulaw, ulaw_to_alaw, Law};
use pbxgate::media::leg_crypto::LegKeys;
use pbxgate::media::messages::{MediaCommand, MediaEvent};
use pbxgate::media::relay::LegSide;
use pbxgate::media::rtp::write_header;
use pbxgate::media::srtp::{MasterKey, SrtpContext, Suite};

#[path = "../benches/common/counting_alloc.rs"]
mod counting_alloc;
#[path = "../benches/common/media_call.rs"]
mod media_call;

const PACKET: usize = 172;
/// Packets sent each way before reading them back: several per wake, so
/// the batched path (and its partial batches) is what is measured.
const BURST: usize = 16;

struct Call {
    caller: UdpSocket,
    callee: UdpSocket,
    caller_local: SocketAddr,
    callee_local: SocketAddr,
    /// Payload types each side sends; what the other receives.
    pt_caller: u8,
    pt_callee: u8,
}

/// `dtmf`: both directions listen for in-band digits (the detector runs
/// on every packet; the test's payloads hold none, so audio is unchanged).
fn open(
    cmd: &smol::channel::Sender<MediaCommand>,
    session: u64,
    n: u8,
    transcode: bool,
    dtmf: bool,
) -> Call {
    let caller = UdpSocket::bind(format!("127.0.95.{}:0", 10 + n)).unwrap();
    let callee = UdpSocket::bind(format!("127.0.95.{}:0", 20 + n)).unwrap();
    for s in [&caller, &callee] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let caller_local: SocketAddr = format!("127.0.95.{}:{}", 1 + 2 * n, 32000 + 4 * u16::from(n))
        .parse()
        .unwrap();
    let callee_local: SocketAddr = format!("127.0.95.{}:{}", 2 + 2 * n, 32002 + 4 * u16::from(n))
        .parse()
        .unwrap();
    let send = |c: MediaCommand| cmd.send_blocking(c).unwrap();
    for c in media_call::open_commands(
        session,
        (caller_local, callee_local),
        (caller.local_addr().unwrap(), callee.local_addr().unwrap()),
        Duration::from_secs(60),
        transcode,
    ) {
        send(c);
    }
    let (pt_caller, pt_callee) = if transcode { (0, 8) } else { (0, 0) };
    if dtmf {
        for side in [LegSide::Caller, LegSide::Callee] {
            send(MediaCommand::SetDtmf {
                session,
                side,
                path: DtmfPath {
                    render: None,
                    detect: Some(DetectPath {
                        audio_in: AudioFormat {
                            law: Law::Ulaw,
                            payload_type: 0,
                        },
                        events_out: 101,
                        keep_audio: true,
                    }),
                },
                events_in: None,
            });
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    Call {
        caller,
        callee,
        caller_local,
        callee_local,
        pt_caller,
        pt_callee,
    }
}

fn fill(p: &mut [u8; PACKET], pt: u8, seq: u16) {
    write_header(p, false, pt, seq, u32::from(seq) * 160, 0x00a1_10c0);
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
}

/// Sends `bursts` × BURST packets each way and checks every one that
/// comes back (sequence, payload type, payload as the law says). Touches
/// only stack arrays and std sockets, which do not allocate.
fn relay(call: &Call, first_seq: u16, bursts: usize, transcode: bool) {
    let mut p = [0u8; PACKET];
    let mut got = [0u8; 2048];
    let mut seq = first_seq;
    for _ in 0..bursts {
        for k in 0..BURST as u16 {
            fill(&mut p, call.pt_caller, seq.wrapping_add(k));
            call.caller.send_to(&p, call.caller_local).unwrap();
            fill(&mut p, call.pt_callee, seq.wrapping_add(k));
            call.callee.send_to(&p, call.callee_local).unwrap();
        }
        for (to, sent_pt, from_law) in [
            (&call.callee, call.pt_caller, Law::Ulaw),
            (&call.caller, call.pt_callee, Law::Alaw),
        ] {
            for k in 0..BURST as u16 {
                let s = seq.wrapping_add(k);
                let (n, _) = to.recv_from(&mut got).expect("relayed packet");
                assert_eq!(n, PACKET);
                assert_eq!(u16::from_be_bytes([got[2], got[3]]), s, "in order");
                fill(&mut p, sent_pt, s);
                let want_pt = if transcode { 8 - sent_pt } else { sent_pt };
                assert_eq!(got[1] & 0x7f, want_pt);
                for (a, b) in p[12..].iter().zip(&got[12..n]) {
                    let want = match (transcode, from_law) {
                        (false, _) => *a,
                        (true, Law::Ulaw) => ulaw_to_alaw(*a),
                        (true, Law::Alaw) => alaw_to_ulaw(*a),
                    };
                    assert_eq!(*b, want);
                }
            }
        }
        seq = seq.wrapping_add(BURST as u16);
    }
}

/// A passthrough call on 127.0.189.* whose legs are both being sent
/// digits by the gateway (`SendDigits`, 64 each way: events to the callee,
/// tones to the caller), queued before the counting starts and sent while
/// it runs.
fn open_injecting(cmd: &smol::channel::Sender<MediaCommand>, session: u64) -> Call {
    let caller = UdpSocket::bind("127.0.189.10:0").unwrap();
    let callee = UdpSocket::bind("127.0.189.20:0").unwrap();
    for s in [&caller, &callee] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let caller_local: SocketAddr = "127.0.189.1:32100".parse().unwrap();
    let callee_local: SocketAddr = "127.0.189.2:32102".parse().unwrap();
    for c in media_call::open_commands(
        session,
        (caller_local, callee_local),
        (caller.local_addr().unwrap(), callee.local_addr().unwrap()),
        Duration::from_secs(60),
        false,
    ) {
        cmd.send_blocking(c).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    Call {
        caller,
        callee,
        caller_local,
        callee_local,
        pt_caller: 0,
        pt_callee: 0,
    }
}

fn send_digits(cmd: &smol::channel::Sender<MediaCommand>, session: u64) {
    let digits = Digits::parse("0123456789*#ABCD0123456789*#ABCD").unwrap();
    for (to, events) in [(LegSide::Callee, Some(101)), (LegSide::Caller, None)] {
        for _ in 0..2 {
            let sink = DigitSink {
                law: Law::Ulaw,
                audio_pt: 0,
                events,
                tones: events.is_none(),
            };
            cmd.send_blocking(MediaCommand::SendDigits {
                session,
                to,
                sink,
                digits,
                tone_ms: 100,
                gap_ms: 70,
            })
            .unwrap();
        }
    }
    // Applied (the queues made) before the counting starts.
    std::thread::sleep(Duration::from_millis(100));
}

/// Like `relay`, for a call being sent digits: every packet comes back in
/// order, one for one (events and tones take the place of audio); returns
/// how many were events or tones.
fn relay_injected(call: &Call, first_seq: u16, bursts: usize) -> usize {
    let mut p = [0u8; PACKET];
    let mut got = [0u8; 2048];
    let mut seq = first_seq;
    let mut injected = 0;
    for _ in 0..bursts {
        for k in 0..BURST as u16 {
            fill(&mut p, 0, seq.wrapping_add(k));
            call.caller.send_to(&p, call.caller_local).unwrap();
            call.callee.send_to(&p, call.callee_local).unwrap();
        }
        for to in [&call.callee, &call.caller] {
            for k in 0..BURST as u16 {
                let (n, _) = to.recv_from(&mut got).expect("relayed packet");
                assert_eq!(u16::from_be_bytes([got[2], got[3]]), seq.wrapping_add(k));
                fill(&mut p, 0, seq.wrapping_add(k));
                if got[..n] != p[..] {
                    injected += 1;
                }
            }
        }
        seq = seq.wrapping_add(BURST as u16);
    }
    injected
}

/// The caller's end of an SRTP call: it sends with its key, and opens
/// what the gateway sends with the gateway's.
struct SrtpPeer {
    send: SrtpContext,
    recv: SrtpContext,
}

const OURS: [u8; 30] = [0x5a; 30];
const THEIRS: [u8; 30] = [0xa5; 30];

/// Makes the caller's leg of `session` SRTP; returns the caller's end.
fn srtp_caller(cmd: &smol::channel::Sender<MediaCommand>, session: u64) -> SrtpPeer {
    let suite = Suite::AesCm128HmacSha1_80;
    cmd.send_blocking(MediaCommand::SetSrtp {
        session,
        side: LegSide::Caller,
        keys: Some(LegKeys {
            suite,
            ours: MasterKey::from_bytes(&OURS),
            theirs: MasterKey::from_bytes(&THEIRS),
        }),
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    SrtpPeer {
        send: SrtpContext::new(suite, &MasterKey::from_bytes(&THEIRS)),
        recv: SrtpContext::new(suite, &MasterKey::from_bytes(&OURS)),
    }
}

/// Like `relay`, with the caller speaking SRTP and the callee plain RTP:
/// what each receives is, once opened, what the other sent.
fn relay_srtp(call: &Call, peer: &mut SrtpPeer, first_seq: u16, bursts: usize) {
    let mut p = [0u8; PACKET];
    let mut buf = [0u8; 2048];
    let mut seq = first_seq;
    for _ in 0..bursts {
        for k in 0..BURST as u16 {
            fill(&mut p, 0, seq.wrapping_add(k));
            buf[..PACKET].copy_from_slice(&p);
            let n = peer.send.protect(&mut buf, PACKET).unwrap();
            call.caller.send_to(&buf[..n], call.caller_local).unwrap();
            call.callee.send_to(&p, call.callee_local).unwrap();
        }
        for k in 0..BURST as u16 {
            fill(&mut p, 0, seq.wrapping_add(k));
            let (n, _) = call.callee.recv_from(&mut buf).expect("relayed packet");
            assert_eq!(&buf[..n], &p[..], "plain at the callee");
        }
        for k in 0..BURST as u16 {
            fill(&mut p, 0, seq.wrapping_add(k));
            let (n, _) = call.caller.recv_from(&mut buf).expect("relayed packet");
            let n = peer
                .recv
                .unprotect(&mut buf, n)
                .expect("SRTP at the caller");
            assert_eq!(&buf[..n], &p[..]);
        }
        seq = seq.wrapping_add(BURST as u16);
    }
}

/// Relays 5000 packets each way (passthrough, PCMU↔PCMA transcoding, and
/// passthrough with the in-band DTMF detector listening both ways)
/// after a warm-up, counting allocations in the whole process; then the
/// same while the gateway sends digits to both legs.
#[test]
fn relaying_allocates_nothing_per_packet() {
    let trace = std::env::var_os("PBXGATE_ALLOC_TRACE").is_some();
    let (ev_tx, ev_rx) = smol::channel::unbounded::<MediaEvent>();
    let cmd = spawn(ev_tx).unwrap();
    let mut report = Vec::new();
    for (session, n, transcode, dtmf) in [
        (1u64, 0u8, false, false),
        (2, 1, true, false),
        (3, 2, false, true),
    ] {
        let call = open(&cmd, session, n, transcode, dtmf);
        relay(&call, 0, 500 / BURST, transcode);
        counting_alloc::start(trace);
        relay(&call, 1000, 5000_usize.div_ceil(BURST), transcode);
        let allocs = counting_alloc::stop();
        let packets = 2 * 5000_usize.div_ceil(BURST) * BURST;
        report.push((transcode, dtmf, allocs, packets));
        cmd.send_blocking(MediaCommand::Close { session }).unwrap();
        assert!(ev_rx.recv_blocking().is_ok());
    }
    // SRTP on the caller's leg, plain RTP on the callee's.
    let call = open(&cmd, 5, 3, false, false);
    let mut peer = srtp_caller(&cmd, 5);
    relay_srtp(&call, &mut peer, 0, 500 / BURST);
    counting_alloc::start(trace);
    relay_srtp(&call, &mut peer, 1000, 5000_usize.div_ceil(BURST));
    let allocs = counting_alloc::stop();
    eprintln!("srtp: {allocs} allocations while relaying");
    assert_eq!(
        allocs, 0,
        "srtp: {allocs} allocations (PBXGATE_ALLOC_TRACE=1 shows where)"
    );
    cmd.send_blocking(MediaCommand::Close { session: 5 })
        .unwrap();
    assert!(ev_rx.recv_blocking().is_ok());
    let call = open_injecting(&cmd, 4);
    relay_injected(&call, 0, 500 / BURST);
    send_digits(&cmd, 4);
    counting_alloc::start(trace);
    let injected = relay_injected(&call, 1000, 5000_usize.div_ceil(BURST));
    let allocs = counting_alloc::stop();
    // 64 digits each way, 7 events (100 ms, three ends) or 5 tone packets.
    assert_eq!(injected, 64 * 7 + 64 * 5, "the digits went out meanwhile");
    eprintln!("sending digits: {allocs} allocations while relaying and sending");
    assert_eq!(
        allocs, 0,
        "sending digits: {allocs} allocations (PBXGATE_ALLOC_TRACE=1 shows where)"
    );
    cmd.send_blocking(MediaCommand::Close { session: 4 })
        .unwrap();
    assert!(ev_rx.recv_blocking().is_ok());
    for (transcode, dtmf, allocs, packets) in &report {
        eprintln!(
            "transcode={transcode} dtmf={dtmf}: {allocs} allocations while relaying {packets} packets \
             ({:.4} per packet)",
            *allocs as f64 / *packets as f64
        );
    }
    for (transcode, dtmf, allocs, packets) in report {
        assert_eq!(
            allocs, 0,
            "transcode={transcode} dtmf={dtmf}: {allocs} allocations for {packets} relayed packets \
             (PBXGATE_ALLOC_TRACE=1 shows where)"
        );
    }
}
