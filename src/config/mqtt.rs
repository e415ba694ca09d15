//! `[mqtt]`: an MQTT broker that gets every event too, so a fleet of boxes
//! reports to one place (see docs/events.md, "MQTT"). Absent: no MQTT.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use super::checks::{check_name, check_range};
use super::error::ConfigError;

/// The outbox's name for this sink (a webhook may not take it).
pub const MQTT_SINK: &str = "mqtt";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://HOST:PORT` or `mqtts://HOST:PORT` (TLS).
    #[serde(default)]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The box's name in topics; absent: derived from /etc/machine-id
    /// (or, without one, a random id kept in the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
    /// PEM file of CA certificates trusted besides the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// MQTT keep-alive: a PINGREQ after this long without traffic.
    #[serde(default = "default_keepalive_s")]
    pub keepalive_s: u64,
}

fn default_keepalive_s() -> u64 {
    30
}

/// Whether the URL asks for TLS, its host and its port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddress {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl MqttConfig {
    /// The broker's address from `url` (checked by `validate`).
    pub fn broker(&self) -> Result<BrokerAddress, ConfigError> {
        let bad = |why: &str| ConfigError::invalid("mqtt.url", format!("'{}' {why}", self.url));
        let lower = self.url.to_ascii_lowercase();
        let (tls, rest) = if let Some(r) = lower.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = lower.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(bad("is not mqtt://HOST:PORT or mqtts://HOST:PORT"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.contains(char::is_whitespace) {
            return Err(bad("must be only a scheme, a host and a port"));
        }
        // `[v6]:port` or `host:port`.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (h, p) = v6.split_once("]:").ok_or_else(|| bad("has no port"))?;
                (h, p)
            }
            None => rest.rsplit_once(':').ok_or_else(|| bad("has no port"))?,
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("has no valid port (1-65535)"))?;
        Ok(BrokerAddress {
            tls,
            host: host.to_string(),
            port,
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.broker()?;
        if let Some(u) = &self.username {
            // MQTT 3.1.1 §1.5.3: UTF-8 strings hold no U+0000.
            if u.is_empty() || u.contains('\0') || u.len() > 256 {
                return Err(ConfigError::invalid(
                    "mqtt.username",
                    "must be 1-256 characters without NUL",
                ));
            }
        }
        if let Some(p) = &self.password {
            if self.username.is_none() {
                // §3.1.2.9: a password needs a user name.
                return Err(ConfigError::invalid(
                    "mqtt.password",
                    "MQTT sends a password only with a user name: set mqtt.username too",
                ));
            }
            if p.len() > 256 {
                return Err(ConfigError::invalid(
                    "mqtt.password",
                    "must be at most 256 bytes",
                ));
            }
        }
        if let Some(id) = &self.box_id {
            // Goes into topics and the client id: no `/`, `+`, `#`.
            check_name("mqtt.box_id", id, 64, b"-_.")?;
        }
        if let Some(ca) = &self.ca_file {
            if ca.as_os_str().is_empty() {
                return Err(ConfigError::invalid(
                    "mqtt.ca_file",
                    "is empty: leave it out or name a PEM file",
                ));
            }
        }
        // §3.1.2.10: a 16-bit number of seconds; under 5 s is chatter.
        check_range("mqtt.keepalive_s", self.keepalive_s, 5..=3600, " seconds")?;
        Ok(())
    }
}

/// `[mqtt]` as read: a section whose `url` is empty is no MQTT (the page
/// clears the URL to turn MQTT off).
pub fn deserialize_optional<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<MqttConfig>, D::Error> {
    let section = Option::<MqttConfig>::deserialize(d)?;
    Ok(section.filter(|m| !m.url.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn mqtt_fields_are_checked_naming_the_field() {
        for (toml, field) in [
            ("[mqtt]\nurl = \"http://broker:1883\"\n", "mqtt.url"),
            ("[mqtt]\nurl = \"mqtt://broker\"\n", "mqtt.url"),
            ("[mqtt]\nurl = \"mqtt://:1883\"\n", "mqtt.url"),
            ("[mqtt]\nurl = \"mqtt://broker:0\"\n", "mqtt.url"),
            ("[mqtt]\nurl = \"mqtt://broker:1883/x\"\n", "mqtt.url"),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\npassword = \"p\"\n",
                "mqtt.password",
            ),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\nusername = \"\"\n",
                "mqtt.username",
            ),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\nbox_id = \"a/b\"\n",
                "mqtt.box_id",
            ),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\nbox_id = \"a+\"\n",
                "mqtt.box_id",
            ),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\nkeepalive_s = 1\n",
                "mqtt.keepalive_s",
            ),
            (
                "[mqtt]\nurl = \"mqtt://b:1\"\nca_file = \"\"\n",
                "mqtt.ca_file",
            ),
        ] {
            let e = Config::from_toml(toml).unwrap_err();
            assert!(e.starts_with(field), "{toml}: {e}");
        }
        let e = Config::from_toml("[mqtt]\nurl = \"mqtt://b:1\"\nqos = 2\n").unwrap_err();
        assert!(e.contains("qos"), "{e}");
    }

    #[test]
    fn urls_give_tls_host_and_port_and_an_empty_url_is_no_mqtt() {
        let c = Config::from_toml(
            "[mqtt]\nurl = \"MQTTS://broker.example:8883\"\nusername = \"box\"\npassword = \"pw\"\n",
        )
        .unwrap();
        let m = c.mqtt.unwrap();
        assert_eq!(
            m.broker().unwrap(),
            BrokerAddress {
                tls: true,
                host: "broker.example".into(),
                port: 8883
            }
        );
        assert_eq!(m.keepalive_s, 30);
        let m = MqttConfig {
            url: "mqtt://[::1]:1883".into(),
            ..m
        };
        assert_eq!(m.broker().unwrap().host, "::1");
        assert!(!m.broker().unwrap().tls);
        // Started at start only: adding or changing it needs a restart.
        let with = Config::from_toml("[mqtt]\nurl = \"mqtt://b:1\"\n").unwrap();
        assert_eq!(
            crate::config::restart_fields(&Config::default(), &with),
            ["mqtt"]
        );
        let c = Config::from_toml("[mqtt]\nurl = \"\"\n").unwrap();
        assert_eq!(c.mqtt, None);
        assert_eq!(Config::default().mqtt, None);
    }
}
