//! Field checks that several sections make: the names people give things,
//! and numbers within bounds. Each error names the field and the bound.

use std::collections::HashSet;
use std::fmt::Display;
use std::ops::RangeInclusive;

use super::error::ConfigError;

/// Listener and account names: 1 to 32 of these (and letters and digits).
pub(super) const NAME_MAX: usize = 32;
pub(super) const NAME_PUNCTUATION: &[u8] = b"-_";

/// A name given to a listener, an account or a route: it shows in logs and
/// on the status page and other fields refer to it, so it is 1 to `max`
/// ASCII letters, digits and bytes of `punctuation`.
pub fn check_name(
    field: impl Into<String>,
    name: &str,
    max: usize,
    punctuation: &[u8],
) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(&b));
    if ok {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!(
            "'{name}' must be 1-{max} letters, digits, {}",
            one_of(punctuation)
        ),
    ))
}

/// `name` is not yet in `seen`, the names of the other `kind`s; adds it.
pub fn check_unique<'a>(
    seen: &mut HashSet<&'a str>,
    field: impl Into<String>,
    name: &'a str,
    kind: &str,
) -> Result<(), ConfigError> {
    if seen.insert(name) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!("'{name}' is used by another {kind}"),
    ))
}

/// `value` within `range`; `unit` ends the message (" ms", " seconds").
pub fn check_range<T: PartialOrd + Display>(
    field: impl Into<String>,
    value: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!(
            "{value} is outside {}..={}{unit}",
            range.start(),
            range.end()
        ),
    ))
}

/// `value` at most `max`; `unit` ends the message (" ms", "; why").
pub fn check_at_most<T: PartialOrd + Display>(
    field: impl Into<String>,
    value: T,
    max: T,
    unit: &str,
) -> Result<(), ConfigError> {
    if value <= max {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!("{value} is more than {max}{unit}"),
    ))
}

/// `'-', '_' or '.'`
fn one_of(bytes: &[u8]) -> String {
    let quoted: Vec<String> = bytes
        .iter()
        .map(|&b| format!("'{}'", char::from(b)))
        .collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "nothing else".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bound() {
        let says = |r: Result<(), ConfigError>| r.map_err(|e| e.to_string()).err();
        let mut seen = HashSet::new();
        for (got, expected) in [
            (
                says(check_name("a.name", "x y", 32, b"-_")),
                Some("a.name: 'x y' must be 1-32 letters, digits, '-' or '_'"),
            ),
            (
                says(check_name("r.name", "", 64, b"-_.")),
                Some("r.name: '' must be 1-64 letters, digits, '-', '_' or '.'"),
            ),
            (says(check_name("a.name", "wan-2_b", 32, b"-_")), None),
            (
                says(check_unique(&mut seen, "l[0].name", "a", "listener")),
                None,
            ),
            (
                says(check_unique(&mut seen, "l[1].name", "a", "listener")),
                Some("l[1].name: 'a' is used by another listener"),
            ),
            (
                says(check_range("c.n", 0, 1..=10, "")),
                Some("c.n: 0 is outside 1..=10"),
            ),
            (
                says(check_range("m.t", 4u64, 5..=3600, " seconds")),
                Some("m.t: 4 is outside 5..=3600 seconds"),
            ),
            (says(check_range("m.t", 5u64, 5..=3600, " seconds")), None),
            (
                says(check_at_most("c.r", 11, 10, "; loops end there")),
                Some("c.r: 11 is more than 10; loops end there"),
            ),
            (says(check_at_most("c.r", 10, 10, "")), None),
        ] {
            assert_eq!(got.as_deref(), expected);
        }
    }
}
