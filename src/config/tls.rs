//! `[tls]`: SIP over TLS (docs/tls.md): the box's own certificate, whom it
//! trusts when it connects, and the limits that keep a handshake flood
//! from starving calls. Which listeners speak TLS is each listener's
//! `transports` (and `tls_bind`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::checks::check_range;
use super::error::ConfigError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The server certificate (PEM chain) and key; absent: a self-signed
    /// one made in the data directory at first start (`sip-cert.pem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// CA certificates (PEM) trusted besides the public roots when the box
    /// connects to a registrar, proxy or target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// A client certificate and key shown when the far end asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
    /// A handshake not done in this time is dropped.
    pub handshake_timeout_ms: u64,
    /// Handshakes in progress from one source address, at most; more are
    /// closed at once.
    pub max_handshakes_per_source: u32,
    /// Handshakes in progress in all, at most.
    pub max_handshakes: u32,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            handshake_timeout_ms: 5000,
            max_handshakes_per_source: 4,
            max_handshakes: 64,
        }
    }
}

impl TlsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        pair(
            "tls.cert_file",
            "tls.key_file",
            &self.cert_file,
            &self.key_file,
        )?;
        pair(
            "tls.client_cert_file",
            "tls.client_key_file",
            &self.client_cert_file,
            &self.client_key_file,
        )?;
        check_range(
            "tls.handshake_timeout_ms",
            self.handshake_timeout_ms,
            500..=60_000,
            " ms",
        )?;
        check_range(
            "tls.max_handshakes_per_source",
            self.max_handshakes_per_source as u64,
            1..=1000,
            "",
        )?;
        check_range(
            "tls.max_handshakes",
            self.max_handshakes as u64,
            1..=10_000,
            "",
        )?;
        if self.max_handshakes < self.max_handshakes_per_source {
            return Err(ConfigError::invalid(
                "tls.max_handshakes",
                "must be at least tls.max_handshakes_per_source",
            ));
        }
        Ok(())
    }
}

/// A certificate needs its key and a key its certificate.
fn pair(
    cert_field: &str,
    key_field: &str,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    match (cert, key) {
        (Some(_), None) => Err(ConfigError::invalid(
            key_field,
            format!("{cert_field} needs its key: set {key_field}"),
        )),
        (None, Some(_)) => Err(ConfigError::invalid(
            cert_field,
            format!("{key_field} needs its certificate: set {cert_field}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn defaults_are_valid_and_a_half_pair_is_named() {
        TlsConfig::default().validate().expect("defaults");
        let e = Config::from_toml("[tls]\ncert_file = \"/etc/pbxgate/sip.pem\"\n").unwrap_err();
        assert!(e.contains("tls.key_file"), "{e}");
        let e = Config::from_toml("[tls]\nclient_key_file = \"/k.pem\"\n").unwrap_err();
        assert!(e.contains("tls.client_cert_file"), "{e}");
        let e = Config::from_toml("[tls]\nhandshake_timeout_ms = 10\n").unwrap_err();
        assert!(e.contains("tls.handshake_timeout_ms"), "{e}");
    }
}
