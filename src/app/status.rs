//! State other parts of the program read (the status page, events): a
//! snapshot the signalling loop refreshes after every step.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::call::{CallRecord, CallStats};
use crate::policy::AdmissionCounters;
use crate::sip::registration::RegistrationStatus;
pub use crate::sip::transport::tls::TlsStats;

use super::stats::{CoreStats, MediaTotals};

#[derive(Clone, Debug, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<Snapshot>>,
    /// Apart from the snapshot, so that a health check does not copy the
    /// calls.
    beat: Arc<Mutex<Option<Beat>>>,
    /// Event sinks' figures, written by their senders (not the loop).
    sinks: Arc<Mutex<Vec<super::SinkStats>>>,
}

/// The signalling loop's last turn, and whether the media threads ran then.
#[derive(Clone, Copy, Debug)]
struct Beat {
    at: Instant,
    media_running: bool,
}

/// What `/healthz` answers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The signalling loop has not turned yet.
    Starting,
    /// The signalling loop last turned this long ago.
    LoopSilent(Duration),
    MediaStopped,
}

/// The signalling loop turns at least this often, idle or not, so that a
/// silent loop means a stuck one.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// A loop silent longer than this is not healthy.
pub const HEARTBEAT_LIMIT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub registrations: Vec<RegistrationStatus>,
    /// Recently finished calls, then the calls in progress (refreshed once
    /// a second).
    pub calls: Vec<CallRecord>,
    pub call_stats: CallStats,
    /// Per listener, in configuration order (refreshed with the calls).
    pub admission: Vec<ListenerCounters>,
    pub core: CoreStats,
    pub media: MediaTotals,
    /// Transactions under way.
    pub transactions: usize,
    /// SIP over TLS, when the configuration uses it.
    pub tls: Option<TlsStats>,
    /// The SHA-256 of the SIP TLS server certificate (`AB:CD:...`), for a
    /// peer that pins it.
    pub tls_certificate: Option<String>,
    /// The local lines (refreshed with the calls).
    pub lines: Vec<super::lines::LineStatus>,
}

/// A listener's admission counters and the networks it refused most.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerCounters {
    pub name: String,
    pub counters: AdmissionCounters,
    /// Refused packets per /24 (IPv6: /48), most first, at most 10.
    pub top_refused: Vec<(IpNet, u64)>,
}

impl StatusBoard {
    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A sink's sender reports its figures.
    pub fn update_sink(&self, stats: super::SinkStats) {
        let mut s = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        match s.iter_mut().find(|x| x.sink == stats.sink) {
            Some(x) => *x = stats,
            None => {
                s.push(stats);
                s.sort_by(|a, b| a.sink.cmp(&b.sink));
            }
        }
    }

    /// A sink that is no longer configured.
    pub fn remove_sink(&self, sink: &str) {
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|x| x.sink != sink);
    }

    /// Every sink's figures, by name.
    pub fn sinks(&self) -> Vec<super::SinkStats> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn update_registrations(&self, now: Vec<RegistrationStatus>) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.registrations != now {
            s.registrations = now;
        }
    }

    /// The signalling loop turned at `now`.
    pub fn beat(&self, now: Instant, media_running: bool) {
        *self.beat.lock().unwrap_or_else(|p| p.into_inner()) = Some(Beat {
            at: now,
            media_running,
        });
    }

    pub fn health(&self, now: Instant) -> Health {
        let beat = *self.beat.lock().unwrap_or_else(|p| p.into_inner());
        match beat {
            None => Health::Starting,
            Some(b) if now.saturating_duration_since(b.at) > HEARTBEAT_LIMIT => {
                Health::LoopSilent(now.saturating_duration_since(b.at))
            }
            Some(b) if !b.media_running => Health::MediaStopped,
            Some(_) => Health::Ok,
        }
    }

    pub fn update_calls(&self, calls: Vec<CallRecord>, stats: CallStats) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.calls = calls;
        s.call_stats = stats;
    }

    /// The SIP TLS certificate's fingerprint (at start).
    pub fn set_tls_certificate(&self, fingerprint: String) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tls_certificate = Some(fingerprint);
    }

    /// The TLS endpoint's counters (once a second).
    pub fn update_lines(&self, lines: Vec<super::lines::LineStatus>) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).lines = lines;
    }

    pub fn update_tls(&self, tls: Option<TlsStats>) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).tls = tls;
    }

    /// The core's counters, with the calls (once a second).
    pub fn update_counters(&self, core: &super::Core) {
        let admission = core.admission_counters();
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.admission = admission;
        s.core = core.stats().clone();
        s.media = core.media_totals().clone();
        s.transactions = core.live_transactions();
    }
}

#[cfg(test)]
impl StatusBoard {
    /// Listener counters as if the loop had refreshed them.
    pub fn set_admission_for_test(&self, admission: Vec<ListenerCounters>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admission = admission;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_loops_last_turn() {
        let board = StatusBoard::default();
        let t0 = Instant::now();
        assert_eq!(board.health(t0), Health::Starting);
        board.beat(t0, true);
        assert_eq!(board.health(t0 + HEARTBEAT_LIMIT), Health::Ok);
        let late = t0 + HEARTBEAT_LIMIT + Duration::from_millis(1);
        assert_eq!(board.health(late), Health::LoopSilent(late - t0));
        board.beat(late, false);
        assert_eq!(board.health(late), Health::MediaStopped);
    }
}
