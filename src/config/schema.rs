//! The configuration model. Every field has a safe default.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::account::AccountConfig;
use super::calls::CallsConfig;
use super::checks::{
    check_at_most, check_name, check_range, check_unique, NAME_MAX, NAME_PUNCTUATION,
};
use super::emergency::EmergencyConfig;
use super::error::ConfigError;
use super::events::{validate_webhooks, EventsConfig, WebhookConfig};
use super::history::HistoryConfig;
use super::inbound_auth::InboundAuthConfig;
use super::line::{validate_lines, LineConfig};
use super::media::MediaConfig;
use super::mqtt::MqttConfig;
use super::network::NetworkConfig;
use super::route::RouteConfig;
use super::sides::{Side, TransportName};
use super::srtp::{SrtpMode, SDES_NEEDS_TLS};
use super::system::SystemConfig;
use super::tls::TlsConfig;
use super::update::UpdateConfig;
use super::web::WebConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sip: SipConfig,
    #[serde(rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    #[serde(rename = "account")]
    pub accounts: Vec<AccountConfig>,
    pub inbound_auth: InboundAuthConfig,
    pub calls: CallsConfig,
    pub media: MediaConfig,
    /// Tried in order; see docs/routing.md.
    #[serde(rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Numbers whose calls from the LAN pass every limit; see docs/routing.md.
    pub emergency: EmergencyConfig,
    pub dns: DnsConfig,
    pub log: LogConfig,
    /// How much call history the data directory keeps.
    pub history: HistoryConfig,
    /// The web page and JSON API; see docs/web.md.
    pub web: WebConfig,
    /// SIP over TLS: certificates, trust and handshake limits.
    pub tls: TlsConfig,
    /// Where call events are pushed; see docs/events.md.
    #[serde(rename = "webhook", skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    /// The event outbox's bounds and the headers events carry.
    pub events: EventsConfig,
    /// An MQTT broker that gets every event too; see docs/events.md.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::mqtt::deserialize_optional"
    )]
    pub mqtt: Option<MqttConfig>,
    /// The board the box is (its devices are the lines' defaults).
    #[serde(skip_serializing_if = "SystemConfig::is_default")]
    pub system: SystemConfig,
    /// Local lines: phones on the line board; see docs/lines.md.
    #[serde(rename = "line", skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineConfig>,
    /// How a firmware update proves itself; see docs/updates.md.
    #[serde(skip_serializing_if = "UpdateConfig::is_default")]
    pub update: UpdateConfig,
    /// How the box gets its address: DHCP, or a static one; see
    /// docs/network.md.
    pub network: NetworkConfig,
}

/// Where names (registrars, proxies) are looked up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Nameservers to ask, e.g. ["192.168.1.1:53"]; empty = /etc/resolv.conf.
    pub nameservers: Vec<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub name: String,
    pub side: Side,
    /// Address and port to bind, e.g. "0.0.0.0:5060" or "[::]:5060".
    pub bind: SocketAddr,
    #[serde(default = "default_transports")]
    pub transports: Vec<TransportName>,
    /// A TCP connection with no traffic for this long is closed.
    #[serde(default = "default_tcp_idle")]
    pub tcp_idle_timeout_s: u64,
    /// Source networks admitted (CIDR or address); absent = the side's
    /// default (see `default_allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// What sources outside `allow` get; absent = drop on WAN, reject on LAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deny: Option<DenyAction>,
    /// How a peer is admitted: by the allowlist, by digest, or either.
    #[serde(default)]
    pub admit: AdmitMode,
    /// Packets per second per source (token bucket); 0 = no limit.
    #[serde(default = "default_rate")]
    pub rate_per_s: u32,
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// The same for sources in `allow` (and peers the gateway contacted):
    /// a platform sends every customer's calls from a few addresses, so it
    /// needs more than an unknown source may have. 0 = no limit; never
    /// tighter than `rate_per_s` (whose 0 lifts this one too).
    #[serde(default = "default_rate_listed")]
    pub rate_per_s_listed: u32,
    #[serde(default = "default_burst_listed")]
    pub burst_listed: u32,
    /// The address peers on this side reach the gateway at, when it sits
    /// behind NAT (a router's public IP with the SIP and media ports
    /// forwarded): put in Via, Contact and SDP for calls on this listener.
    /// Absent: the public address a registrar reports through this
    /// listener (`received`), else the bound address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_address: Option<IpAddr>,
    /// Where TLS is served when `transports` has "tls"; absent: the bind
    /// address with port 5061 (WAN) or 5081 (LAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_bind: Option<SocketAddr>,
    /// SRTP on the calls that arrive on this listener; "offer" or
    /// "require" only when `transports` has "tls".
    #[serde(default, skip_serializing_if = "SrtpMode::is_default")]
    pub srtp: SrtpMode,
}

