//! The media thread: owns the RTP/RTCP sockets of every call and relays
//! packets by `MediaRelay`'s decisions. Signalling talks to it only through
//! `MediaCommand`s and hears back `MediaEvent`s; they share no locks.
//!
//! One thread, or several (`MediaEngine`): each owns the sessions whose id
//! falls to it, so a call's packets never cross threads. On Linux each runs
//! its own epoll loop (`epoll_loop.rs`):
//! up to 32 datagrams per `recvmmsg` from each ready socket, decided on,
//! rewritten in place in fixed buffers and sent with one `sendmmsg` per
//! outgoing socket, with no allocation on the way. Elsewhere a
//! single-threaded smol executor runs one task per socket, one datagram at
//! a time.

#[cfg(not(target_os = "linux"))]
use std::cell::RefCell;
#[cfg(not(target_os = "linux"))]
use std::collections::HashMap;
use std::net::SocketAddr;
#[cfg(not(target_os = "linux"))]
use std::net::UdpSocket;
#[cfg(not(target_os = "linux"))]
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};
#[cfg(not(target_os = "linux"))]
use smol::{Async, LocalExecutor, Task, Timer};

use super::dtmf::convert::DtmfPath;
use super::latch::SourceRules;
use super::relay::{
    LegSide, LegStats, MediaRelay, PacketVerdict, Remote, Transcode, ADDED_PACKET_MAX,
};

/// What signalling asks of the media thread. `session` is the call's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaCommand {
    /// Bind the caller-side and callee-side RTP ports (and RTCP, +1).
    Open {
        session: u64,
        caller_local: SocketAddr,
        callee_local: SocketAddr,
        timeout: Duration,
        /// Which sources each leg's media is taken from.
        sources: SourceRules,
    },
    /// A leg's far end from a new offer or answer. Sent after the
    /// settings that come with the same answer (payload map, transcoding,
    /// DTMF), because packets held for want of it are relayed as soon as
    /// it is applied.
    SetRemote {
        session: u64,
        side: LegSide,
        remote: Remote,
    },
    /// Payload-type pairs rewritten on packets from `side`.
    SetPayloadMap {
        session: u64,
        side: LegSide,
        map: Vec<(u8, u8)>,
    },
    /// Audio from `side` translated to the other law, or not.
    SetTranscode {
        session: u64,
        side: LegSide,
        transcode: Option<Transcode>,
    },
    /// DTMF conversion on packets from `side`.
    SetDtmf {
        session: u64,
        side: LegSide,
        path: DtmfPath,
    },
    SetHold {
        session: u64,
        hold: bool,
    },
    Close {
        session: u64,
    },
    /// Answered with `token` on the engine's barrier channel once every
    /// command sent before it is applied (see `MediaEngine::barrier`).
    /// Not a session's: `session()` is meaningless for it.
    Barrier {
        token: u64,
    },
}

impl MediaCommand {
    /// The call the command is about.
    pub fn session(&self) -> u64 {
        match self {
            MediaCommand::Open { session, .. }
            | MediaCommand::SetRemote { session, .. }
            | MediaCommand::SetPayloadMap { session, .. }
            | MediaCommand::SetTranscode { session, .. }
            | MediaCommand::SetDtmf { session, .. }
            | MediaCommand::SetHold { session, .. }
            | MediaCommand::Close { session } => *session,
            MediaCommand::Barrier { .. } => 0,
        }
    }
}

/// Media threads, each with its own sessions: a session's commands all
/// go to the thread its id picks, so one call's packets stay on one thread
/// and the threads share nothing but the event channel. More than one
/// lets a multi-core board relay more calls than one core carries.
#[derive(Clone, Debug)]
pub struct MediaEngine {
    threads: Vec<Sender<MediaCommand>>,
    /// Where the threads answer `Barrier`s.
    barriers: Option<Receiver<u64>>,
    /// Threads sent a command since the last barrier (bit per thread).
    dirty: Arc<AtomicU64>,
    next_token: Arc<AtomicU64>,
}

