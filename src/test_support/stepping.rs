//! A core and its clock: messages in at the current time, the clock moved
//! on by the test, and what left after each step.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use crate::app::Core;
use crate::sip::transport::Peer;

use super::messages::Wire;
use super::step::Step;

/// More timers than this in one `run_until` means one that never clears.
const MAX_TIMERS_PER_RUN: usize = 100_000;

/// The core under test with the time it is at. Derefs to the core for
/// its counters, records and anything else a test reads.
pub struct TestCore {
    core: Core,
    now: Instant,
}

impl TestCore {
    pub(super) fn new(core: Core, now: Instant) -> TestCore {
        TestCore { core, now }
    }

    /// The time the core is at.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// One UDP datagram from `from`, now; what left in answer.
    pub fn receive<M: Wire + ?Sized>(&mut self, msg: &M, from: Peer) -> Step {
        self.core.handle_datagram(&msg.wire(), from, self.now);
        self.take()
    }

    /// One message cut from a TCP stream from `from`, now.
    pub fn receive_stream<M: Wire + ?Sized>(&mut self, msg: &M, from: Peer) -> Step {
        self.core.handle_stream_message(&msg.wire(), from, self.now);
        self.take()
    }

    /// A routing hook's outcome for `call`, now.
    pub fn hook_answered(
        &mut self,
        call: u64,
        outcome: Result<crate::routing::HookDecision, String>,
    ) -> Step {
        self.core.hook_answered(call, outcome, self.now);
        self.take()
    }

    /// Moves the clock to `at` (never back), firing each timer at the time
    /// it is due; everything that left on the way, in order.
    pub fn run_until(&mut self, at: Instant) -> Step {
        let mut step = Step::default();
        for _ in 0..MAX_TIMERS_PER_RUN {
            match self.core.poll_timeout() {
                Some(due) if due <= at => {
                    self.now = self.now.max(due);
                    self.core.handle_timeout(self.now);
                    step.extend(self.take());
                }
                _ => {
                    self.now = self.now.max(at);
                    return step;
                }
            }
        }
        panic!("a timer keeps firing at {:?}", self.core.poll_timeout());
    }

    /// `run_until(now + d)`.
    pub fn run_for(&mut self, d: Duration) -> Step {
        self.run_until(self.now + d)
    }

    /// Everything the core has queued, in order.
    pub fn take(&mut self) -> Step {
        Step::drain(&mut self.core)
    }
}

impl Deref for TestCore {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl DerefMut for TestCore {
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}
