//! Header names and values as a person writes them in the configuration,
//! checked once at load so that nothing built from them can corrupt a
//! message on the wire.

use crate::config::ConfigError;
use crate::sip::message::{is_token, HeaderName};

use super::owned::is_owned;
use super::pattern::NamePattern;

/// Longer values are almost certainly a paste mistake, and every byte goes
/// into each INVITE (a UDP datagram should stay well under the MTU).
pub const MAX_VALUE_LEN: usize = 1024;

const TOKEN_HELP: &str = "letters, digits and - . ! % _ + ` ' ~ only";

/// An exact header name (no `*`), any header the message may carry.
pub fn header_name(field: &str, text: &str) -> Result<HeaderName, ConfigError> {
    if text.contains('*') {
        return Err(ConfigError::invalid(
            field,
            format!("'{text}': a '*' (name prefix) is only allowed in pass and strip"),
        ));
    }
    if !is_token(text) {
        return Err(ConfigError::invalid(
            field,
            format!("'{text}' is not a header name ({TOKEN_HELP})"),
        ));
    }
    Ok(HeaderName::from_wire(text))
}

/// An exact header name the gateway may write into an outgoing INVITE.
pub fn writable_name(field: &str, text: &str) -> Result<HeaderName, ConfigError> {
    let name = header_name(field, text)?;
    refuse_owned(field, &name)?;
    Ok(name)
}

pub fn refuse_owned(field: &str, name: &HeaderName) -> Result<(), ConfigError> {
    if is_owned(name) {
        return Err(ConfigError::invalid(
            field,
            format!(
                "{} is written by the gateway itself on each call leg and cannot be \
                 configured; use an X- header instead",
                name.as_str()
            ),
        ));
    }
    Ok(())
}

/// `Name` or `Prefix*` for pass and strip. `allow_all` permits a bare `*`.
pub fn name_pattern(field: &str, text: &str, allow_all: bool) -> Result<NamePattern, ConfigError> {
    match text.strip_suffix('*') {
        Some("") if allow_all => Ok(NamePattern::Prefix(String::new())),
        Some("") => Err(ConfigError::invalid(
            field,
            "a bare '*' would pass every header; name a prefix such as \"X-*\"",
        )),
        Some(prefix) => {
            if prefix.contains('*') || !is_token(prefix) {
                return Err(ConfigError::invalid(
                    field,
                    format!(
                        "'{text}' is not a header name or a prefix ending in '*' ({TOKEN_HELP})"
                    ),
                ));
            }
            Ok(NamePattern::Prefix(prefix.to_ascii_lowercase()))
        }
        None => Ok(NamePattern::Exact(writable_name(field, text)?)),
    }
}

/// A value to put on a header line: one line of printable text.
pub fn header_value(field: &str, text: &str) -> Result<String, ConfigError> {
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ConfigError::invalid(
            field,
            "must not contain control characters (CR, LF, NUL...): a header value is one line",
        ));
    }
    let value = text.trim();
    if value.is_empty() {
        return Err(ConfigError::invalid(field, "the header value is empty"));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(ConfigError::invalid(
            field,
            format!(
                "the value is {} bytes; at most {MAX_VALUE_LEN} are allowed",
                value.len()
            ),
        ));
    }
    Ok(value.to_string())
}

/// A whole header line, `Name: value`.
pub fn header_line(field: &str, text: &str) -> Result<(HeaderName, String), ConfigError> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(ConfigError::invalid(
            field,
            format!("'{text}' must be written \"Name: value\", e.g. \"X-Campaign-ID: 1234\""),
        ));
    };
    let name = writable_name(field, name.trim())?;
    let value = header_value(field, value)?;
    Ok((name, value))
}
