//! The media thread's loop on Linux: its own epoll set over every media
//! socket (edge-triggered, registered once), `recvmmsg` of up to `BATCH`
//! datagrams per ready socket and one `sendmmsg` per outgoing socket, from
//! one `Batch` allocated when the thread starts.
//!
//! Why not smol's reactor here (the rest of the gateway uses it): async-io
//! 2.6 re-arms each socket with `epoll_ctl` after every wake (one-shot
//! registration) and allocates on every reactor turn (the `Vec` of wakers
//! it collects, and with any timer pending a `BTreeMap::split_off` of its
//! timer map). At 200 calls that was 0.52 allocations and about 3× the C
//! ceiling's CPU per packet (docs/media.md). This loop does one
//! `epoll_wait` per turn for all ready sockets and nothing else per wake.
//!
//! Commands still arrive on the smol channel: the loop polls a `recv()`
//! future with a waker that writes to an eventfd in the epoll set, so a
//! command wakes the loop and no thread is added. Media timeouts are looked
//! at every `TIMEOUT_CHECK`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};

use super::engine::{decide, MediaCommand, MediaEvent, Received};
use super::latch::SourceRules;
use super::mmsg::{Batch, BATCH, PACKET_BUFFER};
use super::relay::{LegSide, MediaRelay, PacketVerdict, ADDED_PACKET_MAX};

/// How often sessions are looked at for the media timeout.
const TIMEOUT_CHECK: Duration = Duration::from_millis(100);
/// Batches read from one socket per turn before the others get theirs
/// (what is left is read first in the next turn: `Loop::unread`).
const ROUNDS_PER_SOCKET: usize = 4;
/// The eventfd's key in the epoll set (sockets use slot * 4 + index).
const WAKE_KEY: u64 = u64::MAX;

struct Session {
    id: u64,
    relay: MediaRelay,
    /// caller RTP, caller RTCP, callee RTP, callee RTCP.
    sockets: [UdpSocket; 4],
    timeout_reported: bool,
    /// Which of `sockets` (bit per index) are in `Loop::unread`, so a
    /// socket flooded turn after turn is listed once, not once more per
    /// turn.
    unread: u8,
}

fn socket_index(side: LegSide, rtcp: bool) -> usize {
    let base = match side {
        LegSide::Caller => 0,
        LegSide::Callee => 2,
    };
    base + usize::from(rtcp)
}

fn side_of(index: usize) -> (LegSide, bool) {
    let side = if index < 2 {
        LegSide::Caller
    } else {
        LegSide::Callee
    };
    (side, index % 2 == 1)
}

/// Wakes the loop from whichever thread sends a command.
struct EventFdWaker(OwnedFd);

impl Wake for EventFdWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to the eventfd we own. A
        // full counter (EAGAIN) already means "wake up".
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the fd is owned from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor nobody else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Registers `fd` for reading; `edge` reports it only when data
    /// arrives, so a drained socket is not polled again on the next wait.
    fn add(&self, fd: RawFd, key: u64, edge: bool) -> io::Result<()> {
        let edge = if edge { libc::EPOLLET as u32 } else { 0 };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32 | edge,
            u64: key,
        };
        // SAFETY: registers a descriptor we own with an event we own.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` (rounded up to 1 ms), or not at all when
    /// `poll` is set.
    fn wait(&self, events: &mut [libc::epoll_event], timeout: Duration, poll: bool) -> usize {
        let ms = if poll {
            0
        } else {
            timeout.as_millis().clamp(1, 1000) as i32
        };
        // SAFETY: the kernel writes at most events.len() entries.
        let n = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                ms,
            )
        };
        n.max(0) as usize
    }
}

struct Loop {
    epoll: Epoll,
    slots: Vec<Option<Session>>,
    free: Vec<usize>,
    by_id: HashMap<u64, usize>,
    batch: Box<Batch>,
    /// A packet a DTMF conversion adds after a forwarded one.
    added: [u8; ADDED_PACKET_MAX],
    /// Packets dropped because an outgoing socket's buffer was full, and
    /// how many of them were already reported.
    full_drops: u64,
    full_drops_logged: u64,
    drops_logged_at: Option<Instant>,
    events: Sender<MediaEvent>,
    /// Where `Barrier` commands are answered.
    acks: Sender<u64>,
    /// Where a held packet is taken out to be relayed.
    scratch: Box<[u8; PACKET_BUFFER]>,
    /// Sockets left with data after their share of a turn: edge-triggered,
    /// they are not reported again until more arrives, so the loop comes
    /// back to them itself (and does not sleep while there are any).
    unread: Vec<u64>,
    /// Last turn's `unread`, being read this turn.
    revisit: Vec<u64>,
}

