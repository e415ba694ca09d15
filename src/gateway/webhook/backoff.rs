//! When a sink tries again after a failed delivery: exponential back-off
//! with jitter, so that many boxes behind one receiver that went down do
//! not all come back in the same second. Sans-IO: the caller gives the
//! time and the random draw.

use std::time::{Duration, Instant};

/// The first wait after a failure.
pub const FIRST: Duration = Duration::from_secs(1);
/// The wait never grows past this: a receiver that is back is found
/// within about five minutes.
pub const MAX: Duration = Duration::from_secs(300);
/// Each wait is moved by up to this share either way.
pub const JITTER: f64 = 0.2;

/// A sink's failures in a row and when it may try again.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Backoff {
    /// The wait after the `failures`-th failure in a row (1-based),
    /// before jitter: 1 s, 2 s, 4 s ... 300 s.
    pub fn base(failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        FIRST.saturating_mul(1u32 << doublings).min(MAX)
    }

    /// A delivery failed at `now`; `unit` is a random draw in [0, 1).
    /// Returns when to try again.
    pub fn failed(&mut self, now: Instant, unit: f64) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let at = now + Self::base(self.failures).mul_f64(factor);
        self.retry_at = Some(at);
        at
    }

    /// A delivery succeeded: the next failure starts again at 1 s.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// How long until the sink may try again (zero: now).
    pub fn wait(&self, now: Instant) -> Duration {
        self.retry_at
            .map(|at| at.saturating_duration_since(now))
            .unwrap_or_default()
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_one_second_to_five_minutes() {
        let secs: Vec<u64> = (1..=12).map(|n| Backoff::base(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(Backoff::base(u32::MAX), MAX);
    }

    #[test]
    fn stepped_schedule_with_jitter_bounds_and_reset() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        assert_eq!(b.wait(t0), Duration::ZERO);
        // Lowest draw: 20 % early; highest: 20 % late; middle: on time.
        let at = b.failed(t0, 0.0);
        assert_eq!(at - t0, Duration::from_millis(800));
        assert_eq!(
            b.wait(t0 + Duration::from_millis(300)),
            Duration::from_millis(500)
        );
        assert_eq!(b.wait(at), Duration::ZERO);
        let at2 = b.failed(at, 0.5);
        assert_eq!(at2 - at, Duration::from_secs(2));
        let at3 = b.failed(at2, 1.0);
        assert_eq!(at3 - at2, Duration::from_millis(4800));
        assert_eq!(b.failures(), 3);
        for _ in 0..20 {
            b.failed(at3, 0.5);
        }
        assert_eq!(b.wait(at3), MAX);
        b.succeeded();
        assert_eq!(b.wait(at3), Duration::ZERO);
        assert_eq!(b.failed(at3, 0.5) - at3, FIRST);
    }
}
