//! Where a route sends a call, compiled from the config.

use crate::config::{AccountConfig, ConfigError, TargetConfig, TransportName};
use crate::sip::message::{HeaderName, SipUri, Uri};

use super::header_plan::{check_name, check_value};

/// Credentials that answer the target's challenge. Kept apart from the URI:
/// the user part of the URI says where the call goes, not who logs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetCredentials {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub uri: SipUri,
    pub transport: TransportName,
    pub credentials: Option<TargetCredentials>,
    pub account: Option<String>,
    pub extra_headers: Vec<(HeaderName, String)>,
}

impl Target {
    pub fn compile(
        c: &TargetConfig,
        field: &str,
        accounts: &[AccountConfig],
    ) -> Result<Target, ConfigError> {
        let f = |x: &str| format!("{field}.{x}");
        let uri = match Uri::parse(c.uri.trim()) {
            Ok(Uri::Sip(u)) if u.secure => {
                return Err(ConfigError::invalid(
                    f("uri"),
                    "sips: needs TLS, which is not available yet; use sip:",
                ))
            }
            Ok(Uri::Sip(u)) => u,
            Ok(_) => {
                return Err(ConfigError::invalid(
                    f("uri"),
                    format!("'{}' is not a sip: URI", c.uri),
                ))
            }
            Err(e) => return Err(ConfigError::invalid(f("uri"), format!("'{}': {e}", c.uri))),
        };
        let credentials = match (&c.username, &c.password) {
            (Some(u), Some(p)) if !u.is_empty() => {
                check_value(u, &f("username"))?;
                check_value(p, &f("password"))?;
                Some(TargetCredentials {
                    username: u.clone(),
                    password: p.clone(),
                })
            }
            (None, None) => None,
            (Some(u), None) if u.is_empty() => None,
            (Some(_), _) => {
                return Err(ConfigError::invalid(
                    f("password"),
                    "a username needs its password",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    f("username"),
                    "a password needs its username",
                ))
            }
        };
        if let Some(a) = &c.account {
            if !accounts.iter().any(|x| &x.name == a) {
                return Err(ConfigError::invalid(
                    f("account"),
                    format!("no [[account]] is named '{a}'"),
                ));
            }
        }
        let mut extra_headers = Vec::new();
        for (i, h) in c.headers.iter().enumerate() {
            let hf = format!("{field}.headers[{i}]");
            let (name, value) = h.split_once(':').ok_or_else(|| {
                ConfigError::invalid(&hf, format!("'{h}' is not of the form \"Name: value\""))
            })?;
            let (name, value) = (name.trim(), value.trim());
            check_name(name, &hf, false)?;
            check_value(value, &hf)?;
            extra_headers.push((HeaderName::from_wire(name), value.to_string()));
        }
        Ok(Target {
            uri,
            transport: c.transport,
            credentials,
            account: c.account.clone(),
            extra_headers,
        })
    }
}
