//! Where the gateway anchors RTP: the port range and which sources a leg's
//! media is taken from.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::checks::{check_at_most, check_range};
use super::error::ConfigError;

/// How a leg carries DTMF digits. The gateway converts between legs that
/// differ: RFC 4733 events become tones for a leg that takes tones, and
/// tones detected in a leg's audio become events for a leg that takes
/// events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RFC 4733 events when the leg's SDP has telephone-event, else tones.
    #[default]
    Auto,
    /// RFC 4733 events (tones when the leg refuses telephone-event).
    Rfc4733,
    /// Tones in the audio only: telephone-event is not offered to the leg.
    Inband,
    /// Events and tones: the leg gets both.
    Both,
}

impl SourceMode {
    pub fn name(self) -> &'static str {
        match self {
            SourceMode::Learn => "learn",
            SourceMode::Strict => "strict",
            SourceMode::Any => "any",
        }
    }
}

impl DtmfMode {
    pub fn is_default(&self) -> bool {
        *self == DtmfMode::Auto
    }
}

/// Which sources a leg's RTP is accepted from (see `media::latch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    /// The SDP address at once; another source after a run of
    /// well-formed packets (NAT, multi-homed hosts, media servers apart
    /// from signalling).
    #[default]
    Learn,
    /// Only the IP the SDP named.
    Strict,
    /// Any source; media goes to the latest.
    Any,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// RTP ports (even) and RTCP (+1) come from this range; each call
    /// takes two pairs.
    pub port_min: u16,
    pub port_max: u16,
    /// No RTP from either side for this long ends the call (not on hold).
    pub timeout_s: u64,
    /// Which sources a leg's media is taken from: "learn", "strict", "any".
    pub source: SourceMode,
    /// Consecutive in-sequence RTP packets that latch a source other than
    /// the SDP address (learn).
    pub learn_packets: u8,
    /// After a leg's first packet, how long its SDP address may still
    /// replace a learned source (learn).
    pub learn_window_ms: u64,
    /// A latched source silent this long lets another be learned.
    pub relearn_after_ms: u64,
    /// Networks (CIDR) learning may take a source from; empty = any (cloud
    /// media comes from other networks than its signalling).
    pub allow: Vec<String>,
    /// Replaced by `source`; read so old files still load (see
    /// `warnings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any_source: Option<bool>,
    /// Media threads; 0 picks one per CPU but one (for signalling, the
    /// web page and the rest), at least one. A call's packets stay on one
    /// thread; threads are for boards where one core cannot carry all
    /// the calls. Read when the gateway starts: a change takes a restart.
    pub threads: u16,
}

/// Most media threads a config may ask for.
pub const MAX_MEDIA_THREADS: u16 = 64;

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            port_min: 20000,
            port_max: 29999,
            timeout_s: 60,
            source: SourceMode::Learn,
            learn_packets: 3,
            learn_window_ms: 2000,
            relearn_after_ms: 5000,
            allow: Vec::new(),
            any_source: None,
            threads: 0,
        }
    }
}

