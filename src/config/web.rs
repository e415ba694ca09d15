//! `[web]`: the local web page and JSON API, served over HTTPS on the LAN.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::checks::check_range;
use super::error::ConfigError;
use super::schema::default_allow;
use super::sides::Side;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the page at all.
    pub enabled: bool,
    /// Address and port of the HTTPS server, e.g. "0.0.0.0:8443".
    pub bind: SocketAddr,
    /// Source networks (CIDR or address) that may connect; checked on the
    /// TCP peer before the TLS handshake. Absent = the private, loopback
    /// and link-local ranges (a LAN listener's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// A certificate (PEM) and its key to use instead of the self-signed
    /// one made in the data directory at first start. Both or neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// A session unused this long is ended (minutes).
    pub session_idle_min: u64,
    /// Failed logins from one source within `login_window_min` before it
    /// is refused (429) until the oldest failure leaves the window.
    pub login_failures: u32,
    pub login_window_min: u64,
    /// Sources (CIDR or address) that may read `/metrics` without a
    /// token; everyone else needs an API token as a bearer. Empty by
    /// default: a scraper is given a token.
    pub metrics_allow: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            bind: SocketAddr::from(([0, 0, 0, 0], 8443)),
            allow: None,
            cert_file: None,
            key_file: None,
            session_idle_min: 30,
            login_failures: 5,
            login_window_min: 15,
            metrics_allow: Vec::new(),
        }
    }
}

impl WebConfig {
    /// The networks that may connect: `allow`, or the LAN default.
    pub fn allow_list(&self) -> Vec<String> {
        self.allow
            .clone()
            .unwrap_or_else(|| default_allow(Side::Lan))
    }

    /// `allow_list` parsed; an entry without a prefix is one address.
    pub fn allow_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.allow_list()
            .iter()
            .enumerate()
            .map(|(i, s)| parse_net(s).ok_or_else(|| bad_net(i, s)))
            .collect()
    }

    /// `metrics_allow` parsed.
    pub fn metrics_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.metrics_allow
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_net(s).ok_or_else(|| {
                    ConfigError::invalid(
                        format!("web.metrics_allow[{i}]"),
                        format!(
                            "'{s}' is not a network (CIDR such as 192.168.1.0/24) or an address"
                        ),
                    )
                })
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.allow_nets()?;
        self.metrics_nets()?;
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "web.key_file",
                    "web.cert_file is set, so the key that goes with it is needed too",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "web.cert_file",
                    "web.key_file is set, so the certificate that goes with it is needed too",
                ))
            }
            _ => {}
        }
        check_range(
            "web.session_idle_min",
            self.session_idle_min,
            1..=1440,
            " minutes",
        )?;
        check_range(
            "web.login_failures",
            self.login_failures,
            1..=1000,
            " failures",
        )?;
        check_range(
            "web.login_window_min",
            self.login_window_min,
            1..=1440,
            " minutes",
        )?;
        Ok(())
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn bad_net(i: usize, s: &str) -> ConfigError {
    ConfigError::invalid(
        format!("web.allow[{i}]"),
        format!("'{s}' is not a network (CIDR such as 192.168.1.0/24) or an address"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_allows_the_lan_ranges() {
        let nets = WebConfig::default().allow_nets().unwrap();
        let allowed = |ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            nets.iter().any(|n| n.contains(&ip))
        };
        for ip in [
            "127.0.0.1",
            "192.168.1.20",
            "10.1.2.3",
            "172.16.0.9",
            "fe80::1",
        ] {
            assert!(allowed(ip), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1"] {
            assert!(!allowed(ip), "{ip}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let mut c = WebConfig {
            allow: Some(vec!["10.0.0.0/8".into(), "10.0.0.300/8".into()]),
            ..WebConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("web.allow[1]: '10.0.0.300/8'"), "{e}");
        c.allow = Some(vec!["192.168.1.7".into()]);
        c.validate().unwrap();
        c.cert_file = Some("/etc/pbxgate/cert.pem".into());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("web.key_file:"), "{e}");
        c.key_file = Some("/etc/pbxgate/key.pem".into());
        c.validate().unwrap();
        for (field, bad) in [
            (
                "web.session_idle_min",
                WebConfig {
                    session_idle_min: 0,
                    ..WebConfig::default()
                },
            ),
            (
                "web.login_failures",
                WebConfig {
                    login_failures: 0,
                    ..WebConfig::default()
                },
            ),
            (
                "web.login_window_min",
                WebConfig {
                    login_window_min: 1441,
                    ..WebConfig::default()
                },
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
    }
}
