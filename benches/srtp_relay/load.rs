//! The load of `relay_load srtp`: CALLS calls of two 50 packet/s streams
//! of 172-byte RTP (20 ms of PCMU), all streams spread evenly over each
//! 20 ms and sent in 1 ms ticks, from one thread on the CPU the relay does
//! not run on. The caller's stream may be SRTP: it protects what it sends
//! with its own key and unprotects what comes back with the relay's,
//! counting what fails to authenticate. Every packet that comes back is
//! checked: its length, payload type and payload (a pattern from its
//! sequence number, so a packet the relay mangled or decrypted with the
//! wrong key is seen).
//!
//! Sockets: 127.0.2.x ports 28000–29999 (2,000 per address).

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use pbxgate::media::srtp::SrtpContext;

const PACKET: usize = 172;
const PERIOD: Duration = Duration::from_millis(20);

pub struct Stream {
    pub sock: UdpSocket,
    /// Where the relay wants this stream's packets.
    pub to: SocketAddr,
    /// Seals what this stream sends (SRTP leg) or None (plain).
    pub tx: Option<SrtpContext>,
    /// Opens what arrives on this stream's socket.
    pub rx: Option<SrtpContext>,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

/// Binds the load's 2 × `calls` sockets: caller's then callee's per call.
pub fn bind(calls: usize) -> Vec<Stream> {
    (0..2 * calls)
        .map(|i| {
            let a = format!("127.0.2.{}:{}", 1 + i / 2000, 28000 + i % 2000);
            let sock = UdpSocket::bind(&a).unwrap_or_else(|e| {
                eprintln!("relay_load: bind {a}: {e}");
                std::process::exit(1)
            });
            sock.set_nonblocking(true).expect("non-blocking");
            let to = sock.local_addr().expect("bound");
            Stream {
                sock,
                to,
                tx: None,
                rx: None,
                ssrc: 0x5000_0000 + i as u32,
                seq: (i as u16).wrapping_mul(7919),
                ts: 0,
            }
        })
        .collect()
}

/// What one measured window saw.
#[derive(Default)]
pub struct Window {
    pub sent: u64,
    /// Came back whole and right (authenticated where SRTP).
    pub received: u64,
    /// SRTP packets that came back and failed to unprotect.
    pub refused: u64,
    /// Came back with the wrong length, payload type or payload.
    pub wrong: u64,
    pub send_errors: u64,
    pub relay_cpu_ns: u64,
    pub load_cpu_ns: u64,
    pub window_s: f64,
    /// The latest a send went out behind its time, in µs.
    pub late_max_us: u64,
}

/// The payload of packet `seq`: a pattern the receiver can check.
fn payload_byte(seq: u16, i: usize) -> u8 {
    (seq as u8).wrapping_add(i as u8).wrapping_mul(3)
}

/// CPU time of the calling thread, in ns.
fn own_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

struct Loop {
    ep: i32,
    t0: Instant,
    /// Time between two sends of the whole load.
    gap: Duration,
    /// The next send, counted from t0 over all streams.
    next: u64,
    w: Window,
}

impl Loop {
    /// Sends every packet due by now.
    fn send_due(&mut self, streams: &mut [Stream], buf: &mut [u8]) {
        let n = streams.len() as u64;
        let now = Instant::now();
        loop {
            let due = self.t0 + self.gap * self.next as u32;
            if due > now {
                break;
            }
            let late = (now - due).as_micros() as u64;
            self.w.late_max_us = self.w.late_max_us.max(late);
            let s = &mut streams[(self.next % n) as usize];
            buf[0] = 0x80;
            buf[1] = 0;
            buf[2..4].copy_from_slice(&s.seq.to_be_bytes());
            buf[4..8].copy_from_slice(&s.ts.to_be_bytes());
            buf[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            for (i, b) in buf[12..PACKET].iter_mut().enumerate() {
                *b = payload_byte(s.seq, i);
            }
            let len = match &mut s.tx {
                Some(ctx) => ctx.protect(buf, PACKET).expect("room for the tag"),
                None => PACKET,
            };
            match s.sock.send_to(&buf[..len], s.to) {
                Ok(_) => self.w.sent += 1,
                Err(_) => self.w.send_errors += 1,
            }
            s.seq = s.seq.wrapping_add(1);
            s.ts = s.ts.wrapping_add(160);
            self.next += 1;
        }
    }

    /// Waits up to 1 ms and reads what arrived.
    fn receive(&mut self, streams: &mut [Stream], evs: &mut [libc::epoll_event], buf: &mut [u8]) {
        // SAFETY: epoll_wait writes at most evs.len() events into evs.
        let k = unsafe { libc::epoll_wait(self.ep, evs.as_mut_ptr(), evs.len() as i32, 1) };
        for ev in evs.iter().take(k.max(0) as usize) {
            let s = &mut streams[ev.u64 as usize];
            while let Ok(n) = s.sock.recv(buf) {
                let len = match &mut s.rx {
                    Some(ctx) => match ctx.unprotect(buf, n) {
                        Ok(len) => len,
                        Err(_) => {
                            self.w.refused += 1;
                            continue;
                        }
                    },
                    None => n,
                };
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                let right = len == PACKET
                    && buf[1] & 0x7f == 0
                    && buf[12..PACKET]
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == payload_byte(seq, i));
                if right {
                    self.w.received += 1;
                } else {
                    self.w.wrong += 1;
                }
            }
        }
    }
}

/// Runs `warm` seconds of traffic, pauses 0.3 s, then measures `secs`
/// seconds of it and 0.5 s of drain; `relay_cpu` reads the relay's CPU
/// time (ns) at the window's ends. The window's counts exclude the
/// warm-up.
pub fn run(streams: &mut [Stream], warm: f64, secs: f64, relay_cpu: &dyn Fn() -> u64) -> Window {
    // SAFETY: plain epoll syscalls on descriptors we own.
    let ep = unsafe { libc::epoll_create1(0) };
    for (i, s) in streams.iter().enumerate() {
        let mut e = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.sock.as_raw_fd(), &mut e) };
    }
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 2048];
    let mut l = Loop {
        ep,
        t0: Instant::now(),
        gap: PERIOD / streams.len() as u32,
        next: 0,
        w: Window::default(),
    };
    let traffic = |l: &mut Loop, streams: &mut [Stream], evs: &mut [_], buf: &mut [u8], s: f64| {
        let end = Instant::now() + Duration::from_secs_f64(s);
        while Instant::now() < end {
            l.send_due(streams, buf);
            l.receive(streams, evs, buf);
        }
    };
    let drain = |l: &mut Loop, streams: &mut [Stream], evs: &mut [_], buf: &mut [u8], s: f64| {
        let end = Instant::now() + Duration::from_secs_f64(s);
        while Instant::now() < end {
            l.receive(streams, evs, buf);
        }
    };
    traffic(&mut l, streams, &mut evs, &mut buf, warm);
    drain(&mut l, streams, &mut evs, &mut buf, 0.3);
    let warm_w = std::mem::take(&mut l.w);
    if warm_w.received == 0 {
        eprintln!(
            "relay_load: nothing came back in the warm-up ({} sent, {} refused, {} wrong)",
            warm_w.sent, warm_w.refused, warm_w.wrong
        );
    }
    // Send times go on from where they stopped, not in a burst for the
    // pause.
    l.t0 += Duration::from_secs_f64(0.3);
    let (relay0, load0, m0) = (relay_cpu(), own_cpu_ns(), Instant::now());
    traffic(&mut l, streams, &mut evs, &mut buf, secs);
    drain(&mut l, streams, &mut evs, &mut buf, 0.5);
    let (relay1, load1, m1) = (relay_cpu(), own_cpu_ns(), Instant::now());
    // SAFETY: closes the descriptor made above.
    unsafe { libc::close(ep) };
    let mut w = l.w;
    w.relay_cpu_ns = relay1.saturating_sub(relay0);
    w.load_cpu_ns = load1.saturating_sub(load0);
    w.window_s = (m1 - m0).as_secs_f64();
    w
}
