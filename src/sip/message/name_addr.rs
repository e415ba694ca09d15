//! name-addr / addr-spec headers: From, To, Contact, Route, Record-Route
//! (RFC 3261 §20.10, §25.1).

use std::fmt;

use super::method::is_token_char;
use super::params::{find_param_start, parse_params, Params};
use super::uri::Uri;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name as on the wire (a quoted string keeps its quotes).
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters (after `>`, or after the addr-spec): tag, expires, ...
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses one element; `what` names the header for messages.
    pub fn parse(value: &str, what: &str) -> Result<NameAddr, String> {
        let v = value.trim();
        if v.is_empty() {
            return Err(format!("{what} header is empty"));
        }
        let (display, rest) = if let Some(q) = v.strip_prefix('"') {
            let end = closing_quote(q)
                .ok_or_else(|| format!("{what} has an unterminated quoted display name"))?;
            let display = &v[..end + 2];
            let rest = v[end + 2..].trim_start();
            if !rest.starts_with('<') {
                return Err(format!(
                    "{what} has a quoted display name not followed by <URI>"
                ));
            }
            (Some(display.to_string()), rest)
        } else if let Some(lt) = v.find('<') {
            let display = v[..lt].trim();
            if !display.is_empty()
                && !display
                    .split_whitespace()
                    .all(|w| w.bytes().all(is_token_char))
            {
                return Err(format!(
                    "{what} display name '{display}' has characters that need quoting"
                ));
            }
            ((!display.is_empty()).then(|| display.to_string()), &v[lt..])
        } else {
            (None, v)
        };

        if let Some(inner) = rest.strip_prefix('<') {
            let gt = inner
                .find('>')
                .ok_or_else(|| format!("{what} URI lacks its closing '>'"))?;
            let uri_text = &inner[..gt];
            if uri_text != uri_text.trim() {
                return Err(format!("{what} has spaces inside <>"));
            }
            let uri = Uri::parse(uri_text).map_err(|e| format!("{what} URI: {e}"))?;
            let after = inner[gt + 1..].trim_start();
            let params = if after.is_empty() {
                Params::default()
            } else if let Some(p) = after.strip_prefix(';') {
                parse_params(p, what)?
            } else {
                return Err(format!("{what} has unexpected text after '>'"));
            };
            Ok(NameAddr {
                display,
                uri,
                params,
            })
        } else {
            // addr-spec: RFC 3261 §20.10 — a URI with ',', '?' or ';' must be in
            // <>, so any ';' here starts header parameters.
            let (uri_text, params) = match find_param_start(rest) {
                Some(i) => (rest[..i].trim_end(), Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if uri_text.contains('?') {
                return Err(format!("{what} URI with '?' must be enclosed in <>"));
            }
            if uri_text.contains(char::is_whitespace) {
                return Err(format!("{what} URI contains spaces"));
            }
            let uri = Uri::parse(uri_text).map_err(|e| format!("{what} URI: {e}"))?;
            let params = match params {
                Some(p) => parse_params(p, what)?,
                None => Params::default(),
            };
            Ok(NameAddr {
                display: None,
                uri,
                params,
            })
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

/// Position of the closing quote in `s` (which starts after the opening one).
fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            r#""Bell, Alexander" <sip:a.g.bell@example.com>;tag=43"#,
            "From",
        )
        .unwrap();
        assert_eq!(n.display.as_deref(), Some(r#""Bell, Alexander""#));
        assert_eq!(n.tag(), Some("43"));
        let n = NameAddr::parse("sip:caller@example.net;tag=134161461246", "From").unwrap();
        assert_eq!(n.tag(), Some("134161461246"));
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323", "From").unwrap();
        assert_eq!(n.display.as_deref(), Some("caller"));
        let n = NameAddr::parse("<sip:a@b;lr>", "Route").unwrap();
        assert!(n.uri.as_sip().unwrap().params.contains("lr"));
    }

    #[test]
    fn rejects_torture_cases() {
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#, "To").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a@example.com>;tag=43", "From").is_err());
        assert!(NameAddr::parse(r#""W" < sip:t.watson@example.org >"#, "To").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E", "Contact").is_err());
        assert!(NameAddr::parse(r#""Joe" <sip:joe@example.org>;;;;"#, "Contact").is_err());
    }
}
