//! Routes: which calls go where, and with which headers. This file is only
//! the shape of the TOML; `crate::routing` compiles it, and that compilation
//! is also the validation, so the two can never disagree.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::checks::check_range;
use super::error::ConfigError;
use super::events::{check_url, WebhookConfig, WebhookFormat};
use super::media::DtmfMode;
use super::sides::{Side, TransportName};
use super::srtp::SrtpMode;

// The `Option` fields below carry no serde attributes: serde reads a
// missing key as `None`, and the TOML writer leaves a `None` out.

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique; appears in logs and call records.
    pub name: String,
    /// The side the call arrives on.
    #[serde(default = "default_from")]
    pub from: Side,
    /// All must pass; none = a catch-all route.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<MatchConfig>,
    /// Tried in order; at least one. Defaulted so that a missing list gets
    /// the same indexed error as an empty one.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Applied in order to build the outgoing INVITE's custom headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderActionConfig>,
    /// How the arriving leg (the caller) carries DTMF.
    #[serde(default, skip_serializing_if = "DtmfMode::is_default")]
    pub caller_dtmf: DtmfMode,
    /// A routing hook (docs/routing.md): the call's newCall fields are
    /// POSTed here and the JSON answer may choose the targets, add headers
    /// or reject the call. `https://...`; `http://` only with
    /// `hook_allow_http`.
    pub hook: Option<String>,
    /// How long a call waits for the hook before the route's own targets
    /// apply.
    #[serde(
        default = "default_hook_timeout_ms",
        skip_serializing_if = "is_default_hook_timeout"
    )]
    pub hook_timeout_ms: u64,
    /// Signs the hook's requests as webhooks are signed.
    pub hook_secret: Option<String>,
    /// PEM file of CA certificates trusted besides the public roots.
    pub hook_ca_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook_allow_http: bool,
}

fn default_from() -> Side {
    Side::Wan
}

pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 1500;

fn default_hook_timeout_ms() -> u64 {
    DEFAULT_HOOK_TIMEOUT_MS
}

fn is_default_hook_timeout(ms: &u64) -> bool {
    *ms == DEFAULT_HOOK_TIMEOUT_MS
}

impl RouteConfig {
    /// The hook as a webhook sink's settings (JSON, signed, one attempt
    /// bounded by the hook's timeout), so hooks and webhooks share one
    /// HTTPS client.
    pub fn hook_settings(&self) -> Option<WebhookConfig> {
        Some(WebhookConfig {
            name: format!("hook {}", self.name),
            url: self.hook.clone()?,
            format: WebhookFormat::Json,
            events: vec!["newCall".into()],
            secret: self.hook_secret.clone(),
            ca_file: self.hook_ca_file.clone(),
            pin_sha256: None,
            allow_http: self.hook_allow_http,
            timeout_ms: self.hook_timeout_ms,
        })
    }

    /// The hook's fields, checked; `field` is `route[i]`.
    pub fn validate_hook(&self, field: &str) -> Result<(), ConfigError> {
        let f = |k: &str| format!("{field}.{k}");
        let Some(url) = &self.hook else {
            return Ok(());
        };
        check_url(&f("hook"), url, self.hook_allow_http, "hook_allow_http")?;
        if self.hook_secret.as_deref() == Some("") {
            return Err(ConfigError::invalid(
                f("hook_secret"),
                "an empty secret signs nothing: leave it out or set one",
            ));
        }
        check_range(
            f("hook_timeout_ms"),
            self.hook_timeout_ms,
            100..=10_000,
            " ms",
        )
    }
}

/// One condition: a subject (`header`, `dialled` or `caller`) and a test
/// (`equals`, `prefix`, `regex`, `present` or `absent`). Flat so the TOML
/// stays one inline table; `routing::Match` turns it into an enum and says
/// what is missing or doubled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    pub header: Option<String>,
    pub dialled: Option<bool>,
    pub caller: Option<bool>,
    pub equals: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<String>,
    pub present: Option<bool>,
    pub absent: Option<bool>,
}

/// Where to send a call. The URI says where; credentials are separate and
/// used only when the far end challenges (never taken from the URI).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub uri: String,
    /// Default: the URI's `transport=` parameter, else the account's, else UDP.
    pub transport: Option<TransportName>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Place the call through this `[[account]]`: its credentials and its
    /// outbound proxy.
    pub account: Option<String>,
    /// Extra header lines for this target only, "Name: value".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// How this target carries DTMF (e.g. "inband" for an analog gateway
    /// that only hears tones).
    #[serde(default, skip_serializing_if = "DtmfMode::is_default")]
    pub dtmf: DtmfMode,
    /// SRTP toward this target; "off" takes the account's setting.
    /// "offer" or "require" only over TLS.
    #[serde(default, skip_serializing_if = "SrtpMode::is_default")]
    pub srtp: SrtpMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderActionKind {
    Rename,
    Set,
    Copy,
    Strip,
    Pass,
}

