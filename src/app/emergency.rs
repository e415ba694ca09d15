//! Emergency calls pass a LAN listener's rate limit (never its
//! allowlist): their INVITE, and then every message of their dialogs, so a
//! PBX that floods the gateway can still place a call to 112 and keep it
//! up (an ACK lost to the limit would end the call at 64·T1).

use tracing::debug;

use crate::config::Side;
use crate::policy::{call_id, is_emergency_invite};
use crate::sip::transport::Peer;

use super::Core;

impl Core {
    /// Called for a datagram the rate limit dropped: whether to process it
    /// anyway (counted).
    pub(super) fn emergency_exempt(&mut self, bytes: &[u8], from: &Peer, trusted: bool) -> bool {
        let listener = from.listener.0 as usize;
        if self.listener_sides.get(listener) != Some(&Side::Lan) {
            return false;
        }
        // Refused sources are rate-limited too (AdmissionVerdict::Drop(RateLimited)
        // before their 403): the allowlist must still say yes.
        if !self
            .admission
            .get(listener)
            .is_some_and(|a| a.admits_source(from.remote.ip(), trusted))
        {
            return false;
        }
        let exempt = is_emergency_invite(bytes, self.calls.emergency_numbers())
            || (self.calls.has_emergency_calls()
                && call_id(bytes).is_some_and(|id| self.calls.is_emergency_call_id(id)));
        if exempt {
            self.stats.emergency_exempt += 1;
            debug!(peer = %from, "over the rate limit, processed: emergency call");
        }
        exempt
    }
}
