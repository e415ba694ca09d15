//! Where the gateway anchors RTP: the port range and how strict latching is.

use serde::{Deserialize, Serialize};

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

impl DtmfMode {
    pub fn is_default(&self) -> bool {
        *self == DtmfMode::Auto
    }
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
    /// Accept media from any address, not only the IP the SDP named (for
    /// platforms whose media servers differ from their SDP address).
    pub any_source: bool,
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
            any_source: false,
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
        if self.threads > MAX_MEDIA_THREADS {
            return Err(ConfigError::invalid(
                "media.threads",
                format!(
                    "{} is more than {MAX_MEDIA_THREADS}; 0 picks one per CPU but one",
                    self.threads
                ),
            ));
        }
        if !(5..=3600).contains(&self.timeout_s) {
            return Err(ConfigError::invalid(
                "media.timeout_s",
                format!("{} is outside 5..=3600 seconds", self.timeout_s),
            ));
        }
        Ok(())
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
}
