//! The media threads: each owns the RTP/RTCP sockets of its calls and
//! relays packets by `MediaRelay`'s decisions (`relay::decide`).
//! Signalling talks to them only through `MediaCommand`s and hears back
//! `MediaEvent`s (`messages.rs`); they share no locks.
//!
//! One thread, or several (`MediaEngine`): each owns the sessions whose id
//! falls to it, so a call's packets never cross threads. Each runs its own
//! epoll loop (`epoll_loop.rs`): up to 32 datagrams per `recvmmsg` from
//! each ready socket, decided on, rewritten in place in fixed buffers and
//! sent with one `sendmmsg` per outgoing socket, with no allocation on the
//! way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};

use super::messages::{MediaCommand, MediaEvent};

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

    /// Whether every media thread still runs: one that ended (a panic)
    /// has dropped its command channel.
    pub fn running(&self) -> bool {
        !self.threads.is_empty() && self.threads.iter().all(|t| !t.is_closed())
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
    std::thread::Builder::new()
        .name(name)
        .spawn(move || super::epoll_loop::run(rx, events, acks))?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::latch::SourceRules;
    use crate::media::relay::{LegSide, Remote};
    use crate::media::rtp::write_header;
    use std::net::{SocketAddr, UdpSocket};

    /// Waits until the engine's threads have applied what was sent.
    fn applied(engine: &MediaEngine) {
        assert!(
            smol::block_on(engine.barrier(Duration::from_secs(5))),
            "the media threads answer the barrier"
        );
    }

    fn recv(sock: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
        let mut b = [0u8; 2048];
        sock.recv_from(&mut b)
            .ok()
            .map(|(n, a)| (b[..n].to_vec(), a))
    }

    /// A burst of 200 packets sent as fast as the socket takes them (so
    /// several are read per wake, in batches) arrives complete,
    /// in order and byte for byte, both ways.
    #[test]
    fn a_burst_arrives_complete_in_order_and_byte_exact() {
        let (ev_tx, _ev_rx) = smol::channel::unbounded();
        let engine = MediaEngine::start(ev_tx, 1).unwrap();
        let caller = UdpSocket::bind("127.0.153.8:0").unwrap();
        let callee = UdpSocket::bind("127.0.153.22:0").unwrap();
        for s in [&caller, &callee] {
            s.set_read_timeout(Some(Duration::from_millis(1000)))
                .unwrap();
        }
        let caller_local: SocketAddr = "127.0.153.3:31004".parse().unwrap();
        let callee_local: SocketAddr = "127.0.153.4:31006".parse().unwrap();
        let send = |c: MediaCommand| assert!(engine.send(c));
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
        applied(&engine);

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
            let caller = UdpSocket::bind(format!("127.0.154.{}:0", 10 + session)).unwrap();
            let callee = UdpSocket::bind(format!("127.0.154.{}:0", 20 + session)).unwrap();
            callee
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let caller_local: SocketAddr = format!("127.0.154.1:{}", 31200 + 4 * session)
                .parse()
                .unwrap();
            let callee_local: SocketAddr = format!("127.0.154.2:{}", 31202 + 4 * session)
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
        applied(&engine);
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
