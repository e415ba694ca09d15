//! `[update]`: how a firmware update proves itself (docs/updates.md). A
//! newly installed slot gets `boot_attempts` boots; in each, the health
//! check must pass within `health_timeout_s` or the box reboots, and once
//! its boots are used up the boot loader goes back to the old slot.

use serde::{Deserialize, Serialize};

use super::checks::check_range;
use super::error::ConfigError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    /// Seconds from the health check's start for the SIP listeners to
    /// answer, the web page to be up and the configuration loaded.
    pub health_timeout_s: u32,
    /// Boots a new slot gets before the box falls back to the old one.
    pub boot_attempts: u8,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        // A Pi with a slow card starts in well under a minute; 120 s
        // leaves room without leaving a bad update up for long.
        UpdateConfig {
            health_timeout_s: 120,
            boot_attempts: 1,
        }
    }
}

impl UpdateConfig {
    pub fn is_default(&self) -> bool {
        *self == UpdateConfig::default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "update.health_timeout_s",
            self.health_timeout_s,
            10..=3600,
            " seconds",
        )?;
        // The boot loader's script counts to 3 (image/grub/grub.cfg).
        check_range("update.boot_attempts", self.boot_attempts, 1..=3, " boots")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_bounds() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(
            (c.update.health_timeout_s, c.update.boot_attempts),
            (120, 1)
        );
        let e = Config::from_toml("[update]\nboot_attempts = 4\n").unwrap_err();
        assert!(e.to_string().contains("update.boot_attempts"), "{e}");
        let e = Config::from_toml("[update]\nhealth_timeout_s = 5\n").unwrap_err();
        assert!(e.to_string().contains("update.health_timeout_s"), "{e}");
        let c = Config::from_toml("[update]\nboot_attempts = 3\nhealth_timeout_s = 300\n").unwrap();
        assert_eq!(
            (c.update.health_timeout_s, c.update.boot_attempts),
            (300, 3)
        );
    }
}