/// What a source outside the allowlist gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenyAction {
    /// Nothing: a scanner learns nothing, not even that a SIP stack is here.
    Drop,
    /// 403 to requests, so a PBX admin sees why a call fails.
    Reject,
}

/// How peers on a listener are admitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdmitMode {
    /// Only listed sources (and, when `[inbound_auth]` has users, they must
    /// also authenticate on the WAN side).
    #[default]
    Allowlist,
    /// Any source, but its requests must pass digest authentication.
    Digest,
    /// Listed sources pass; others must pass digest authentication.
    Either,
}

/// A listener's packets per second per source, at most.
const MAX_RATE: u32 = 1_000_000;

fn default_rate() -> u32 {
    200
}

fn default_burst() -> u32 {
    400
}

/// A platform trunk at 100 calls/s sends about 700 messages a second
/// (INVITE, ACK, BYE and their answers, a few retransmissions); 2000
/// leaves room for peaks, and the burst covers two seconds of it.
fn default_rate_listed() -> u32 {
    2000
}

fn default_burst_listed() -> u32 {
    4000
}

/// The allowlist of a listener without an explicit `allow`. WAN: this host
/// only, so a local test works and the internet is dropped until the
/// operator lists the platform's signalling networks. LAN: the private and
/// link-local ranges a PBX lives in.
pub fn default_allow(side: Side) -> Vec<String> {
    let v: &[&str] = match side {
        Side::Wan => &["127.0.0.1/32", "::1/128"],
        Side::Lan => &[
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ],
    };
    v.iter().map(|s| s.to_string()).collect()
}

impl ListenerConfig {
    /// A listener on every IPv4 address at `port` with every default.
    fn with_defaults(name: &str, side: Side, port: u16) -> Self {
        ListenerConfig {
            name: name.into(),
            side,
            bind: SocketAddr::from(([0, 0, 0, 0], port)),
            transports: default_transports(),
            tcp_idle_timeout_s: default_tcp_idle(),
            allow: None,
            on_deny: None,
            admit: AdmitMode::Allowlist,
            rate_per_s: default_rate(),
            burst: default_burst(),
            rate_per_s_listed: default_rate_listed(),
            burst_listed: default_burst_listed(),
            public_address: None,
            tls_bind: None,
            srtp: SrtpMode::Off,
        }
    }

    /// The TLS address: `tls_bind`, or the bind address with the side's
    /// SIPS port (RFC 3261 §26.2.2 makes 5061 the default for sips:).
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls_bind.unwrap_or_else(|| {
            let port = match self.side {
                Side::Wan => 5061,
                Side::Lan => 5081,
            };
            SocketAddr::new(self.bind.ip(), port)
        })
    }

    pub fn allow_list(&self) -> Vec<String> {
        self.allow
            .clone()
            .unwrap_or_else(|| default_allow(self.side))
    }

    pub fn deny_action(&self) -> DenyAction {
        self.on_deny.unwrap_or(match self.side {
            Side::Wan => DenyAction::Drop,
            Side::Lan => DenyAction::Reject,
        })
    }
}

fn default_transports() -> Vec<TransportName> {
    vec![TransportName::Udp, TransportName::Tcp]
}

