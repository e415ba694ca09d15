//! Drives pbxgate's real media engine (`pbxgate::media::engine::spawn`, one
//! session per call, `MediaCommand::Open`/`SetRemote`/`SetTranscode`) for
//! `bench/rtp.sh`. The media thread is pinned to CPU 0, the rest of this
//! process to CPU 1 (`RELAY_LOAD_MEDIA_CPU=1` swaps them, for the latency
//! mode). A counting global allocator (`common/counting_alloc.rs`, shared
//! with `tests/media_alloc.rs`) counts allocations in the whole process.
//!
//! Three modes:
//!
//! `relay_load rtpload CALLS MODE PORTS DESTS STOP WINDOW_START WINDOW_LEN`
//!   MODE is `passthrough` or `transcode`. Waits for PORTS (written by
//!   `../shared/bench/rtp/rtpload.c`: "addr port" per stream, caller then
//!   callee of each call), opens a session per call on 127.0.0.x ports
//!   28000–29999 (500 calls per address), writes DESTS, and runs until the
//!   file STOP appears. The media thread's CPU time (schedstat, ns) and the
//!   allocations are taken over WINDOW_LEN seconds starting WINDOW_START
//!   seconds after DESTS is written (rtpload's measured window). Prints
//!   `media_thread_cpu_ns=… allocs=… window_s=… packets_in=…` on exit.
//!
//! `relay_load latency CALLS SECONDS`
//!   Its own load, on CPU 1: CALLS calls of two 50 packet/s streams
//!   (172-byte RTP), each stream at its own random phase in the 20 ms, sent
//!   on time by a loop that spins on its CPU. A packet's one-way time runs
//!   from just before its `send_to` to the kernel's arrival stamp
//!   (`SO_TIMESTAMPNS`) on the receiving socket, so the load thread's own
//!   delay in reading is not counted. First straight through the kernel
//!   loopback (stream A's socket sends to B's), then through a minimal
//!   relay (the anchor), then through pbxgate's relay (passthrough).
//!   Prints p50/p99/p99.9/max one-way times for each, the relays' CPU time
//!   per packet and the hypervisor's steal on the relays' CPU.
//!   Load sockets: 127.0.2.x ports 28000–29999.
//!
//! `relay_load srtp CALLS SECONDS plain|srtp [rtpengine NG_PORT PID]`
//!   The SRTP↔RTP relay (`bench/srtp.sh`): its own load on CPU 1, the
//!   caller's leg SRTP in mode `srtp`; see `srtp_relay/mod.rs`.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pbxgate::media::engine::spawn;
use pbxgate::media::leg_crypto::LegKeys;
use pbxgate::media::messages::{MediaCommand, MediaEvent};
use pbxgate::media::relay::LegSide;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/media_call.rs"]
mod media_call;
#[path = "srtp_relay/mod.rs"]
mod srtp_relay;

const BASE_PORT: u16 = 28000;
const CALLS_PER_ADDRESS: usize = 500;

/// The relay's two local RTP ports for call `i` (RTCP is +1).
fn relay_ports(i: usize) -> (SocketAddr, SocketAddr) {
    let ip = format!("127.0.0.{}", 1 + i / CALLS_PER_ADDRESS);
    let port = BASE_PORT + 4 * (i % CALLS_PER_ADDRESS) as u16;
    (
        format!("{ip}:{port}").parse().expect("address"),
        format!("{ip}:{}", port + 2).parse().expect("address"),
    )
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity
    // only touch the set we own. pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("relay_load: cannot pin to CPU {cpu}");
        }
    }
}

/// Starts the engine with its thread on CPU 0 (threads inherit the
/// creator's affinity), then moves this thread to CPU 1. Returns the
/// command sender, the event receiver and the media thread's id.
fn start_engine() -> (
    smol::channel::Sender<MediaCommand>,
    smol::channel::Receiver<MediaEvent>,
    u32,
) {
    // 4 sockets per call in the relay (and 2 more in the latency load).
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
    // RELAY_LOAD_MEDIA_CPU=1 swaps the CPUs (to tell a noisy CPU 0 from
    // the relay's own cost).
    let media_cpu = match std::env::var("RELAY_LOAD_MEDIA_CPU").as_deref() {
        Ok("1") => 1,
        _ => 0,
    };
    pin(media_cpu);
    let (ev_tx, ev_rx) = smol::channel::unbounded();
    let cmd = spawn(ev_tx).expect("media thread");
    std::thread::sleep(Duration::from_millis(50));
    pin(1 - media_cpu);
    let tid = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == "pbxgate-media")
        })
        .and_then(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .expect("the pbxgate-media thread");
    (cmd, ev_rx, tid)
}

