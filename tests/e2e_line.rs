//! Local lines end to end: a real gateway with a `[[line]]` whose board is
//! the simulator on a pseudo-terminal (`pbxgate linesim`) and whose audio
//! devices are ALSA PCMs on a clocked jackd (dummy backend), with sipp as
//! the cloud and the cloud's RTP on the test's own sockets.
//!
//! Loopback addresses: 127.0.225.0/24.
#![cfg(feature = "alsa")]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::audio::{assert_carries, assert_carries_windows, read_s16, signal, write_s16};
use common::jack::{AlsaHome, Jackd};
use common::linesim::Sim;
use common::{poll, Gateway, GatewayProcess, Sipp};
use pbxgate::media::g711::{ulaw_decode, ulaw_encode};

const GW: &str = "127.0.225.1";
const CLOUD: &str = "127.0.225.2";
const CLOUD_UAS: &str = "127.0.225.3";

/// Seconds of capture audio a test has (the file is read from its start
/// each time the line's devices open).
const CAPTURE_S: f32 = 14.0;

struct Bench {
    dir: PathBuf,
    jackd: Jackd,
    home: AlsaHome,
    /// The line board; None while the test has it away.
    sim: Option<Sim>,
    board: PathBuf,
    /// What the line captures: `signal` with DTMF tones mixed in (below).
    captured: Vec<f32>,
    played: PathBuf,
}

/// In the captured audio: '7' only in the audio (5.0–5.3 s) and '5' in the
/// audio while the test also presses it on the keypad (7.0–7.4 s).
const TONE_7: (f32, f32) = (5.0, 5.3);
const TONE_5: (f32, f32) = (7.0, 7.4);

fn dtmf(digit: char) -> (f32, f32) {
    match digit {
        '5' => (770.0, 1336.0),
        '7' => (852.0, 1209.0),
        _ => unreachable!(),
    }
}

