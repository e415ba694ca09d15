//! A line's audio against a real clocked device: jackd's dummy backend
//! behind ALSA's `jack` PCM, with the `file` plugin choosing what the line
//! captures and keeping what it plays (tests/common/jack.rs). `LineAudio`
//! is driven as a library; a UDP socket on loopback is the far end.
//!
//! Each test runs in a process of its own (its own jackd and asoundrc).
//! Loopback addresses: 127.0.220.0–127.0.224.255.
#![cfg(feature = "alsa")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::audio::{
    align, assert_carries, assert_carries_windows, audio_start, ncc, read_s16, signal, write_s16,
};
use common::jack::{self, home, AlsaHome, Jackd};
use common::poll;
use pbxgate::line::audio::{
    AudioDevices, AudioEvent, EndpointParams, JitterSettings, LineAudio, G711,
};
use pbxgate::media::g711::{ulaw_decode, ulaw_encode};

/// Counts the Rust heap allocations of the whole process: a window with
/// only the audio thread at work shows what it allocates per frame.
struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn params() -> EndpointParams {
    EndpointParams {
        codec: G711::Ulaw,
        payload_type: 0,
        event_payload_type: Some(101),
        send_events: true,
        ssrc: 0x1122_3344,
        first_seq: 1000,
        first_timestamp: 80_000,
    }
}

fn addr(ip: &str) -> SocketAddr {
    format!("{ip}:0").parse().unwrap()
}

fn far_end(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind(addr(ip)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

/// The next event within `within` that `want` accepts; others are skipped
/// (and printed).
fn wait_event(
    audio: &LineAudio,
    within: Duration,
    want: impl Fn(&AudioEvent) -> bool,
) -> AudioEvent {
    poll(within, || loop {
        match audio.events().try_recv() {
            Ok(e) if want(&e) => return Some(e),
            Ok(e) => eprintln!("(event {e:?})"),
            Err(_) => return None,
        }
    })
    .unwrap_or_else(|| panic!("no such event within {within:?}"))
}

/// Packets that reach `sock` during `d`, with their arrival times (what
/// waited in the socket before is dropped: it did not arrive in that time).
fn collect_for(sock: &UdpSocket, d: Duration) -> Vec<(Instant, Vec<u8>)> {
    let mut buf = [0u8; 2048];
    sock.set_nonblocking(true).unwrap();
    while sock.recv(&mut buf).is_ok() {}
    sock.set_nonblocking(false).unwrap();
    let end = Instant::now() + d;
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            out.push((Instant::now(), buf[..n].to_vec()));
        }
    }
    out
}

/// The µ-law audio of PCMU packets, in sequence order.
fn decode(packets: &[(Instant, Vec<u8>)]) -> Vec<f32> {
    let mut audio: Vec<(u16, &[u8])> = packets
        .iter()
        .filter(|(_, p)| p.len() > 12 && p[1] & 0x7f == 0)
        .map(|(_, p)| (u16::from_be_bytes([p[2], p[3]]), &p[12..]))
        .collect();
    let first = audio.first().map_or(0, |a| a.0);
    audio.sort_by_key(|(seq, _)| seq.wrapping_sub(first));
    audio
        .iter()
        .flat_map(|(_, payload)| {
            payload
                .iter()
                .map(|&c| f32::from(ulaw_decode(c)) / 32_768.0)
        })
        .collect()
}

/// Packets arrive in real time: as many as 20 ms periods in the span, give
/// or take 10 %, not in a burst (the file plugin alone has no clock).
fn assert_real_time(packets: &[(Instant, Vec<u8>)], span: Duration) {
    let want = span.as_millis() as f64 / 20.0;
    let n = packets.len() as f64;
    assert!(
        (n - want).abs() <= want * 0.1,
        "{n} packets in {span:?}, want about {want}"
    );
    let first = packets.first().unwrap().0;
    let last = packets.last().unwrap().0;
    let spread = last.duration_since(first).as_secs_f64();
    assert!(
        spread >= span.as_secs_f64() * 0.85,
        "the packets came within {spread:.2} s, not spread over {span:?}"
    );
}

fn start_line(name: &str, devices: (String, String), ip: &str) -> LineAudio {
    let (capture, playback) = devices;
    LineAudio::spawn(
        name,
        AudioDevices { capture, playback },
        addr(ip),
        JitterSettings::default(),
    )
    .expect("spawn")
}

