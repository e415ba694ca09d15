//! State other parts of the program read (the status page, events): a
//! snapshot the signalling loop refreshes after every step.

use std::sync::{Arc, Mutex};

use crate::call::{CallRecord, CallStats};
use crate::sip::registration::RegistrationStatus;

#[derive(Clone, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<Snapshot>>,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub registrations: Vec<RegistrationStatus>,
    /// Recently finished calls, then the calls in progress (refreshed once
    /// a second).
    pub calls: Vec<CallRecord>,
    pub call_stats: CallStats,
}

impl StatusBoard {
    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn update_registrations(&self, now: Vec<RegistrationStatus>) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.registrations != now {
            s.registrations = now;
        }
    }

    pub fn update_calls(&self, calls: Vec<CallRecord>, stats: CallStats) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.calls = calls;
        s.call_stats = stats;
    }
}