fn bench(name: &str) -> Bench {
    let dir = std::env::temp_dir().join(format!("pbxgate-e2e-line-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A fixed name: jackd frees a dead server's registry slot (it has
    // eight) only when a server of the same name starts, so a name per run
    // would leak a slot each time a run is killed.
    let jackd = Jackd::named(&format!("pbxgate-line-{name}"), 8_000, 160, &dir);
    let mut home = AlsaHome::in_dir(&dir);
    let mut captured = signal(8_000, CAPTURE_S);
    for (digit, (from, to)) in [('7', TONE_7), ('5', TONE_5)] {
        let (lo, hi) = dtmf(digit);
        let span = (from * 8_000.0) as usize..(to * 8_000.0) as usize;
        for (sample, i) in captured[span.clone()].iter_mut().zip(span) {
            let t = i as f32 / 8_000.0;
            *sample = 0.25 * (2.0 * std::f32::consts::PI * lo * t).sin()
                + 0.25 * (2.0 * std::f32::consts::PI * hi * t).sin();
        }
    }
    let input = dir.join("capture.raw");
    write_s16(&input, &captured);
    let played = dir.join("played.raw");
    let _ = home.line("desk", &input, &played);
    let board = dir.join("board");
    let sim = Sim::start(&board);
    Bench {
        dir,
        jackd,
        home,
        sim: Some(sim),
        board,
        captured,
        played,
    }
}

impl Bench {
    fn sim(&mut self) -> &mut Sim {
        self.sim.as_mut().expect("the board is there")
    }
}

fn gateway(b: &Bench, port: u16, extra: &str) -> GatewayProcess {
    // Lines' media is anchored on 127.0.0.1, which every gateway of the
    // tests shares: each gets a port range of its own.
    let media = format!(
        "[media]\nport_min = {}\nport_max = {}\n",
        port + 10_000,
        port + 10_099
    );
    let config = format!(
        "{media}{extra}\n[[line]]\nname = \"desk\"\nextension = \"201\"\ncapture = \"desk_capture\"\n\
         playback = \"desk_playback\"\nserial_port = \"{}\"\nbaud = 115200\n\
         [[route]]\nname = \"to-desk\"\nfrom = \"wan\"\ntargets = [{{ line = \"desk\" }}]\n\
         [[route]]\nname = \"desk-out\"\nfrom = \"line\"\ntargets = [{{ uri = \"sip:{CLOUD_UAS}:35290\" }}]\n",
        b.board.display()
    );
    let gw = Gateway {
        config,
        env: b.home.env(&b.jackd),
        rust_log: "info,pbxgate::gateway::lines=debug".into(),
        ..Gateway::new(GW, port)
    }
    .start();
    gw.wait_for_log_line(&["line board ready", "desk"], Duration::from_secs(10));
    gw.wait_for_log_line(
        &["line audio devices ready", "desk"],
        Duration::from_secs(10),
    );
    gw
}

fn cloud_socket(port: u16) -> UdpSocket {
    let s = UdpSocket::bind((CLOUD, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    s
}

/// An RTP packet as the cloud's socket got it.
struct Rtp {
    pt: u8,
    ts: u32,
    payload: Vec<u8>,
}

fn parse(p: &[u8]) -> Option<Rtp> {
    (p.len() >= 12 && p[0] >> 6 == 2).then(|| Rtp {
        pt: p[1] & 0x7f,
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        payload: p[12..].to_vec(),
    })
}

/// The cloud's media: everything that reaches its socket, the address it
/// came from (the anchor's port), and audio sent back to that address.
struct CloudMedia {
    packets: Vec<Rtp>,
    anchor: Option<SocketAddr>,
}

impl CloudMedia {
    /// Receives for `d`; from `send_from` on (time into the call), sends
    /// `send` as PCMU, 20 ms a packet on a clock of its own, to where the
    /// packets come from; calls `at_audio(seconds_of_line_audio)` as the
    /// line's stream goes on.
    fn run(
        sock: &UdpSocket,
        d: Duration,
        send: &[f32],
        send_from: Duration,
        mut at_audio: impl FnMut(f32),
    ) -> CloudMedia {
        let start = Instant::now();
        let end = start + d;
        let (anchor_tx, anchor_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let out = sock.try_clone().unwrap();
        let packets: Vec<Vec<u8>> = send
            .chunks_exact(160)
            .enumerate()
            .map(|(i, chunk)| {
                let mut p = vec![0x80, 0];
                p.extend_from_slice(&(100 + i as u16).to_be_bytes());
                p.extend_from_slice(&(4_000 + 160 * i as u32).to_be_bytes());
                p.extend_from_slice(&0x5eed_c10du32.to_be_bytes());
                p.extend(chunk.iter().map(|&x| ulaw_encode((x * 32_767.0) as i16)));
                p
            })
            .collect();
        let sender = std::thread::spawn(move || {
            let Ok(to) = anchor_rx.recv_timeout(d) else {
                return;
            };
            let t0 = Instant::now().max(start + send_from);
            for (i, p) in packets.iter().enumerate() {
                let due = t0 + Duration::from_millis(20 * i as u64);
                if due >= end {
                    return;
                }
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                out.send_to(p, to).unwrap();
            }
        });
        let mut m = CloudMedia {
            packets: Vec::new(),
            anchor: None,
        };
        let mut buf = [0u8; 2048];
        let mut first_ts = None::<u32>;
        while Instant::now() < end {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if m.anchor.is_none() {
                    m.anchor = Some(from);
                    let _ = anchor_tx.send(from);
                }
                if let Some(p) = parse(&buf[..n]) {
                    let ts0 = *first_ts.get_or_insert(p.ts);
                    at_audio(p.ts.wrapping_sub(ts0) as f32 / 8_000.0);
                    m.packets.push(p);
                }
            }
        }
        drop(anchor_tx);
        sender.join().unwrap();
        m
    }

    /// The line's audio (PCMU), in timestamp order, with silence where
    /// events replaced it.
    fn audio(&self) -> Vec<f32> {
        let Some(first) = self.packets.iter().find(|p| p.pt == 0) else {
            return Vec::new();
        };
        let ts0 = first.ts;
        let mut out = Vec::new();
        for p in self.packets.iter().filter(|p| p.pt == 0) {
            let at = p.ts.wrapping_sub(ts0) as usize;
            if at > 16 * 8_000 {
                continue;
            }
            if out.len() < at + p.payload.len() {
                out.resize(at + p.payload.len(), 0.0);
            }
            for (i, &c) in p.payload.iter().enumerate() {
                out[at + i] = f32::from(ulaw_decode(c)) / 32_768.0;
            }
        }
        out
    }

    /// RFC 4733 events: each event (by its timestamp) once, with its digit
    /// and final duration in samples.
    fn events(&self) -> Vec<(char, u32)> {
        let mut events: Vec<(u32, char, u32)> = Vec::new();
        for p in self
            .packets
            .iter()
            .filter(|p| p.pt == 101 && p.payload.len() >= 4)
        {
            let digit = match p.payload[0] {
                d @ 0..=9 => (b'0' + d) as char,
                10 => '*',
                11 => '#',
                d => (b'A' + d - 12) as char,
            };
            let duration = u32::from(u16::from_be_bytes([p.payload[2], p.payload[3]]));
            match events.iter_mut().find(|e| e.0 == p.ts) {
                Some(e) => e.2 = e.2.max(duration),
                None => events.push((p.ts, digit, duration)),
            }
        }
        events.sort_by_key(|e| e.0);
        events.into_iter().map(|(_, d, n)| (d, n)).collect()
    }
}

fn other_audio() -> Vec<f32> {
    // The cloud's voice: the line's signal a few seconds on, so the two
    // directions are told apart.
    signal(8_000, 12.0)[3 * 8_000..].to_vec()
}

#[test]
fn a_call_to_the_line_rings_it_carries_audio_and_keys_and_busy_tone_follows_the_bye() {
    let mut b = bench("in");
    let gw = gateway(&b, 35260, "");
    let sock = cloud_socket(40300);
    let sipp = Sipp::new("line_cloud_uac.xml")
        .on(CLOUD, 35300)
        // sipp's own media socket (unused): one port per test on CLOUD.
        .args(&["-mp", "46300"])
        .key("rtp_port", 40300)
        .args(&["-d", "10000"])
        .to(gw.wan())
        .start();
    // RING carries the caller's number for caller-ID.
    b.sim().expect("<< RING 2000/4000 +4930123456");
    b.sim().say("offhook");
    b.sim().expect("<< RING OFF");
    let cloud_voice = other_audio();
    let mut pressed_123 = false;
    let mut pressed_5 = false;
    let media = CloudMedia::run(
        &sock,
        Duration::from_secs(9),
        &cloud_voice,
        Duration::from_secs(1),
        |t| {
            if !pressed_123 && t >= 3.5 {
                pressed_123 = true;
                b.sim().say("digits 123 100 100");
            }
            // Just before the tone: once it is heard, event packets
            // (stamped with the tone's start) take the audio's place.
            if !pressed_5 && t >= TONE_5.0 - 0.05 {
                // The same key the audio carries, held as long as its tone.
                pressed_5 = true;
                b.sim().say("digits 5 400");
            }
        },
    );
    sipp.wait(Duration::from_secs(20))
        .assert_success("the cloud's call to the line connected and ended");
    // The far end's BYE: busy tone until the handset goes down.
    b.sim().expect("<< TONE BUSY");
    b.sim().say("onhook");
    b.sim().expect("<< TONE OFF");

    // Audio from the line's capture device reaches the cloud.
    let got = media.audio();
    assert!(
        got.len() > 4 * 8_000,
        "only {} samples from the line",
        got.len()
    );
    let before_tones = (TONE_7.0 * 8_000.0) as usize - 8_000;
    assert_carries(
        &b.captured[..before_tones],
        &got[..before_tones.min(got.len())],
        3 * 8_000,
        "line → cloud",
    );
    // And the cloud's audio comes out of the line's playback device.
    let played = read_s16(&b.played);
    assert_carries_windows(&cloud_voice, &played, 3.0, "cloud → line");
    // Keys: 1 2 3 pressed (100 ms each, ±20 ms), 7 only in the audio, 5 in
    // both: each sent once.
    let events = media.events();
    let digits: String = events.iter().map(|e| e.0).collect();
    assert_eq!(digits, "12375", "events {events:?}");
    for (d, samples) in &events[..3] {
        assert!(
            (640..=960).contains(samples),
            "key {d} lasted {samples} samples, want 800 ± 160"
        );
    }
    // The record says where the call went and how.
    let history = std::fs::read_to_string(gw.data_dir.join("stderr.log")).unwrap();
    assert!(
        history.contains("line answered"),
        "the gateway logged the answer"
    );
    drop(gw);
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[test]
fn a_number_dialled_on_the_line_reaches_the_cloud_and_audio_flows_both_ways() {
    let mut b = bench("out");
    let gw = gateway(&b, 35360, "");
    let cloud_rtp = UdpSocket::bind((CLOUD_UAS, 42300)).unwrap();
    cloud_rtp
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let sipp = Sipp::new("line_cloud_uas.xml")
        .on(CLOUD_UAS, 35290)
        .key("rtp_port", 42300)
        .start();
    b.sim().say("offhook");
    b.sim().expect("<< TONE DIAL");
    b.sim().say("digits 5551234# 80 80");
    b.sim().expect("<< TONE OFF");
    // Ringback while the cloud rings (no early media), then silence.
    b.sim().expect("<< TONE RINGBACK");
    b.sim().expect("<< TONE OFF");
    let cloud_voice = other_audio();
    let media = CloudMedia::run(
        &cloud_rtp,
        Duration::from_secs(5),
        &cloud_voice,
        Duration::from_millis(500),
        |_| {},
    );
    b.sim().say("onhook");
    sipp.wait(Duration::from_secs(10))
        .assert_success("the cloud got the line's call for 5551234 and its BYE");
    let got = media.audio();
    assert_carries(&b.captured, &got, 3 * 8_000, "line → cloud");
    let played = read_s16(&b.played);
    assert_carries_windows(&cloud_voice, &played, 3.0, "cloud → line");
    drop(gw);
    let _ = std::fs::remove_dir_all(&b.dir);
}

/// One short call to the line, answered and hung up by the handset; true
/// when audio reached the cloud.
fn short_call(b: &mut Bench, gw: &GatewayProcess, sip_port: u16, rtp_port: u16) -> bool {
    let sock = cloud_socket(rtp_port);
    let sipp = Sipp::new("line_cloud_uac.xml")
        .on(CLOUD, sip_port)
        .args(&["-mp", &(rtp_port + 6_000).to_string()])
        .key("rtp_port", rtp_port)
        .args(&["-d", "2500"])
        .to(gw.wan())
        .start();
    b.sim().expect("<< RING 2000/4000 +4930123456");
    b.sim().say("offhook");
    let media = CloudMedia::run(&sock, Duration::from_secs(2), &[], Duration::ZERO, |_| {});
    sipp.wait(Duration::from_secs(15))
        .assert_success("a call to the line");
    b.sim().expect("<< TONE BUSY");
    b.sim().say("onhook");
    b.sim().expect("<< TONE OFF");
    media.audio().iter().any(|s| s.abs() > 0.05)
}

#[test]
fn the_line_recovers_when_its_board_port_and_its_sound_server_come_back() {
    let mut b = bench("recover");
    let gw = gateway(&b, 35460, "");
    assert!(
        short_call(&mut b, &gw, 35400, 40400),
        "audio before anything failed"
    );

    // The board's terminal goes away and comes back.
    b.sim.take().expect("the board").kill();
    gw.wait_for_log_line(&["line board link down", "desk"], Duration::from_secs(10));
    b.sim = Some(Sim::start(&b.board));
    b.sim().expect("<< RESET");
    wait_logged(&gw, "line board ready", 2);
    assert!(
        short_call(&mut b, &gw, 35401, 40402),
        "audio after the board came back"
    );

    // The sound server dies and comes back.
    b.jackd.kill();
    b.jackd.restart();
    assert!(
        short_call(&mut b, &gw, 35402, 40404),
        "audio after jackd restarted"
    );
    drop(gw);
    let _ = std::fs::remove_dir_all(&b.dir);
}

/// Waits until `needle` was logged `times` times.
fn wait_logged(gw: &GatewayProcess, needle: &str, times: usize) {
    let ok = poll(Duration::from_secs(10), || {
        (gw.log().matches(needle).count() >= times).then_some(())
    });
    assert!(
        ok.is_some(),
        "'{needle}' not logged {times} times:\n{}",
        gw.log()
    );
}

#[test]
fn a_line_whose_device_does_not_exist_is_named_and_the_other_line_works() {
    let mut b = bench("baddev");
    let spare = b.dir.join("board2");
    let sim2 = Sim::start(&spare);
    let gw = gateway(
        &b,
        35560,
        &format!(
            "[[line]]\nname = \"broken\"\nextension = \"202\"\ncapture = \"no_such_pcm\"\n\
             playback = \"no_such_pcm\"\nserial_port = \"{}\"\nbaud = 115200\n",
            spare.display()
        ),
    );
    let line = gw.wait_for_log_line(
        &["line audio device failed", "broken"],
        Duration::from_secs(10),
    );
    assert!(line.contains("no_such_pcm"), "the device is named: {line}");
    sim2.expect("<< RESET");
    // The other line takes calls as before.
    assert!(
        short_call(&mut b, &gw, 35500, 40500),
        "the working line's call"
    );
    drop(gw);
    let _ = std::fs::remove_dir_all(&b.dir);
}
