//! Routes: which calls go where, and with which headers. This file is only
//! the shape of the TOML; `crate::routing` compiles it, and that compilation
//! is also the validation, so the two can never disagree.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::checks::check_range;
use super::error::ConfigError;
use super::events::{check_url, WebhookConfig, WebhookFormat};
use super::line::valid_line_name;
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
    /// Where the call comes from: a side ("wan", "lan"), any local line
    /// ("line") or one ("line:NAME").
    #[serde(default = "default_from")]
    pub from: RouteFrom,
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

fn default_from() -> RouteFrom {
    RouteFrom::Side(Side::Wan)
}

/// A route's `from`: the calls it takes. Written as one word in the file
/// and on the form: "wan", "lan", "line" or "line:NAME". Whether NAME is a
/// configured line is checked when the routes are compiled
/// (`routing::Router::compile`), which knows the lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteFrom {
    /// Calls arriving on a listener of this side.
    Side(Side),
    /// Calls placed from any local line.
    AnyLine,
    /// Calls placed from the line of this name.
    Line(String),
}

impl RouteFrom {
    pub const LAN: RouteFrom = RouteFrom::Side(Side::Lan);
    pub const WAN: RouteFrom = RouteFrom::Side(Side::Wan);

    /// Reads the file's word; the error says what is accepted.
    pub fn parse(s: &str) -> Result<RouteFrom, String> {
        match s {
            "wan" => Ok(RouteFrom::WAN),
            "lan" => Ok(RouteFrom::LAN),
            "line" => Ok(RouteFrom::AnyLine),
            _ => match s.strip_prefix("line:") {
                Some(name) if valid_line_name(name) => Ok(RouteFrom::Line(name.to_string())),
                Some(name) => Err(format!(
                    "'{name}' in '{s}' is not a line name (1-32 of a-z, 0-9 and '-')"
                )),
                None => Err(format!(
                    "'{s}' is not a route origin: use \"wan\", \"lan\", \"line\" (any line) \
                     or \"line:NAME\""
                )),
            },
        }
    }

    /// Whether every call this origin takes is also taken by `self`: a
    /// catch-all route from `self` hides later routes from `other`.
    pub fn covers(&self, other: &RouteFrom) -> bool {
        self == other || (*self == RouteFrom::AnyLine && matches!(other, RouteFrom::Line(_)))
    }
}

impl fmt::Display for RouteFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteFrom::Side(Side::Wan) => f.write_str("wan"),
            RouteFrom::Side(Side::Lan) => f.write_str("lan"),
            RouteFrom::AnyLine => f.write_str("line"),
            RouteFrom::Line(name) => write!(f, "line:{name}"),
        }
    }
}

impl Serialize for RouteFrom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RouteFrom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RouteFrom, D::Error> {
        let s = String::deserialize(d)?;
        RouteFrom::parse(&s).map_err(serde::de::Error::custom)
    }
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
/// used only when the far end challenges (never taken from the URI). Or a
/// local line (`line = "NAME"`), which takes no URI, account, credentials,
/// transport, SRTP or headers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Empty for a line target.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// A `[[line]]` by name: the call rings that phone.
    pub line: Option<String>,
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
        assert_eq!(r.from, RouteFrom::WAN);
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
        assert_eq!(cfg.routes[1].from, RouteFrom::LAN);
        assert!(cfg.routes[1].matches.is_empty());

        let again = match Config::from_toml(&cfg.to_toml()) {
            Ok(c) => c,
            Err(e) => panic!("{e}\n{}", cfg.to_toml()),
        };
        assert_eq!(again, cfg);
    }

    #[test]
    fn origins_read_and_write_as_one_word() {
        for (word, from) in [
            ("wan", RouteFrom::WAN),
            ("lan", RouteFrom::LAN),
            ("line", RouteFrom::AnyLine),
            ("line:desk-2", RouteFrom::Line("desk-2".into())),
        ] {
            let text = format!(
                "[[line]]\nname = \"desk-2\"\nextension = \"201\"\n\
                 [[route]]\nname = \"a\"\nfrom = \"{word}\"\ntargets = [{{ line = \"desk-2\" }}]\n"
            );
            let cfg = Config::from_toml(&text).unwrap_or_else(|e| panic!("{word}: {e}"));
            assert_eq!(cfg.routes[0].from, from);
            assert_eq!(cfg.routes[0].targets[0].line.as_deref(), Some("desk-2"));
            assert_eq!(cfg.routes[0].targets[0].uri, "");
            let out = cfg.to_toml();
            assert!(out.contains(&format!("from = \"{word}\"")), "{out}");
            assert!(!out.contains("uri"), "{out}");
            assert_eq!(Config::from_toml(&out).expect("again"), cfg);
        }
        for (bad, says) in [
            ("pbx", "'pbx' is not a route origin"),
            ("line:", "is not a line name"),
            ("line:Desk", "'Desk' in 'line:Desk' is not a line name"),
            ("LAN", "is not a route origin"),
        ] {
            let e = Config::from_toml(&format!(
                "[[route]]\nname = \"a\"\nfrom = \"{bad}\"\ntargets = [{{ uri = \"sip:q@10.0.0.2\" }}]\n"
            ))
            .expect_err(bad);
            assert!(e.contains(says) && e.contains("from"), "{bad}: {e}");
        }
        assert!(RouteFrom::AnyLine.covers(&RouteFrom::Line("a".into())));
        assert!(!RouteFrom::Line("a".into()).covers(&RouteFrom::AnyLine));
        assert!(!RouteFrom::LAN.covers(&RouteFrom::AnyLine));
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
