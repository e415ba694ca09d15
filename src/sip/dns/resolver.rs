//! The async shell around [`ServerLocator`]: sends its questions to the
//! nameservers over UDP (TCP when a reply is truncated), waits with a
//! timeout, tries again, and feeds the answers back with the time.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};
use tracing::debug;

use super::cache::DnsCache;
use super::error::DnsError;
use super::locator::ServerLocator;
use super::record::{Answer, Query};
use super::resolv_conf::ResolverConfig;
use super::target::TargetList;
use super::wire::{decode_reply, encode_query, Reply};
use crate::sip::message::Uri;

/// The largest DNS message (over TCP; UDP replies are smaller).
const MAX_MESSAGE: usize = 65_535;

/// Locates SIP servers over the network. One per process is enough: it
/// holds the answer cache, shared by all lookups (each lookup has its own
/// sockets, so lookups run side by side).
#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    cache: Mutex<DnsCache>,
    rng: Mutex<fastrand::Rng>,
}

impl Resolver {
    pub fn new(config: ResolverConfig) -> Resolver {
        Resolver::with_rng(config, fastrand::Rng::new())
    }

    /// `rng` orders SRV records (message ids come from the OS); fix its
    /// seed in tests.
    pub fn with_rng(config: ResolverConfig, rng: fastrand::Rng) -> Resolver {
        Resolver {
            config,
            cache: Mutex::new(DnsCache::new()),
            rng: Mutex::new(rng),
        }
    }

    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// RFC 3263 §4: the targets to try for `uri`, in order.
    pub async fn locate(&self, uri: &Uri) -> Result<TargetList, DnsError> {
        let rng = self.fork_rng();
        let mut locator = ServerLocator::new(
            uri,
            self.config.families,
            rng.clone(),
            &mut self.cache(),
            Instant::now(),
        )?;
        let mut exchange = Exchange::new(&self.config, rng);
        loop {
            while let Some(query) = locator.poll_query() {
                exchange.start(query);
            }
            if let Some(result) = locator.poll_result() {
                return result;
            }
            let Some((query, answer)) = exchange.next_answer().await else {
                return Err(DnsError::Io {
                    reason: "the locator waits for an answer to no question".into(),
                });
            };
            locator.handle_answer(&query, answer, &mut self.cache(), Instant::now());
        }
    }

