//! SIP and SIPS URIs (RFC 3261 §19.1), and other schemes kept opaque.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::params::{find_param_start, parse_params, Params};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl Host {
    pub fn parse(s: &str) -> Result<Host, String> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("IPv6 reference '{s}' lacks its closing ']'"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| format!("'{inner}' is not an IPv6 address"));
        }
        if s.is_empty() {
            return Err("host is empty".into());
        }
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(v4));
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !s.starts_with('.')
            && !s.starts_with('-');
        if !ok {
            return Err(format!("'{s}' is not a valid host name"));
        }
        Ok(Host::Domain(s.to_string()))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]`, where host may be an `[IPv6]` reference.
pub fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => {
                let rest = &s[end + 1..];
                let port = match rest.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if rest.is_empty() => None,
                    None => return Err(format!("unexpected '{rest}' after IPv6 reference")),
                };
                (&s[..=end], port)
            }
            None => return Err(format!("IPv6 reference '{s}' lacks its closing ']'")),
        }
    } else {
        match s.rfind(':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port '{p}' is not a number"));
    }
    p.parse::<u16>()
        .map_err(|_| format!("port {p} is out of range"))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// User part as on the wire (still %-escaped).
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?h=v&...` part without the `?`, still escaped.
    pub headers: Option<String>,
}

impl SipUri {
    pub fn new(host: Host, port: Option<u16>) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port,
            params: Params::default(),
            headers: None,
        }
    }

    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The user part with %-escapes decoded (RFC 3261 §19.1.4 compares
    /// unescaped). Escaped NULs stay bytes; invalid UTF-8 is replaced.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }
}

fn check_escapes(s: &str, what: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                return Err(format!("{what} has a truncated %-escape"));
            }
            if !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return Err(format!("{what} has an invalid %-escape"));
            }
            i += 3;
            continue;
        }
        if b[i] <= b' ' || b[i] >= 0x7f || matches!(b[i], b'<' | b'>' | b'"') {
            return Err(format!("{what} contains a character that must be escaped"));
        }
        i += 1;
    }
    Ok(())
}

pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// Any other scheme (tel:, urn:, http:, ...), kept as text.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri, String> {
        let colon = s
            .find(':')
            .ok_or_else(|| format!("'{}' has no URI scheme", shorten(s)))?;
        let scheme = &s[..colon];
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(format!("'{}' has a malformed URI scheme", shorten(s)));
        }
        let rest = &s[colon + 1..];
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!(
                "URI '{}' contains whitespace or control characters",
                shorten(s)
            ));
        }
        let secure = if scheme.eq_ignore_ascii_case("sip") {
            false
        } else if scheme.eq_ignore_ascii_case("sips") {
            true
        } else {
            if rest.is_empty() {
                return Err(format!("URI '{}' is empty after its scheme", shorten(s)));
            }
            return Ok(Uri::Other {
                scheme: scheme.to_string(),
                rest: rest.to_string(),
            });
        };
        // RFC 3261 §19.1.1: '@' cannot appear unescaped outside the userinfo,
        // so the first '@' ends it even when the user part holds ';' or '?'.
        let (userinfo, after) = match rest.find('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(format!("URI '{}' has an empty user part", shorten(s)));
                }
                check_escapes(u, "URI user part")?;
                if let Some(p) = p {
                    check_escapes(p, "URI password")?;
                }
                (Some(u.to_string()), p.map(str::to_string))
            }
        };
        let (before_headers, headers) = match after.find('?') {
            Some(i) => (&after[..i], Some(&after[i + 1..])),
            None => (after, None),
        };
        let (hostport, params) = match find_param_start(before_headers) {
            Some(i) => (&before_headers[..i], Some(&before_headers[i + 1..])),
            None => (before_headers, None),
        };
        let (host, port) = parse_host_port(hostport)?;
        let params = match params {
            Some(p) => parse_params(p, "URI")?,
            None => Params::default(),
        };
        if let Some(h) = headers {
            check_escapes(h, "URI headers")?;
        }
        Ok(Uri::Sip(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers: headers.map(str::to_string),
        }))
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 64 {
        s.to_string()
    } else {
        let mut end = 64;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_common_forms() {
        let u = sip("sip:alice:pw@example.com:5070;transport=tcp;lr?subject=x");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.params.value("transport"), Some("tcp"));
        assert!(u.params.contains("lr"));
        assert_eq!(u.headers.as_deref(), Some("subject=x"));
        assert_eq!(
            u.to_string(),
            "sip:alice:pw@example.com:5070;transport=tcp;lr?subject=x"
        );
    }

    #[test]
    fn ipv6_and_semicolon_in_user() {
        let u = sip("sip:[2001:db8::1]:5060");
        assert_eq!(u.host, Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, Some(5060));
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(
            u.user_unescaped().as_deref(),
            Some("user;par=u@example.net")
        );
        assert!(Uri::parse("sip:[2001:db8::1").is_err());
        assert!(Uri::parse("sip:user@[::1]x").is_err());
    }

    #[test]
    fn rejects_bad_escapes_and_spaces() {
        for bad in [
            "sip:%G1@example.com",
            "sip:ab%2@example.com",
            "sip:a b@example.com",
            "sip:a@example.com:99999",
            "nocolon",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_schemes_are_opaque() {
        assert_eq!(Uri::parse("tel:+18882223333").unwrap().scheme(), "tel");
        assert_eq!(Uri::parse("SIPS:a@b").unwrap().scheme(), "sips");
    }
}
