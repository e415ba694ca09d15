//! The timers one machine has armed: at most one retransmission timer (A,
//! E or G, on unreliable transports only) and the one deadline of its
//! current state (B, D, F, H, I, J, K, L or M); and whether the machine
//! has ended, when nothing is armed any more.

use std::time::{Duration, Instant};

use super::timers::{earliest, Backoff};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    pub retransmit: Option<Backoff>,
    pub deadline: Option<Instant>,
    ended: bool,
}

impl Armed {
    pub fn new(retransmit: Option<Backoff>, deadline: Option<Instant>) -> Self {
        Armed {
            retransmit,
            deadline,
            ended: false,
        }
    }

    /// The earlier of the two, if any is armed.
    pub fn next(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|b| b.at), self.deadline)
    }

    /// Whether the state's deadline has been reached.
    pub fn deadline_due(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|t| t <= now)
    }

    /// Steps the retransmission timer on when it is due at `now`, and says
    /// whether the message goes out again. A given `interval` replaces the
    /// doubling (timer E in Proceeding, RFC 3261 §17.1.2.2).
    pub fn retransmission_due(&mut self, now: Instant, interval: Option<Duration>) -> bool {
        let Some(timer) = self.retransmit.as_mut().filter(|b| b.at <= now) else {
            return false;
        };
        match interval {
            Some(interval) => timer.advance_fixed(now, interval),
            None => timer.advance(now),
        }
        true
    }

    /// Arms the deadline of a state that absorbs retransmissions for
    /// `wait` (timers D, I, J and K). False when `wait` is zero, as on a
    /// reliable transport: then the machine ends at once.
    pub fn linger(&mut self, now: Instant, wait: Duration) -> bool {
        if wait.is_zero() {
            return false;
        }
        self.deadline = Some(now + wait);
        true
    }

    /// Disarms both timers for good: the machine has ended.
    pub fn end(&mut self) {
        *self = Armed {
            retransmit: None,
            deadline: None,
            ended: true,
        };
    }

    pub fn has_ended(&self) -> bool {
        self.ended
    }
}