fn is_ready(e: &AudioEvent) -> bool {
    matches!(e, AudioEvent::DeviceReady)
}

/// (a) What the line captures goes out as PCMU RTP, in real time, and
/// decodes to the captured audio; the audio thread allocates nothing per frame.
#[test]
fn captured_audio_goes_out_as_rtp_in_real_time() {
    if jack::own_process("captured_audio_goes_out_as_rtp_in_real_time") {
        return;
    }
    let _jackd = Jackd::start(8_000, 160);
    let source = signal(8_000, 20.0);
    let input = home().join("capture.raw");
    write_s16(&input, &source);
    let pcms = AlsaHome::from_env().line("l1", &input, &home().join("playback.raw"));
    let far = far_end("127.0.220.1");
    let line = start_line("l1", pcms, "127.0.220.2");
    wait_event(&line, Duration::from_secs(5), is_ready);
    line.start(far.local_addr().unwrap(), params());

    let packets = collect_for(&far, Duration::from_secs(3));
    assert_real_time(&packets, Duration::from_secs(3));
    assert_carries(
        &source[..40_000],
        &decode(&packets),
        16_000,
        "captured audio on the wire",
    );

    // Only the audio thread works now (the far end's packets wait in its socket).
    std::thread::sleep(Duration::from_millis(200));
    let before = ALLOCS.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(1));
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50 frames of a call");

    line.stop();
    match wait_event(&line, Duration::from_secs(2), |e| {
        matches!(e, AudioEvent::Stopped(_))
    }) {
        AudioEvent::Stopped(stats) => eprintln!("stopped: {stats:?}"),
        _ => unreachable!(),
    }
}

