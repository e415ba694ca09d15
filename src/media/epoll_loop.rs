//! The media thread's loop: its own epoll set over every media socket
//! (edge-triggered, registered once), `recvmmsg` of up to `BATCH`
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
//! `Loop` reads no clock: it is stepped with `command(cmd, now)`,
//! `handle_timeout(now)`, `wait(limit)` and `serve(n, now)`, by `run` on
//! the media thread and by the tests in theirs. Commands still arrive on
//! the smol channel: `run` polls a `recv()` future with a waker that writes
//! to an eventfd in the epoll set, so a command wakes the loop and no
//! thread is added. Media timeouts are looked at every `TIMEOUT_CHECK`.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};

use super::epoll::{Epoll, EventFdWaker};
use super::messages::{MediaCommand, MediaEvent};
use super::mmsg::{Batch, BATCH, PACKET_BUFFER};
use super::relay::{decide, LegSide, MediaRelay, PacketVerdict, Received, ADDED_PACKET_MAX};
use super::sessions::{side_of, socket_index, Sessions};

/// How often sessions are looked at for the media timeout.
const TIMEOUT_CHECK: Duration = Duration::from_millis(100);
/// Batches read from one socket per turn before the others get theirs
/// (what is left is read first in the next turn: `Loop::unread`).
const ROUNDS_PER_SOCKET: usize = 4;
/// The eventfd's key in the epoll set (sockets use slot * 4 + index).
const WAKE_KEY: u64 = u64::MAX;
/// Ready sockets taken from one `epoll_wait`.
const READY_MAX: usize = 64;

pub(super) struct Loop {
    epoll: Epoll,
    sessions: Sessions,
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
    /// What the last `wait` reported.
    ready: [libc::epoll_event; READY_MAX],
    /// When the media timeouts are looked at next.
    check_at: Instant,
}

