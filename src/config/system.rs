//! `[system]`: what the box is. For now the board file it runs on, which
//! gives local lines their default devices (docs/lines.md); `pbxgate
//! --board NAME` overrides it for one run.

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// A board file built into pbxgate (`board/NAME.toml`): "rpi4",
    /// "rpi5", "x86-gateway". Absent: none; lines then name their devices.
    pub board: Option<String>,
}

impl SystemConfig {
    pub fn is_default(&self) -> bool {
        *self == SystemConfig::default()
    }

    /// The name's form only; whether such a board is built in is checked
    /// where the boards are (`gateway::compile`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(name) = &self.board else {
            return Ok(());
        };
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "system.board",
            format!("'{name}' is not a board name (1-32 of a-z, 0-9 and '-', e.g. \"rpi4\")"),
        ))
    }
}