/// Runs the media thread until the command channel closes.
pub(super) fn run(commands: Receiver<MediaCommand>, events: Sender<MediaEvent>, acks: Sender<u64>) {
    let setup = || -> io::Result<(Epoll, Arc<EventFdWaker>)> {
        let epoll = Epoll::new()?;
        // SAFETY: plain syscall; the fd is owned from here on.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: efd is a new descriptor nobody else owns.
        let waker = Arc::new(EventFdWaker(unsafe { OwnedFd::from_raw_fd(efd) }));
        epoll.add(efd, WAKE_KEY, false)?;
        Ok((epoll, waker))
    };
    let (epoll, wake) = match setup() {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("media thread cannot start its event loop: {e}");
            return;
        }
    };
    let mut lp = Loop::new(epoll, events, acks);
    let waker = Waker::from(wake.clone());
    let mut cx = Context::from_waker(&waker);
    let mut next: Pin<Box<_>> = Box::pin(commands.recv());
    let mut ready = [libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut check_at = Instant::now() + TIMEOUT_CHECK;
    let mut woken = true;
    loop {
        if woken {
            // SAFETY: reads the eventfd's 8-byte counter into a local.
            let mut x = 0u64;
            unsafe { libc::read(wake.0.as_raw_fd(), (&mut x as *mut u64).cast(), 8) };
            loop {
                match next.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(cmd)) => {
                        lp.command(cmd);
                        next = Box::pin(commands.recv());
                    }
                    // Signalling is gone: so is the media.
                    Poll::Ready(Err(_)) => return,
                    Poll::Pending => break,
                }
            }
            woken = false;
        }
        let now = Instant::now();
        if now >= check_at {
            lp.check_timeouts(now);
            check_at = now + TIMEOUT_CHECK;
        }
        let n = lp.epoll.wait(
            &mut ready,
            check_at.saturating_duration_since(now),
            !lp.unread.is_empty(),
        );
        // One clock read per turn: the packets of a turn were all waiting
        // when epoll_wait returned.
        woken |= lp.serve(&ready[..n], Instant::now());
    }
}

impl Loop {
    fn new(epoll: Epoll, events: Sender<MediaEvent>, acks: Sender<u64>) -> Loop {
        Loop {
            epoll,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            batch: Batch::new(),
            added: [0; ADDED_PACKET_MAX],
            full_drops: 0,
            full_drops_logged: 0,
            drops_logged_at: None,
            events,
            acks,
            scratch: Box::new([0; PACKET_BUFFER]),
            unread: Vec::with_capacity(256),
            revisit: Vec::with_capacity(256),
        }
    }

    /// One turn: the sockets left with data last turn (their backlog is
    /// the oldest), then those epoll reported. Returns whether the command eventfd was reported.
    fn serve(&mut self, ready: &[libc::epoll_event], now: Instant) -> bool {
        // Sockets first, commands after (at the top of the next turn): a
        // Close cannot leave a stale key behind in this turn's list; a
        // stale key in `unread` finds its slot empty, or reads a new
        // session's socket, which is harmless.
        std::mem::swap(&mut self.unread, &mut self.revisit);
        for i in 0..self.revisit.len() {
            let key = self.revisit[i];
            if let Some(Some(s)) = self.slots.get_mut((key / 4) as usize) {
                s.unread &= !(1 << (key % 4));
            }
            self.socket_ready(key, now);
        }
        self.revisit.clear();
        let mut woken = false;
        for ev in ready {
            if ev.u64 == WAKE_KEY {
                woken = true;
            } else {
                self.socket_ready(ev.u64, now);
            }
        }
        woken
    }

