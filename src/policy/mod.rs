//! Admission policy: which sources may talk to the gateway at all.

mod allowlist;

pub use allowlist::Allowlist;
