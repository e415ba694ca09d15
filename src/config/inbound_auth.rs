//! Digest credentials that peers on the WAN side may present (Retreaver
//! inbound SIP by username/password, a SIP trunk that authenticates).

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// The digest algorithm names (RFC 7616 §6.1, RFC 8760 §2.1) the gateway
/// can challenge with, compared case-insensitively; the core reads them
/// into the SIP stack's own type.
pub const DIGEST_ALGORITHMS: [&str; 6] = [
    "MD5",
    "MD5-sess",
    "SHA-256",
    "SHA-256-sess",
    "SHA-512-256",
    "SHA-512-256-sess",
];

/// RFC 3261 §25.1 `token`: what a method name is made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundAuthConfig {
    /// The realm in challenges.
    pub realm: String,
    /// 401 (WWW-Authenticate, as a user agent) or 407 (Proxy-Authenticate).
    pub status: u16,
    /// Challenges offered, most preferred first (RFC 8760 §2.4).
    pub algorithms: Vec<String>,
    /// Methods that must be authenticated when users are configured.
    pub methods: Vec<String>,
    /// A source with this many failures within `failure_window_s` is
    /// ignored for `block_s`.
    pub max_failures: u32,
    pub failure_window_s: u64,
    pub block_s: u64,
    /// A nonce older than this is answered with a fresh stale=true challenge.
    pub nonce_lifetime_s: u64,
    pub users: Vec<InboundUser>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundUser {
    pub username: String,
    pub password: String,
}

impl Default for InboundAuthConfig {
    fn default() -> Self {
        InboundAuthConfig {
            realm: "pbxgate".into(),
            status: 401,
            algorithms: vec!["MD5".into()],
            methods: vec!["INVITE".into()],
            max_failures: 5,
            failure_window_s: 60,
            block_s: 300,
            nonce_lifetime_s: 300,
            users: Vec::new(),
        }
    }
}

impl InboundAuthConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let f = |name: &str| format!("inbound_auth.{name}");
        if self.realm.is_empty() || self.realm.contains(['"', '\\', '\r', '\n']) {
            return Err(ConfigError::invalid(
                f("realm"),
                "must be non-empty, without quotes, backslashes or line breaks",
            ));
        }
        if self.status != 401 && self.status != 407 {
            return Err(ConfigError::invalid(
                f("status"),
                format!("{} must be 401 or 407", self.status),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::invalid(
                f("algorithms"),
                "list at least one of \"SHA-256\", \"MD5\", \"SHA-512-256\"",
            ));
        }
        for a in &self.algorithms {
            if !DIGEST_ALGORITHMS.iter().any(|n| n.eq_ignore_ascii_case(a)) {
                return Err(ConfigError::invalid(
                    f("algorithms"),
                    format!("'{a}' is not one of SHA-256, MD5, SHA-512-256 (or their -sess forms)"),
                ));
            }
        }
        for m in &self.methods {
            if !is_token(m) || matches!(m.as_str(), "ACK" | "CANCEL") {
                return Err(ConfigError::invalid(
                    f("methods"),
                    format!("'{m}' cannot be challenged"),
                ));
            }
        }
        if self.block_s > 86_400 || self.failure_window_s > 86_400 {
            return Err(ConfigError::invalid(
                f("block_s"),
                "block_s and failure_window_s must be at most 86400 (a day)",
            ));
        }
        if self.max_failures == 0 || self.failure_window_s == 0 {
            return Err(ConfigError::invalid(
                f("max_failures"),
                "max_failures and failure_window_s must be at least 1",
            ));
        }
        if !(10..=3600).contains(&self.nonce_lifetime_s) {
            return Err(ConfigError::invalid(
                f("nonce_lifetime_s"),
                "must be 10..=3600 seconds",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.username.is_empty() || u.username.contains(['"', '\\', '\r', '\n']) {
                return Err(ConfigError::invalid(
                    format!("inbound_auth.users[{i}].username"),
                    "must be non-empty, without quotes, backslashes or line breaks",
                ));
            }
            if u.password.is_empty() {
                return Err(ConfigError::invalid(
                    format!("inbound_auth.users[{i}].password"),
                    "must not be empty",
                ));
            }
            if !seen.insert(u.username.as_str()) {
                return Err(ConfigError::invalid(
                    format!("inbound_auth.users[{i}].username"),
                    format!("'{}' is listed twice", u.username),
                ));
            }
        }
        Ok(())
    }
}