/// PCMU packets of `audio` to `to` every 20 ms from `from`; before each one,
/// `intruder` sends the same sequence number with other audio.
fn send_audio(from: &UdpSocket, intruder: &UdpSocket, to: SocketAddr, audio: &[f32]) {
    let start = Instant::now();
    let loud = [0x80u8; 160];
    for (i, chunk) in audio.chunks_exact(160).enumerate() {
        let mut p = vec![0x80, if i == 0 { 0x80 } else { 0 }];
        p.extend_from_slice(&(7_000 + i as u16).to_be_bytes());
        p.extend_from_slice(&(160 * i as u32).to_be_bytes());
        p.extend_from_slice(&0x5eed_5eedu32.to_be_bytes());
        let mut bad = p.clone();
        bad.extend_from_slice(&loud);
        p.extend(chunk.iter().map(|&x| ulaw_encode((x * 32_767.0) as i16)));
        intruder.send_to(&bad, to).unwrap();
        from.send_to(&p, to).unwrap();
        let next = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// (b) RTP sent to the line comes out of its playback device, in real time;
/// RTP from any other address is dropped.
#[test]
fn rtp_to_the_line_is_played() {
    if jack::own_process("rtp_to_the_line_is_played") {
        return;
    }
    let _jackd = Jackd::start(8_000, 160);
    let source = signal(8_000, 4.0);
    let output = home().join("playback.raw");
    let silence = home().join("silence.raw");
    write_s16(&silence, &vec![0.0; 8_000 * 20]);
    let pcms = AlsaHome::from_env().line("l2", &silence, &output);
    let far = far_end("127.0.220.11");
    let intruder = far_end("127.0.220.12");
    let line = start_line("l2", pcms, "127.0.220.13");
    wait_event(&line, Duration::from_secs(5), is_ready);
    line.start(far.local_addr().unwrap(), params());
    let to = line.local_addr();
    let sender = std::thread::scope(|s| {
        let h = s.spawn(|| send_audio(&far, &intruder, to, &source));
        // The device plays in real time: over a second in the middle of the
        // stream, a second more audio reaches the file (the file plugin
        // writes in blocks, so allow a period or two either way).
        std::thread::sleep(Duration::from_millis(1_000));
        let (t0, n0) = (Instant::now(), read_s16(&output).len());
        std::thread::sleep(Duration::from_millis(1_000));
        let (t1, n1) = (Instant::now(), read_s16(&output).len());
        let played = (n1 - n0) as f64 / 8_000.0;
        let elapsed = t1.duration_since(t0).as_secs_f64();
        assert!(
            (played - elapsed).abs() < 0.1,
            "{played:.2} s played in {elapsed:.2} s"
        );
        h.join()
    });
    sender.unwrap();
    std::thread::sleep(Duration::from_millis(400));
    line.stop();
    let stopped = wait_event(&line, Duration::from_secs(2), |e| {
        matches!(e, AudioEvent::Stopped(_))
    });
    eprintln!("{stopped:?}");
    assert_carries_windows(&source, &read_s16(&output), 3.0, "played audio");
}

/// (c) jackd dies mid-call: DeviceFailed, RTP goes on (silence); jackd
/// back: DeviceReady, and the captured audio flows again.
#[test]
fn jackd_killed_and_restarted_mid_call() {
    if jack::own_process("jackd_killed_and_restarted_mid_call") {
        return;
    }
    let mut jackd = Jackd::start(8_000, 160);
    let source = signal(8_000, 20.0);
    let input = home().join("capture.raw");
    write_s16(&input, &source);
    let pcms = AlsaHome::from_env().line("l3", &input, &home().join("playback.raw"));
    let far = far_end("127.0.221.1");
    let line = start_line("l3", pcms, "127.0.221.2");
    wait_event(&line, Duration::from_secs(5), is_ready);
    line.start(far.local_addr().unwrap(), params());
    let before = collect_for(&far, Duration::from_secs(1));
    assert!(
        before.len() >= 40,
        "{} packets before the crash",
        before.len()
    );

    jackd.kill();
    let failed = wait_event(&line, Duration::from_secs(3), |e| {
        matches!(e, AudioEvent::DeviceFailed { .. })
    });
    eprintln!("after the kill: {failed:?}");
    // The far end keeps its stream while the device is away.
    let outage = collect_for(&far, Duration::from_secs(1));
    assert!(
        outage.len() >= 40,
        "{} packets in a second of outage",
        outage.len()
    );

    jackd.restart();
    wait_event(&line, Duration::from_secs(5), is_ready);
    let after = collect_for(&far, Duration::from_secs(3));
    assert_real_time(&after, Duration::from_secs(3));
    assert_carries(
        &source[..40_000],
        &decode(&after),
        16_000,
        "captured audio after jackd came back",
    );
    // Closing the devices after the server came back must not crash
    // (libjack keeps state per server; a handle of the old server closed
    // now did).
    line.stop();
    wait_event(&line, Duration::from_secs(2), |e| {
        matches!(e, AudioEvent::Stopped(_))
    });
    drop(line);
    drop(jackd);
}

/// (d) A PCM that does not exist: DeviceFailed naming it; the RTP side
/// still runs (on silence), and another line on good devices is unaffected.
/// A device without a clock (a misconfigured PCM) hands over frames as
/// fast as they are read: the line must still take commands and stop.
#[test]
fn a_device_without_a_clock_still_stops() {
    if jack::own_process("a_device_without_a_clock_still_stops") {
        return;
    }
    let input = home().join("capture.raw");
    write_s16(&input, &signal(8_000, 1.0));
    let pcms = AlsaHome::from_env().line_without_clock("fast", &input, Path::new("/dev/null"));
    let line = start_line("fast", pcms, "127.0.222.5");
    wait_event(&line, Duration::from_secs(5), is_ready);
    let far = far_end("127.0.222.6");
    line.start(far.local_addr().unwrap(), params());
    let sent = collect_for(&far, Duration::from_millis(300));
    assert!(!sent.is_empty(), "the line sent nothing");
    let asked = Instant::now();
    line.stop();
    wait_event(&line, Duration::from_secs(2), |e| {
        matches!(e, AudioEvent::Stopped(_))
    });
    eprintln!(
        "{} packets in 300 ms from the clockless device; stopped {:?} after asked",
        sent.len(),
        asked.elapsed()
    );
}

#[test]
fn missing_device_is_named_and_other_lines_run() {
    if jack::own_process("missing_device_is_named_and_other_lines_run") {
        return;
    }
    let _jackd = Jackd::start(8_000, 160);
    let source = signal(8_000, 20.0);
    let input = home().join("capture.raw");
    write_s16(&input, &source);
    let pcms = AlsaHome::from_env().line("good", &input, &home().join("playback.raw"));
    let ghost_pcms = (
        "pbxgate_no_such_capture".to_string(),
        "pbxgate_no_such_playback".to_string(),
    );
    let ghost = start_line("ghost", ghost_pcms, "127.0.222.1");
    let good = start_line("good", pcms, "127.0.222.2");
    match wait_event(&ghost, Duration::from_secs(5), |e| {
        matches!(e, AudioEvent::DeviceFailed { .. })
    }) {
        AudioEvent::DeviceFailed { device, error } => {
            assert_eq!(device, "pbxgate_no_such_capture");
            assert!(!error.is_empty());
            eprintln!("ghost: {device}: {error}");
        }
        _ => unreachable!(),
    }
    wait_event(&good, Duration::from_secs(5), is_ready);

    let ghost_far = far_end("127.0.222.3");
    let good_far = far_end("127.0.222.4");
    ghost.start(ghost_far.local_addr().unwrap(), params());
    good.start(good_far.local_addr().unwrap(), params());
    let silence = collect_for(&ghost_far, Duration::from_secs(1));
    assert!(
        silence.len() >= 40,
        "{} packets from the line without devices",
        silence.len()
    );
    assert!(
        decode(&silence).iter().all(|&x| x.abs() < 0.01),
        "the line without devices sends silence"
    );
    let packets = collect_for(&good_far, Duration::from_secs(3));
    assert_real_time(&packets, Duration::from_secs(3));
    assert_carries(
        &source[..40_000],
        &decode(&packets),
        16_000,
        "the good line's audio",
    );
    ghost.stop();
    good.stop();
}

fn write_f32_stereo(path: &Path, samples: &[f32]) {
    let bytes: Vec<u8> = samples
        .iter()
        .flat_map(|&x| {
            let b = x.to_le_bytes();
            [b, b].concat()
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32_left(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// (e) A device that only does 48 kHz float in stereo (the bare `jack` PCM,
/// jackd at 48 kHz): the line negotiates it, resamples and downmixes on
/// capture, upmixes and resamples on playback, and the audio is right.
#[test]
fn float_48k_stereo_device_is_resampled() {
    if jack::own_process("float_48k_stereo_device_is_resampled") {
        return;
    }
    let _jackd = Jackd::start(48_000, 960);
    let input = home().join("capture.f32");
    let output = home().join("playback.f32");
    write_f32_stereo(&input, &signal(48_000, 20.0));
    let pcms = AlsaHome::from_env().line_raw_jack("l5", 2, &input, &output);
    let far = far_end("127.0.223.1");
    let line = start_line("l5", pcms, "127.0.223.2");
    wait_event(&line, Duration::from_secs(5), is_ready);
    line.start(far.local_addr().unwrap(), params());

    let to = line.local_addr();
    let intruder = far_end("127.0.223.3");
    let sent = signal(8_000, 4.0);
    let packets = std::thread::scope(|s| {
        let h = s.spawn(|| collect_for(&far, Duration::from_secs(4)));
        send_audio(&far, &intruder, to, &sent);
        h.join().unwrap()
    });
    assert_real_time(&packets, Duration::from_secs(4));
    assert_carries(
        &signal(8_000, 5.0),
        &decode(&packets),
        16_000,
        "48 kHz capture at 8 kHz",
    );

    std::thread::sleep(Duration::from_millis(200));
    let before = ALLOCS.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(1));
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50 resampled frames");
    line.stop();
    wait_event(&line, Duration::from_secs(2), |e| {
        matches!(e, AudioEvent::Stopped(_))
    });

    // The device played at 48 kHz: decimate by 6 at the phase that fits best.
    let played = read_f32_left(&output);
    let secs = played.len() as f64 / 48_000.0;
    assert!(secs > 4.5 && secs < 7.0, "{secs:.2} s of 48 kHz playback");
    let phases: Vec<Vec<f32>> = (0..6)
        .map(|phase| played.iter().skip(phase).step_by(6).copied().collect())
        .collect();
    let at = audio_start(&phases[0]);
    let (off, _) = align(&sent, &phases[0], at, 4_000).expect("playback long enough");
    let score = |p: &Vec<f32>| {
        (off.saturating_sub(1)..=off + 1)
            .filter(|&o| o + 4_000 <= sent.len() && at + 4_000 <= p.len())
            .map(|o| ncc(&sent[o..o + 4_000], &p[at..at + 4_000]))
            .fold(0.0, f64::max)
    };
    let best = phases
        .iter()
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .unwrap();
    assert_carries_windows(&sent, best, 3.0, "8 kHz RTP played at 48 kHz");
}
