//! A call: the caller's leg, the callee legs tried for it, the route that
//! chose them and the record events read.

use std::sync::Arc;

use crate::routing::{Route, Target};
use crate::sip::message::HeaderName;

use super::anchor::CallMedia;
use super::leg::{Leg, LegState};
use super::record::CallRecord;

/// A transfer under way: `referrer` (the callee that sent REFER) asked for
/// the caller to be moved to `leg`.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    pub referrer: usize,
    pub leg: usize,
    /// The referrer asked (REFER) and is told how it goes (NOTIFY); an
    /// administrator's transfer tells the callee nothing and hangs it up
    /// once the target answers.
    pub notify: bool,
}

#[derive(Debug)]
pub struct Call {
    pub id: u64,
    pub record: CallRecord,
    pub route: Option<Arc<Route>>,
    /// Leg 0 is the caller's; the others are callee legs in the order tried.
    pub legs: Vec<Leg>,
    /// The callee leg bridged (or being tried) with the caller.
    pub callee: Option<usize>,
    /// The next target of the route to try.
    pub next_target: usize,
    pub redirects: u32,
    /// The status to give the caller when no target is left.
    pub last_failure: Option<(u16, String)>,
    /// Headers every callee INVITE of this call carries (route mapping).
    pub custom_headers: Vec<(HeaderName, String)>,
    pub transfer: Option<Transfer>,
    /// RFC 4028: when the session ends unless a refresh succeeds first.
    pub session_deadline: Option<std::time::Instant>,
    /// The call's anchored media, when `[calls] sdp = "anchor"`.
    pub media: Option<CallMedia>,
    /// Waiting for the route's hook: no target is tried yet.
    pub hook_waiting: bool,
    /// The targets the hook chose, in place of the route's; empty: the
    /// route's.
    pub hook_targets: Vec<Target>,
}

impl Call {
    pub fn caller(&self) -> &Leg {
        &self.legs[0]
    }

    /// The leg bridged with `leg`: the caller's for a callee, the current
    /// callee for the caller.
    pub fn peer_of(&self, leg: usize) -> Option<usize> {
        if leg == 0 {
            self.callee
        } else if Some(leg) == self.callee {
            Some(0)
        } else {
            None
        }
    }

    /// Nothing left to do: every leg is over.
    pub fn is_done(&self) -> bool {
        self.legs.iter().all(|l| l.state == LegState::Terminated)
    }
}
