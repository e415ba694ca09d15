//! Packet indexes and replay protection (RFC 3711 §3.3.1, §3.3.2 and
//! Appendix A): which 48-bit index a 16-bit sequence number stands for,
//! and whether that index was seen already.

use super::error::SrtpError;

/// Packets behind the newest one that are still told apart from replays.
/// RFC 3711 §3.3.2 asks for at least 64; 128 covers a 2.5 s burst of
/// reordering at 20 ms.
pub const REPLAY_WINDOW: u64 = 128;

/// The newest index accepted and which of the `REPLAY_WINDOW` before it
/// were seen (bit n: newest - n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ReplayWindow {
    newest: u64,
    seen: u128,
}

impl ReplayWindow {
    /// The window after the first authenticated packet, `index`.
    pub fn starting_at(index: u64) -> ReplayWindow {
        ReplayWindow {
            newest: index,
            seen: 1,
        }
    }

    pub fn newest(&self) -> u64 {
        self.newest
    }

    /// Refuses an index seen before or too old to tell; does not record
    /// it (that waits until the packet has authenticated, §3.3.2).
    pub fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.newest {
            return Ok(());
        }
        let behind = self.newest - index;
        if behind >= REPLAY_WINDOW {
            return Err(SrtpError::TooOld {
                index,
                newest: self.newest,
            });
        }
        if self.seen & (1u128 << behind) != 0 {
            return Err(SrtpError::Replayed { index });
        }
        Ok(())
    }

    /// Records an authenticated index.
    pub fn accept(&mut self, index: u64) {
        if index > self.newest {
            let ahead = index - self.newest;
            self.seen = if ahead >= REPLAY_WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.seen |= 1;
            self.newest = index;
        } else {
            let behind = self.newest - index;
            if behind < REPLAY_WINDOW {
                self.seen |= 1u128 << behind;
            }
        }
    }
}

/// Largest SRTP packet index (48 bits: ROC and SEQ, RFC 3711 §3.3.1).
pub const MAX_RTP_INDEX: u64 = (1 << 48) - 1;

/// The index a packet with sequence number `seq` has, given the highest
/// index of its stream so far (RFC 3711 Appendix A: the guess of the ROC
/// nearest to s_l). An index before the stream's first packet is refused
/// as too old; one past 2^48 means the key is used up (§3.2.1).
pub(super) fn estimate_index(newest: u64, seq: u16) -> Result<u64, SrtpError> {
    let roc = newest >> 16;
    let s_l = newest & 0xffff;
    let seq = u64::from(seq);
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            // A late packet from before the last wrap.
            match roc.checked_sub(1) {
                Some(v) => v,
                None => return Err(SrtpError::TooOld { index: seq, newest }),
            }
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        // The sequence number wrapped: the next ROC.
        roc + 1
    } else {
        roc
    };
    let index = (v << 16) | seq;
    if index > MAX_RTP_INDEX {
        return Err(SrtpError::KeyExhausted);
    }
    Ok(index)
}
