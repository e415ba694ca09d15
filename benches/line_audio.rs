//! A line's audio thread on clocked devices (run by bench/line_audio.sh,
//! which starts jackd and writes the asoundrc; see bench/README.md).
//!
//! `cpu SECONDS`: a call with audio both ways (the far end sends PCMU every
//! 20 ms) on LINE_CAPTURE/LINE_PLAYBACK; prints the CPU time of the line's
//! audio thread (capture, encode, jitter buffer, decode, playback) per
//! second of call, and of the libjack threads in the same process.
//!
//! `latency CLICKS`: LINE_CAPTURE reads LINE_FIFO, which this program feeds
//! 20 ms at a time on its own clock (the capture device of that run is the
//! `null` PCM, so the feed is the clock); every half second the last sample
//! of a period is a click. Mouth to wire is from the moment that period is
//! handed over (written) to the kernel's arrival stamp (SO_TIMESTAMPNS) of
//! the RTP packet that carries the click.

use std::io::Write;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pbxgate::line::audio::{
    AudioDevices, AudioEvent, EndpointParams, JitterSettings, LineAudio, G711,
};
use pbxgate::media::g711::{ulaw_decode, ulaw_encode};

fn params() -> EndpointParams {
    EndpointParams {
        codec: G711::Ulaw,
        payload_type: 0,
        event_payload_type: Some(101),
        // LINE_EVENTS=0: the in-band-only DTMF mode (no frame held back for
        // the detector).
        send_events: std::env::var("LINE_EVENTS").map_or(true, |v| v != "0"),
        ssrc: 0x0bec_0bec,
        first_seq: 1,
        first_timestamp: 0,
    }
}

fn line() -> LineAudio {
    let devices = AudioDevices {
        capture: std::env::var("LINE_CAPTURE").expect("LINE_CAPTURE"),
        playback: std::env::var("LINE_PLAYBACK").expect("LINE_PLAYBACK"),
    };
    let line = LineAudio::spawn(
        "bench",
        devices,
        "127.0.0.1:0".parse().unwrap(),
        JitterSettings::default(),
    )
    .expect("spawn the line");
    loop {
        match line.events().recv_blocking().expect("events") {
            AudioEvent::DeviceReady => return line,
            AudioEvent::DeviceFailed { device, error } => panic!("{device}: {error}"),
            AudioEvent::Stopped(_) => {}
        }
    }
}

/// On-CPU nanoseconds of this process's threads, split into the line's
/// audio thread, the far end's threads, and the rest (libjack's).
fn cpu_ns() -> (u64, u64, u64) {
    let (mut audio, mut far, mut rest) = (0, 0, 0);
    for task in std::fs::read_dir("/proc/self/task").expect("/proc") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let ns: u64 = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        if comm.starts_with("line-audio") {
            audio += ns;
        } else if comm.starts_with("far-") {
            far += ns;
        } else {
            rest += ns;
        }
    }
    (audio, far, rest)
}