    fn socket_ready(&mut self, key: u64, now: Instant) {
        let slot = (key / 4) as usize;
        let index = (key % 4) as usize;
        let (side, rtcp) = side_of(index);
        let Some(Some(s)) = self.slots.get_mut(slot) else {
            return;
        };
        let b = &mut self.batch;
        let mut full = false;
        for _ in 0..ROUNDS_PER_SOCKET {
            full = false;
            let n = match b.recv(s.sockets[index].as_raw_fd()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // An error report the read has now consumed; datagrams
                // may still wait behind it.
                Err(_) => continue,
            };
            // Forwarded packets are queued for one outgoing socket at a
            // time; a packet for another socket flushes the queue first.
            let mut out: Option<usize> = None;
            for i in 0..n {
                let Some(src) = b.source(i) else { continue };
                let len = b.lens[i];
                let got = Received {
                    side,
                    rtcp,
                    src,
                    len,
                };
                let (verdict, added_len) =
                    decide(&mut s.relay, got, &mut b.bufs[i], &mut self.added, now);
                if let PacketVerdict::Forward { to, from_side, len } = verdict {
                    let o = socket_index(from_side, rtcp);
                    if out.is_some_and(|q| q != o) {
                        if let Some(q) = out {
                            self.full_drops += flush(&s.sockets[q], b);
                        }
                    }
                    out = Some(o);
                    b.queue(i, len, to);
                    if added_len > 0 {
                        // Rare (an event beside audio for a `both` leg, or
                        // end packets owed before the next digit): sent at
                        // once, after what is queued, so the order holds.
                        self.full_drops += flush(&s.sockets[o], b);
                        out = None;
                        if !send_one(&s.sockets[o], &self.added[..added_len], to) {
                            self.full_drops += 1;
                        }
                    }
                }
            }
            if let Some(q) = out {
                self.full_drops += flush(&s.sockets[q], b);
            }
            if n < BATCH {
                return;
            }
            full = true;
        }
        if full && s.unread & (1 << index) == 0 {
            s.unread |= 1 << index;
            self.unread.push(key);
        }
    }

    /// The relay of session `id`, if it is open.
    fn relay(&mut self, id: u64) -> Option<&mut MediaRelay> {
        let i = *self.by_id.get(&id)?;
        self.slots.get_mut(i)?.as_mut().map(|s| &mut s.relay)
    }

    fn command(&mut self, cmd: MediaCommand) {
        match cmd {
            MediaCommand::Open {
                session: id,
                caller_local,
                callee_local,
                timeout,
                sources,
            } => {
                if let Err(e) = self.open(id, caller_local, callee_local, timeout, sources) {
                    let reason =
                        format!("cannot bind media ports {caller_local}/{callee_local}: {e}");
                    let _ = self.events.try_send(MediaEvent::Failed {
                        session: id,
                        reason,
                    });
                }
            }
            MediaCommand::SetRemote {
                session: id,
                side,
                remote,
            } => {
                if let Some(r) = self.relay(id) {
                    r.set_remote(side, remote);
                    self.release_held(id);
                }
            }
            MediaCommand::SetPayloadMap {
                session: id,
                side,
                map,
            } => {
                if let Some(r) = self.relay(id) {
                    r.set_payload_map(side, &map);
                }
            }
            MediaCommand::SetTranscode {
                session: id,
                side,
                transcode,
            } => {
                if let Some(r) = self.relay(id) {
                    r.set_transcode(side, transcode);
                }
            }
            MediaCommand::SetDtmf {
                session: id,
                side,
                path,
            } => {
                if let Some(r) = self.relay(id) {
                    r.set_dtmf(side, path);
                }
            }
            MediaCommand::SetHold { session: id, hold } => {
                if let Some(r) = self.relay(id) {
                    r.set_hold(hold, Instant::now());
                }
            }
            MediaCommand::Close { session: id } => {
                let Some(i) = self.by_id.remove(&id) else {
                    return;
                };
                let Some(s) = self.slots[i].take() else {
                    return;
                };
                self.free.push(i);
                let closed = MediaEvent::Closed {
                    session: id,
                    caller: s.relay.stats(LegSide::Caller),
                    callee: s.relay.stats(LegSide::Callee),
                };
                // The sockets close (and leave the epoll set) before the
                // event says the ports are free.
                drop(s);
                let _ = self.events.try_send(closed);
            }
            MediaCommand::Barrier { token } => {
                let _ = self.acks.try_send(token);
            }
        }
    }

