//! The MQTT session of the sink, without IO and without a clock: the shell
//! says when a connection opened or closed, hands in the bytes read and the
//! time, and writes what it is given. It keeps the handshake, a window of
//! QoS 1 publishes in flight (acknowledged to the outbox in order only),
//! the keep-alive and the back-off between connection attempts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::packet::{self, Incoming, PacketError};

/// How long the broker has to answer CONNECT, PINGREQ or a PUBLISH before
/// the connection is taken for dead and opened again.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Back-off between attempts: doubling from the first to the last, each
/// drawn between half and all of it so a fleet does not reconnect at once.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Publishes in flight at most. MQTT 3.1.1 §4.6: a broker acknowledges
/// QoS 1 publishes in the order it got them and forwards them in that
/// order, so a window keeps the order and saves round trips.
pub const WINDOW: usize = 16;

pub struct SessionConfig {
    pub client_id: String,
    pub login: Option<(String, String)>,
    pub keepalive: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("the broker refused the connection: {0}")]
    Refused(&'static str),
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("the broker did not answer CONNECT within {}s", RESPONSE_TIMEOUT.as_secs())]
    NoConnAck,
    #[error("the broker did not answer PINGREQ within {}s", RESPONSE_TIMEOUT.as_secs())]
    NoPingResp,
    #[error("the broker did not acknowledge a PUBLISH within {}s", RESPONSE_TIMEOUT.as_secs())]
    NoPubAck,
    #[error("the broker sent {0} before CONNACK")]
    BeforeConnAck(&'static str),
}

#[derive(Debug)]
enum Phase {
    /// No connection; the next attempt is due at `retry_at`.
    Down {
        retry_at: Instant,
    },
    /// CONNECT sent, waiting for CONNACK.
    Handshake {
        deadline: Instant,
    },
    Up,
}

#[derive(Debug)]
struct InFlight {
    seq: i64,
    pkid: u16,
    sent: Instant,
    acked: bool,
}

pub struct Session {
    config: SessionConfig,
    phase: Phase,
    in_flight: VecDeque<InFlight>,
    next_pkid: u16,
    /// The newest outbox entry published on this connection.
    last_published: Option<i64>,
    last_sent: Instant,
    ping_sent: Option<Instant>,
    /// Failed attempts since the last accepted connection.
    failures: u32,
    rng: fastrand::Rng,
    rx: BytesMut,
}

impl Session {
    /// A session whose first attempt is due at `now`; `seed` draws the
    /// back-off jitter (fixed in tests).
    pub fn new(config: SessionConfig, seed: u64, now: Instant) -> Session {
        Session {
            config,
            phase: Phase::Down { retry_at: now },
            in_flight: VecDeque::new(),
            next_pkid: 1,
            last_published: None,
            last_sent: now,
            ping_sent: None,
            failures: 0,
            rng: fastrand::Rng::with_seed(seed),
            rx: BytesMut::new(),
        }
    }

