//! Header-based routing, pure: which route takes a call (by X-PH-* and any
//! other header, the dialled number or the caller), where it goes, and how
//! its headers are mapped onto the callee's INVITE.

mod header_plan;
mod matcher;
mod router;
mod tags;
mod target;

#[cfg(test)]
mod tests;

pub use header_plan::{HeaderPlan, OWNED_HEADERS};
pub use matcher::{Match, Subject, Test};
pub use router::{Route, Router};
pub use tags::{is_x_header, x_headers, CallTags};
pub use target::{Target, TargetCredentials};
