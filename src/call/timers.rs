//! The B2BUA's own timers, sans-IO: what is due when, per call and leg.
//! The transaction layer keeps the RFC 3261 transaction timers; these are
//! the ones above it (2xx retransmission until the ACK, failover to the
//! next target, the RFC 4028 session expiry, the BYE after a transfer).

use std::collections::BTreeSet;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Retransmit the 2xx this leg is waiting to have ACKed.
    Retransmit2xx,
    /// The callee has said nothing since our INVITE: next target.
    Failover,
    /// A transferor that has not hung up after a completed transfer.
    DetachedBye,
    /// RFC 4028: no session refresh arrived in time.
    SessionExpiry,
    /// The route's hook did not answer in time: the route's targets.
    HookTimeout,
}

/// A timer that fired: the call, the leg, what for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub call: u64,
    pub leg: usize,
    pub kind: TimerKind,
}

/// Timers ordered by when they fire. A timer whose call is over simply
/// finds no call when it fires, so nothing is cancelled.
#[derive(Debug, Default)]
pub struct CallTimers {
    set: BTreeSet<(Instant, u64, usize, TimerKind)>,
}

impl CallTimers {
    pub fn arm(&mut self, at: Instant, call: u64, leg: usize, kind: TimerKind) {
        self.set.insert((at, call, leg, kind));
    }

    /// When the next one fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.set.first().map(|t| t.0)
    }

    /// The earliest timer due at `now`, taken off the list.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let &(at, call, leg, kind) = self.set.first()?;
        if at > now {
            return None;
        }
        self.set.pop_first();
        Some(Due { call, leg, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_order_and_only_when_due() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = CallTimers::default();
        assert_eq!(t.poll_timeout(), None);
        t.arm(ms(500), 1, 0, TimerKind::Retransmit2xx);
        t.arm(ms(4000), 1, 1, TimerKind::Failover);
        t.arm(ms(500), 2, 0, TimerKind::SessionExpiry);
        assert_eq!(t.poll_timeout(), Some(ms(500)));
        assert_eq!(t.pop_due(ms(499)), None);
        let due: Vec<Due> = std::iter::from_fn(|| t.pop_due(ms(500))).collect();
        assert_eq!(
            due,
            vec![
                Due {
                    call: 1,
                    leg: 0,
                    kind: TimerKind::Retransmit2xx
                },
                Due {
                    call: 2,
                    leg: 0,
                    kind: TimerKind::SessionExpiry
                },
            ]
        );
        assert_eq!(t.poll_timeout(), Some(ms(4000)));
        assert_eq!(
            t.pop_due(ms(10_000)).map(|d| d.kind),
            Some(TimerKind::Failover)
        );
        assert_eq!(t.poll_timeout(), None);
    }
}