fn default_tcp_idle() -> u64 {
    300
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Sent as Server / User-Agent.
    pub user_agent: String,
    /// RFC 3261 §17 timers, in milliseconds.
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// error, warn, info, debug or trace; RUST_LOG overrides it.
    pub level: String,
    /// Admission, call and media counters are logged this often; 0 = only
    /// at shutdown.
    pub counters_interval_s: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sip: SipConfig::default(),
            listeners: vec![
                ListenerConfig::with_defaults("wan", Side::Wan, 5060),
                ListenerConfig::with_defaults("lan", Side::Lan, 5080),
            ],
            accounts: Vec::new(),
            inbound_auth: InboundAuthConfig::default(),
            calls: CallsConfig::default(),
            media: MediaConfig::default(),
            history: HistoryConfig::default(),
            routes: Vec::new(),
            emergency: EmergencyConfig::default(),
            dns: DnsConfig::default(),
            log: LogConfig::default(),
            web: WebConfig::default(),
            tls: TlsConfig::default(),
            webhooks: Vec::new(),
            events: EventsConfig::default(),
            mqtt: None,
            system: SystemConfig::default(),
            lines: Vec::new(),
            update: UpdateConfig::default(),
            network: NetworkConfig::default(),
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            user_agent: concat!("pbxgate/", env!("CARGO_PKG_VERSION")).into(),
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            counters_interval_s: 300,
        }
    }
}

impl SipConfig {
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms)
    }
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms)
    }
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms)
    }
}

