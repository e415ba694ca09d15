//! Admission policy: which sources may talk to the gateway at all, and how
//! fast.

mod admission;
mod allowlist;
mod rate_limit;

pub use admission::{Admission, AdmissionCounters, DenyReason, Verdict};
pub use allowlist::Allowlist;
pub use rate_limit::SourceRateLimiter;
