//! Emergency numbers: calls from the LAN to these are routed ahead of every
//! limit (see docs/routing.md, "Emergency numbers").

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// Numbers listed at most. The rate-limit exemption compares every INVITE
/// over the limit against each of them, so the work per datagram stays
/// bounded.
pub const MAX_EMERGENCY_NUMBERS: usize = 64;
/// The longest number: ITU-T E.164 numbers have at most 15 digits.
pub const MAX_EMERGENCY_NUMBER_LEN: usize = 15;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmergencyConfig {
    /// Compared with the Request-URI user of calls from the LAN, after
    /// visual separators and a leading `+` are removed. Empty: no number is
    /// an emergency number.
    pub numbers: Vec<String>,
    /// A `from = "lan"` route that takes every emergency call, whatever its
    /// match items say. Absent: the first LAN route that matches the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        EmergencyConfig {
            // North America, Europe (and GSM phones everywhere), the UK,
            // Australia, Germany's and China's police.
            numbers: ["911", "112", "999", "000", "110"]
                .iter()
                .map(|n| n.to_string())
                .collect(),
            route: None,
        }
    }
}

impl EmergencyConfig {
    /// Checks the numbers; `route` is checked with the routes
    /// (`routing::Router::compile`), which knows them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.numbers.len() > MAX_EMERGENCY_NUMBERS {
            return Err(ConfigError::invalid(
                "emergency.numbers",
                format!(
                    "{} numbers listed; at most {MAX_EMERGENCY_NUMBERS}",
                    self.numbers.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, n) in self.numbers.iter().enumerate() {
            let field = format!("emergency.numbers[{i}]");
            if n.is_empty() || n.len() > MAX_EMERGENCY_NUMBER_LEN {
                return Err(ConfigError::invalid(
                    field,
                    format!("'{n}' must be 1 to {MAX_EMERGENCY_NUMBER_LEN} characters"),
                ));
            }
            if let Some(c) = n.chars().find(|c| !matches!(c, '0'..='9' | '*' | '#')) {
                return Err(ConfigError::invalid(
                    field,
                    format!(
                        "'{n}' contains '{c}'; write only digits, '*' and '#' (separators \
                         and a leading '+' are removed from the dialled number before it \
                         is compared)"
                    ),
                ));
            }
            if !seen.insert(n.as_str()) {
                return Err(ConfigError::invalid(
                    field,
                    format!("'{n}' is listed twice"),
                ));
            }
        }
        if let Some(r) = &self.route {
            if r.is_empty() {
                return Err(ConfigError::invalid(
                    "emergency.route",
                    "name a [[route]] with from = \"lan\", or leave it out",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::test_support::assert_refused;

    const LAN_ROUTE: &str =
        "[[route]]\nname = 'out'\nfrom = 'lan'\ntargets = [{ uri = 'sip:trunk@198.51.100.1' }]\n";

    #[test]
    fn bad_numbers_and_routes_are_refused_naming_the_field() {
        let many: Vec<String> = (0..65).map(|i| format!("'{}'", 100 + i)).collect();
        // (description, TOML, field named, words of the advice)
        let rows: Vec<(&str, String, &str, &str)> = vec![
            (
                "empty number",
                "[emergency]\nnumbers = ['112', '']\n".into(),
                "emergency.numbers[1]",
                "1 to 15 characters",
            ),
            (
                "too long",
                "[emergency]\nnumbers = ['1234567890123456']\n".into(),
                "emergency.numbers[0]",
                "1 to 15 characters",
            ),
            (
                "a plus",
                "[emergency]\nnumbers = ['+112']\n".into(),
                "emergency.numbers[0]",
                "contains '+'; write only digits, '*' and '#'",
            ),
            (
                "a separator",
                "[emergency]\nnumbers = ['911', '1-1-2']\n".into(),
                "emergency.numbers[1]",
                "contains '-'",
            ),
            (
                "a letter",
                "[emergency]\nnumbers = ['sos']\n".into(),
                "emergency.numbers[0]",
                "contains 's'",
            ),
            (
                "twice",
                "[emergency]\nnumbers = ['112', '911', '112']\n".into(),
                "emergency.numbers[2]",
                "listed twice",
            ),
            (
                "too many",
                format!("[emergency]\nnumbers = [{}]\n", many.join(", ")),
                "emergency.numbers",
                "at most 64",
            ),
            (
                "not a list",
                "[emergency]\nnumbers = '112'\n".into(),
                "numbers",
                "sequence",
            ),
            (
                "unknown key",
                "[emergency]\nnumber = ['112']\n".into(),
                "number",
                "unknown field",
            ),
        ];
        for (what, text, field, advice) in rows {
            assert_refused(Config::from_toml(&text), what, &text, field, advice);
        }
    }

    #[test]
    fn valid_tables_are_accepted() {
        // (description, TOML, numbers, route)
        let rows: Vec<(&str, String, Vec<&str>, Option<&str>)> = vec![
            (
                "defaults",
                String::new(),
                vec!["911", "112", "999", "000", "110"],
                None,
            ),
            ("none", "[emergency]\nnumbers = []\n".into(), vec![], None),
            (
                "star and hash, 15 digits",
                "[emergency]\nnumbers = ['*55', '#1', '123456789012345']\n".into(),
                vec!["*55", "#1", "123456789012345"],
                None,
            ),
            (
                "a route",
                format!("[emergency]\nroute = 'out'\n{LAN_ROUTE}"),
                vec!["911", "112", "999", "000", "110"],
                Some("out"),
            ),
            (
                // Emergency calls reach it wherever it is, so it is not
                // "a route that can never be chosen".
                "a dedicated route after the LAN catch-all",
                format!(
                    "[emergency]\nroute = 'psap'\n{LAN_ROUTE}[[route]]\nname = 'psap'\nfrom = 'lan'\n\
                     targets = [{{ uri = 'sip:psap@198.51.100.9' }}]\n"
                ),
                vec!["911", "112", "999", "000", "110"],
                Some("psap"),
            ),
        ];
        for (what, text, numbers, route) in rows {
            let cfg = Config::from_toml(&text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
            assert_eq!(cfg.emergency.numbers, numbers, "{what}");
            assert_eq!(cfg.emergency.route.as_deref(), route, "{what}");
            let again = Config::from_toml(&cfg.to_toml()).expect("round trip");
            assert_eq!(again, cfg, "{what}");
        }
    }
}
