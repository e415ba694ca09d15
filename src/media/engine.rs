//! The media thread: owns the RTP/RTCP sockets of every call and relays
//! packets by `MediaRelay`'s decisions. Signalling talks to it only through
//! `MediaCommand`s and hears back `MediaEvent`s; they share no locks.
//!
//! One thread, one single-threaded executor, one task per socket: a packet
//! is read into a fixed buffer, decided on, rewritten in place and sent,
//! with no allocation on the way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};
use smol::{Async, LocalExecutor, Task, Timer};

use super::dtmf::convert::DtmfPath;
use super::relay::{LegStats, MediaRelay, Remote, Side, Transcode, Verdict, ADDED_PACKET_MAX};

/// What signalling asks of the media thread. `session` is the call's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaCommand {
    /// Bind the caller-side and callee-side RTP ports (and RTCP, +1).
    Open {
        session: u64,
        caller_local: SocketAddr,
        callee_local: SocketAddr,
        timeout: Duration,
    },
    SetRemote {
        session: u64,
        side: Side,
        remote: Remote,
    },
    /// Payload-type pairs rewritten on packets from `side`.
    SetPayloadMap {
        session: u64,
        side: Side,
        map: Vec<(u8, u8)>,
    },
    /// Audio from `side` translated to the other law, or not.
    SetTranscode {
        session: u64,
        side: Side,
        transcode: Option<Transcode>,
    },
    /// DTMF conversion on packets from `side`.
    SetDtmf {
        session: u64,
        side: Side,
        path: DtmfPath,
    },
    SetHold {
        session: u64,
        hold: bool,
    },
    Close {
        session: u64,
    },
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

struct Session {
    relay: RefCell<MediaRelay>,
    /// caller RTP, caller RTCP, callee RTP, callee RTCP.
    sockets: [Rc<Async<UdpSocket>>; 4],
}

impl Session {
    fn socket(&self, side: Side, rtcp: bool) -> &Async<UdpSocket> {
        let base = match side {
            Side::Caller => 0,
            Side::Callee => 2,
        };
        &self.sockets[base + usize::from(rtcp)]
    }
}

/// Starts the media thread. Commands go in through the returned sender;
/// events come out on `events`.
pub fn spawn(events: Sender<MediaEvent>) -> std::io::Result<Sender<MediaCommand>> {
    let (tx, rx) = smol::channel::unbounded::<MediaCommand>();
    std::thread::Builder::new()
        .name("pbxgate-media".into())
        .spawn(move || {
            let ex = LocalExecutor::new();
            smol::block_on(ex.run(run(&ex, rx, events)));
        })?;
    Ok(tx)
}

async fn run(ex: &LocalExecutor<'_>, commands: Receiver<MediaCommand>, events: Sender<MediaEvent>) {
    let mut sessions: HashMap<u64, (Rc<Session>, Vec<Task<()>>)> = HashMap::new();
    while let Ok(cmd) = commands.recv().await {
        match cmd {
            MediaCommand::Open {
                session,
                caller_local,
                callee_local,
                timeout,
            } => match open(caller_local, callee_local, timeout) {
                Ok(s) => {
                    let s = Rc::new(s);
                    let mut tasks = Vec::with_capacity(5);
                    for (side, rtcp) in [
                        (Side::Caller, false),
                        (Side::Caller, true),
                        (Side::Callee, false),
                        (Side::Callee, true),
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
                            caller: relay.stats(Side::Caller),
                            callee: relay.stats(Side::Callee),
                        }
                    };
                    // The sockets close with the last reference, before
                    // the event says the ports are free.
                    drop(s);
                    let _ = events.send(closed).await;
                }
            }
        }
    }
}

fn open(caller: SocketAddr, callee: SocketAddr, timeout: Duration) -> std::io::Result<Session> {
    let bind = |a: SocketAddr, plus: u16| -> std::io::Result<Rc<Async<UdpSocket>>> {
        let addr = SocketAddr::new(a.ip(), a.port().wrapping_add(plus));
        Ok(Rc::new(Async::<UdpSocket>::bind(addr)?))
    };
    Ok(Session {
        relay: RefCell::new(MediaRelay::new(Instant::now(), timeout)),
        sockets: [
            bind(caller, 0)?,
            bind(caller, 1)?,
            bind(callee, 0)?,
            bind(callee, 1)?,
        ],
    })
}

/// Largest datagram relayed; RTP for voice is a few hundred bytes.
const PACKET_BUFFER: usize = 2048;

async fn relay_loop(s: Rc<Session>, side: Side, rtcp: bool) {
    let mut buf = [0u8; PACKET_BUFFER];
    let mut added = [0u8; ADDED_PACKET_MAX];
    loop {
        let Ok((n, src)) = s.socket(side, rtcp).recv_from(&mut buf).await else {
            // ICMP errors surface here on some systems: keep reading.
            Timer::after(Duration::from_millis(1)).await;
            continue;
        };
        let now = Instant::now();
        let (verdict, added_len) = {
            let mut relay = s.relay.borrow_mut();
            if rtcp {
                (relay.handle_rtcp(side, src, n, now), 0)
            } else {
                let v = relay.handle_packet(side, src, &mut buf, n, now);
                (v, relay.take_added(side, &mut added))
            }
        };
        if let Verdict::Forward { to, from_side, len } = verdict {
            let out = s.socket(from_side, rtcp);
            let _ = out.send_to(&buf[..len], to).await;
            if added_len > 0 {
                let _ = out.send_to(&added[..added_len], to).await;
            }
        }
    }
}

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
        });
        send(MediaCommand::SetRemote {
            session: 1,
            side: Side::Caller,
            remote: Remote {
                signalled: caller.local_addr().unwrap(),
                any_source: false,
            },
        });
        send(MediaCommand::SetRemote {
            session: 1,
            side: Side::Callee,
            remote: Remote {
                signalled: callee.local_addr().unwrap(),
                any_source: false,
            },
        });
        send(MediaCommand::SetPayloadMap {
            session: 1,
            side: Side::Caller,
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
}
