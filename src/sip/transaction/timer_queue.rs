//! One min-heap of transaction deadlines with lazy deletion.
//!
//! Each transaction owns a [`TimerSlot`] naming the one deadline of its that
//! the heap currently stands for, and a generation. Rescheduling bumps the
//! generation and pushes a new entry; the old entry stays in the heap and is
//! skipped when it surfaces. Scheduling and popping are O(log n); nothing
//! ever scans all transactions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::event::{ClientTransactionId, ServerTransactionId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TxRef {
    Server(ServerTransactionId),
    Client(ClientTransactionId),
}

/// A transaction's view of its entry in the queue.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimerSlot {
    generation: u32,
    scheduled: Option<Instant>,
}

impl TimerSlot {
    /// Whether a heap entry with this generation is the live one.
    pub fn is_current(&self, generation: u32) -> bool {
        self.scheduled.is_some() && self.generation == generation
    }

    /// A heap entry with this generation was popped: if it is the live
    /// one, nothing is scheduled any more and its deadline has come.
    pub fn fire(&mut self, generation: u32) -> bool {
        let live = self.is_current(generation);
        if live {
            self.scheduled = None;
        }
        live
    }
}

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, TxRef, u32)>>,
}

impl TimerQueue {
    /// Makes the queue wake `tx` at `deadline` (or never), pushing only when
    /// the deadline changed.
    pub fn schedule(&mut self, tx: TxRef, slot: &mut TimerSlot, deadline: Option<Instant>) {
        if slot.scheduled == deadline {
            return;
        }
        slot.generation = slot.generation.wrapping_add(1);
        slot.scheduled = deadline;
        if let Some(at) = deadline {
            self.heap.push(Reverse((at, tx, slot.generation)));
        }
    }

    /// The earliest entry, live or stale.
    pub fn peek(&self) -> Option<(Instant, TxRef, u32)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    pub fn pop(&mut self) {
        self.heap.pop();
    }

    /// Pops the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TxRef, u32)> {
        match self.peek() {
            Some((at, tx, generation)) if at <= now => {
                self.heap.pop();
                Some((tx, generation))
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rescheduling_leaves_a_stale_entry_that_is_recognised() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        let mut slot = TimerSlot::default();
        let tx = TxRef::Server(ServerTransactionId(1));
        q.schedule(tx, &mut slot, Some(t0 + Duration::from_secs(1)));
        q.schedule(tx, &mut slot, Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.len(), 1, "same deadline: no new entry");
        q.schedule(tx, &mut slot, Some(t0 + Duration::from_secs(2)));
        assert_eq!(q.len(), 2);
        let (_, generation) = q.pop_due(t0 + Duration::from_secs(5)).unwrap();
        assert!(!slot.is_current(generation), "the 1 s entry is stale");
        let (_, generation) = q.pop_due(t0 + Duration::from_secs(5)).unwrap();
        assert!(slot.is_current(generation));
        assert!(q.pop_due(t0 + Duration::from_secs(5)).is_none());
    }
}