/// CPU time the thread has run, in ns (schedstat's first field).
fn thread_cpu_ns(tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

/// Opens one session per `(caller, callee)` pair of far ends and returns
/// where each stream must send (caller's, then callee's, per call). With
/// `srtp` (one per call, or empty) the caller's leg is SRTP with those
/// keys, given before its `SetRemote` as the call anchor does.
fn open_calls(
    cmd: &smol::channel::Sender<MediaCommand>,
    events: &smol::channel::Receiver<MediaEvent>,
    peers: &[(SocketAddr, SocketAddr)],
    transcode: bool,
    srtp: &[LegKeys],
) -> Vec<SocketAddr> {
    let mut dests = Vec::with_capacity(2 * peers.len());
    let send = |c| cmd.send_blocking(c).expect("media thread running");
    for (i, (a, b)) in peers.iter().enumerate() {
        let session = i as u64 + 1;
        let (caller_local, callee_local) = relay_ports(i);
        let mut commands = media_call::open_commands(
            session,
            (caller_local, callee_local),
            (*a, *b),
            Duration::from_secs(3600),
            transcode,
        );
        if let Some(keys) = srtp.get(i) {
            // After `Open`, before the `SetRemote`s.
            commands.insert(
                1,
                MediaCommand::SetSrtp {
                    session,
                    side: LegSide::Caller,
                    keys: Some(keys.clone()),
                },
            );
        }
        for c in commands {
            send(c);
        }
        dests.push(caller_local);
        dests.push(callee_local);
    }
    // Commands are taken in order: once the channel is empty and a moment
    // has passed, every Open has bound or failed.
    while !cmd.is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    if let Ok(MediaEvent::Failed { reason, .. }) = events.try_recv() {
        eprintln!("relay_load: {reason}");
        std::process::exit(1);
    }
    dests
}

fn rtpload_mode(args: &[String]) {
    let [calls, mode, ports, dests, stop, w_start, w_len] = args else {
        usage()
    };
    let calls: usize = calls.parse().unwrap_or_else(|_| usage());
    let transcode = match mode.as_str() {
        "passthrough" => false,
        "transcode" => true,
        _ => usage(),
    };
    let w_start: f64 = w_start.parse().unwrap_or_else(|_| usage());
    let w_len: f64 = w_len.parse().unwrap_or_else(|_| usage());
    let (cmd, events, tid) = start_engine();
    let started = Instant::now();
    while !Path::new(ports).exists() {
        if started.elapsed() > Duration::from_secs(120) {
            eprintln!("relay_load: no {ports}");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(ports).expect("ports file");
    let streams: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| {
            let (ip, port) = l.split_once(' ')?;
            format!("{ip}:{port}").parse().ok()
        })
        .collect();
    if streams.len() != 2 * calls {
        eprintln!(
            "relay_load: {} streams in {ports}, want {}",
            streams.len(),
            2 * calls
        );
        std::process::exit(1);
    }
    let peers: Vec<_> = streams.chunks(2).map(|c| (c[0], c[1])).collect();
    let to = open_calls(&cmd, &events, &peers, transcode, &[]);
    let mut out = String::new();
    for a in &to {
        out.push_str(&format!("{} {}\n", a.ip(), a.port()));
    }
    let tmp = format!("{dests}.tmp");
    std::fs::write(&tmp, out).expect("dests file");
    std::fs::rename(&tmp, dests).expect("dests file");
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    sleep_until(at(w_start));
    // The clock and /proc reads allocate: the allocation count is taken
    // inside them, so the window holds only what the engine does.
    let (cpu0, m0) = (thread_cpu_ns(tid), Instant::now());
    counting_alloc::start(false);
    sleep_until(at(w_start + w_len));
    let allocs = counting_alloc::stop();
    let (cpu1, m1) = (thread_cpu_ns(tid), Instant::now());
    while !Path::new(stop).exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Totals from the relay's own counters, for the record.
    let mut packets_in = 0;
    for i in 0..calls {
        let _ = cmd.send_blocking(MediaCommand::Close {
            session: i as u64 + 1,
        });
    }
    let mut closed = 0;
    while closed < calls {
        match events.recv_blocking() {
            Ok(MediaEvent::Closed { caller, callee, .. }) => {
                packets_in += caller.packets_in + callee.packets_in;
                closed += 1;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    println!(
        "media_thread_cpu_ns={} allocs={} window_s={:.3} packets_in={packets_in}",
        cpu1 - cpu0,
        allocs,
        (m1 - m0).as_secs_f64()
    );
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// One stream of the latency load: a socket, where it sends, and the send
/// times of its last 64 packets by sequence number.
struct Stream {
    sock: UdpSocket,
    to: SocketAddr,
    /// The stream whose packets arrive on this socket.
    peer: usize,
    seq: u16,
    sent_at: [u64; 64],
    received: u64,
}

/// CLOCK_REALTIME in ns: the clock the kernel's receive timestamps
/// (`SO_TIMESTAMPNS`) are taken on.
fn realtime_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the struct we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Asks the kernel to stamp each datagram with the time it reached the
/// socket, so a packet's one-way time ends when it arrived, not when the
/// (busy) load thread got round to reading it.
fn stamp_arrivals(sock: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a descriptor we own, with an int option.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        eprintln!(
            "relay_load: SO_TIMESTAMPNS: {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
}

/// One datagram from `fd` and the kernel's arrival time (realtime ns).
fn recv_stamped(fd: i32, buf: &mut [u8]) -> Option<(usize, u64)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr points at our iovec and control buffer, both live
    // for the call; the cmsg walk stays inside `control` (CMSG_* check
    // msg_controllen).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
        if n < 0 {
            return None;
        }
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some((
                    n as usize,
                    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64,
                ));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Some((n as usize, realtime_ns()))
    }
}

/// Runs the latency load for `warm + secs` seconds over `streams`;
/// returns one-way times (ns) of the packets received after the warm-up,
/// sorted, and packets sent/received in that time.
///
/// Each stream sends every 20 ms at its own phase, drawn at random (fixed
/// seed) as independent calls' packet clocks are: arrivals bunch and gap
/// as they would at a real box, neither in lockstep bursts nor evenly
/// spaced. The loop spins on its own CPU so a send leaves at its time; a
/// packet's time runs from just before its `send_to` to the kernel's
/// arrival stamp on the receiving socket.
fn run_load(streams: &mut [Stream], warm: f64, secs: f64) -> (Vec<u32>, u64, u64) {
    let n = streams.len();
    // SAFETY: plain epoll syscalls on descriptors we own; the event array
    // is ours and sized for the call.
    let ep = unsafe { libc::epoll_create1(0) };
    for (i, s) in streams.iter().enumerate() {
        let mut e = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.sock.as_raw_fd(), &mut e) };
    }
    const PERIOD_NS: u64 = 20_000_000;
    let mut rng = fastrand::Rng::with_seed(4733);
    let mut schedule: Vec<(u64, usize)> = (0..n).map(|i| (rng.u64(..PERIOD_NS), i)).collect();
    schedule.sort_unstable();
    let base = realtime_ns();
    let warm_ns = base + (warm * 1e9) as u64;
    let end_ns = base + ((warm + secs) * 1e9) as u64;
    let mut lat: Vec<u32> = Vec::with_capacity((secs * 50.0 * n as f64) as usize + 1024);
    let mut next: u64 = 0; // the next send slot
    let (mut sent, mut got) = (0u64, 0u64);
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut pkt = [0u8; 172];
    let mut buf = [0u8; 2048];
    pkt[0] = 0x80;
    loop {
        let now = realtime_ns();
        if now >= end_ns + 200_000_000 {
            break;
        }
        loop {
            let cycle = next / n as u64;
            let (phase, id) = schedule[(next % n as u64) as usize];
            if now >= end_ns || base + cycle * PERIOD_NS + phase > now {
                break;
            }
            let s = &mut streams[id];
            pkt[2..4].copy_from_slice(&s.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(cycle as u32 * 160).to_be_bytes());
            let t = realtime_ns();
            s.sent_at[usize::from(s.seq) % 64] = t;
            if s.sock.send_to(&pkt, s.to).is_ok() && t >= warm_ns {
                sent += 1;
            }
            s.seq = s.seq.wrapping_add(1);
            next += 1;
        }
        let timeout = if now < end_ns { 0 } else { 10 };
        let k = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, timeout) };
        for ev in evs.iter().take(k.max(0) as usize) {
            let id = ev.u64 as usize;
            // One read per event: the registration is level-triggered, so
            // a second datagram is reported again.
            if let Some((len, t)) = recv_stamped(streams[id].sock.as_raw_fd(), &mut buf) {
                if len < 12 {
                    continue;
                }
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                let peer = streams[id].peer;
                let at = streams[peer].sent_at[usize::from(seq) % 64];
                streams[id].received += 1;
                if at >= warm_ns && at < end_ns {
                    got += 1;
                    lat.push((t.saturating_sub(at)).min(u64::from(u32::MAX)) as u32);
                }
            }
        }
    }
    unsafe { libc::close(ep) };
    lat.sort_unstable();
    (lat, sent, got)
}

/// The least a userspace relay can do, as an anchor for the latency
/// figure: one thread on the media thread's CPU, two sockets per call
/// (127.0.3.x), epoll, and each datagram sent on with `send_to` to the
/// other stream, no checks, no rewriting. Returns where each stream must
/// send, the stop flag and the thread.
fn spawn_minimal_relay(
    peers: &[(SocketAddr, SocketAddr)],
    cpu: usize,
) -> (
    Vec<SocketAddr>,
    Arc<AtomicBool>,
    std::thread::JoinHandle<(u64, u64)>,
) {
    let mut socks = Vec::with_capacity(2 * peers.len());
    let mut dests = Vec::with_capacity(2 * peers.len());
    for i in 0..2 * peers.len() {
        let a = format!("127.0.3.{}:{}", 1 + i / 2000, BASE_PORT as usize + i % 2000);
        let s = UdpSocket::bind(&a).unwrap_or_else(|e| {
            eprintln!("relay_load: bind {a}: {e}");
            std::process::exit(1)
        });
        s.set_nonblocking(true).expect("non-blocking");
        dests.push(s.local_addr().expect("bound"));
        socks.push(s);
    }
    // Socket 2i gets the caller's packets and sends them to the callee
    // from 2i+1, and the other way round.
    let to: Vec<SocketAddr> = (0..socks.len())
        .map(|k| {
            if k % 2 == 0 {
                peers[k / 2].1
            } else {
                peers[k / 2].0
            }
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let t = std::thread::spawn(move || {
        pin(cpu);
        // SAFETY: epoll syscalls on descriptors this thread owns; the
        // event array is ours and sized for the call.
        let ep = unsafe { libc::epoll_create1(0) };
        for (k, s) in socks.iter().enumerate() {
            let mut e = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: k as u64,
            };
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut e) };
        }
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut buf = [0u8; 2048];
        let mut relayed = 0u64;
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
                .unwrap_or(0u64)
        };
        let c0 = cpu();
        while !flag.load(Ordering::Relaxed) {
            let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, 100) };
            for ev in evs.iter().take(n.max(0) as usize) {
                let k = ev.u64 as usize;
                while let Ok((len, _)) = socks[k].recv_from(&mut buf) {
                    let _ = socks[k ^ 1].send_to(&buf[..len], to[k]);
                    relayed += 1;
                }
            }
        }
        unsafe { libc::close(ep) };
        (cpu() - c0, relayed)
    });
    (dests, stop, t)
}

