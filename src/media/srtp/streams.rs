//! Per-SSRC state of one direction in a fixed table, so nothing is
//! allocated per packet. RFC 3711 §3.2.3 keeps a rollover counter and a
//! replay list per SSRC; SDES gives all SSRCs of a direction the same
//! master key, so only this state is per stream.
//!
//! A voice leg has one SSRC, and a new one after a re-INVITE, a transfer
//! or a hold on some PBXes. When the table is full, the stream used least
//! recently gives its slot to the new one, and forgets its ROC and replay
//! list: its old packets would then be taken as a new stream. Only an
//! SSRC that has already authenticated takes a slot, so a forger cannot
//! push streams out.

/// Streams kept per direction.
pub const MAX_STREAMS: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Slot<S> {
    ssrc: u32,
    /// When it was last used (a counter, not a clock).
    used: u64,
    state: S,
}

#[derive(Clone, Debug)]
pub(super) struct Streams<S: Copy> {
    slots: [Option<Slot<S>>; MAX_STREAMS],
    tick: u64,
}

impl<S: Copy> Streams<S> {
    pub fn new() -> Streams<S> {
        Streams {
            slots: [None; MAX_STREAMS],
            tick: 0,
        }
    }

    /// The state of `ssrc`, if it has one.
    pub fn get(&self, ssrc: u32) -> Option<S> {
        self.slots
            .iter()
            .flatten()
            .find(|s| s.ssrc == ssrc)
            .map(|s| s.state)
    }

    /// Stores the state of `ssrc`, taking the least recently used slot
    /// when it is new and the table is full.
    pub fn put(&mut self, ssrc: u32, state: S) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(slot) = self.slots.iter_mut().flatten().find(|s| s.ssrc == ssrc) {
            slot.state = state;
            slot.used = tick;
            return;
        }
        let mut victim = 0;
        let mut oldest = u64::MAX;
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                None => {
                    victim = i;
                    break;
                }
                Some(s) if s.used < oldest => {
                    oldest = s.used;
                    victim = i;
                }
                Some(_) => {}
            }
        }
        self.slots[victim] = Some(Slot {
            ssrc,
            used: tick,
            state,
        });
    }

    /// How many streams are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}
