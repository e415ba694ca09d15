//! State other parts of the program read (the status page, events): a
//! snapshot the signalling loop refreshes after every step.

use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::call::{CallRecord, CallStats};
use crate::policy::AdmissionCounters;
use crate::sip::registration::RegistrationStatus;

use super::stats::{CoreStats, MediaTotals};

#[derive(Clone, Debug, Default)]
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
    /// Per listener, in configuration order (refreshed with the calls).
    pub admission: Vec<ListenerCounters>,
    pub core: CoreStats,
    pub media: MediaTotals,
    /// Transactions under way.
    pub transactions: usize,
}

/// A listener's admission counters and the networks it refused most.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerCounters {
    pub name: String,
    pub counters: AdmissionCounters,
    /// Refused packets per /24 (IPv6: /48), most first, at most 10.
    pub top_refused: Vec<(IpNet, u64)>,
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

    /// The core's counters, with the calls (once a second).
    pub fn update_counters(&self, core: &super::Core) {
        let admission = core.admission_counters();
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.admission = admission;
        s.core = core.stats().clone();
        s.media = core.media_totals().clone();
        s.transactions = core.live_transactions();
    }
}

#[cfg(test)]
impl StatusBoard {
    /// Listener counters as if the loop had refreshed them.
    pub fn set_admission_for_test(&self, admission: Vec<ListenerCounters>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admission = admission;
    }
}