/// (steal, total) ticks of `cpu` from /proc/stat: time the hypervisor
/// gave that virtual CPU's slot to someone else.
fn cpu_steal(cpu: usize) -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let name = format!("cpu{cpu}");
    stat.lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.get(7).copied().unwrap_or(0), f.iter().take(8).sum())
        })
        .unwrap_or((0, 0))
}

/// Reads away what a previous run left in the load's sockets.
fn drain(streams: &[Stream]) {
    let mut buf = [0u8; 2048];
    for s in streams {
        while s.sock.recv_from(&mut buf).is_ok() {}
    }
}

fn pct(v: &[u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    f64::from(v[i]) / 1000.0
}

fn latency_mode(args: &[String]) {
    let [calls, secs] = args else { usage() };
    let calls: usize = calls.parse().unwrap_or_else(|_| usage());
    let secs: f64 = secs.parse().unwrap_or_else(|_| usage());
    if calls == 0 || calls > 2 * CALLS_PER_ADDRESS {
        usage();
    }
    let (cmd, events, tid) = start_engine();
    let mut streams: Vec<Stream> = (0..2 * calls)
        .map(|i| {
            let a = format!("127.0.2.{}:{}", 1 + i / 2000, BASE_PORT as usize + i % 2000);
            let sock = UdpSocket::bind(&a).unwrap_or_else(|e| {
                eprintln!("relay_load: bind {a}: {e}");
                std::process::exit(1)
            });
            sock.set_nonblocking(true).expect("non-blocking");
            stamp_arrivals(&sock);
            Stream {
                to: sock.local_addr().expect("bound"),
                sock,
                peer: i ^ 1,
                seq: 0,
                sent_at: [0; 64],
                received: 0,
            }
        })
        .collect();
    // Straight through the kernel: each stream sends to its peer's socket.
    for i in 0..streams.len() {
        streams[i].to = streams[i ^ 1].sock.local_addr().expect("bound");
    }
    let warm = 2.0;
    let (direct, d_sent, d_got) = run_load(&mut streams, warm, secs);
    let peers: Vec<_> = streams
        .chunks(2)
        .map(|c| {
            (
                c[0].sock.local_addr().expect("bound"),
                c[1].sock.local_addr().expect("bound"),
            )
        })
        .collect();
    // Through the least a relay can do, on the media thread's CPU.
    let media_cpu = usize::from(std::env::var("RELAY_LOAD_MEDIA_CPU").as_deref() == Ok("1"));
    let (minimal_dests, stop, minimal) = spawn_minimal_relay(&peers, media_cpu);
    for (s, d) in streams.iter_mut().zip(&minimal_dests) {
        s.to = *d;
    }
    std::thread::sleep(Duration::from_millis(100));
    drain(&streams);
    let (least, m_sent, m_got) = run_load(&mut streams, warm, secs);
    stop.store(true, Ordering::Relaxed);
    let (minimal_cpu, minimal_packets) = minimal.join().unwrap_or((0, 0));
    // Through pbxgate: each call a session, streams send to its ports.
    let dests = open_calls(&cmd, &events, &peers, false, &[]);
    for (s, d) in streams.iter_mut().zip(&dests) {
        s.to = *d;
    }
    drain(&streams);
    let before: u64 = streams.iter().map(|s| s.received).sum();
    let c0 = thread_cpu_ns(tid);
    let s0 = cpu_steal(media_cpu);
    let (relayed, r_sent, r_got) = run_load(&mut streams, warm, secs);
    let s1 = cpu_steal(media_cpu);
    let cpu = thread_cpu_ns(tid) - c0;
    let total_in = streams.iter().map(|s| s.received).sum::<u64>() - before;
    let mut o = std::io::stdout().lock();
    for (name, v, sent, got) in [
        ("kernel", &direct, d_sent, d_got),
        ("minimal_relay", &least, m_sent, m_got),
        ("pbxgate", &relayed, r_sent, r_got),
    ] {
        let _ = writeln!(
            o,
            "latency path={name} calls={calls} pps={} sent={sent} received={got} lost={} \
             p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1}",
            calls * 100,
            sent.saturating_sub(got),
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 0.999),
            pct(v, 1.0)
        );
    }
    let _ = writeln!(
        o,
        "latency added_by_pbxgate p50_us={:.1} p99_us={:.1} media_thread_cpu_ns_per_packet={:.0} \
         (over {total_in} packets incl. warm-up)",
        pct(&relayed, 0.5) - pct(&direct, 0.5),
        pct(&relayed, 0.99) - pct(&direct, 0.99),
        cpu as f64 / total_in.max(1) as f64
    );
    let _ = writeln!(
        o,
        "latency steal_on_media_cpu_pct={:.1} (hypervisor steal during pbxgate's run)",
        100.0 * (s1.0 - s0.0) as f64 / (s1.1 - s0.1).max(1) as f64
    );
    let _ = writeln!(
        o,
        "latency added_by_minimal_relay p50_us={:.1} p99_us={:.1} cpu_ns_per_packet={:.0} \
         (one thread, recv_from/send_to, nothing else: what any userspace relay pays here)",
        pct(&least, 0.5) - pct(&direct, 0.5),
        pct(&least, 0.99) - pct(&direct, 0.99),
        minimal_cpu as f64 / minimal_packets.max(1) as f64,
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: relay_load rtpload CALLS passthrough|transcode PORTS DESTS STOP WINDOW_START WINDOW_LEN\n\
         \x20      relay_load latency CALLS SECONDS\n\
         \x20      relay_load srtp CALLS SECONDS plain|srtp [rtpengine NG_PORT PID]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; ignore flags.
    let args: Vec<String> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
    match args.first().map(String::as_str) {
        Some("rtpload") => rtpload_mode(&args[1..]),
        Some("latency") => latency_mode(&args[1..]),
        Some("srtp") => srtp_relay::main(&args[1..]),
        _ => usage(),
    }
}
