//! Which admission drops deserve a log line, sans-IO: one line per
//! (listener, source, reason) per window, saying how many packets were
//! dropped since its last line. A flood from many sources can grow neither
//! the table (the oldest source is forgotten) nor the log (a few lines per
//! interval overall, then one summary of the rest).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pbxgate::policy::{DenyReason, DropKey, DropLog};
//!
//! let mut log = DropLog::default();
//! let key = DropKey { listener: 0, source: "203.0.113.9".parse().unwrap(), reason: DenyReason::NotAllowed };
//! let t0 = Instant::now();
//! assert_eq!(log.record(key, t0).map(|l| l.dropped), Some(1));
//! assert!((0..99).all(|_| log.record(key, t0).is_none()));
//! let later = t0 + Duration::from_secs(600);
//! assert_eq!(log.record(key, later).map(|l| l.dropped), Some(100));
//! ```

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::DenyReason;

/// A source is named at most once per this long (per listener and reason).
pub const DROP_LOG_WINDOW: Duration = Duration::from_secs(600);
/// Sources remembered at most; beyond, the oldest is forgotten.
const MAX_SOURCES: usize = 1024;
/// Lines about single sources per `BUDGET_INTERVAL`, over all listeners.
const MAX_LINES: u32 = 20;
const BUDGET_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DropKey {
    /// The listener's index (`ListenerId`).
    pub listener: u16,
    pub source: IpAddr,
    pub reason: DenyReason,
}

/// A line to log about one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropLine {
    pub key: DropKey,
    /// Packets dropped since the previous line about this key (this one
    /// included).
    pub dropped: u64,
}

/// The sources that were due a line while the budget was spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropSummary {
    pub sources: u64,
    pub packets: u64,
}

#[derive(Clone, Copy, Debug)]
struct Tracked {
    logged_at: Option<Instant>,
    /// Dropped since the last line.
    pending: u64,
    /// The summary this source was last counted in, so a source is one
    /// source in a summary however often it knocks.
    summary: u64,
}

#[derive(Clone, Debug)]
pub struct DropLog {
    window: Duration,
    max_sources: usize,
    max_lines: u32,
    interval: Duration,
    tracked: HashMap<DropKey, Tracked>,
    /// Insertion order, to forget the oldest in O(1); each tracked key once.
    order: VecDeque<DropKey>,
    interval_start: Option<Instant>,
    lines: u32,
    /// Counts the summaries emitted; starts at 1 so a new entry (0) is
    /// never counted as already in one.
    summary: u64,
    unlogged: DropSummary,
}

impl Default for DropLog {
    fn default() -> Self {
        DropLog::new(DROP_LOG_WINDOW, MAX_SOURCES, MAX_LINES, BUDGET_INTERVAL)
    }
}

impl DropLog {
    /// `window`: per source; `max_lines` per `interval` overall.
    pub fn new(window: Duration, max_sources: usize, max_lines: u32, interval: Duration) -> Self {
        DropLog {
            window,
            max_sources: max_sources.max(1),
            max_lines,
            interval,
            tracked: HashMap::new(),
            order: VecDeque::new(),
            interval_start: None,
            lines: 0,
            summary: 1,
            unlogged: DropSummary {
                sources: 0,
                packets: 0,
            },
        }
    }

