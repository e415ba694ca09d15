//! Admission policy: which sources may talk to the gateway at all, and how
//! fast.

mod admission;
mod allowlist;
mod drop_hint;
mod drop_log;
mod emergency_exempt;
mod rate_limit;

pub use admission::{Admission, AdmissionCounters, AdmissionVerdict, DenyReason};
pub use allowlist::Allowlist;
pub use drop_hint::{drop_hint, HintContext};
pub use drop_log::{DropKey, DropLine, DropLog, DropSummary, DROP_LOG_WINDOW};
pub use emergency_exempt::{call_id, is_emergency_invite};
pub use rate_limit::SourceRateLimiter;

/// An address as a test writes it.
#[cfg(test)]
fn ip(text: &str) -> std::net::IpAddr {
    match text.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("{text}: {e}"),
    }
}