    /// Asks one question, with the configured timeout and retries, without
    /// the cache.
    pub async fn query(&self, query: &Query) -> Answer {
        let mut exchange = Exchange::new(&self.config, self.fork_rng());
        exchange.start(query.clone());
        match exchange.next_answer().await {
            Some((_, answer)) => answer,
            None => Answer::Failed("no answer".into()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, DnsCache> {
        // A panic elsewhere cannot leave the cache inconsistent: every
        // method leaves it whole.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fork_rng(&self) -> fastrand::Rng {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).fork()
    }
}

/// One question on the wire and its retries.
struct Pending {
    query: Query,
    id: u16,
    bytes: Vec<u8>,
    /// Tries made so far; try `n` goes to nameserver `n % count`.
    tries: usize,
    sent_to: Vec<SocketAddr>,
    deadline: Instant,
    last_error: Option<String>,
}

/// A DNS message id from the operating system's CSPRNG.
fn query_id() -> Option<u16> {
    let mut b = [0u8; 2];
    getrandom::getrandom(&mut b).ok()?;
    Some(u16::from_be_bytes(b))
}

/// The questions of one lookup in flight: UDP sockets (one per address
/// family, bound on first use to an ephemeral port), and their timers.
struct Exchange<'a> {
    config: &'a ResolverConfig,
    rng: fastrand::Rng,
    v4: Option<Async<UdpSocket>>,
    v6: Option<Async<UdpSocket>>,
    pending: Vec<Pending>,
    ready: VecDeque<(Query, Answer)>,
}

enum Event {
    Datagram(Vec<u8>, SocketAddr),
    ReceiveError(std::io::Error),
    Deadline,
}

impl<'a> Exchange<'a> {
    fn new(config: &'a ResolverConfig, rng: fastrand::Rng) -> Exchange<'a> {
        Exchange {
            config,
            rng,
            v4: None,
            v6: None,
            pending: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    fn total_tries(&self) -> usize {
        self.config.nameservers.len() * self.config.attempts.max(1) as usize
    }

    fn start(&mut self, query: Query) {
        if self.config.nameservers.is_empty() {
            self.ready
                .push_back((query, Answer::Failed("no nameserver configured".into())));
            return;
        }
        // RFC 5452 §9.2: an id an off-path sender cannot guess (with the
        // ephemeral port, its only defence against forged answers); the OS
        // generator, not the seedable one, which orders SRV records only.
        let id = query_id().unwrap_or_else(|| self.rng.u16(..));
        let bytes = match encode_query(id, &query) {
            Ok(b) => b,
            Err(e) => {
                self.ready.push_back((query, Answer::Failed(e.to_string())));
                return;
            }
        };
        let pending = Pending {
            query,
            id,
            bytes,
            tries: 0,
            sent_to: Vec::new(),
            deadline: Instant::now(),
            last_error: None,
        };
        self.transmit(pending);
    }

    /// Sends `p` on its next try, or gives up on it when none is left.
    fn transmit(&mut self, mut p: Pending) {
        loop {
            if p.tries >= self.total_tries() {
                let mut reason = format!(
                    "no reply from {} after {} tries of {} s",
                    list(&self.config.nameservers),
                    p.tries,
                    self.config.timeout.as_secs_f32()
                );
                if let Some(e) = &p.last_error {
                    reason.push_str(&format!(" (last: {e})"));
                }
                self.ready.push_back((p.query, Answer::Failed(reason)));
                return;
            }
            let Some(server) = self
                .config
                .nameservers
                .get(p.tries % self.config.nameservers.len())
                .copied()
            else {
                return;
            };
            p.tries += 1;
            match self.send(server, &p.bytes) {
                Ok(()) => {
                    debug!(query = %p.query, %server, try_no = p.tries, "DNS query sent");
                    if !p.sent_to.contains(&server) {
                        p.sent_to.push(server);
                    }
                    p.deadline = Instant::now() + self.config.timeout;
                    self.pending.push(p);
                    return;
                }
                Err(e) => p.last_error = Some(format!("send to {server}: {e}")),
            }
        }
    }

    fn send(&mut self, server: SocketAddr, bytes: &[u8]) -> std::io::Result<()> {
        let slot = if server.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        };
        if slot.is_none() {
            let any = match server.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            *slot = Some(Async::<UdpSocket>::bind(SocketAddr::new(any, 0))?);
        }
        match slot {
            // A datagram socket is always writable in practice; a full
            // buffer counts as a lost packet and the timer retries.
            Some(s) => s.get_ref().send_to(bytes, server).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The next question that has its answer (or has run out of tries).
    async fn next_answer(&mut self) -> Option<(Query, Answer)> {
        let mut buf4 = vec![0u8; MAX_MESSAGE];
        let mut buf6 = vec![0u8; MAX_MESSAGE];
        loop {
            if let Some(done) = self.ready.pop_front() {
                return Some(done);
            }
            let deadline = self.pending.iter().map(|p| p.deadline).min()?;
            let event = future::or(
                future::or(recv(&self.v4, &mut buf4), recv(&self.v6, &mut buf6)),
                async {
                    Timer::at(deadline).await;
                    Event::Deadline
                },
            )
            .await;
            match event {
                Event::Datagram(bytes, from) => self.handle_datagram(&bytes, from).await,
                Event::ReceiveError(e) => {
                    // Linux reports ICMP errors only on connected sockets,
                    // so this is rare; the timers still run.
                    debug!(error = %e, "DNS receive failed");
                    Timer::after(Duration::from_millis(20)).await;
                }
                Event::Deadline => {
                    let now = Instant::now();
                    let (expired, waiting): (Vec<Pending>, Vec<Pending>) =
                        std::mem::take(&mut self.pending)
                            .into_iter()
                            .partition(|p| p.deadline <= now);
                    self.pending = waiting;
                    for p in expired {
                        self.transmit(p);
                    }
                }
            }
        }
    }

    async fn handle_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        let mut found = None;
        for (i, p) in self.pending.iter().enumerate() {
            // RFC 5452 §9.1: only from a server the question went to, with
            // its id and its question.
            if !p.sent_to.contains(&from) {
                continue;
            }
            match decode_reply(bytes, p.id, &p.query) {
                Reply::Unrelated(_) => continue,
                reply => {
                    found = Some((i, reply));
                    break;
                }
            }
        }
        let Some((i, reply)) = found else {
            debug!(%from, len = bytes.len(), "unrelated DNS datagram dropped");
            return;
        };
        if i >= self.pending.len() {
            return;
        }
        let mut p = self.pending.swap_remove(i);
        match reply {
            Reply::Answer(Answer::Failed(reason)) => {
                // SERVFAIL, REFUSED: another nameserver may do better.
                p.last_error = Some(format!("{reason} (from {from})"));
                if self.config.nameservers.len() > 1 && p.tries < self.total_tries() {
                    self.transmit(p);
                } else {
                    let reason = format!("{reason} (from {from})");
                    self.ready.push_back((p.query, Answer::Failed(reason)));
                }
            }
            Reply::Answer(answer) => self.ready.push_back((p.query, answer)),
            Reply::Truncated => {
                debug!(query = %p.query, server = %from, "truncated reply, asking over TCP");
                let answer = tcp_exchange(from, &p, self.config.timeout).await;
                self.ready.push_back((p.query, answer));
            }
            Reply::Unrelated(_) => self.pending.push(p),
        }
    }
}

async fn recv(socket: &Option<Async<UdpSocket>>, buf: &mut [u8]) -> Event {
    match socket {
        Some(s) => match s.recv_from(buf).await {
            Ok((n, from)) => Event::Datagram(buf.get(..n).unwrap_or(&[]).to_vec(), from),
            Err(e) => Event::ReceiveError(e),
        },
        None => future::pending().await,
    }
}

/// RFC 1035 §4.2.2 / RFC 7766: the same question over TCP, each message
/// preceded by its two-byte length.
async fn tcp_exchange(server: SocketAddr, p: &Pending, timeout: Duration) -> Answer {
    let exchange = async {
        let mut stream = Async::<TcpStream>::connect(server).await?;
        let len = u16::try_from(p.bytes.len())
            .map_err(|_| std::io::Error::other("query longer than 65535 bytes"))?;
        let mut out = Vec::with_capacity(p.bytes.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&p.bytes);
        stream.write_all(&out).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let timed = future::or(async { Some(exchange.await) }, async {
        Timer::after(timeout).await;
        None
    });
    match timed.await {
        None => Answer::Failed(format!("no TCP reply from {server} within {timeout:?}")),
        Some(Err(e)) => Answer::Failed(format!("TCP to {server}: {e}")),
        Some(Ok(reply)) => match decode_reply(&reply, p.id, &p.query) {
            Reply::Answer(Answer::Failed(reason)) => {
                Answer::Failed(format!("{reason} (from {server} over TCP)"))
            }
            Reply::Answer(answer) => answer,
            Reply::Truncated => Answer::Failed(format!("{server} truncated its reply over TCP")),
            Reply::Unrelated(why) => {
                Answer::Failed(format!("unusable TCP reply from {server}: {why}"))
            }
        },
    }
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn lookups_can_run_on_a_multithreaded_executor() {
        let resolver = Resolver::new(ResolverConfig::with_nameserver(SocketAddr::from((
            [127, 0, 0, 1],
            9,
        ))));
        let uri = Uri::parse("sip:192.0.2.1").expect("uri");
        let locate = resolver.locate(&uri);
        assert_send(&locate);
        let query = Query::new("example.com", super::super::record::RecordType::A);
        let ask = resolver.query(&query);
        assert_send(&ask);
        // A numeric host needs no DNS at all.
        let list = smol::block_on(locate).expect("numeric");
        assert_eq!(list.len(), 1);
        drop(ask);
    }

    #[test]
    fn no_nameserver_fails_at_once() {
        let mut config = ResolverConfig::with_nameserver(SocketAddr::from(([127, 0, 0, 1], 9)));
        config.nameservers.clear();
        let resolver = Resolver::new(config);
        let query = Query::new("example.com", super::super::record::RecordType::A);
        assert_eq!(
            smol::block_on(resolver.query(&query)),
            Answer::Failed("no nameserver configured".into())
        );
    }
}