impl Config {
    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        // Serialising plain structs of strings, numbers and lists cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks what types alone cannot: uniqueness, ranges, consistency of
    /// the data. What needs SIP or the routing rules (URIs, allow lists,
    /// routes) is checked where it is compiled: `gateway::compile`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.sip;
        if s.user_agent.trim().is_empty() || s.user_agent.contains(['\r', '\n']) {
            return Err(ConfigError::invalid(
                "sip.user_agent",
                "must be a non-empty single line",
            ));
        }
        check_range(
            "sip.t1_ms",
            s.t1_ms,
            50..=10_000,
            " ms (RFC 3261 recommends 500)",
        )?;
        if s.t2_ms < s.t1_ms || s.t2_ms > 60_000 {
            return Err(ConfigError::invalid(
                "sip.t2_ms",
                format!(
                    "{} must be at least sip.t1_ms ({}) and at most 60000",
                    s.t2_ms, s.t1_ms
                ),
            ));
        }
        check_range("sip.t4_ms", s.t4_ms, 100..=60_000, " ms")?;
        if self.listeners.is_empty() {
            return Err(ConfigError::invalid(
                "listener",
                "at least one listener is needed",
            ));
        }
        let mut names = HashSet::new();
        let mut binds = HashSet::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let field = |f: &str| format!("listener[{i}].{f}");
            check_name(field("name"), &l.name, NAME_MAX, NAME_PUNCTUATION)?;
            check_unique(&mut names, field("name"), &l.name, "listener")?;
            if l.transports.is_empty() {
                return Err(ConfigError::invalid(
                    field("transports"),
                    "list at least one of \"udp\", \"tcp\", \"tls\"",
                ));
            }
            for t in &l.transports {
                let at = match t {
                    TransportName::Tls => l.tls_addr(),
                    _ => l.bind,
                };
                if *t == TransportName::Tls
                    && at == l.bind
                    && l.transports.contains(&TransportName::Tcp)
                {
                    return Err(ConfigError::invalid(
                        field("tls_bind"),
                        format!("{at} is the listener's TCP address: TLS needs a port of its own (e.g. 5061)"),
                    ));
                }
                if !binds.insert((at, *t)) {
                    return Err(ConfigError::invalid(
                        field("bind"),
                        format!("{} {:?} is already bound by another listener", l.bind, t),
                    ));
                }
            }
            if l.srtp != SrtpMode::Off && !l.transports.contains(&TransportName::Tls) {
                return Err(ConfigError::invalid(
                    field("srtp"),
                    format!(
                        "{SDES_NEEDS_TLS}: add \"tls\" to transports for srtp = \"{}\"",
                        l.srtp.name()
                    ),
                ));
            }
            check_at_most(field("rate_per_s"), l.rate_per_s, MAX_RATE, " packets/s")?;
            if l.rate_per_s > 0 && l.burst == 0 {
                return Err(ConfigError::invalid(
                    field("burst"),
                    "must be at least 1 when rate_per_s is set",
                ));
            }
            check_at_most(
                field("rate_per_s_listed"),
                l.rate_per_s_listed,
                MAX_RATE,
                " packets/s",
            )?;
            if l.rate_per_s_listed > 0 && l.burst_listed == 0 {
                return Err(ConfigError::invalid(
                    field("burst_listed"),
                    "must be at least 1 when rate_per_s_listed is set",
                ));
            }
            if l.admit != AdmitMode::Allowlist && self.inbound_auth.users.is_empty() {
                return Err(ConfigError::invalid(
                    field("admit"),
                    "digest admission needs users under [inbound_auth]",
                ));
            }
            if l.tcp_idle_timeout_s < 5 {
                return Err(ConfigError::invalid(
                    field("tcp_idle_timeout_s"),
                    "must be at least 5 seconds",
                ));
            }
        }
        let listener_names: Vec<&str> = self.listeners.iter().map(|l| l.name.as_str()).collect();
        let mut account_names = HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            a.validate(i, &listener_names)?;
            check_unique(
                &mut account_names,
                format!("account[{i}].name"),
                &a.name,
                "account",
            )?;
        }
        self.inbound_auth.validate()?;
        self.calls.validate()?;
        self.media.validate()?;
        self.history.validate()?;
        self.emergency.validate()?;
        self.web.validate()?;
        self.tls.validate()?;
        validate_webhooks(&self.webhooks)?;
        self.events.validate()?;
        if let Some(m) = &self.mqtt {
            m.validate()?;
        }
        self.system.validate()?;
        validate_lines(&self.lines)?;
        self.update.validate()?;
        self.network.validate()?;
        let level = self.log.level.to_ascii_lowercase();
        if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
            return Err(ConfigError::invalid(
                "log.level",
                format!(
                    "'{}' is not one of error, warn, info, debug, trace",
                    self.log.level
                ),
            ));
        }
        let every = self.log.counters_interval_s;
        if every != 0 {
            check_range(
                "log.counters_interval_s",
                every,
                10..=86_400,
                " seconds (0 = only at shutdown)",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::from_toml("[sip]\nt1_ms = 5\n").unwrap_err();
        assert!(e.contains("sip.t1_ms"), "{e}");
        let e = Config::from_toml("[sip]\nt1_msx = 5\n").unwrap_err();
        assert!(e.contains("t1_msx"), "{e}");
        let e = Config::from_toml(
            "[[listener]]\nname='a'\nside='wan'\nbind='127.0.0.1:5060'\n[[listener]]\nname='a'\nside='lan'\nbind='127.0.0.1:5061'\n",
        )
        .unwrap_err();
        assert!(e.contains("listener[1].name"), "{e}");
        let e = Config::from_toml("[[listener]]\nname='a'\nside='wan'\nbind='nope'\n").unwrap_err();
        assert!(e.contains("bind"), "{e}");
        let e = Config::from_toml("[[listener]]\nname='a'\nside='middle'\nbind='127.0.0.1:1'\n")
            .unwrap_err();
        assert!(e.contains("side") || e.contains("middle"), "{e}");
        let acct = |extra: &str| {
            format!(
                "[[account]]\nname='sw'\nregistrar='sip:example.sip.signalwire.com'\nusername='alice'\npassword='x'\n{extra}"
            )
        };
        Config::from_toml(&acct("")).unwrap();
        let e = Config::from_toml(&acct("listener='dmz'\n")).unwrap_err();
        assert!(e.contains("account[0].listener"), "{e}");
        let e = Config::from_toml(&acct("expires_s=5\n")).unwrap_err();
        assert!(e.contains("account[0].expires_s"), "{e}");
        // The registrar's URI is read (and refused) by the core:
        // app::accounts and gateway::compile tests.
        let e = Config::from_toml("[log]\nlevel='loud'\n").unwrap_err();
        assert!(e.contains("log.level"), "{e}");
        for bad in [1, 9, 86_401] {
            let e =
                Config::from_toml(&format!("[log]\ncounters_interval_s = {bad}\n")).unwrap_err();
            assert!(e.contains("log.counters_interval_s"), "{bad}: {e}");
        }
        for good in [0, 10, 300, 86_400] {
            Config::from_toml(&format!("[log]\ncounters_interval_s = {good}\n")).unwrap();
        }
    }
}
