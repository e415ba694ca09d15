//! Header names (with RFC 3261 §7.3.3 compact forms) and the ordered header list.

use std::fmt;

use super::scan::split_outside;

/// A header name. Known names compare case-insensitively and serialise in
/// their canonical spelling; others keep the spelling they arrived with.
#[derive(Clone, Debug)]
pub enum HeaderName {
    Accept,
    AcceptEncoding,
    AcceptLanguage,
    Allow,
    AllowEvents,
    Authorization,
    CallId,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Event,
    Expires,
    From,
    MaxForwards,
    MinExpires,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    ReferTo,
    ReferredBy,
    Require,
    RetryAfter,
    Route,
    Server,
    SessionExpires,
    Subject,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Via,
    Warning,
    WwwAuthenticate,
    Other(Box<str>),
}

// (canonical name, compact form, value)
const KNOWN: &[(&str, Option<u8>, HeaderName)] = &[
    ("Via", Some(b'v'), HeaderName::Via),
    ("From", Some(b'f'), HeaderName::From),
    ("To", Some(b't'), HeaderName::To),
    ("Call-ID", Some(b'i'), HeaderName::CallId),
    ("CSeq", None, HeaderName::CSeq),
    ("Contact", Some(b'm'), HeaderName::Contact),
    ("Max-Forwards", None, HeaderName::MaxForwards),
    ("Content-Length", Some(b'l'), HeaderName::ContentLength),
    ("Content-Type", Some(b'c'), HeaderName::ContentType),
    ("Route", None, HeaderName::Route),
    ("Record-Route", None, HeaderName::RecordRoute),
    ("Accept", None, HeaderName::Accept),
    ("Accept-Encoding", None, HeaderName::AcceptEncoding),
    ("Accept-Language", None, HeaderName::AcceptLanguage),
    ("Allow", None, HeaderName::Allow),
    ("Allow-Events", Some(b'u'), HeaderName::AllowEvents),
    ("Authorization", None, HeaderName::Authorization),
    ("Content-Disposition", None, HeaderName::ContentDisposition),
    ("Content-Encoding", Some(b'e'), HeaderName::ContentEncoding),
    ("Date", None, HeaderName::Date),
    ("Event", Some(b'o'), HeaderName::Event),
    ("Expires", None, HeaderName::Expires),
    ("Min-Expires", None, HeaderName::MinExpires),
    ("Proxy-Authenticate", None, HeaderName::ProxyAuthenticate),
    ("Proxy-Authorization", None, HeaderName::ProxyAuthorization),
    ("Proxy-Require", None, HeaderName::ProxyRequire),
    ("Refer-To", Some(b'r'), HeaderName::ReferTo),
    ("Referred-By", Some(b'b'), HeaderName::ReferredBy),
    ("Require", None, HeaderName::Require),
    ("Retry-After", None, HeaderName::RetryAfter),
    ("Server", None, HeaderName::Server),
    ("Session-Expires", Some(b'x'), HeaderName::SessionExpires),
    ("Subject", Some(b's'), HeaderName::Subject),
    ("Supported", Some(b'k'), HeaderName::Supported),
    ("Timestamp", None, HeaderName::Timestamp),
    ("Unsupported", None, HeaderName::Unsupported),
    ("User-Agent", None, HeaderName::UserAgent),
    ("Warning", None, HeaderName::Warning),
    ("WWW-Authenticate", None, HeaderName::WwwAuthenticate),
];

impl HeaderName {
    /// Maps a name as it appears on the wire (any case, full or compact) to a
    /// `HeaderName`. The caller has checked that `name` is a token.
    pub fn from_wire(name: &str) -> HeaderName {
        if name.len() == 1 {
            let c = name.as_bytes()[0].to_ascii_lowercase();
            for (_, compact, known) in KNOWN {
                if *compact == Some(c) {
                    return known.clone();
                }
            }
        }
        for (canonical, _, known) in KNOWN {
            if canonical.len() == name.len() && canonical.eq_ignore_ascii_case(name) {
                return known.clone();
            }
        }
        HeaderName::Other(name.into())
    }