    /// When the next connection attempt is due, while there is none.
    pub fn retry_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Down { retry_at } => Some(retry_at),
            _ => None,
        }
    }

    /// A connection opened: the CONNECT to write.
    pub fn on_connected(&mut self, now: Instant) -> Vec<u8> {
        self.phase = Phase::Handshake {
            deadline: now + RESPONSE_TIMEOUT,
        };
        self.in_flight.clear();
        self.last_published = None;
        self.ping_sent = None;
        self.rx.clear();
        self.last_sent = now;
        let login = self
            .config
            .login
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()));
        // Checked to 5..=3600 s by the configuration, so it fits.
        let keepalive = self.config.keepalive.as_secs().min(u16::MAX as u64) as u16;
        packet::connect(&self.config.client_id, login, keepalive)
    }

    /// The connection closed (or failed to open): the in-flight entries
    /// (oldest first) stay in the outbox and go again on the next
    /// connection, which is due after the returned back-off.
    pub fn on_closed(&mut self, now: Instant) -> (Vec<i64>, Duration) {
        let was: Vec<i64> = self
            .in_flight
            .drain(..)
            .filter(|f| !f.acked)
            .map(|f| f.seq)
            .collect();
        let exp = self.failures.min(10);
        let base = (BACKOFF_FIRST * 2u32.pow(exp)).min(BACKOFF_MAX);
        let wait = base.mul_f64(0.5 + 0.5 * self.rng.f64());
        self.failures = self.failures.saturating_add(1);
        self.phase = Phase::Down {
            retry_at: now + wait,
        };
        self.last_published = None;
        self.ping_sent = None;
        self.rx.clear();
        (was, wait)
    }

    pub fn is_up(&self) -> bool {
        matches!(self.phase, Phase::Up)
    }

    /// How many more publishes may go now.
    pub fn room(&self) -> usize {
        if self.is_up() {
            WINDOW.saturating_sub(self.in_flight.len())
        } else {
            0
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The newest outbox entry published on this connection: the next
    /// one to publish comes after it.
    pub fn last_published(&self) -> Option<i64> {
        self.last_published
    }

    /// Outbox entry `seq` as a QoS 1 PUBLISH; the bytes to write.
    pub fn publish(
        &mut self,
        seq: i64,
        topic: &str,
        payload: &[u8],
        now: Instant,
    ) -> Result<Vec<u8>, SessionError> {
        let pkid = self.take_pkid();
        let bytes = packet::publish(topic, pkid, payload, false)?;
        self.in_flight.push_back(InFlight {
            seq,
            pkid,
            sent: now,
            acked: false,
        });
        self.last_published = Some(seq);
        self.last_sent = now;
        Ok(bytes)
    }

    /// §2.3.1: a non-zero id not in use by another unacknowledged packet.
    fn take_pkid(&mut self) -> u16 {
        loop {
            let id = self.next_pkid;
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            if !self.in_flight.iter().any(|f| f.pkid == id) {
                return id;
            }
        }
    }

    /// Bytes read from the broker; returns the outbox entries now
    /// delivered, oldest first (a prefix of what is in flight, so the
    /// outbox is acknowledged in order).
    pub fn on_bytes(&mut self, data: &[u8]) -> Result<Vec<i64>, SessionError> {
        self.rx.extend_from_slice(data);
        let mut acked = Vec::new();
        while let Some(p) = packet::read(&mut self.rx)? {
            match (&self.phase, p) {
                (Phase::Handshake { .. }, Incoming::ConnAck(None)) => {
                    self.phase = Phase::Up;
                    self.failures = 0;
                }
                (Phase::Handshake { .. }, Incoming::ConnAck(Some(why))) => {
                    return Err(SessionError::Refused(why));
                }
                (Phase::Handshake { .. }, Incoming::PubAck(_)) => {
                    return Err(SessionError::BeforeConnAck("PUBACK"));
                }
                (_, Incoming::PubAck(pkid)) => {
                    // An id not in flight (a late ack from an earlier
                    // connection cannot come on this one) is ignored.
                    if let Some(f) = self.in_flight.iter_mut().find(|f| f.pkid == pkid) {
                        f.acked = true;
                    }
                }
                (_, Incoming::PingResp) => self.ping_sent = None,
                // A second CONNACK, or a packet a publisher never asked
                // for: ignored (§4.8 leaves a client free to).
                (_, Incoming::ConnAck(_)) | (_, Incoming::Other(_)) => {}
            }
        }
        while self.in_flight.front().is_some_and(|f| f.acked) {
            if let Some(f) = self.in_flight.pop_front() {
                acked.push(f.seq);
            }
        }
        Ok(acked)
    }

    /// When `on_tick` has something to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Down { retry_at } => Some(retry_at),
            Phase::Handshake { deadline } => Some(deadline),
            Phase::Up => {
                let mut at = self.last_sent + self.config.keepalive;
                if let Some(p) = self.ping_sent {
                    at = at.min(p + RESPONSE_TIMEOUT);
                }
                if let Some(f) = self.in_flight.front() {
                    at = at.min(f.sent + RESPONSE_TIMEOUT);
                }
                Some(at)
            }
        }
    }

    /// Time has passed: a PINGREQ to write (§3.1.2.10: the client sends a
    /// packet at least every keep-alive interval), or the error that
    /// closes a connection whose broker went quiet.
    pub fn on_tick(&mut self, now: Instant) -> Result<Option<Vec<u8>>, SessionError> {
        match self.phase {
            Phase::Down { .. } => Ok(None),
            Phase::Handshake { deadline } => {
                if now >= deadline {
                    Err(SessionError::NoConnAck)
                } else {
                    Ok(None)
                }
            }
            Phase::Up => {
                if self.ping_sent.is_some_and(|p| now >= p + RESPONSE_TIMEOUT) {
                    return Err(SessionError::NoPingResp);
                }
                if self
                    .in_flight
                    .front()
                    .is_some_and(|f| now >= f.sent + RESPONSE_TIMEOUT)
                {
                    return Err(SessionError::NoPubAck);
                }
                if self.ping_sent.is_none() && now >= self.last_sent + self.config.keepalive {
                    self.ping_sent = Some(now);
                    self.last_sent = now;
                    return Ok(Some(packet::pingreq()));
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: Instant) -> Session {
        Session::new(
            SessionConfig {
                client_id: "pbxgate-t".into(),
                login: Some(("u".into(), "p".into())),
                keepalive: Duration::from_secs(30),
            },
            7,
            now,
        )
    }

    const CONNACK_OK: &[u8] = &[0x20, 2, 0, 0];

    fn puback(pkid: u16) -> Vec<u8> {
        vec![0x40, 2, (pkid >> 8) as u8, pkid as u8]
    }

    /// The packet id of a PUBLISH's bytes (topic length at 2..4).
    fn pkid_of(b: &[u8]) -> u16 {
        let tl = u16::from_be_bytes([b[2], b[3]]) as usize;
        u16::from_be_bytes([b[4 + tl], b[5 + tl]])
    }

    #[test]
    fn publishes_only_after_connack_and_acks_in_order() {
        let t0 = Instant::now();
        let mut s = session(t0);
        assert_eq!(s.retry_at(), Some(t0));
        let connect = s.on_connected(t0);
        assert_eq!(connect[0], 0x10);
        assert_eq!(s.room(), 0);
        assert_eq!(s.on_bytes(CONNACK_OK).unwrap(), Vec::<i64>::new());
        assert!(s.is_up());
        assert_eq!(s.room(), WINDOW);
        let p1 = s.publish(10, "t/1", b"a", t0).unwrap();
        let p2 = s.publish(11, "t/2", b"b", t0).unwrap();
        let p3 = s.publish(12, "t/3", b"c", t0).unwrap();
        assert_eq!(s.last_published(), Some(12));
        let (k1, k2, k3) = (pkid_of(&p1), pkid_of(&p2), pkid_of(&p3));
        assert!(k1 != 0 && k1 != k2 && k2 != k3);
        // An ack for the second alone acknowledges nothing yet: the
        // outbox is acknowledged in order.
        assert_eq!(s.on_bytes(&puback(k2)).unwrap(), Vec::<i64>::new());
        let mut both = puback(k1);
        both.extend(puback(k3));
        assert_eq!(s.on_bytes(&both).unwrap(), vec![10, 11, 12]);
        assert_eq!(s.in_flight(), 0);
        // An unknown id changes nothing.
        assert_eq!(s.on_bytes(&puback(999)).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn the_window_fills_and_a_refusal_is_an_error() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.on_connected(t0);
        s.on_bytes(CONNACK_OK).unwrap();
        for i in 0..WINDOW as i64 {
            s.publish(i, "t", b"x", t0).unwrap();
        }
        assert_eq!(s.room(), 0);
        let mut r = session(t0);
        r.on_connected(t0);
        let e = r.on_bytes(&[0x20, 2, 0, 4]).unwrap_err();
        assert!(e.to_string().contains("mqtt.username"), "{e}");
        let mut early = session(t0);
        early.on_connected(t0);
        assert_eq!(
            early.on_bytes(&puback(1)).unwrap_err(),
            SessionError::BeforeConnAck("PUBACK")
        );
    }

    #[test]
    fn keepalive_pings_and_a_silent_broker_is_dropped() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.on_connected(t0);
        assert_eq!(s.next_timeout(), Some(t0 + RESPONSE_TIMEOUT));
        assert_eq!(
            s.on_tick(t0 + RESPONSE_TIMEOUT).unwrap_err(),
            SessionError::NoConnAck
        );
        s.on_connected(t0);
        s.on_bytes(CONNACK_OK).unwrap();
        let ka = t0 + Duration::from_secs(30);
        assert_eq!(s.next_timeout(), Some(ka));
        assert_eq!(s.on_tick(ka - Duration::from_millis(1)).unwrap(), None);
        assert_eq!(s.on_tick(ka).unwrap(), Some(vec![0xC0, 0]));
        // One ping outstanding at a time.
        assert_eq!(s.on_tick(ka + Duration::from_secs(1)).unwrap(), None);
        s.on_bytes(&[0xD0, 0]).unwrap();
        assert_eq!(s.next_timeout(), Some(ka + Duration::from_secs(30)));
        let ka2 = ka + Duration::from_secs(30);
        assert!(s.on_tick(ka2).unwrap().is_some());
        assert_eq!(
            s.on_tick(ka2 + RESPONSE_TIMEOUT).unwrap_err(),
            SessionError::NoPingResp
        );
        // An unacknowledged publish closes the connection too.
        s.on_connected(t0);
        s.on_bytes(CONNACK_OK).unwrap();
        s.publish(1, "t", b"x", t0).unwrap();
        assert_eq!(s.next_timeout(), Some(t0 + RESPONSE_TIMEOUT));
        assert_eq!(
            s.on_tick(t0 + RESPONSE_TIMEOUT).unwrap_err(),
            SessionError::NoPubAck
        );
    }

    #[test]
    fn reconnects_back_off_with_jitter_and_reset_once_accepted() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let mut waits = Vec::new();
        for _ in 0..8 {
            s.on_connected(t0);
            let (_, w) = s.on_closed(t0);
            waits.push(w);
        }
        for (i, w) in waits.iter().enumerate() {
            let base = (BACKOFF_FIRST * 2u32.pow(i as u32)).min(BACKOFF_MAX);
            assert!(*w >= base / 2 && *w <= base, "{i}: {w:?}");
        }
        assert_eq!(s.retry_at(), Some(t0 + waits[7]));
        // Accepted: the next drop waits the first back-off again; what was
        // in flight is handed back to go again.
        s.on_connected(t0);
        s.on_bytes(CONNACK_OK).unwrap();
        let p = s.publish(5, "t", b"x", t0).unwrap();
        s.publish(6, "t", b"y", t0).unwrap();
        s.on_bytes(&puback(pkid_of(&p))).unwrap();
        let (again, w) = s.on_closed(t0);
        assert_eq!(again, vec![6]);
        assert!(w <= BACKOFF_FIRST, "{w:?}");
        assert_eq!(s.last_published(), None);
    }

    #[test]
    fn packet_ids_wrap_and_skip_zero_and_ids_in_use() {
        let t0 = Instant::now();
        let mut s = session(t0);
        s.on_connected(t0);
        s.on_bytes(CONNACK_OK).unwrap();
        s.next_pkid = u16::MAX;
        let a = s.publish(1, "t", b"", t0).unwrap();
        let b = s.publish(2, "t", b"", t0).unwrap();
        assert_eq!((pkid_of(&a), pkid_of(&b)), (u16::MAX, 1));
        s.next_pkid = u16::MAX;
        let c = s.publish(3, "t", b"", t0).unwrap();
        assert_eq!(pkid_of(&c), 2);
    }
}