impl MediaConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.port_min < 1024
            || self.port_max <= self.port_min
            || self.port_max - self.port_min < 3
        {
            return Err(ConfigError::invalid(
                "media.port_min",
                format!(
                    "{}..{} must be a range above 1023 with room for at least two port pairs",
                    self.port_min, self.port_max
                ),
            ));
        }
        check_at_most(
            "media.threads",
            self.threads,
            MAX_MEDIA_THREADS,
            "; 0 picks one per CPU but one",
        )?;
        check_range(
            "media.learn_packets",
            self.learn_packets,
            1..=32,
            " packets",
        )?;
        check_at_most("media.learn_window_ms", self.learn_window_ms, 60_000, " ms")?;
        check_range(
            "media.relearn_after_ms",
            self.relearn_after_ms,
            100..=3_600_000,
            " ms",
        )?;
        for (i, entry) in self.allow.iter().enumerate() {
            if network(entry).is_none() {
                return Err(ConfigError::invalid(
                    format!("media.allow[{i}]"),
                    format!(
                        "'{entry}' is not a network (CIDR such as 203.0.113.0/24) or an address"
                    ),
                ));
            }
        }
        check_range("media.timeout_s", self.timeout_s, 5..=3600, " seconds")?;
        Ok(())
    }

    /// The source mode in force: `source`, except that the old
    /// `any_source = true` still means "any" when `source` was left at its
    /// default.
    pub fn source_mode(&self) -> SourceMode {
        match (self.source, self.any_source) {
            (SourceMode::Learn, Some(true)) => SourceMode::Any,
            (mode, _) => mode,
        }
    }

    /// The networks of `allow` (validated).
    pub fn allow_networks(&self) -> Vec<IpNet> {
        self.allow
            .iter()
            .filter_map(|e| network(e))
            .map(|n| n.trunc())
            .collect()
    }

    /// What an admin should change: settings that still work but are
    /// replaced.
    pub fn warnings(&self) -> Vec<String> {
        match self.any_source {
            None => Vec::new(),
            Some(true) if self.source == SourceMode::Learn => vec![
                "media.any_source is replaced by media.source: any_source = true is read as \
                 source = \"any\"; write that instead"
                    .into(),
            ],
            Some(true) => vec![format!(
                "media.any_source is replaced by media.source and ignored here: source = \"{}\" \
                 applies; remove any_source",
                self.source.name()
            )],
            Some(false) => vec![format!(
                "media.any_source is replaced by media.source and ignored: source = \"{}\" applies \
                 (\"strict\" is what any_source = false meant); remove any_source",
                self.source.name()
            )],
        }
    }

    /// How many media threads to start: `threads`, or for 0 one per CPU
    /// but one, at least one.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1),
            n => usize::from(n),
        }
    }
}

/// An `allow` entry: a network in CIDR form, or one address.
fn network(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_threads_default_to_the_cpus_but_one_and_are_bounded() {
        let auto = MediaConfig::default();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(auto.thread_count(), cpus.saturating_sub(1).max(1));
        let three = MediaConfig {
            threads: 3,
            ..MediaConfig::default()
        };
        assert_eq!(three.thread_count(), 3);
        assert!(three.validate().is_ok());
        let many = MediaConfig {
            threads: MAX_MEDIA_THREADS + 1,
            ..MediaConfig::default()
        };
        let err = many.validate().unwrap_err().to_string();
        assert!(err.contains("media.threads"), "{err}");
    }

    #[test]
    fn source_learning_is_the_default_and_the_old_key_still_loads_with_a_warning() {
        use crate::config::Config;
        let d = Config::from_toml("").expect("empty config");
        assert_eq!(d.media.source_mode(), SourceMode::Learn);
        assert!(d.media.warnings().is_empty());
        let old = Config::from_toml("[media]\nany_source = true\n").expect("old key");
        assert_eq!(old.media.source_mode(), SourceMode::Any);
        let w = old.media.warnings().join(" ");
        assert!(w.contains("media.source") && w.contains("\"any\""), "{w}");
        // The default file of earlier versions said any_source = false:
        // learning applies, and the warning says what was meant.
        let old = Config::from_toml("[media]\nany_source = false\n").expect("old key");
        assert_eq!(old.media.source_mode(), SourceMode::Learn);
        assert!(old.media.warnings()[0].contains("strict"));
        let both = Config::from_toml("[media]\nany_source = true\nsource = \"strict\"\n")
            .expect("both keys");
        assert_eq!(both.media.source_mode(), SourceMode::Strict);
        assert!(both.media.warnings()[0].contains("ignored"));
        let e = Config::from_toml("[media]\nsource = \"loose\"\n").unwrap_err();
        assert!(e.contains("loose"), "{e}");
    }

    #[test]
    fn learning_settings_are_checked() {
        use crate::config::Config;
        for (toml, field) in [
            ("learn_packets = 0", "media.learn_packets"),
            ("learn_window_ms = 60001", "media.learn_window_ms"),
            ("relearn_after_ms = 50", "media.relearn_after_ms"),
            ("allow = [\"10.0.0.0/8\", \"not-a-net\"]", "media.allow[1]"),
        ] {
            let e = Config::from_toml(&format!("[media]\n{toml}\n")).unwrap_err();
            assert!(e.contains(field), "{toml}: {e}");
        }
        let ok = Config::from_toml("[media]\nallow = [\"203.0.113.0/24\", \"198.51.100.7\"]\n")
            .expect("allow");
        assert_eq!(
            ok.media.allow_networks(),
            vec![
                "203.0.113.0/24".parse::<IpNet>().unwrap(),
                "198.51.100.7/32".parse::<IpNet>().unwrap()
            ]
        );
    }
}
