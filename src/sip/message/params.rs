//! `;name=value` parameter lists shared by URIs, Via and name-addr headers.

use std::fmt;

use super::method::is_token;
use super::scan::{separators, split_outside};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// Parameter names compare case-insensitively (RFC 3261 §19.1.4, §7.3.1).
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// `;name=value;name`, as the parameters are written after a URI, a Via's
/// sent-by or a name-addr.
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            write!(f, ";{n}")?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Parses `;a=b;c` (the text after the first `;`, so `a=b;c`). Whitespace
/// around `;` and `=` is allowed (RFC 3261 SEMI and EQUAL are SWS-wrapped).
/// `what` names the header for the error message.
pub fn parse_params(text: &str, what: &str) -> Result<Params, String> {
    let mut out = Vec::new();
    for raw in split_outside(text, b';', false) {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(format!("{what} has an empty parameter"));
        }
        let (name, value) = match raw.find('=') {
            Some(i) => (raw[..i].trim(), Some(raw[i + 1..].trim())),
            None => (raw, None),
        };
        if !is_token(name) {
            return Err(format!("{what} has a malformed parameter name '{name}'"));
        }
        if let Some(v) = value {
            if v.is_empty() {
                return Err(format!("{what} parameter '{name}' has an empty value"));
            }
            let quoted = v.starts_with('"');
            if quoted && (v.len() < 2 || !v.ends_with('"')) {
                return Err(format!(
                    "{what} parameter '{name}' has an unterminated quoted value"
                ));
            }
            if !quoted && v.bytes().any(|b| b.is_ascii_whitespace() || b == b'"') {
                return Err(format!("{what} parameter '{name}' has a malformed value"));
            }
        }
        out.push((name.to_string(), value.map(str::to_string)));
    }
    Ok(Params(out))
}

/// Index of the first `;` outside quotes, if any.
pub fn find_param_start(text: &str) -> Option<usize> {
    separators(text, b';', false).next()
}