    /// A packet was dropped; returns the line to log, if one is due.
    pub fn record(&mut self, key: DropKey, now: Instant) -> Option<DropLine> {
        self.roll_interval(now);
        if !self.tracked.contains_key(&key) && self.tracked.len() >= self.max_sources {
            if let Some(oldest) = self.order.pop_front() {
                self.tracked.remove(&oldest);
            }
        }
        let t = match self.tracked.entry(key) {
            MapEntry::Occupied(e) => e.into_mut(),
            MapEntry::Vacant(e) => {
                self.order.push_back(key);
                e.insert(Tracked {
                    logged_at: None,
                    pending: 0,
                    summary: 0,
                })
            }
        };
        t.pending = t.pending.saturating_add(1);
        let due = t
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.window);
        if !due {
            return None;
        }
        if self.lines >= self.max_lines {
            // Left for a later line (its count keeps growing) and told
            // about in the summary meanwhile.
            if t.summary != self.summary {
                t.summary = self.summary;
                self.unlogged.sources += 1;
            }
            self.unlogged.packets = self.unlogged.packets.saturating_add(1);
            return None;
        }
        self.lines += 1;
        t.logged_at = Some(now);
        let dropped = std::mem::take(&mut t.pending);
        Some(DropLine { key, dropped })
    }

    /// When the summary of sources left out is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.unlogged.packets == 0 {
            return None;
        }
        self.interval_start.map(|s| s + self.interval)
    }

    /// The summary of sources left out, once their interval is over.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<DropSummary> {
        if self.poll_timeout().is_none_or(|due| now < due) {
            return None;
        }
        self.roll_interval(now);
        let s = self.unlogged;
        self.unlogged = DropSummary {
            sources: 0,
            packets: 0,
        };
        self.summary += 1;
        Some(s)
    }

    /// Sources remembered now (bounded by `max_sources`).
    pub fn tracked(&self) -> usize {
        self.tracked.len()
    }

    fn roll_interval(&mut self, now: Instant) {
        let over = self
            .interval_start
            .is_none_or(|s| now.saturating_duration_since(s) >= self.interval);
        if over {
            self.interval_start = Some(now);
            self.lines = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str, reason: DenyReason) -> DropKey {
        DropKey {
            listener: 0,
            source: source.parse().unwrap(),
            reason,
        }
    }

    const NOT_ALLOWED: DenyReason = DenyReason::NotAllowed;

    #[test]
    fn one_line_per_source_per_window_with_the_count_since_the_last() {
        let mut log = DropLog::default();
        let k = key("203.0.113.9", NOT_ALLOWED);
        let t0 = Instant::now();
        let lines: Vec<DropLine> = (0..100).filter_map(|_| log.record(k, t0)).collect();
        assert_eq!(lines, vec![DropLine { key: k, dropped: 1 }]);
        // Just inside the window: still quiet.
        let edge = t0 + DROP_LOG_WINDOW - Duration::from_millis(1);
        assert_eq!(log.record(k, edge), None);
        // Past it: the second line, counting everything since the first.
        let later = t0 + DROP_LOG_WINDOW;
        assert_eq!(
            log.record(k, later),
            Some(DropLine {
                key: k,
                dropped: 101
            })
        );
        assert_eq!(log.record(k, later + Duration::from_secs(1)), None);
        assert_eq!(log.poll_timeout(), None, "nothing was left out");
    }

    #[test]
    fn listener_source_and_reason_are_counted_apart() {
        let mut log = DropLog::default();
        let t0 = Instant::now();
        let a = key("203.0.113.9", NOT_ALLOWED);
        let rate = key("203.0.113.9", DenyReason::RateLimited);
        let other_listener = DropKey { listener: 1, ..a };
        let other_source = key("203.0.113.10", NOT_ALLOWED);
        for k in [a, rate, other_listener, other_source] {
            assert_eq!(log.record(k, t0).map(|l| l.dropped), Some(1), "{k:?}");
        }
        assert_eq!(log.record(a, t0), None);
    }

    #[test]
    fn a_flood_from_many_sources_is_capped_and_summarised() {
        let mut log = DropLog::new(DROP_LOG_WINDOW, 64, 5, Duration::from_secs(60));
        let t0 = Instant::now();
        let source = |i: u32| DropKey {
            listener: 0,
            source: IpAddr::from((0x0a00_0000u32 + i).to_be_bytes()),
            reason: NOT_ALLOWED,
        };
        let mut lines = 0;
        for i in 0..10_000u32 {
            lines += usize::from(log.record(source(i), t0).is_some());
            assert!(log.tracked() <= 64);
        }
        // The newest sources knock again: one source each in the summary.
        for _ in 0..5 {
            for i in 9_990..10_000u32 {
                assert_eq!(log.record(source(i), t0 + Duration::from_secs(1)), None);
            }
        }
        assert_eq!(lines, 5, "the budget of the interval");
        let due = log.poll_timeout().expect("a summary is due");
        assert_eq!(due, t0 + Duration::from_secs(60));
        assert_eq!(log.handle_timeout(due - Duration::from_millis(1)), None);
        assert_eq!(
            log.handle_timeout(due),
            Some(DropSummary {
                sources: 10_000 - 5,
                packets: 10_000 - 5 + 50
            })
        );
        assert_eq!(log.poll_timeout(), None);
        assert_eq!(log.handle_timeout(due + Duration::from_secs(600)), None);
    }

    #[test]
    fn a_source_left_out_is_named_in_a_later_interval_with_its_count() {
        let mut log = DropLog::new(DROP_LOG_WINDOW, 64, 1, Duration::from_secs(60));
        let t0 = Instant::now();
        let first = key("198.51.100.1", NOT_ALLOWED);
        let second = key("198.51.100.2", NOT_ALLOWED);
        assert!(log.record(first, t0).is_some());
        assert_eq!(log.record(second, t0), None);
        assert_eq!(log.record(second, t0), None);
        let due = log.poll_timeout().unwrap();
        assert_eq!(
            log.handle_timeout(due),
            Some(DropSummary {
                sources: 1,
                packets: 2
            })
        );
        assert_eq!(
            log.record(second, due),
            Some(DropLine {
                key: second,
                dropped: 3
            })
        );
    }
}