/// One header action. Which of `from`/`value` an action needs is checked
/// when the route is compiled, so the error can name the entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderActionConfig {
    pub action: HeaderActionKind,
    #[serde(default)]
    pub name: String,
    pub from: Option<String>,
    pub value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const EXAMPLE: &str = r#"
[[account]]
name = "cloud"
registrar = "sip:sip.example.com"
username = "pbx"
password = "secret"

[[route]]
name = "afid-5678"
from = "wan"
match = [
  { header = "X-PH-RetreaverAFID", equals = "5678" },
  { dialled = true, prefix = "+1888" },
  { caller = true, regex = "^\\+1555" },
  { header = "X-Campaign-ID", present = true },
  { header = "X-Test", absent = true },
]
targets = [
  { uri = "sip:queue1@127.0.0.1:5090", transport = "udp" },
  { uri = "sip:buyer@example.com", username = "u", password = "p", headers = ["X-Campaign-ID: 1234"] },
  { account = "cloud", uri = "sip:+18885551234@sip.example.com" },
]
headers = [
  { action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" },
  { action = "set", name = "X-Campaign-ID", value = "1234" },
  { action = "copy", from = "X-PH-RetreaverSID", name = "X-Sub-ID" },
  { action = "strip", name = "X-PH-RetreaverKey" },
  { action = "pass", name = "X-Twilio-*" },
]

[[route]]
name = "from-pbx"
from = "lan"
targets = [{ account = "cloud", uri = "sip:+18005550000@sip.example.com" }]
"#;

    #[test]
    fn example_parses_and_round_trips() {
        let cfg = match Config::from_toml(EXAMPLE) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(cfg.routes.len(), 2);
        let r = &cfg.routes[0];
        assert_eq!(r.name, "afid-5678");
        assert_eq!(r.from, Side::Wan);
        assert_eq!(r.matches.len(), 5);
        assert_eq!(
            r.matches[2],
            MatchConfig {
                caller: Some(true),
                regex: Some("^\\+1555".into()),
                ..MatchConfig::default()
            }
        );
        assert_eq!(r.targets.len(), 3);
        assert_eq!(r.targets[0].transport, Some(TransportName::Udp));
        assert_eq!(r.targets[1].username.as_deref(), Some("u"));
        assert_eq!(
            r.targets[1].headers,
            vec!["X-Campaign-ID: 1234".to_string()]
        );
        assert_eq!(r.targets[2].account.as_deref(), Some("cloud"));
        assert_eq!(r.headers.len(), 5);
        assert_eq!(r.headers[4].action, HeaderActionKind::Pass);
        assert_eq!(r.headers[4].name, "X-Twilio-*");
        assert_eq!(cfg.routes[1].from, Side::Lan);
        assert!(cfg.routes[1].matches.is_empty());

        let again = match Config::from_toml(&cfg.to_toml()) {
            Ok(c) => c,
            Err(e) => panic!("{e}\n{}", cfg.to_toml()),
        };
        assert_eq!(again, cfg);
    }

    #[test]
    fn no_routes_by_default() {
        assert!(Config::default().routes.is_empty());
        assert!(!Config::default().to_toml().contains("route"));
    }

    #[test]
    fn dtmf_modes_parse_default_to_auto_and_a_wrong_one_is_named() {
        let cfg = Config::from_toml(
            "[[route]]\nname = \"a\"\ncaller_dtmf = \"rfc4733\"\ntargets = [{ uri = \"sip:q@10.0.0.2\", dtmf = \"inband\" }, { uri = \"sip:r@10.0.0.3\" }]\n",
        )
        .expect("config");
        let r = &cfg.routes[0];
        assert_eq!(r.caller_dtmf, DtmfMode::Rfc4733);
        assert_eq!(r.targets[0].dtmf, DtmfMode::Inband);
        assert_eq!(r.targets[1].dtmf, DtmfMode::Auto);
        let e = Config::from_toml(
            "[[route]]\nname = \"a\"\ntargets = [{ uri = \"sip:q@10.0.0.2\", dtmf = \"loud\" }]\n",
        )
        .expect_err("refused");
        assert!(e.contains("loud") && e.contains("inband"), "{e}");
    }
}