    /// Relays what session `id` held until its legs were set up, each
    /// packet decided on as if it had just arrived (at its arrival time).
    fn release_held(&mut self, id: u64) {
        let Some(&i) = self.by_id.get(&id) else {
            return;
        };
        let Some(Some(s)) = self.slots.get_mut(i) else {
            return;
        };
        if !s.relay.has_held() {
            return;
        }
        let now = Instant::now();
        let buf = &mut self.scratch[..];
        while let Some((side, src, len, arrived)) = s.relay.pop_held(buf, now) {
            let got = Received {
                side,
                rtcp: false,
                src,
                len,
            };
            let (verdict, added_len) = decide(&mut s.relay, got, buf, &mut self.added, arrived);
            if let PacketVerdict::Forward { to, from_side, len } = verdict {
                let out = &s.sockets[socket_index(from_side, false)];
                if !send_one(out, &buf[..len], to) {
                    self.full_drops += 1;
                }
                if added_len > 0 && !send_one(out, &self.added[..added_len], to) {
                    self.full_drops += 1;
                }
            }
        }
    }

    fn open(
        &mut self,
        id: u64,
        caller: SocketAddr,
        callee: SocketAddr,
        timeout: Duration,
        sources: SourceRules,
    ) -> io::Result<()> {
        let bind = |a: SocketAddr, plus: u16| -> io::Result<UdpSocket> {
            let s = UdpSocket::bind(SocketAddr::new(a.ip(), a.port().wrapping_add(plus)))?;
            s.set_nonblocking(true)?;
            Ok(s)
        };
        let sockets = [
            bind(caller, 0)?,
            bind(caller, 1)?,
            bind(callee, 0)?,
            bind(callee, 1)?,
        ];
        // A reopened id replaces the old session (its sockets close).
        if let Some(old) = self.by_id.remove(&id) {
            self.slots[old] = None;
            self.free.push(old);
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        for (k, s) in sockets.iter().enumerate() {
            if let Err(e) = self.epoll.add(s.as_raw_fd(), (slot * 4 + k) as u64, true) {
                self.free.push(slot);
                return Err(e);
            }
        }
        self.slots[slot] = Some(Session {
            id,
            relay: MediaRelay::new(Instant::now(), timeout, sources),
            sockets,
            timeout_reported: false,
            unread: 0,
        });
        self.by_id.insert(id, slot);
        Ok(())
    }

    fn check_timeouts(&mut self, now: Instant) {
        // At most one line per 10 s, with what was dropped since the last.
        let quiet = self
            .drops_logged_at
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(10));
        if self.full_drops > self.full_drops_logged && quiet {
            self.drops_logged_at = Some(now);
            tracing::warn!(
                dropped = self.full_drops - self.full_drops_logged,
                total = self.full_drops,
                "media packets dropped: an outgoing socket's buffer was full (the host cannot send as fast as media arrives)"
            );
            self.full_drops_logged = self.full_drops;
        }
        for s in self.slots.iter_mut().flatten() {
            if !s.timeout_reported && s.relay.timed_out(now) {
                s.timeout_reported = true;
                let _ = self.events.try_send(MediaEvent::TimedOut { session: s.id });
            }
        }
    }
}

/// Sends what `b` has queued from `out`: one `sendmmsg`, then one by one
/// whatever it did not take; returns how many were dropped because the
/// socket's buffer was full. Waiting for room would hold up every other
/// call on this thread, and audio that cannot leave now is late anyway.
fn flush(out: &UdpSocket, b: &mut Batch) -> u64 {
    let sent = b.send_queued(out.as_raw_fd()).unwrap_or(0);
    let mut dropped = 0;
    for k in sent..b.queued() {
        let (bytes, to) = b.queued_at(k);
        let Some(to) = to else { continue };
        dropped += u64::from(!send_one(out, bytes, to));
    }
    b.clear_queue();
    dropped
}

