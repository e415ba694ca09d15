//! The counters an admin reads in the log, every `[log]
//! counters_interval_s` and at shutdown: admission per listener, calls,
//! media. The clock is stepped by the endpoint's `handle_timeout`.

use std::time::{Duration, Instant};

use tracing::info;

use super::{CoreStats, MediaTotals};
use crate::call::CallStats;
use crate::policy::Admission;

/// When the counters are next due; `None` interval = only at shutdown.
#[derive(Clone, Copy, Debug)]
pub struct CountersClock {
    interval: Option<Duration>,
    next: Option<Instant>,
}

impl CountersClock {
    pub fn new(interval: Option<Duration>, now: Instant) -> Self {
        let interval = interval.filter(|i| !i.is_zero());
        CountersClock {
            interval,
            next: interval.map(|i| now + i),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Whether the counters are due at `now`; if so, schedules the next.
    pub fn due(&mut self, now: Instant) -> bool {
        let (Some(next), Some(interval)) = (self.next, self.interval) else {
            return false;
        };
        if now < next {
            return false;
        }
        // Keep the cadence; after a long stall, start again from now
        // rather than logging the missed ones back to back.
        let after = next + interval;
        self.next = Some(if after > now { after } else { now + interval });
        true
    }
}

/// What the endpoint counted, for `log`.
pub struct Counters<'a> {
    pub admission: &'a [Admission],
    pub listener_names: &'a [String],
    pub endpoint: &'a CoreStats,
    pub calls: &'a CallStats,
    pub active_calls: usize,
    pub media: &'a MediaTotals,
}

/// One line per listener for admission, one for calls, one for media.
pub fn log(c: &Counters) {
    for (i, a) in c.admission.iter().enumerate() {
        let n = a.counters();
        let top: Vec<String> = a
            .denied_by_prefix()
            .into_iter()
            .take(5)
            .map(|(net, n)| format!("{net}={n}"))
            .collect();
        let name = c.listener_names.get(i).map(String::as_str).unwrap_or("?");
        info!(
            listener = name,
            admitted = n.admitted,
            admitted_for_auth = n.admitted_for_auth,
            dropped_not_allowed = n.dropped_not_allowed,
            rejected_not_allowed = n.rejected_not_allowed,
            dropped_rate_limited = n.dropped_rate_limited,
            dropped_rate_limited_listed = n.dropped_rate_limited_listed,
            denied_prefixes = %top.join(" "),
            "admission counters"
        );
    }
    let s = c.calls;
    info!(
        active = c.active_calls,
        started = s.started,
        answered = s.answered,
        failed = s.failed,
        busy = s.rejected_busy,
        no_route = s.no_route,
        failovers = s.failovers,
        redirects = s.redirects,
        transfers = s.transfers,
        emergency = s.emergency,
        emergency_exempt = c.endpoint.emergency_exempt,
        auth_blocked = c.endpoint.dropped_blocked,
        "call counters"
    );
    let m = c.media;
    info!(
        sessions_closed = m.sessions_closed,
        timed_out = m.timed_out,
        failed = m.failed,
        packets = m.packets,
        bytes = m.bytes,
        lost = m.lost,
        dropped_foreign = m.dropped_foreign,
        dropped_malformed = m.dropped_malformed,
        dtmf_rendered = m.dtmf_rendered,
        dtmf_detected = m.dtmf_detected,
        "media counters (closed sessions)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_every_interval_and_never_when_off() {
        let t0 = Instant::now();
        let every = Duration::from_secs(300);
        let mut c = CountersClock::new(Some(every), t0);
        assert_eq!(c.poll_timeout(), Some(t0 + every));
        assert!(!c.due(t0 + every - Duration::from_millis(1)));
        assert!(c.due(t0 + every + Duration::from_millis(5)));
        assert_eq!(c.poll_timeout(), Some(t0 + 2 * every), "the cadence holds");
        // A stall of three intervals: one line, then the cadence from now.
        let late = t0 + 5 * every + Duration::from_secs(1);
        assert!(c.due(late));
        assert!(!c.due(late));
        assert_eq!(c.poll_timeout(), Some(late + every));

        for off in [None, Some(Duration::ZERO)] {
            let mut c = CountersClock::new(off, t0);
            assert_eq!(c.poll_timeout(), None);
            assert!(!c.due(t0 + Duration::from_secs(86_400)));
        }
    }
}
