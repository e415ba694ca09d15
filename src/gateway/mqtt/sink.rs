//! The sink's shell: a thread of its own (the store's calls block) running
//! a small smol loop that connects to the broker, publishes the outbox's
//! "mqtt" entries oldest first, acknowledges them in the outbox on PUBACK
//! and reconnects with back-off when the broker goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future::or;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::rustls::ClientConfig;
use tracing::{info, warn};

use super::connect::{self, Stream};
use super::session::Session;
use super::topic;
use crate::app::{SinkStats, StatusBoard};
use crate::config::{BrokerAddress, MQTT_SINK};
use crate::store::Store;

/// How often the outbox is looked at for new events while the window has
/// room: an event waits at most this long before it is published.
const POLL: Duration = Duration::from_millis(100);

/// A connection attempt (TCP and TLS handshake) that takes longer failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// A write the broker does not take within this long (a zero TCP window)
/// ends the connection, so a stalled broker is reconnected to.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes all of `bytes` and flushes, or fails after `WRITE_TIMEOUT`.
async fn write_within(conn: &mut Box<dyn Stream>, bytes: &[u8]) -> std::io::Result<()> {
    or(
        async {
            conn.write_all(bytes).await?;
            conn.flush().await
        },
        async {
            smol::Timer::after(WRITE_TIMEOUT).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the broker took nothing for {}s", WRITE_TIMEOUT.as_secs()),
            ))
        },
    )
    .await
}

pub struct Sink {
    pub broker: BrokerAddress,
    pub tls: Option<Arc<ClientConfig>>,
    pub box_id: String,
    pub session: Session,
    pub store: Store,
    /// Where the status page, the API and /metrics read this sink's figures.
    pub board: StatusBoard,
    pub stats: SinkStats,
    pub figures_at: Instant,
}

/// How often the backlog figures are read from the outbox and published.
const FIGURES_EVERY: Duration = Duration::from_secs(1);

/// Why a connection ended.
type Closed = String;

impl Sink {
    pub async fn run(mut self) {
        let url = format!(
            "{}://{}:{}",
            if self.broker.tls { "mqtts" } else { "mqtt" },
            self.broker.host,
            self.broker.port
        );
        let mut last_error: Option<String> = None;
        loop {
            if let Some(at) = self.session.retry_at() {
                smol::Timer::at(at).await;
            }
            let opened = or(connect::open(&self.broker, self.tls.as_ref()), async {
                smol::Timer::after(OPEN_TIMEOUT).await;
                Err(format!("no connection within {}s", OPEN_TIMEOUT.as_secs()))
            })
            .await;
            let why = match opened {
                Ok(mut conn) => {
                    let why = self.serve(&mut conn, &url).await;
                    // Best effort: the broker learns we left on purpose
                    // only when it is a clean stop; here it is a failure.
                    let _ = or(async { conn.close().await }, async {
                        smol::Timer::after(WRITE_TIMEOUT).await;
                        Ok(())
                    })
                    .await;
                    why
                }
                Err(e) => format!("cannot connect: {e}"),
            };
            self.stats.failed += 1;
            self.stats.last_error = Some(why.clone());
            self.stats.last_error_at = Some(std::time::SystemTime::now());
            self.publish_figures(true);
            let (unacked, wait) = self.session.on_closed(Instant::now());
            if let Some(seq) = unacked.first() {
                if let Err(e) = self.store.outbox_failed(*seq, &why) {
                    warn!("mqtt: cannot note the failed delivery in the outbox: {e}");
                }
            }
            // Logged once per kind of failure, not at every retry.
            if last_error.as_deref() != Some(why.as_str()) {
                warn!(broker = %url, retry_in_ms = wait.as_millis() as u64, pending = unacked.len(), "mqtt: {why}; events stay in the outbox until the broker takes them");
                last_error = Some(why);
            }
        }
    }

    /// One connection, until it fails: the reason.
    async fn serve(&mut self, conn: &mut Box<dyn Stream>, url: &str) -> Closed {
        let hello = self.session.on_connected(Instant::now());
        if let Err(e) = write_within(conn, &hello).await {
            return format!("writing CONNECT: {e}");
        }
        let mut buf = vec![0u8; 4096];
        let mut announced = false;
        loop {
            if self.session.is_up() && !announced {
                info!(broker = %url, box_id = %self.box_id, "mqtt: connected");
                announced = true;
            }
            if let Err(e) = self.fill_window(conn).await {
                return e;
            }
            let now = Instant::now();
            let wake = self
                .session
                .next_timeout()
                .map_or(now + POLL, |t| t.min(now + POLL));
            let read = or(async { Some(conn.read(&mut buf).await) }, async {
                smol::Timer::at(wake).await;
                None
            })
            .await;
            match read {
                Some(Ok(0)) => return "the broker closed the connection".into(),
                Some(Ok(n)) => match self.session.on_bytes(&buf[..n]) {
                    Ok(acked) if !acked.is_empty() => {
                        if let Err(e) = self.store.outbox_ack(&acked) {
                            return format!("acknowledging in the outbox: {e}");
                        }
                        self.stats.delivered += acked.len() as u64;
                    }
                    Ok(_) => {}
                    Err(e) => return e.to_string(),
                },
                Some(Err(e)) => return format!("reading: {e}"),
                None => {}
            }
            self.publish_figures(false);
            match self.session.on_tick(Instant::now()) {
                Ok(Some(ping)) => {
                    if let Err(e) = write_within(conn, &ping).await {
                        return format!("writing PINGREQ: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => return e.to_string(),
            }
        }
    }

    /// Reads the backlog and publishes the figures, at most once a second
    /// unless `now_anyway`.
    fn publish_figures(&mut self, now_anyway: bool) {
        let now = Instant::now();
        if !now_anyway && now < self.figures_at {
            return;
        }
        self.figures_at = now + FIGURES_EVERY;
        if let Ok(all) = self.store.outbox_backlog() {
            let mine = all.into_iter().find(|b| b.sink == MQTT_SINK);
            self.stats.depth = mine.as_ref().map_or(0, |b| b.depth);
            self.stats.oldest = mine.as_ref().and_then(|b| b.oldest);
            self.stats.dropped = mine.map_or(0, |b| b.dropped);
        }
        self.board.update_sink(self.stats.clone());
    }

    /// Publishes the outbox's next entries while the window has room.
    async fn fill_window(&mut self, conn: &mut Box<dyn Stream>) -> Result<(), Closed> {
        let room = self.session.room();
        if room == 0 {
            return Ok(());
        }
        let limit = (self.session.in_flight() + room) as u32;
        let pending = self
            .store
            .outbox_pending(MQTT_SINK, limit)
            .map_err(|e| format!("reading the outbox: {e}"))?;
        let after = self.session.last_published();
        let now = Instant::now();
        let mut out = Vec::new();
        for e in pending
            .iter()
            .filter(|e| after.is_none_or(|a| e.seq > a))
            .take(room)
        {
            let topic = topic::for_event(&self.box_id, &e.call_key, &e.body);
            let bytes = self
                .session
                .publish(e.seq, &topic, e.body.as_bytes(), now)
                .map_err(|err| err.to_string())?;
            out.extend_from_slice(&bytes);
        }
        if !out.is_empty() {
            write_within(conn, &out)
                .await
                .map_err(|e| format!("writing PUBLISH: {e}"))?;
        }
        Ok(())
    }
}
