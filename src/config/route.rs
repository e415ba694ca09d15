//! Routes as written in the config: which calls they take, where they
//! send them, and how headers are mapped. Compiled by `routing::Router`.

use serde::{Deserialize, Serialize};

use super::schema::{Side, TransportName};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    /// The side calls arrive on: `wan` (cloud → PBX) or `lan` (PBX → cloud).
    #[serde(default = "default_from")]
    pub from: Side,
    /// All must match; none = a catch-all (default) route.
    #[serde(default, rename = "match")]
    pub matches: Vec<MatchConfig>,
    /// Tried in order: the next on timeout, 408 or 5xx.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Applied in order to build the custom headers of the callee's INVITE.
    #[serde(default)]
    pub headers: Vec<HeaderActionConfig>,
}

fn default_from() -> Side {
    Side::Wan
}

/// One condition: a subject (`header`, `dialled` or `caller`) and a test
/// (`equals`, `prefix`, `regex`, `present` or `absent`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absent: Option<bool>,
}

/// A SIP target as the Retreaver buyer form has it: the URI to dial, and
/// optional credentials and headers that are separate from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub uri: String,
    #[serde(default = "default_transport")]
    pub transport: TransportName,
    /// Answers a 401/407 from the target; never derived from the URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Place the call as this [[account]] (its identity and credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Extra headers, "Name: value".
    #[serde(default)]
    pub headers: Vec<String>,
}

fn default_transport() -> TransportName {
    TransportName::Udp
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderActionConfig {
    pub action: HeaderActionKind,
    /// The header produced, stripped or passed (a trailing * is a prefix
    /// for `pass` and `strip`).
    pub name: String,
    /// The header read by `rename` and `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The constant of `set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderActionKind {
    Pass,
    Rename,
    Set,
    Copy,
    Strip,
}
