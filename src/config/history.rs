//! `[history]`: how much call history the data directory's database keeps.

use serde::{Deserialize, Serialize};

use super::checks::{check_at_most, check_range};
use super::error::ConfigError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Calls kept at most, the oldest removed first; 0 = keep none.
    pub max_calls: u32,
    /// Calls older than this are removed.
    pub max_age_days: u32,
}

/// A call row with its headers and media takes about 0.6-1 KB, so the
/// largest history is about 1 GB: more than a search on a Pi answers
/// quickly.
pub const MAX_HISTORY_CALLS: u32 = 1_000_000;

impl Default for HistoryConfig {
    fn default() -> Self {
        // About 30-50 MB on the card; a box taking 500 calls a day keeps
        // its 90 days, a busier one its last 50,000 calls.
        HistoryConfig {
            max_calls: 50_000,
            max_age_days: 90,
        }
    }
}

impl HistoryConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_at_most(
            "history.max_calls",
            self.max_calls,
            MAX_HISTORY_CALLS,
            " calls (0 keeps none)",
        )?;
        check_range("history.max_age_days", self.max_age_days, 1..=3650, " days")?;
        Ok(())
    }

    pub fn max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.max_age_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn limits_are_checked_naming_the_field() {
        for (toml, field) in [
            ("[history]\nmax_calls = 1000001\n", "history.max_calls"),
            ("[history]\nmax_age_days = 0\n", "history.max_age_days"),
            ("[history]\nmax_age_days = 3651\n", "history.max_age_days"),
        ] {
            let e = Config::from_toml(toml).unwrap_err();
            assert!(e.starts_with(field), "{toml}: {e}");
        }
        let c = Config::from_toml("[history]\nmax_calls = 0\nmax_age_days = 1\n").unwrap();
        assert_eq!(c.history.max_calls, 0);
        assert_eq!(c.history.max_age().as_secs(), 86_400);
    }

    #[test]
    fn the_old_calls_history_loads_with_a_warning_naming_its_successor() {
        let c = Config::from_toml("[calls]\nhistory = 500\n").expect("old key still loads");
        let w = c.calls.warnings(&c.history);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("calls.history is replaced by history.max_calls"),
            "{w:?}"
        );
        assert!(w[0].contains("max_calls = 50000 applies"), "{w:?}");
        assert!(Config::default()
            .calls
            .warnings(&Config::default().history)
            .is_empty());
    }
}
