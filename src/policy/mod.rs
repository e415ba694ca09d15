//! Admission policy: which sources may talk to the gateway at all, and how
//! fast.

mod admission;
mod allowlist;
mod emergency_exempt;
mod rate_limit;

pub use admission::{Admission, AdmissionCounters, DenyReason, Verdict};
pub use allowlist::Allowlist;
pub use emergency_exempt::{call_id, is_emergency_invite};
pub use rate_limit::SourceRateLimiter;
