//! Call routing: which route an incoming INVITE takes, where it is sent
//! (ordered targets for failover) and which custom headers go with it.
//! Everything here is pure and compiled once from the configuration, so a
//! configuration that loads always yields a working `Router`.

mod emergency;
mod explain;
mod header_plan;
mod header_text;
mod hook;
mod matcher;
mod origin;
mod owned;
mod pattern;
mod router;
mod tags;
mod target;
mod warnings;

#[cfg(test)]
mod tests;

pub use emergency::EmergencyNumbers;
pub use explain::{Explanation, RouteVerdict};
pub use header_plan::{HeaderAction, HeaderPlan};
pub use hook::{parse_hook_answer, HookAnswerError, HookDecision};
pub use matcher::{Match, MatchSubject, MatchTest};
pub use origin::Origin;
pub use owned::{is_owned, OWNED_HEADERS};
pub use pattern::NamePattern;
pub use router::{Route, Router};
pub use tags::{x_headers, CallTags};
pub use target::{Target, TargetCredentials};
pub use warnings::route_warnings;
