//! The Via header (RFC 3261 §20.42, §18.2.2) with RFC 3581 `rport`.

use std::fmt;

use super::params::{find_param_start, parse_params, Params};
use super::uri::{parse_host_port, Host};

/// RFC 3261 §8.1.1.7: branches that start with this were made by an RFC 3261
/// element and are unique, so they alone identify a transaction.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Upper-cased transport token (UDP, TCP, TLS, SCTP, WS, or anything else).
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rport {
    Absent,
    /// `;rport` with no value: the client asks for the source port back.
    Requested,
    Value(u16),
}

impl Via {
    pub fn parse(value: &str) -> Result<Via, String> {
        let value = value.trim();
        // sent-protocol = "SIP" SLASH "2.0" SLASH transport, with LWS allowed
        // around each SLASH (RFC 3261 §25.1).
        let mut rest = value;
        let mut parts = [""; 3];
        for (i, slot) in parts.iter_mut().enumerate() {
            let end = if i < 2 {
                rest.find('/').ok_or("Via lacks 'SIP/2.0/transport'")?
            } else {
                rest.trim_start()
                    .find(|c: char| c.is_whitespace())
                    .map(|e| e + (rest.len() - rest.trim_start().len()))
                    .ok_or("Via lacks a sent-by host")?
            };
            *slot = rest[..end].trim();
            rest = if i < 2 {
                &rest[end + 1..]
            } else {
                &rest[end..]
            };
        }
        if !parts[0].eq_ignore_ascii_case("SIP") || parts[1] != "2.0" {
            return Err(format!(
                "Via protocol '{}/{}' is not SIP/2.0",
                parts[0], parts[1]
            ));
        }
        if !super::method::is_token(parts[2]) {
            return Err(format!("Via transport '{}' is not a token", parts[2]));
        }
        let rest = rest.trim_start();
        let (sent_by, params) = match find_param_start(rest) {
            Some(i) => (rest[..i].trim(), Some(&rest[i + 1..])),
            None => (rest.trim(), None),
        };
        // COLON is SWS-wrapped, so "host : 5060" is legal.
        let sent_by: String = if sent_by.contains(|c: char| c.is_whitespace()) {
            let compact: String = sent_by.split_whitespace().collect();
            if !compact.contains(':') || compact.matches(':').count() != 1 {
                return Err(format!("Via sent-by '{sent_by}' contains whitespace"));
            }
            compact
        } else {
            sent_by.to_string()
        };
        let (host, port) = parse_host_port(&sent_by).map_err(|e| format!("Via sent-by: {e}"))?;
        let params = match params {
            Some(p) => parse_params(p, "Via")?,
            None => Params::default(),
        };
        if let Some(Some(r)) = params.get("rport") {
            if r.parse::<u16>().is_err() {
                return Err(format!("Via rport '{r}' is not a port"));
            }
        }
        Ok(Via {
            transport: parts[2].to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// Whether the branch is an RFC 3261 one that can be matched on alone.
    /// A bare cookie with nothing after it is not unique, so falls back to
    /// RFC 2543 matching (RFC 4475 §3.2.1).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }

    pub fn rport(&self) -> Rport {
        match self.params.get("rport") {
            None => Rport::Absent,
            Some(None) => Rport::Requested,
            Some(Some(v)) => v.parse().map(Rport::Value).unwrap_or(Rport::Requested),
        }
    }

    /// `host:port` as used in transaction matching (port defaulted per transport).
    pub fn sent_by_key(&self) -> String {
        let port = self
            .port
            .unwrap_or(if self.transport == "TLS" { 5061 } else { 5060 });
        format!("{}:{}", self.host, port)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_generous_whitespace() {
        let v = Via::parse("SIP / 2.0 / UDP first.example.com: 4000;ttl=16 ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::Domain("first.example.com".into()));
        assert_eq!(v.port, Some(4000));
        assert_eq!(v.branch(), Some("z9hG4bKa7c6a8dlze.1"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn rport_forms() {
        assert_eq!(
            Via::parse("SIP/2.0/UDP h;rport").unwrap().rport(),
            Rport::Requested
        );
        assert_eq!(
            Via::parse("SIP/2.0/UDP h;rport=5062").unwrap().rport(),
            Rport::Value(5062)
        );
        assert_eq!(Via::parse("SIP/2.0/UDP h").unwrap().rport(), Rport::Absent);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/3.0/UDP h",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP [::1",
            "garbage",
            "SIP/2.0/UDP h;rport=x",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
        assert!(!Via::parse("SIP/2.0/UDP h;branch=z9hG4bK")
            .unwrap()
            .has_rfc3261_branch());
    }

    #[test]
    fn ipv6_sent_by() {
        let v = Via::parse("SIP/2.0/TCP [::1]:5080;branch=z9hG4bKx").unwrap();
        assert_eq!(v.port, Some(5080));
        assert_eq!(v.to_string(), "SIP/2.0/TCP [::1]:5080;branch=z9hG4bKx");
    }
}