/// Runs the media thread until the command channel closes. The shell
/// around `Loop`: it owns the clock and the command channel, and steps
/// the loop with them.
pub(super) fn run(commands: Receiver<MediaCommand>, events: Sender<MediaEvent>, acks: Sender<u64>) {
    let setup = || -> io::Result<(Loop, std::sync::Arc<EventFdWaker>)> {
        let lp = Loop::new(events, acks, Instant::now())?;
        let wake = EventFdWaker::new()?;
        lp.epoll.add(wake.fd(), WAKE_KEY, false)?;
        Ok((lp, wake))
    };
    let (mut lp, wake) = match setup() {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("media thread cannot start its event loop: {e}");
            return;
        }
    };
    let waker = Waker::from(wake.clone());
    let mut cx = Context::from_waker(&waker);
    let mut next: Pin<Box<_>> = Box::pin(commands.recv());
    let mut woken = true;
    loop {
        if woken {
            wake.clear();
            let now = Instant::now();
            loop {
                match next.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(cmd)) => {
                        lp.command(cmd, now);
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
        lp.handle_timeout(now);
        let n = lp.wait(lp.check_at.saturating_duration_since(now));
        // One clock read per turn: the packets of a turn were all waiting
        // when epoll_wait returned.
        woken |= lp.serve(n, Instant::now());
    }
}

impl Loop {
    pub(super) fn new(
        events: Sender<MediaEvent>,
        acks: Sender<u64>,
        now: Instant,
    ) -> io::Result<Loop> {
        Ok(Loop {
            epoll: Epoll::new()?,
            sessions: Sessions::default(),
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
            ready: [libc::epoll_event { events: 0, u64: 0 }; READY_MAX],
            check_at: now + TIMEOUT_CHECK,
        })
    }

    /// Waits at most `limit` for sockets to become ready (not at all while
    /// some are left with data from the last turn); returns how many were
    /// reported, for `serve`.
    pub(super) fn wait(&mut self, limit: Duration) -> usize {
        self.epoll
            .wait(&mut self.ready, limit, !self.unread.is_empty())
    }

    /// One turn at `now`: the sockets left with data last turn (their
    /// backlog is the oldest), then the first `n` the last `wait`
    /// reported. Returns whether the command eventfd was among them.
    pub(super) fn serve(&mut self, n: usize, now: Instant) -> bool {
        // Sockets first, commands after (at the top of the next turn): a
        // Close cannot leave a stale key behind in this turn's list; a
        // stale key in `unread` finds its slot empty, or reads a new
        // session's socket, which is harmless.
        std::mem::swap(&mut self.unread, &mut self.revisit);
        for i in 0..self.revisit.len() {
            let key = self.revisit[i];
            if let Some(s) = self.sessions.in_slot((key / 4) as usize) {
                s.unread &= !(1 << (key % 4));
            }
            self.socket_ready(key, now);
        }
        self.revisit.clear();
        let mut woken = false;
        for k in 0..n.min(READY_MAX) {
            let key = self.ready[k].u64;
            if key == WAKE_KEY {
                woken = true;
            } else {
                self.socket_ready(key, now);
            }
        }
        woken
    }

    fn socket_ready(&mut self, key: u64, now: Instant) {
        let slot = (key / 4) as usize;
        let index = (key % 4) as usize;
        let (side, rtcp) = side_of(index);
        let Some(s) = self.sessions.in_slot(slot) else {
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

    /// Applies one command from signalling at `now`: the only place
    /// commands reach the sessions and their relays.
    pub(super) fn command(&mut self, cmd: MediaCommand, now: Instant) {
        let id = cmd.session();
        match cmd {
            MediaCommand::Open {
                caller_local,
                callee_local,
                timeout,
                sources,
                ..
            } => {
                let relay = MediaRelay::new(now, timeout, sources);
                let opened = self
                    .sessions
                    .open(&self.epoll, id, caller_local, callee_local, relay);
                if let Err(e) = opened {
                    let reason =
                        format!("cannot bind media ports {caller_local}/{callee_local}: {e}");
                    let _ = self.events.try_send(MediaEvent::Failed {
                        session: id,
                        reason,
                    });
                }
            }
            MediaCommand::SetRemote { side, remote, .. } => {
                self.with_relay(id, |r| r.set_remote(side, remote));
                self.release_held(id, now);
            }
            MediaCommand::SetPayloadMap { side, map, .. } => {
                self.with_relay(id, |r| r.set_payload_map(side, &map));
            }
            MediaCommand::SetTranscode {
                side, transcode, ..
            } => self.with_relay(id, |r| r.set_transcode(side, transcode)),
            MediaCommand::SetDtmf {
                side,
                path,
                events_in,
                ..
            } => {
                self.with_relay(id, |r| {
                    r.set_dtmf(side, path);
                    r.set_events_in(side, events_in);
                });
            }
            MediaCommand::SetHold { hold, .. } => self.with_relay(id, |r| r.set_hold(hold, now)),
            MediaCommand::SetSrtp { side, keys, .. } => {
                self.with_relay(id, |r| r.set_srtp(side, keys.as_ref()));
            }
            MediaCommand::SendDigits {
                to,
                sink,
                digits,
                tone_ms,
                gap_ms,
                ..
            } => self.with_relay(id, |r| {
                let queued = r.send_digits(to, sink, &digits, tone_ms, gap_ms);
                if queued < digits.as_slice().len() {
                    tracing::warn!(
                        session = id,
                        asked = digits.as_slice().len(),
                        queued,
                        "too many digits already waiting for this leg: the rest are not sent"
                    );
                }
            }),
            MediaCommand::Close { .. } => {
                let Some(mut s) = self.sessions.close(id) else {
                    return;
                };
                // The last digits go before the counters, so the call
                // record has them all when it hears the session is over.
                report_digits(&self.events, id, &mut s.relay);
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

    /// Applies a setting to session `id`'s relay; one for a session that
    /// is gone (closed, or its ports never bound) changes nothing.
    fn with_relay(&mut self, id: u64, apply: impl FnOnce(&mut MediaRelay)) {
        if let Some(s) = self.sessions.get_mut(id) {
            apply(&mut s.relay);
        }
    }

    /// Relays what session `id` held until its legs were set up, each
    /// packet decided on as if it had just arrived (at its arrival time).
    fn release_held(&mut self, id: u64, now: Instant) {
        let Some(s) = self.sessions.get_mut(id) else {
            return;
        };
        if !s.relay.has_held() {
            return;
        }
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

    /// Looks at the media timeouts when they are due at `now` (every
    /// `TIMEOUT_CHECK`): `TimedOut` once per silent session, and a line
    /// about packets dropped for full socket buffers.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if now < self.check_at {
            return;
        }
        self.check_at = now + TIMEOUT_CHECK;
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
        for s in self.sessions.iter_mut() {
            report_digits(&self.events, s.id, &mut s.relay);
            if !s.timeout_reported && s.relay.timed_out(now) {
                s.timeout_reported = true;
                let _ = self.events.try_send(MediaEvent::TimedOut { session: s.id });
            }
        }
    }
}

/// The digits each leg of session `id` sent since the last report, one
/// `Digits` event per leg that sent any.
fn report_digits(events: &Sender<MediaEvent>, id: u64, relay: &mut MediaRelay) {
    for side in [LegSide::Caller, LegSide::Callee] {
        if let Some(digits) = relay.take_digits(side) {
            let _ = events.try_send(MediaEvent::Digits {
                session: id,
                side,
                digits,
            });
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
    use crate::media::rtp::{write_header, RtpHeader};

    fn new_loop(now: Instant) -> (Loop, Receiver<MediaEvent>, Receiver<u64>) {
        let (ev_tx, ev_rx) = smol::channel::unbounded();
        let (ack_tx, ack_rx) = smol::channel::unbounded();
        (Loop::new(ev_tx, ack_tx, now).unwrap(), ev_rx, ack_rx)
    }

    /// A test peer's socket; reads wait at most 500 ms for what should
    /// come.
    fn peer(addr: &str) -> UdpSocket {
        let s = UdpSocket::bind(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s
    }

    fn recv(sock: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
        let mut b = [0u8; 2048];
        sock.recv_from(&mut b)
            .ok()
            .map(|(n, a)| (b[..n].to_vec(), a))
    }

    /// What is already there: for what must not come.
    fn recv_now(sock: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
        sock.set_nonblocking(true).unwrap();
        let got = recv(sock);
        sock.set_nonblocking(false).unwrap();
        got
    }

    /// One turn at `now` (the sockets' readiness waited for, at most
    /// 500 ms); returns how many ready sockets epoll reported.
    fn turn(lp: &mut Loop, now: Instant) -> usize {
        let n = lp.wait(Duration::from_millis(500));
        lp.serve(n, now);
        n
    }

    fn open(lp: &mut Loop, session: u64, caller: SocketAddr, callee: SocketAddr, now: Instant) {
        lp.command(
            MediaCommand::Open {
                session,
                caller_local: caller,
                callee_local: callee,
                timeout: Duration::from_millis(800),
                sources: SourceRules::default(),
            },
            now,
        );
        assert!(lp.sessions.get_mut(session).is_some(), "ports bound");
    }

    fn set_remote(lp: &mut Loop, session: u64, side: LegSide, peer: &UdpSocket, now: Instant) {
        lp.command(
            MediaCommand::SetRemote {
                session,
                side,
                remote: Remote::at(peer.local_addr().unwrap()),
            },
            now,
        );
    }

    /// A call's far ends (caller `net`.7, callee `net`.21) and the relay's
    /// ports for it (`net`.1:`port`, `net`.2:`port + 2`).
    struct Call {
        caller: UdpSocket,
        callee: UdpSocket,
        caller_local: SocketAddr,
        callee_local: SocketAddr,
    }

    /// Binds the far ends of a call and opens its session.
    fn open_call(lp: &mut Loop, session: u64, net: &str, port: u16, now: Instant) -> Call {
        let call = Call {
            caller: peer(&format!("{net}.7:0")),
            callee: peer(&format!("{net}.21:0")),
            caller_local: format!("{net}.1:{port}").parse().unwrap(),
            callee_local: format!("{net}.2:{}", port + 2).parse().unwrap(),
        };
        open(lp, session, call.caller_local, call.callee_local, now);
        call
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Real sockets on loopback, the loop stepped in the test's thread: a
    /// packet from the caller reaches the callee byte for byte except the
    /// mapped payload type, a foreign one does not, and silence is
    /// reported once the timeout has passed, not before.
    #[test]
    fn relays_between_real_sockets_and_reports_the_timeout() {
        let t0 = Instant::now();
        let (mut lp, events, _) = new_loop(t0);
        let call = open_call(&mut lp, 1, "127.0.150", 31000, t0);
        let foreign = peer("127.0.150.66:0");
        set_remote(&mut lp, 1, LegSide::Caller, &call.caller, t0);
        set_remote(&mut lp, 1, LegSide::Callee, &call.callee, t0);
        lp.command(
            MediaCommand::SetPayloadMap {
                session: 1,
                side: LegSide::Caller,
                map: vec![(101, 96)],
            },
            t0,
        );

        let mut p = vec![0u8; 172];
        write_header(&mut p, true, 0, 7, 160, 0xabcd);
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = i as u8;
        }
        call.caller.send_to(&p, call.caller_local).unwrap();
        assert_eq!(turn(&mut lp, t0 + ms(20)), 1);
        let (got, from) = recv(&call.callee).expect("relayed to the callee");
        assert_eq!(got, p, "passthrough is byte-exact");
        assert_eq!(from, call.callee_local, "sent from the callee-side port");
        // And back, to where the caller really sends from.
        call.callee.send_to(&p, call.callee_local).unwrap();
        turn(&mut lp, t0 + ms(40));
        assert_eq!(
            recv(&call.caller).expect("relayed back").1,
            call.caller_local
        );
        // Telephone-event renumbered on the way.
        write_header(&mut p, true, 101, 8, 320, 0xabcd);
        call.caller.send_to(&p, call.caller_local).unwrap();
        turn(&mut lp, t0 + ms(60));
        let got = recv(&call.callee).expect("event relayed").0;
        assert_eq!(RtpHeader::parse(&got).unwrap().payload_type, 96);
        // From a foreign address: read, and not relayed.
        foreign.send_to(&p, call.caller_local).unwrap();
        assert_eq!(turn(&mut lp, t0 + ms(80)), 1, "the foreign packet is read");
        assert!(
            recv_now(&call.callee).is_none(),
            "a foreign packet is not relayed"
        );

        // The last packet taken was at 60 ms: silent from 860 ms on.
        lp.handle_timeout(t0 + ms(850));
        assert!(events.try_recv().is_err(), "not before the timeout");
        lp.handle_timeout(t0 + ms(960));
        assert_eq!(events.try_recv(), Ok(MediaEvent::TimedOut { session: 1 }));
        lp.handle_timeout(t0 + ms(2000));
        assert!(events.try_recv().is_err(), "reported once");

        lp.command(MediaCommand::Close { session: 1 }, t0 + ms(2000));
        let closed = events.try_recv().unwrap();
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
        assert!(UdpSocket::bind(call.caller_local).is_ok());
    }

    /// A packet that arrives before its leg's answer is applied is held
    /// and goes out when the `SetRemote` is applied, with no new arrival;
    /// a barrier after it is answered.
    #[test]
    fn held_packets_go_out_when_the_answer_is_applied() {
        let t0 = Instant::now();
        let (mut lp, events, acks) = new_loop(t0);
        let call = open_call(&mut lp, 3, "127.0.151", 31500, t0);
        set_remote(&mut lp, 3, LegSide::Caller, &call.caller, t0);
        let mut p = vec![0u8; 172];
        write_header(&mut p, false, 0, 1, 160, 0x4e1d);
        call.callee.send_to(&p, call.callee_local).unwrap();
        assert_eq!(turn(&mut lp, t0 + ms(10)), 1);
        assert!(
            recv_now(&call.caller).is_none(),
            "held: the answer is not in"
        );

        set_remote(&mut lp, 3, LegSide::Callee, &call.callee, t0 + ms(30));
        let (got, from) = recv(&call.caller).expect("released by the answer");
        assert_eq!((got, from), (p, call.caller_local));
        lp.command(MediaCommand::Barrier { token: 7 }, t0 + ms(30));
        assert_eq!(acks.try_recv(), Ok(7));

        lp.command(MediaCommand::Close { session: 3 }, t0 + ms(40));
        let Ok(MediaEvent::Closed { callee: e, .. }) = events.try_recv() else {
            panic!("closed");
        };
        assert_eq!((e.held, e.dropped_held, e.packets_in), (1, 0, 1));
    }

    /// Edge-triggered sockets are reported once per arrival: a backlog
    /// longer than one socket's share of a turn must still be read to the
    /// end without another packet arriving, and without sleeping.
    #[test]
    fn a_backlog_longer_than_one_turn_is_read_out_in_the_next_without_new_arrivals() {
        let t0 = Instant::now();
        let (mut lp, _events, _) = new_loop(t0);
        let call = open_call(&mut lp, 1, "127.0.152", 31100, t0);
        call.callee.set_nonblocking(true).unwrap();
        set_remote(&mut lp, 1, LegSide::Caller, &call.caller, t0);
        set_remote(&mut lp, 1, LegSide::Callee, &call.callee, t0);
        let share = ROUNDS_PER_SOCKET * BATCH;
        let total = share + 12;
        let mut p = [0u8; 172];
        for seq in 0..total {
            write_header(&mut p, false, 0, seq as u16, 160 * seq as u32, 0x5eed);
            call.caller.send_to(&p, call.caller_local).unwrap();
        }
        let received = || {
            let mut b = [0u8; 2048];
            std::iter::from_fn(|| call.callee.recv_from(&mut b).ok()).count()
        };

        let n = lp.wait(ms(500));
        assert_eq!(n, 1, "the caller's RTP socket is reported");
        lp.serve(n, t0 + ms(10));
        assert_eq!(received(), share, "one socket's share per turn");
        assert_eq!(lp.unread.len(), 1, "the rest is remembered");

        let n = lp.wait(ms(500));
        assert_eq!(n, 0, "edge-triggered: no new arrival, no report");
        lp.serve(n, t0 + ms(10));
        assert_eq!(received(), total - share, "the rest is read this turn");
        assert!(lp.unread.is_empty());
    }

    /// A socket that still has more than a share after every read is
    /// listed once, however often it is read in a turn.
    #[test]
    fn a_flooded_socket_is_listed_once() {
        let t0 = Instant::now();
        let (mut lp, _events, _) = new_loop(t0);
        let flood = UdpSocket::bind("127.0.152.8:0").unwrap();
        let caller_local: SocketAddr = "127.0.152.3:31104".parse().unwrap();
        let callee_local: SocketAddr = "127.0.152.4:31106".parse().unwrap();
        open(&mut lp, 1, caller_local, callee_local, t0);
        // Room for more than two shares (the kernel caps the request).
        let room: libc::c_int = 4 << 20;
        let fd = lp.sessions.in_slot(0).unwrap().sockets[0].as_raw_fd();
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
        lp.socket_ready(key, t0);
        lp.socket_ready(key, t0);
        assert_eq!(lp.unread, vec![key], "listed once");
        lp.serve(0, t0);
        assert!(lp.unread.is_empty(), "read out: {:?}", lp.unread);
    }

    /// Digits are reported in batches: none per packet, one `Digits` per
    /// leg at the next timeout check, and what is left before `Closed`.
    #[test]
    fn digits_are_reported_in_batches_at_the_check_and_before_closed() {
        let t0 = Instant::now();
        let (mut lp, events, _) = new_loop(t0);
        let call = open_call(&mut lp, 4, "127.0.153", 31600, t0);
        set_remote(&mut lp, 4, LegSide::Caller, &call.caller, t0);
        set_remote(&mut lp, 4, LegSide::Callee, &call.callee, t0);
        lp.command(
            MediaCommand::SetDtmf {
                session: 4,
                side: LegSide::Caller,
                path: crate::media::dtmf::convert::DtmfPath::default(),
                events_in: Some(101),
            },
            t0,
        );
        // Digit `code` at timestamp `ts`: an update and the end, twice.
        let send_digit = |code: u8, seq: u16, ts: u32| {
            for (i, flags) in [0x0a_u8, 0x8a, 0x8a].into_iter().enumerate() {
                let mut p = vec![0u8; 16];
                write_header(&mut p, i == 0, 101, seq + i.min(1) as u16, ts, 0xd7);
                p[12..].copy_from_slice(&[code, flags, 0x01, 0x40]);
                call.caller.send_to(&p, call.caller_local).unwrap();
            }
        };
        send_digit(4, 1, 160);
        send_digit(2, 3, 1600);
        let mut relayed = 0;
        for _ in 0..20 {
            if relayed == 6 {
                break;
            }
            turn(&mut lp, t0 + ms(10));
            while recv_now(&call.callee).is_some() {
                relayed += 1;
            }
        }
        assert_eq!(relayed, 6, "every packet relayed");
        assert!(events.try_recv().is_err(), "nothing per packet");
        lp.handle_timeout(t0 + ms(150));
        assert_eq!(
            events.try_recv(),
            Ok(MediaEvent::Digits {
                session: 4,
                side: LegSide::Caller,
                digits: "42".into()
            })
        );
        assert!(events.try_recv().is_err(), "one batch");
        send_digit(11, 5, 3200);
        turn(&mut lp, t0 + ms(160));
        lp.command(MediaCommand::Close { session: 4 }, t0 + ms(170));
        assert_eq!(
            events.try_recv(),
            Ok(MediaEvent::Digits {
                session: 4,
                side: LegSide::Caller,
                digits: "#".into()
            })
        );
        assert!(matches!(events.try_recv(), Ok(MediaEvent::Closed { .. })));
    }
}