    pub fn as_str(&self) -> &str {
        if let HeaderName::Other(s) = self {
            return s;
        }
        for (canonical, _, known) in KNOWN {
            if std::mem::discriminant(known) == std::mem::discriminant(self) {
                return canonical;
            }
        }
        // Every non-Other variant is in KNOWN; this is unreachable in practice.
        "X-Unknown"
    }

    /// Whether the header's grammar is a comma-separated list (RFC 3261 §7.3.1),
    /// so that `a, b` on one line means the same as two lines.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Contact
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::Supported
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Unsupported
                | HeaderName::Accept
                | HeaderName::AcceptEncoding
                | HeaderName::AcceptLanguage
                | HeaderName::ContentEncoding
        )
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for HeaderName {}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> Self {
        HeaderName::from_wire(s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// Headers in the order they arrived. Order matters for Via, Route and
/// Record-Route, so this is a list, not a map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of `name`, as it was on its line.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every line of `name`, in order, without splitting lists.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every element of `name` in order, splitting comma lists on each line
    /// (commas inside quotes or `<>` do not split).
    pub fn values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_list)
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|h| &h.name == name)
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Inserts before every other header (a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name,
                value: value.into(),
            },
        );
    }

    /// Replaces every line of `name` with one line, keeping the position of the
    /// first, or appending when there was none.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(i) => {
                self.0[i].value = value;
                let mut n = 0;
                self.0.retain(|h| {
                    h.name != name || {
                        n += 1;
                        n == 1
                    }
                });
            }
            None => self.push(name, value),
        }
    }

    /// Folds a continuation line onto the last header (RFC 3261 §7.3.1).
    pub(crate) fn append_to_last(&mut self, text: &str) {
        if let Some(last) = self.0.last_mut() {
            if !last.value.is_empty() {
                last.value.push(' ');
            }
            last.value.push_str(text);
        }
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    /// Removes the first element of a list header (the top Via of a response
    /// that reached us), keeping the rest of its line.
    pub fn remove_first_value(&mut self, name: &HeaderName) -> Option<String> {
        let i = self.0.iter().position(|h| &h.name == name)?;
        let parts: Vec<&str> = split_list(&self.0[i].value).collect();
        let first = parts.first().map(|s| s.to_string());
        if parts.len() <= 1 {
            self.0.remove(i);
        } else {
            self.0[i].value = parts[1..].join(", ");
        }
        first
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Splits a header value at the commas that separate list elements, leaving
/// commas inside quoted strings and `<...>` alone. Elements are trimmed; empty
/// elements are kept so a validator can see `a,,b`.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    split_outside(value, b',', true).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        for (wire, canonical) in [
            ("v", "Via"),
            ("F", "From"),
            ("t", "To"),
            ("i", "Call-ID"),
            ("m", "Contact"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("k", "Supported"),
            ("s", "Subject"),
            ("e", "Content-Encoding"),
            ("cAlL-iD", "Call-ID"),
            ("cseq", "CSeq"),
        ] {
            assert_eq!(HeaderName::from_wire(wire).as_str(), canonical, "{wire}");
        }
        assert_eq!(
            HeaderName::from_wire("x-ph-retreaveruuid"),
            HeaderName::from_wire("X-PH-RetreaverUUID")
        );
        assert_eq!(HeaderName::from_wire("X-Foo").as_str(), "X-Foo");
    }

    #[test]
    fn split_list_respects_quotes_and_angles() {
        let v: Vec<&str> =
            split_list(r#""Doe, John" <sip:a@b;x=1,2>, <sip:c@d> ,sip:e@f"#).collect();
        assert_eq!(
            v,
            vec![r#""Doe, John" <sip:a@b;x=1,2>"#, "<sip:c@d>", "sip:e@f"]
        );
        let v: Vec<&str> = split_list("a,,b").collect();
        assert_eq!(v, vec!["a", "", "b"]);
    }

    #[test]
    fn set_replaces_all_lines() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::To, "x");
        h.push(HeaderName::Via, "b");
        h.set(HeaderName::Via, "c");
        assert_eq!(h.get_all(&HeaderName::Via).collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn remove_first_value_of_multi_value_line() {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
        );
        assert_eq!(
            h.remove_first_value(&HeaderName::Via).as_deref(),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1")
        );
        assert_eq!(h.get(&HeaderName::Via), Some("SIP/2.0/UDP b"));
    }
}