fn packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn cpu(seconds: u64) {
    let line = line();
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    far.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    line.start(far.local_addr().unwrap(), params());
    let to = line.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let tx = far.try_clone().unwrap();
    let stop_tx = stop.clone();
    let sender = std::thread::Builder::new()
        .name("far-send".into())
        .spawn(move || {
            let start = Instant::now();
            let mut x = 1u32;
            let mut n = 0u16;
            while !stop_tx.load(Ordering::Relaxed) {
                let payload: Vec<u8> = (0..160)
                    .map(|_| {
                        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        ulaw_encode(((x >> 16) as i16) / 4)
                    })
                    .collect();
                let _ = tx.send_to(&packet(n, &payload), to);
                n = n.wrapping_add(1);
                let next = start + Duration::from_millis(20 * u64::from(n));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
        .unwrap();
    let stop_rx = stop.clone();
    let receiver = std::thread::Builder::new()
        .name("far-recv".into())
        .spawn(move || {
            let mut buf = [0u8; 2048];
            let mut n = 0u64;
            while !stop_rx.load(Ordering::Relaxed) {
                if far.recv(&mut buf).is_ok() {
                    n += 1;
                }
            }
            n
        })
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let (a0, f0, r0) = cpu_ns();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let (a1, f1, r1) = cpu_ns();
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let received = receiver.join().unwrap();
    line.stop();
    let stats = loop {
        if let AudioEvent::Stopped(s) = line.events().recv_blocking().unwrap() {
            break s;
        }
    };
    let per = |ns: u64| ns as f64 / 1_000.0 / secs;
    println!(
        "line_audio cpu: audio thread {:.0} us per call-second ({:.2} % of a core); \
         libjack threads in the process {:.0} us; far end {:.0} us; {secs:.1} s",
        per(a1 - a0),
        per(a1 - a0) / 10_000.0,
        per(r1 - r0),
        per(f1 - f0),
    );
    println!(
        "line_audio stream: packets out {} (far end got {received}), in {}, concealed {}, late {}, jitter target {:?}",
        stats.packets_out, stats.packets_in, stats.concealed, stats.late, stats.jitter_target
    );
}

fn enable_stamps(s: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt(2) on our own socket with an int option.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_TIMESTAMPNS");
}

/// A datagram and the kernel's arrival stamp on the monotonic clock.
fn recv_stamped(s: &UdpSocket, buf: &mut [u8]) -> Option<(usize, Instant)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: all-zero is a valid msghdr; buffers outlive the call.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return None;
    }
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut at = now;
    // SAFETY: the kernel's control messages, walked with its macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                let stamp = UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                if let Ok(ago) = wall.duration_since(stamp) {
                    at = now - ago;
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((n as usize, at))
}

fn latency(clicks: usize) {
    let fifo_path = std::env::var("LINE_FIFO").expect("LINE_FIFO");
    // Read-write, so opening it never waits for the other side, and the
    // line's open (probe, call) finds a writer.
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo_path)
        .expect("open the fifo");
    let line = line();
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_stamps(&far);
    far.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let remote: SocketAddr = far.local_addr().unwrap();
    line.start(remote, params());
    let receiver = std::thread::Builder::new()
        .name("far-recv".into())
        .spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 2048];
            let mut quiet = 0;
            while quiet < 10 {
                match recv_stamped(&far, &mut buf) {
                    Some((n, at)) if n > 12 && buf[1] & 0x7f == 0 => {
                        quiet = 0;
                        let loud = buf[12..n]
                            .iter()
                            .any(|&c| ulaw_decode(c).unsigned_abs() > 10_000);
                        out.push((at, loud));
                    }
                    Some(_) => {}
                    None => quiet += 1,
                }
            }
            out
        })
        .unwrap();
    let silence = [0u8; 320];
    let mut click = [0u8; 320];
    click[318..].copy_from_slice(&20_000i16.to_le_bytes());
    let start = Instant::now();
    let mut fed = Vec::new();
    let periods = (clicks + 1) * 25;
    for n in 0..periods {
        let next = start + Duration::from_millis(20 * n as u64);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let is_click = n >= 25 && n % 25 == 0;
        if is_click {
            fed.push(Instant::now());
        }
        fifo.write_all(if is_click { &click } else { &silence })
            .expect("feed");
    }
    // The line's capture blocks on the fifo until a period is there: keep
    // it fed with silence from another thread until it reports Stopped.
    let stopped = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let _ = fifo.write_all(&silence);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    line.stop();
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(5) {
        match line.events().try_recv() {
            Ok(AudioEvent::Stopped(_)) => break,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    stopped.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    let packets = receiver.join().unwrap();
    let mut lat: Vec<f64> = fed
        .iter()
        .filter_map(|&t| {
            packets
                .iter()
                .find(|(at, loud)| *loud && *at >= t)
                .map(|(at, _)| at.duration_since(t).as_secs_f64() * 1_000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    assert!(!lat.is_empty(), "no click came back");
    println!(
        "line_audio mouth-to-wire (send_events {}): {} clicks, min {:.2} ms, median {:.2} ms, max {:.2} ms \
         (from the period's hand-over to the kernel's arrival stamp; a click at a period's start \
         waits 20 ms more for the period to fill)",
        params().send_events,
        lat.len(),
        lat[0],
        lat[lat.len() / 2],
        lat[lat.len() - 1]
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("cpu") => cpu(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20)),
        Some("latency") => latency(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20)),
        _ => {
            eprintln!("usage: line_audio cpu SECONDS | latency CLICKS (run by bench/line_audio.sh)")
        }
    }
}
