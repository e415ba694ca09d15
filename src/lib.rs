//! pbxgate: an edge gateway between an on-prem IP-PBX and cloud voice
//! platforms. See README.md and docs/ for the architecture.

pub mod app;
pub mod call;
pub mod config;
pub mod events;
pub mod gateway;
pub mod line;
pub mod logging;
pub mod media;
pub mod policy;
pub mod routing;
pub mod sip;
pub mod store;
pub mod web;

#[cfg(test)]
mod test_support;
