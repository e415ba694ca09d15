//! Accounts: registrations the gateway keeps with cloud SIP domains
//! (SignalWire endpoints, Twilio/Retreaver credential setups, any registrar).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::checks::{check_name, check_range, NAME_MAX, NAME_PUNCTUATION};
use super::error::ConfigError;
use super::sides::TransportName;
use super::srtp::{SrtpMode, SDES_NEEDS_TLS};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// A short name for logs and the status page.
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where REGISTER goes, e.g. "sip:example.sip.signalwire.com" or
    /// "sip:203.0.113.5:5060".
    pub registrar: String,
    /// The user part of the address of record.
    pub username: String,
    /// The name to authenticate with, when it differs from `username`.
    #[serde(default)]
    pub auth_username: Option<String>,
    #[serde(default)]
    pub password: String,
    /// The domain of the address of record; default: the registrar's host.
    #[serde(default)]
    pub domain: Option<String>,
    /// The registration lifetime asked for; the registrar may grant less.
    #[serde(default = "default_expires")]
    pub expires_s: u32,
    #[serde(default = "default_transport")]
    pub transport: TransportName,
    /// Sent every request through this proxy (a loose route), if set.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// The address the registrar should reach the gateway at, when it is
    /// known and fixed (a port forward); otherwise learned from the
    /// registrar's `received`/`rport`.
    #[serde(default)]
    pub public_address: Option<SocketAddr>,
    /// The listener whose socket is used (normally the WAN one).
    #[serde(default = "default_listener")]
    pub listener: String,
    /// NAT keep-alive interval (OPTIONS over UDP, CRLF over TCP); 0 = off.
    #[serde(default = "default_keepalive")]
    pub keepalive_interval_s: u64,
    /// First retry delay after a failure; doubles up to `retry_max_s`.
    #[serde(default = "default_retry_base")]
    pub retry_base_s: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_s: u64,
    /// SRTP on the calls placed through this account (its targets'
    /// default); "offer" or "require" only over TLS.
    #[serde(default, skip_serializing_if = "SrtpMode::is_default")]
    pub srtp: SrtpMode,
}

fn yes() -> bool {
    true
}
fn default_expires() -> u32 {
    3600
}
fn default_transport() -> TransportName {
    TransportName::Udp
}
fn default_listener() -> String {
    "wan".into()
}
fn default_keepalive() -> u64 {
    30
}
fn default_retry_base() -> u64 {
    10
}
fn default_retry_max() -> u64 {
    300
}

impl AccountConfig {
    pub fn validate(&self, index: usize, listener_names: &[&str]) -> Result<(), ConfigError> {
        let field = |f: &str| format!("account[{index}].{f}");
        check_name(field("name"), &self.name, NAME_MAX, NAME_PUNCTUATION)?;
        // The registrar and proxy URIs are read by the core
        // (`app::registration_params`), which knows SIP URIs; here only
        // what any text field needs.
        if self.registrar.trim().is_empty() {
            return Err(ConfigError::invalid(
                field("registrar"),
                "must be the registrar's SIP URI, e.g. \"sip:example.com\"",
            ));
        }
        let user_ok = |u: &str| {
            !u.is_empty()
                && u.len() <= 128
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b))
        };
        if !user_ok(&self.username) {
            return Err(ConfigError::invalid(
                field("username"),
                "must be 1-128 characters of a SIP user part (letters, digits, -_.!~*'()&=+$,;?/)",
            ));
        }
        if let Some(a) = &self.auth_username {
            if a.is_empty() || a.contains(['"', '\\', '\r', '\n']) {
                return Err(ConfigError::invalid(
                    field("auth_username"),
                    "must be non-empty, without quotes, backslashes or line breaks",
                ));
            }
        }
        if self.password.contains(['\r', '\n']) {
            return Err(ConfigError::invalid(field("password"), "must be one line"));
        }
        check_range(field("expires_s"), self.expires_s, 10..=86_400, " seconds")?;
        if !listener_names.contains(&self.listener.as_str()) {
            return Err(ConfigError::invalid(
                field("listener"),
                format!("no listener is named '{}'", self.listener),
            ));
        }
        if self.keepalive_interval_s != 0 && !(5..=3600).contains(&self.keepalive_interval_s) {
            return Err(ConfigError::invalid(
                field("keepalive_interval_s"),
                "must be 0 (off) or 5..=3600 seconds",
            ));
        }
        if self.retry_base_s == 0
            || self.retry_max_s < self.retry_base_s
            || self.retry_max_s > 86_400
        {
            return Err(ConfigError::invalid(
                field("retry_max_s"),
                "retry_base_s must be at least 1, and retry_max_s between retry_base_s and 86400",
            ));
        }
        if self.srtp != SrtpMode::Off && !self.uses_tls() {
            return Err(ConfigError::invalid(
                field("srtp"),
                format!(
                    "{SDES_NEEDS_TLS}: set transport = \"tls\" (or a sips: registrar) for srtp = \"{}\"",
                    self.srtp.name()
                ),
            ));
        }
        Ok(())
    }

    /// The account is reached over TLS: `transport = "tls"`, a sips:
    /// registrar or `;transport=tls` on it.
    pub fn uses_tls(&self) -> bool {
        let r = self.registrar.trim().to_ascii_lowercase();
        self.transport == TransportName::Tls
            || r.starts_with("sips:")
            || r.contains(";transport=tls")
    }
}