impl MediaEngine {
    /// Starts `threads` media threads (at least one), named
    /// `pbxgate-media` when alone, else `pbxgate-media0`, `pbxgate-media1`…
    pub fn start(events: Sender<MediaEvent>, threads: usize) -> std::io::Result<MediaEngine> {
        let n = threads.clamp(1, 64);
        let (acks, barriers) = smol::channel::unbounded();
        let threads = (0..n)
            .map(|i| {
                let name = if n == 1 {
                    "pbxgate-media".to_string()
                } else {
                    format!("pbxgate-media{i}")
                };
                spawn_named(events.clone(), acks.clone(), name)
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(MediaEngine {
            threads,
            barriers: Some(barriers),
            dirty: Arc::new(AtomicU64::new(0)),
            next_token: Arc::new(AtomicU64::new(1)),
        })
    }

    /// An engine that takes no command (`send` is false): for a gateway
    /// whose media threads could not start. Anchored calls then get no
    /// media; the start-up error and one line per refused command say why.
    pub fn none() -> MediaEngine {
        MediaEngine {
            threads: Vec::new(),
            barriers: None,
            dirty: Arc::new(AtomicU64::new(0)),
            next_token: Arc::new(AtomicU64::new(1)),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Hands `cmd` to its session's thread. Unbounded channels: a command
    /// is never dropped while the thread runs. False when there is no
    /// thread to take it.
    pub fn send(&self, cmd: MediaCommand) -> bool {
        if self.threads.is_empty() {
            return false;
        }
        let i = (cmd.session() % self.threads.len() as u64) as usize;
        self.dirty.fetch_or(1 << i, Ordering::Relaxed);
        self.threads[i].try_send(cmd).is_ok()
    }

    /// Waits until every thread that was sent a command since the last
    /// barrier has applied it, at most `limit`. Signalling calls it before
    /// sending what lets a peer start its media (the 200 to a caller, an
    /// ACK), so the peer's first packets find their leg set up. False when
    /// a thread did not answer in time.
    pub async fn barrier(&self, limit: Duration) -> bool {
        let dirty = self.dirty.swap(0, Ordering::Relaxed);
        let Some(acks) = self.barriers.as_ref() else {
            return true;
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut waiting = 0;
        for (i, t) in self.threads.iter().enumerate() {
            if dirty & (1 << i) != 0 && t.try_send(MediaCommand::Barrier { token }).is_ok() {
                waiting += 1;
            }
        }
        let deadline = Instant::now() + limit;
        while waiting > 0 {
            let ack = smol::future::or(async { acks.recv().await.ok() }, async {
                smol::Timer::at(deadline).await;
                None
            })
            .await;
            match ack {
                // An answer to an earlier barrier that gave up waiting.
                Some(t) if t != token => {}
                Some(_) => waiting -= 1,
                None => return false,
            }
        }
        true
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// The ports could not be bound: the call cannot have media.
    Failed { session: u64, reason: String },
    /// No RTP from either side for the timeout.
    TimedOut { session: u64 },
    /// Sent when a session closes, for the call record.
    Closed {
        session: u64,
        caller: LegStats,
        callee: LegStats,
    },
}

#[cfg(not(target_os = "linux"))]
struct Session {
    relay: RefCell<MediaRelay>,
    /// caller RTP, caller RTCP, callee RTP, callee RTCP.
    sockets: [Rc<Async<UdpSocket>>; 4],
}

#[cfg(not(target_os = "linux"))]
impl Session {
    fn socket(&self, side: LegSide, rtcp: bool) -> &Async<UdpSocket> {
        let base = match side {
            LegSide::Caller => 0,
            LegSide::Callee => 2,
        };
        &self.sockets[base + usize::from(rtcp)]
    }
}

/// Starts the media thread. Commands go in through the returned sender;
/// events come out on `events`.
/// (`Barrier`s are answered on a channel nobody reads.)
pub fn spawn(events: Sender<MediaEvent>) -> std::io::Result<Sender<MediaCommand>> {
    let (acks, _) = smol::channel::unbounded();
    spawn_named(events, acks, "pbxgate-media".into())
}

fn spawn_named(
    events: Sender<MediaEvent>,
    acks: Sender<u64>,
    name: String,
) -> std::io::Result<Sender<MediaCommand>> {
    let (tx, rx) = smol::channel::unbounded::<MediaCommand>();
    std::thread::Builder::new().name(name).spawn(move || {
        #[cfg(target_os = "linux")]
        super::epoll_loop::run(rx, events, acks);
        #[cfg(not(target_os = "linux"))]
        {
            let ex = LocalExecutor::new();
            smol::block_on(ex.run(run(&ex, rx, events, acks)));
        }
    })?;
    Ok(tx)
}

#[cfg(not(target_os = "linux"))]
async fn run(
    ex: &LocalExecutor<'_>,
    commands: Receiver<MediaCommand>,
    events: Sender<MediaEvent>,
    acks: Sender<u64>,
) {
    let mut sessions: HashMap<u64, (Rc<Session>, Vec<Task<()>>)> = HashMap::new();
    while let Ok(cmd) = commands.recv().await {
        match cmd {
            MediaCommand::Open {
                session,
                caller_local,
                callee_local,
                timeout,
                sources,
            } => match open(caller_local, callee_local, timeout, sources) {
                Ok(s) => {
                    let s = Rc::new(s);
                    let mut tasks = Vec::with_capacity(5);
                    for (side, rtcp) in [
                        (LegSide::Caller, false),
                        (LegSide::Caller, true),
                        (LegSide::Callee, false),
                        (LegSide::Callee, true),
                    ] {
                        tasks.push(ex.spawn(relay_loop(s.clone(), side, rtcp)));
                    }
                    tasks.push(ex.spawn(watch_timeout(s.clone(), session, events.clone())));
                    sessions.insert(session, (s, tasks));
                }
                Err(e) => {
                    let reason =
                        format!("cannot bind media ports {caller_local}/{callee_local}: {e}");
                    let _ = events.send(MediaEvent::Failed { session, reason }).await;
                }
            },
            MediaCommand::SetRemote {
                session,
                side,
                remote,
            } => {
                if let Some((s, _)) = sessions.get(&session) {
                    s.relay.borrow_mut().set_remote(side, remote);
                    release_held(s).await;
                }
            }
            MediaCommand::SetPayloadMap { session, side, map } => {
                if let Some((s, _)) = sessions.get(&session) {
                    s.relay.borrow_mut().set_payload_map(side, &map);
                }
            }
            MediaCommand::SetTranscode {
                session,
                side,
                transcode,
            } => {
                if let Some((s, _)) = sessions.get(&session) {
                    s.relay.borrow_mut().set_transcode(side, transcode);
                }
            }
            MediaCommand::SetDtmf {
                session,
                side,
                path,
            } => {
                if let Some((s, _)) = sessions.get(&session) {
                    s.relay.borrow_mut().set_dtmf(side, path);
                }
            }
            MediaCommand::SetHold { session, hold } => {
                if let Some((s, _)) = sessions.get(&session) {
                    s.relay.borrow_mut().set_hold(hold, Instant::now());
                }
            }
            MediaCommand::Close { session } => {
                if let Some((s, tasks)) = sessions.remove(&session) {
                    // Cancelled and awaited, so their futures (and socket
                    // references) are gone before the event goes out.
                    for t in tasks {
                        t.cancel().await;
                    }
                    let closed = {
                        let relay = s.relay.borrow();
                        MediaEvent::Closed {
                            session,
                            caller: relay.stats(LegSide::Caller),
                            callee: relay.stats(LegSide::Callee),
                        }
                    };
                    // The sockets close with the last reference, before
                    // the event says the ports are free.
                    drop(s);
                    let _ = events.send(closed).await;
                }
            }
            MediaCommand::Barrier { token } => {
                let _ = acks.try_send(token);
            }
        }
    }
}

/// Relays the packets a session held until its legs were set up.
#[cfg(not(target_os = "linux"))]
async fn release_held(s: &Session) {
    let mut buf = [0u8; 2048];
    let mut added = [0u8; ADDED_PACKET_MAX];
    loop {
        let verdict = {
            let mut relay = s.relay.borrow_mut();
            let Some((side, src, len, arrived)) = relay.pop_held(&mut buf, Instant::now()) else {
                return;
            };
            let got = Received {
                side,
                rtcp: false,
                src,
                len,
            };
            decide(&mut relay, got, &mut buf, &mut added, arrived)
        };
        if let (PacketVerdict::Forward { to, from_side, len }, added_len) = verdict {
            let out = s.socket(from_side, false);
            let _ = out.send_to(&buf[..len], to).await;
            if added_len > 0 {
                let _ = out.send_to(&added[..added_len], to).await;
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn open(
    caller: SocketAddr,
    callee: SocketAddr,
    timeout: Duration,
    sources: SourceRules,
) -> std::io::Result<Session> {
    let bind = |a: SocketAddr, plus: u16| -> std::io::Result<Rc<Async<UdpSocket>>> {
        let addr = SocketAddr::new(a.ip(), a.port().wrapping_add(plus));
        Ok(Rc::new(Async::<UdpSocket>::bind(addr)?))
    };
    Ok(Session {
        relay: RefCell::new(MediaRelay::new(Instant::now(), timeout, sources)),
        sockets: [
            bind(caller, 0)?,
            bind(caller, 1)?,
            bind(callee, 0)?,
            bind(callee, 1)?,
        ],
    })
}

/// A datagram read from one of a session's sockets.
#[derive(Clone, Copy, Debug)]
pub(super) struct Received {
    pub side: LegSide,
    /// Read on the RTCP socket (RTP port + 1).
    pub rtcp: bool,
    pub src: SocketAddr,
    pub len: usize,
}

/// The relay's decision on one received packet (RTP, or RTCP on the
/// RTCP socket): the only place the media thread calls into `MediaRelay`
/// for packets, on both the Linux loop and the one-by-one path. A packet a
/// conversion adds (an RFC 4733 event next to audio) is copied into
/// `added`, to go out right after the forwarded one; its length is the
/// second value (0: none).
pub(super) fn decide(
    relay: &mut MediaRelay,
    p: Received,
    buf: &mut [u8],
    added: &mut [u8; ADDED_PACKET_MAX],
    now: Instant,
) -> (PacketVerdict, usize) {
    if p.rtcp {
        (relay.handle_rtcp(p.side, p.src, p.len, now), 0)
    } else {
        let v = relay.handle_packet(p.side, p.src, buf, p.len, now);
        let extra = match v {
            PacketVerdict::Forward { .. } => relay.take_added(p.side, added),
            PacketVerdict::Drop(_) => 0,
        };
        (v, extra)
    }
}

/// Elsewhere: one datagram at a time, one task per socket.
#[cfg(not(target_os = "linux"))]
async fn relay_loop(s: Rc<Session>, side: LegSide, rtcp: bool) {
    /// Largest datagram relayed; RTP for voice is a few hundred bytes.
    const PACKET_BUFFER: usize = 2048;
    let mut buf = [0u8; PACKET_BUFFER];
    let mut added = [0u8; ADDED_PACKET_MAX];
    loop {
        let Ok((n, src)) = s.socket(side, rtcp).recv_from(&mut buf).await else {
            // ICMP errors surface here on some systems: keep reading.
            Timer::after(Duration::from_millis(1)).await;
            continue;
        };
        let now = Instant::now();
        let (verdict, added_len) = decide(
            &mut s.relay.borrow_mut(),
            Received {
                side,
                rtcp,
                src,
                len: n,
            },
            &mut buf,
            &mut added,
            now,
        );
        if let PacketVerdict::Forward { to, from_side, len } = verdict {
            let out = s.socket(from_side, rtcp);
            let _ = out.send_to(&buf[..len], to).await;
            if added_len > 0 {
                let _ = out.send_to(&added[..added_len], to).await;
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn watch_timeout(s: Rc<Session>, session: u64, events: Sender<MediaEvent>) {
    loop {
        let next = s.relay.borrow().poll_timeout();
        match next {
            Some(at) if Instant::now() >= at => {
                let _ = events.send(MediaEvent::TimedOut { session }).await;
                return;
            }
            Some(at) => {
                Timer::at(at).await;
            }
            // On hold: look again later.
            None => {
                Timer::after(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_header, RtpHeader};
    use smol::Timer;
    use std::net::UdpSocket;

    fn recv(sock: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
        let mut b = [0u8; 2048];
        sock.recv_from(&mut b)
            .ok()
            .map(|(n, a)| (b[..n].to_vec(), a))
    }

    /// Real sockets on loopback: a packet from the caller reaches the
    /// callee byte for byte except the mapped payload type, a foreign one
    /// does not, and silence is reported.
    #[test]
    fn relays_between_real_sockets_and_reports_the_timeout() {
        let (ev_tx, ev_rx) = smol::channel::unbounded();
        let cmd = spawn(ev_tx).unwrap();
        let caller = UdpSocket::bind("127.0.90.7:0").unwrap();
        let callee = UdpSocket::bind("127.0.90.21:0").unwrap();
        let foreign = UdpSocket::bind("127.0.90.66:0").unwrap();
        for s in [&caller, &callee, &foreign] {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
        let caller_local: SocketAddr = "127.0.90.1:31000".parse().unwrap();
        let callee_local: SocketAddr = "127.0.90.2:31002".parse().unwrap();
        let send = |c: MediaCommand| cmd.send_blocking(c).unwrap();
        send(MediaCommand::Open {
            session: 1,
            caller_local,
            callee_local,
            timeout: Duration::from_millis(800),
            sources: SourceRules::default(),
        });
        send(MediaCommand::SetRemote {
            session: 1,
            side: LegSide::Caller,
            remote: Remote::at(caller.local_addr().unwrap()),
        });
        send(MediaCommand::SetRemote {
            session: 1,
            side: LegSide::Callee,
            remote: Remote::at(callee.local_addr().unwrap()),
        });
        send(MediaCommand::SetPayloadMap {
            session: 1,
            side: LegSide::Caller,
            map: vec![(101, 96)],
        });
        std::thread::sleep(Duration::from_millis(100));

        let mut p = vec![0u8; 172];
        write_header(&mut p, true, 0, 7, 160, 0xabcd);
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = i as u8;
        }
        caller.send_to(&p, caller_local).unwrap();
        let (got, from) = recv(&callee).expect("relayed to the callee");
        assert_eq!(got, p, "passthrough is byte-exact");
        assert_eq!(from, callee_local, "sent from the callee-side port");
        // And back, to where the caller really sends from.
        callee.send_to(&p, callee_local).unwrap();
        assert_eq!(recv(&caller).expect("relayed back").1, caller_local);
        // Telephone-event renumbered on the way.
        write_header(&mut p, true, 101, 8, 320, 0xabcd);
        caller.send_to(&p, caller_local).unwrap();
        assert_eq!(
            RtpHeader::parse(&recv(&callee).unwrap().0)
                .unwrap()
                .payload_type,
            96
        );
        // From a foreign address: nothing.
        foreign.send_to(&p, caller_local).unwrap();
        assert!(recv(&callee).is_none(), "a foreign packet is not relayed");

        let ev = smol::block_on(async {
            smol::future::or(async { ev_rx.recv().await.ok() }, async {
                Timer::after(Duration::from_secs(5)).await;
                None
            })
            .await
        });
        assert_eq!(ev, Some(MediaEvent::TimedOut { session: 1 }));
        send(MediaCommand::Close { session: 1 });
        let closed = smol::block_on(ev_rx.recv()).unwrap();
        let MediaEvent::Closed {
            caller: c,
            callee: e,
            ..
        } = closed
        else {
            panic!("{closed:?}")
        };
        assert_eq!((c.packets_in, c.dropped_foreign, e.packets_in), (2, 1, 1));
        // The ports are free again.
        assert!(UdpSocket::bind(caller_local).is_ok());
    }

    /// A burst of 200 packets sent as fast as the socket takes them (so
    /// several are read per wake, in batches on Linux) arrives complete,
    /// in order and byte for byte, both ways.
    #[test]
    fn a_burst_arrives_complete_in_order_and_byte_exact() {
        let (ev_tx, _ev_rx) = smol::channel::unbounded();
        let cmd = spawn(ev_tx).unwrap();
        let caller = UdpSocket::bind("127.0.90.8:0").unwrap();
        let callee = UdpSocket::bind("127.0.90.22:0").unwrap();
        for s in [&caller, &callee] {
            s.set_read_timeout(Some(Duration::from_millis(1000)))
                .unwrap();
        }
        let caller_local: SocketAddr = "127.0.90.3:31004".parse().unwrap();
        let callee_local: SocketAddr = "127.0.90.4:31006".parse().unwrap();
        let send = |c: MediaCommand| cmd.send_blocking(c).unwrap();
        send(MediaCommand::Open {
            session: 2,
            caller_local,
            callee_local,
            timeout: Duration::from_secs(30),
            sources: SourceRules::default(),
        });
        for (side, peer) in [(LegSide::Caller, &caller), (LegSide::Callee, &callee)] {
            send(MediaCommand::SetRemote {
                session: 2,
                side,
                remote: Remote::at(peer.local_addr().unwrap()),
            });
        }
        std::thread::sleep(Duration::from_millis(100));

        // Lengths 40..=239 bytes, payload bytes derived from the sequence.
        let packet = |seq: u16| {
            let mut p = vec![0u8; 40 + usize::from(seq)];
            write_header(&mut p, false, 0, seq, u32::from(seq) * 160, 0x5eed);
            for (i, b) in p[12..].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(31).wrapping_add(seq as u8);
            }
            p
        };
        for (from, from_local, to, to_local) in [
            (&caller, caller_local, &callee, callee_local),
            (&callee, callee_local, &caller, caller_local),
        ] {
            for seq in 0..200u16 {
                from.send_to(&packet(seq), from_local).unwrap();
            }
            for seq in 0..200u16 {
                let (got, src) = recv(to).unwrap_or_else(|| panic!("packet {seq} lost"));
                assert_eq!(src, to_local);
                assert_eq!(got, packet(seq), "packet {seq}: in order, byte-exact");
            }
        }
        send(MediaCommand::Close { session: 2 });
    }

    /// Two threads: sessions 1 and 2 go to different ones (by id), both
    /// relay, and both threads run under their names.
    #[test]
    fn an_engine_of_two_threads_relays_the_sessions_of_both() {
        let (ev_tx, _ev_rx) = smol::channel::unbounded();
        let engine = MediaEngine::start(ev_tx, 2).unwrap();
        assert_eq!(engine.threads(), 2);
        let mut ends = Vec::new();
        for session in 1..=2u64 {
            let caller = UdpSocket::bind(format!("127.0.92.{}:0", 10 + session)).unwrap();
            let callee = UdpSocket::bind(format!("127.0.92.{}:0", 20 + session)).unwrap();
            callee
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let caller_local: SocketAddr = format!("127.0.92.1:{}", 31200 + 4 * session)
                .parse()
                .unwrap();
            let callee_local: SocketAddr = format!("127.0.92.2:{}", 31202 + 4 * session)
                .parse()
                .unwrap();
            assert!(engine.send(MediaCommand::Open {
                session,
                caller_local,
                callee_local,
                timeout: Duration::from_secs(30),
                sources: SourceRules::default(),
            }));
            for (side, sock) in [(LegSide::Caller, &caller), (LegSide::Callee, &callee)] {
                assert!(engine.send(MediaCommand::SetRemote {
                    session,
                    side,
                    remote: Remote::at(sock.local_addr().unwrap()),
                }));
            }
            ends.push((caller, callee, caller_local));
        }
        std::thread::sleep(Duration::from_millis(100));
        for (k, (caller, callee, caller_local)) in ends.iter().enumerate() {
            let mut p = vec![0u8; 172];
            write_header(&mut p, false, 0, 1, 160, 0x100 + k as u32);
            caller.send_to(&p, caller_local).unwrap();
            assert_eq!(
                recv(callee).map(|r| r.0),
                Some(p),
                "session {} relays",
                k + 1
            );
        }
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
            .map(|c| c.trim_end().to_string())
            .collect();
        for name in ["pbxgate-media0", "pbxgate-media1"] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }

    /// Every command of a session goes to the same thread, and sessions
    /// with consecutive ids to different ones.
    #[test]
    fn commands_are_routed_to_their_sessions_thread() {
        let (tx0, rx0) = smol::channel::unbounded();
        let (tx1, rx1) = smol::channel::unbounded();
        let engine = MediaEngine {
            threads: vec![tx0, tx1],
            ..MediaEngine::none()
        };
        for session in [4u64, 5] {
            assert!(engine.send(MediaCommand::SetHold {
                session,
                hold: true
            }));
            assert!(engine.send(MediaCommand::Close { session }));
        }
        let got = |rx: &smol::channel::Receiver<MediaCommand>| -> Vec<u64> {
            std::iter::from_fn(|| rx.try_recv().ok())
                .map(|c| c.session())
                .collect()
        };
        assert_eq!(got(&rx0), vec![4, 4]);
        assert_eq!(got(&rx1), vec![5, 5]);
        assert!(!MediaEngine::none().send(MediaCommand::Close { session: 1 }));
    }
}
