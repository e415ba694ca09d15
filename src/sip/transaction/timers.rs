//! RFC 3261 §17 timer values (Table 4 of Appendix A) and the doubling
//! retransmission schedule shared by timers A, E and G.

use std::time::{Duration, Instant};

/// The base timer values. Every other timer is derived from these, so a
/// test can shrink them or a deployment on a slow link can stretch T1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (RFC 3261 §17.1.1.1): 500 ms.
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE
    /// responses: 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network: 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// RFC 3261 §17.2.1: an INVITE server transaction sends 100 Trying itself
/// when the TU has not answered within 200 ms.
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

/// RFC 3261 §17.1.1.2: timer D is "at least 32 seconds" on unreliable
/// transports, whatever T1 is. It covers the server's timer G/H cycle
/// (64*T1), so a larger T1 stretches it.
const TIMER_D_MIN: Duration = Duration::from_secs(32);

impl TimerConfig {
    /// 64*T1: timers B, F, H, J (RFC 3261) and L, M (RFC 6026).
    pub fn t1_x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: time an INVITE client stays Completed to absorb final
    /// response retransmissions: the larger of 32 s and 64*T1 (32 s with
    /// the defaults). Zero on reliable transports.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            TIMER_D_MIN.max(self.t1_x64())
        }
    }

    /// Timer K (non-INVITE client Completed) and timer I (INVITE server
    /// Confirmed): T4 on unreliable transports, zero on reliable ones.
    pub fn t4_unless_reliable(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J (non-INVITE server Completed): 64*T1 on unreliable
    /// transports, zero on reliable ones.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1_x64()
        }
    }
}

/// A retransmission timer that starts at T1 and doubles after each firing,
/// optionally capped (at T2 for timers E and G; timer A has no cap).
/// Deadlines chain from the previous deadline, not from the time the timer
/// was serviced, so a late `handle_timeout` does not shift the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub at: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    pub fn start(now: Instant, first: Duration, cap: Option<Duration>) -> Self {
        Backoff {
            at: now + first,
            interval: first,
            cap,
        }
    }

    /// The retransmission timer of a message just sent: none on a reliable
    /// transport, where timers A, E and G do not run (RFC 3261 §17.1.1.2,
    /// §17.1.2.2, §17.2.1).
    pub fn unless_reliable(
        reliable: bool,
        now: Instant,
        first: Duration,
        cap: Option<Duration>,
    ) -> Option<Self> {
        (!reliable).then(|| Backoff::start(now, first, cap))
    }

    /// Moves to the next deadline after `now`, doubling the interval (up to
    /// the cap) for each step. Several missed firings collapse into one.
    pub fn advance(&mut self, now: Instant) {
        while self.at <= now {
            self.interval *= 2;
            if let Some(cap) = self.cap {
                self.interval = self.interval.min(cap);
            }
            self.at += self.interval;
        }
    }

    /// Moves to the next deadline after `now` with a fixed interval (timer E
    /// in Proceeding is reset to T2, RFC 3261 §17.1.2.2).
    pub fn advance_fixed(&mut self, now: Instant, interval: Duration) {
        self.interval = interval;
        while self.at <= now {
            self.at += interval;
        }
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived_values() {
        let t = TimerConfig::default();
        assert_eq!(t.t1_x64(), Duration::from_secs(32));
        assert_eq!(t.timer_d(false), Duration::from_secs(32));
        assert_eq!(t.timer_d(true), Duration::ZERO);
        assert_eq!(t.t4_unless_reliable(false), Duration::from_secs(5));
        assert_eq!(t.timer_j(true), Duration::ZERO);
        // Timer D never drops below 32 s even with a small T1.
        let fast = TimerConfig {
            t1: Duration::from_millis(100),
            ..t
        };
        assert_eq!(fast.timer_d(false), Duration::from_secs(32));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Backoff::start(t0, ms(500), Some(ms(4000)));
        let mut fired = Vec::new();
        for _ in 0..7 {
            fired.push(b.at - t0);
            b.advance(b.at);
        }
        let expect: Vec<Duration> = [500, 1500, 3500, 7500, 11500, 15500, 19500]
            .into_iter()
            .map(ms)
            .collect();
        assert_eq!(fired, expect);
    }

    #[test]
    fn late_service_collapses_missed_firings() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Backoff::start(t0, ms(500), None);
        b.advance(t0 + ms(4000));
        // 0.5 -> 1.5 -> 3.5 -> 7.5: the first deadline after 4 s.
        assert_eq!(b.at - t0, ms(7500));
    }
}
