//! Where the gateway anchors RTP: the port range and how strict latching is.

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

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
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            port_min: 20000,
            port_max: 29999,
            timeout_s: 60,
            any_source: false,
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
        if !(5..=3600).contains(&self.timeout_s) {
            return Err(ConfigError::invalid(
                "media.timeout_s",
                format!("{} is outside 5..=3600 seconds", self.timeout_s),
            ));
        }
        Ok(())
    }
}