/// One datagram; false when the socket's buffer was full and it was
/// dropped (other errors, e.g. an ICMP report, are the peer's business).
fn send_one(out: &UdpSocket, bytes: &[u8], to: SocketAddr) -> bool {
    !matches!(out.send_to(bytes, to), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::latch::SourceRules;
    use crate::media::relay::Remote;
    use crate::media::rtp::write_header;

    /// Edge-triggered sockets are reported once per arrival: a backlog
    /// longer than one socket's share of a turn must still be read to the
    /// end without another packet arriving, and without sleeping.
    #[test]
    fn a_backlog_longer_than_one_turn_is_read_out_in_the_next_without_new_arrivals() {
        let (ev_tx, _ev_rx) = smol::channel::unbounded();
        let mut lp = Loop::new(Epoll::new().unwrap(), ev_tx, smol::channel::unbounded().0);
        let caller = UdpSocket::bind("127.0.91.7:0").unwrap();
        let callee = UdpSocket::bind("127.0.91.21:0").unwrap();
        callee.set_nonblocking(true).unwrap();
        let caller_local: SocketAddr = "127.0.91.1:31100".parse().unwrap();
        let callee_local: SocketAddr = "127.0.91.2:31102".parse().unwrap();
        lp.command(MediaCommand::Open {
            session: 1,
            caller_local,
            callee_local,
            timeout: Duration::from_secs(30),
            sources: SourceRules::default(),
        });
        for (side, sock) in [(LegSide::Caller, &caller), (LegSide::Callee, &callee)] {
            lp.command(MediaCommand::SetRemote {
                session: 1,
                side,
                remote: Remote::at(sock.local_addr().unwrap()),
            });
        }
        let share = ROUNDS_PER_SOCKET * BATCH;
        let total = share + 12;
        let mut p = [0u8; 172];
        for seq in 0..total {
            write_header(&mut p, false, 0, seq as u16, 160 * seq as u32, 0x5eed);
            caller.send_to(&p, caller_local).unwrap();
        }
        let received = || {
            let mut b = [0u8; 2048];
            std::iter::from_fn(|| callee.recv_from(&mut b).ok()).count()
        };
        let mut ready = [libc::epoll_event { events: 0, u64: 0 }; 8];

        let n = lp.epoll.wait(&mut ready, Duration::from_millis(500), false);
        assert_eq!(n, 1, "the caller's RTP socket is reported");
        lp.serve(&ready[..n], Instant::now());
        assert_eq!(received(), share, "one socket's share per turn");
        assert_eq!(lp.unread.len(), 1, "the rest is remembered");

        let n = lp.epoll.wait(&mut ready, Duration::from_millis(500), true);
        assert_eq!(n, 0, "edge-triggered: no new arrival, no report");
        lp.serve(&ready[..n], Instant::now());
        assert_eq!(received(), total - share, "the rest is read this turn");
        assert!(lp.unread.is_empty());
    }

    /// A socket that still has more than a share after every read is
    /// listed once, however often it is read in a turn.
    #[test]
    fn a_flooded_socket_is_listed_once() {
        let (ev_tx, _ev_rx) = smol::channel::unbounded();
        let mut lp = Loop::new(Epoll::new().unwrap(), ev_tx, smol::channel::unbounded().0);
        let flood = UdpSocket::bind("127.0.91.8:0").unwrap();
        let caller_local: SocketAddr = "127.0.91.3:31104".parse().unwrap();
        lp.command(MediaCommand::Open {
            session: 1,
            caller_local,
            callee_local: "127.0.91.4:31106".parse().unwrap(),
            timeout: Duration::from_secs(30),
            sources: SourceRules::default(),
        });
        // Room for more than two shares (the kernel caps the request).
        let room: libc::c_int = 4 << 20;
        let fd = lp.slots[0].as_ref().unwrap().sockets[0].as_raw_fd();
        // SAFETY: setsockopt on a socket the loop owns, with an int.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&room as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let share = ROUNDS_PER_SOCKET * BATCH;
        let p = [0x80u8; 172];
        for _ in 0..2 * share + 10 {
            flood.send_to(&p, caller_local).unwrap();
        }
        let key = 0; // slot 0, caller RTP
        let now = Instant::now();
        lp.socket_ready(key, now);
        lp.socket_ready(key, now);
        assert_eq!(lp.unread, vec![key], "listed once");
        lp.serve(&[], now);
        assert!(lp.unread.is_empty(), "read out: {:?}", lp.unread);
    }
}
