//! Header name patterns for `pass` and `strip`: an exact name, or a prefix
//! written with a trailing `*`.

use std::fmt;

use crate::sip::message::HeaderName;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    Exact(HeaderName),
    /// Lower-cased, without the `*`; empty matches every name.
    Prefix(String),
}

impl NamePattern {
    /// Header names compare case-insensitively (RFC 3261 §7.3.1).
    pub fn matches(&self, name: &HeaderName) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Prefix(p) => {
                let s = name.as_str();
                s.len() >= p.len()
                    && s.is_char_boundary(p.len())
                    && s[..p.len()].eq_ignore_ascii_case(p)
            }
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(n) => f.write_str(n.as_str()),
            NamePattern::Prefix(p) => write!(f, "{p}*"),
        }
    }
}
