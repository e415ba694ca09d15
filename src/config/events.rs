//! `[[webhook]]` and `[events]`: where call events go and how much of
//! them the outbox keeps while a sink is down (see docs/events.md).

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::checks::{check_name, check_range, check_unique};
use super::error::ConfigError;

/// The event names a webhook's `events` filter may list.
pub const EVENT_NAMES: &[&str] = &["newCall", "answer", "hangup", "dtmf", "registration"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `application/x-www-form-urlencoded` with sipgate.io's field names.
    #[default]
    Sipgate,
    /// `application/json`, the same fields.
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook in logs, on the page and in the outbox.
    pub name: String,
    /// `https://...`; `http://` only with `allow_http = true`.
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
    /// The events sent; empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Signs each request (X-Pbxgate-Signature); absent: unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// PEM file of CA certificates trusted besides the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server certificate (64 hex digits, colons allowed):
    /// only that certificate is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_sha256: Option<String>,
    #[serde(default)]
    pub allow_http: bool,
    /// Connect and answer time limit of one attempt.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    5000
}

impl WebhookConfig {
    /// Whether this webhook takes events named `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }

    /// The pin as 32 bytes.
    pub fn pin(&self) -> Option<[u8; 32]> {
        let hex: String = self
            .pin_sha256
            .as_deref()?
            .chars()
            .filter(|c| *c != ':')
            .collect();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }

    fn validate(&self, i: usize) -> Result<(), ConfigError> {
        let f = |k: &str| format!("webhook[{i}].{k}");
        check_name(f("name"), &self.name, 32, b"-_.")?;
        check_url(&f("url"), &self.url, self.allow_http, "allow_http")?;
        for (j, e) in self.events.iter().enumerate() {
            if !EVENT_NAMES.contains(&e.as_str()) {
                return Err(ConfigError::invalid(
                    format!("webhook[{i}].events[{j}]"),
                    format!("'{e}' is not an event: {}", EVENT_NAMES.join(", ")),
                ));
            }
        }
        if let Some(s) = &self.secret {
            if s.is_empty() {
                return Err(ConfigError::invalid(
                    f("secret"),
                    "an empty secret signs nothing: leave it out or set one",
                ));
            }
        }
        if self.pin_sha256.is_some() && self.pin().is_none() {
            return Err(ConfigError::invalid(
                f("pin_sha256"),
                "must be the certificate's SHA-256 as 64 hex digits (colons allowed)",
            ));
        }
        check_range(f("timeout_ms"), self.timeout_ms, 100..=60_000, " ms")?;
        Ok(())
    }
}

/// An https:// URL (http:// only when `allow_http`, named `allow_key` in
/// the error) with a host and no credentials.
pub fn check_url(
    field: &str,
    url: &str,
    allow_http: bool,
    allow_key: &str,
) -> Result<(), ConfigError> {
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        if !allow_http {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "plain http sends call data unencrypted: use https, or set {allow_key} = true"
                ),
            ));
        }
        r
    } else {
        return Err(ConfigError::invalid(
            field,
            format!("'{url}' is not an https:// (or http://) URL"),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains('@') {
        return Err(ConfigError::invalid(
            field,
            "credentials in the URL (user:password@) are not sent: use a secret to sign requests, or a token in the path",
        ));
    }
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(ConfigError::invalid(field, format!("'{url}' has no host")));
    }
    Ok(())
}

/// `[events]`: the outbox's bounds and the custom headers events carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Undelivered events kept at most (all sinks together).
    pub max_events: u64,
    /// Their bodies' size at most, MiB.
    pub max_mib: u64,
    /// Headers of the caller's INVITE copied into events (besides the
    /// X-PH-Retreaver* values, which always are).
    pub headers: Vec<String>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            max_events: 100_000,
            max_mib: 64,
            headers: Vec::new(),
        }
    }
}

impl EventsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "events.max_events",
            self.max_events,
            100..=10_000_000,
            " events",
        )?;
        check_range("events.max_mib", self.max_mib, 1..=4096, " MiB")?;
        for (i, h) in self.headers.iter().enumerate() {
            check_name(format!("events.headers[{i}]"), h, 64, b"-_.")?;
        }
        Ok(())
    }
}

pub fn validate_webhooks(hooks: &[WebhookConfig]) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, h) in hooks.iter().enumerate() {
        h.validate(i)?;
        check_unique(&mut seen, format!("webhook[{i}].name"), &h.name, "webhook")?;
        if h.name == "mqtt" {
            return Err(ConfigError::invalid(
                format!("webhook[{i}].name"),
                "'mqtt' is the MQTT sink's own name in the outbox: choose another",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn webhooks_are_checked_naming_the_field() {
        for (toml, field) in [
            ("[[webhook]]\nname = \"crm\"\nurl = \"http://crm.example/hook\"\n", "webhook[0].url"),
            ("[[webhook]]\nname = \"crm\"\nurl = \"ftp://crm.example/\"\n", "webhook[0].url"),
            ("[[webhook]]\nname = \"crm\"\nurl = \"https:///x\"\n", "webhook[0].url"),
            ("[[webhook]]\nname = \"crm\"\nurl = \"https://u:p@crm.example/x\"\n", "webhook[0].url"),
            ("[[webhook]]\nname = \"crm\"\nurl = \"https://a\"\nevents = [\"hangup\", \"ringing\"]\n", "webhook[0].events[1]"),
            ("[[webhook]]\nname = \"crm\"\nurl = \"https://a\"\npin_sha256 = \"abc\"\n", "webhook[0].pin_sha256"),
            ("[[webhook]]\nname = \"a\"\nurl = \"https://a\"\n[[webhook]]\nname = \"a\"\nurl = \"https://b\"\n", "webhook[1].name"),
            ("[[webhook]]\nname = \"mqtt\"\nurl = \"https://a\"\n", "webhook[0].name"),
            ("[events]\nmax_events = 5\n", "events.max_events"),
        ] {
            let e = Config::from_toml(toml).unwrap_err().to_string();
            assert!(e.starts_with(field), "{toml}: {e}");
        }
        let ok = Config::from_toml(
            "[[webhook]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9000/hook\"\nallow_http = true\nformat = \"json\"\nevents = [\"hangup\"]\nsecret = \"s\"\npin_sha256 = \"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\"\n",
        )
        .unwrap();
        let h = &ok.webhooks[0];
        assert!(h.wants("hangup") && !h.wants("newCall"));
        assert_eq!(h.pin().unwrap()[0], 0xab);
    }
}
