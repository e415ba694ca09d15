//! Digest credentials: the value of `Authorization` or `Proxy-Authorization`
//! (RFC 3261 §22.2 / §25.1 `digest-response`, RFC 7616 §3.4).

use std::fmt;
use std::str::FromStr;

use super::algorithm::Algorithm;
use super::auth_params::{parse_digest, push_param};
use super::challenge::Qop;
use super::AuthError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// The `uri` the digest was computed over (the Request-URI as sent).
    pub uri: String,
    /// The request digest, lowercase hex.
    pub response: String,
    /// None when the value names no algorithm, which means MD5.
    pub algorithm: Option<Algorithm>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    /// The qop chosen; None for an RFC 2069 style answer.
    pub qop: Option<Qop>,
    /// The nonce count; on the wire as 8 hex digits (RFC 7616 §3.4).
    pub nc: Option<u32>,
}

impl Credentials {
    /// The algorithm in force: MD5 when none is named (RFC 2617 §3.2.2).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// Parses a header value. username, realm, nonce, uri and response are
    /// required; with a qop, cnonce and nc are too (RFC 7616 §3.4). The
    /// response must be hex of the length the algorithm produces.
    pub fn parse(value: &str) -> Result<Credentials, AuthError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response: Option<String> = None;
        let mut algorithm = None;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        for p in parse_digest(value)? {
            match p.name.as_str() {
                "username" => username = Some(p.value),
                "realm" => realm = Some(p.value),
                "nonce" => nonce = Some(p.value),
                "uri" => uri = Some(p.value),
                "response" => response = Some(p.value),
                "algorithm" => algorithm = Some(Algorithm::parse(p.value.trim())?),
                "cnonce" => cnonce = Some(p.value),
                "opaque" => opaque = Some(p.value),
                // A token per the grammar; some clients quote it.
                "qop" => qop = Some(Qop::parse(p.value.trim())),
                "nc" => nc = Some(parse_nc(&p.value)?),
                _ => {}
            }
        }
        let algo = algorithm.unwrap_or(Algorithm::Md5);
        let response = response.ok_or(AuthError::MissingParam { param: "response" })?;
        if response.len() != algo.hex_len() || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::MalformedParam {
                param: "response".into(),
                detail: "is not a hex digest of the length the algorithm produces",
            });
        }
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(AuthError::MissingParam { param: "cnonce" });
            }
            if nc.is_none() {
                return Err(AuthError::MissingParam { param: "nc" });
            }
        }
        Ok(Credentials {
            username: username.ok_or(AuthError::MissingParam { param: "username" })?,
            realm: realm.ok_or(AuthError::MissingParam { param: "realm" })?,
            nonce: nonce.ok_or(AuthError::MissingParam { param: "nonce" })?,
            uri: uri.ok_or(AuthError::MissingParam { param: "uri" })?,
            response: response.to_ascii_lowercase(),
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
        })
    }

    /// The header value: quoted-strings where RFC 3261 §25.1 has them, and
    /// `algorithm`, `qop` and `nc` as bare tokens.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(256);
        push_param(&mut out, "username", &self.username, true);
        push_param(&mut out, "realm", &self.realm, true);
        push_param(&mut out, "nonce", &self.nonce, true);
        push_param(&mut out, "uri", &self.uri, true);
        push_param(&mut out, "response", &self.response, true);
        if let Some(a) = self.algorithm {
            push_param(&mut out, "algorithm", a.as_str(), false);
        }
        if let Some(c) = &self.cnonce {
            push_param(&mut out, "cnonce", c, true);
        }
        if let Some(o) = &self.opaque {
            push_param(&mut out, "opaque", o, true);
        }
        if let Some(q) = &self.qop {
            push_param(&mut out, "qop", q.as_str(), false);
        }
        if let Some(nc) = self.nc {
            push_param(&mut out, "nc", &format_nc(nc), false);
        }
        out
    }
}

/// `nc` is exactly 8 hex digits (RFC 7616 §3.4 `nc-value = 8LHEX`).
fn parse_nc(value: &str) -> Result<u32, AuthError> {
    let v = value.trim();
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::InvalidNonceCount {
            value: super::auth_params::shorten(v),
        });
    }
    u32::from_str_radix(v, 16).map_err(|_| AuthError::InvalidNonceCount {
        value: v.to_string(),
    })
}

pub(super) fn format_nc(nc: u32) -> String {
    format!("{nc:08x}")
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl FromStr for Credentials {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Credentials::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC2617: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn parses_the_rfc2617_example() {
        // The RFC prints it folded over lines; unfolded it is the same value.
        let c = Credentials::parse(&RFC2617.replace('\n', " ")).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c.algorithm, None);
        assert_eq!(c.algorithm(), Algorithm::Md5);
    }

    #[test]
    fn renders_and_round_trips() {
        let c = Credentials {
            username: "al\"ice".into(),
            realm: "r".into(),
            nonce: "n".into(),
            uri: "sip:bob@example.com;transport=tcp".into(),
            response: "0".repeat(64),
            algorithm: Some(Algorithm::Sha256),
            cnonce: Some("c".into()),
            opaque: None,
            qop: Some(Qop::Auth),
            nc: Some(0x1a),
        };
        let s = c.to_string();
        assert_eq!(
            s,
            format!(
                r#"Digest username="al\"ice", realm="r", nonce="n", uri="sip:bob@example.com;transport=tcp", response="{}", algorithm=SHA-256, cnonce="c", qop=auth, nc=0000001a"#,
                "0".repeat(64)
            )
        );
        assert_eq!(s.parse::<Credentials>().unwrap(), c);
    }

    #[test]
    fn tolerates_quoted_qop_and_uppercase_response() {
        let c = Credentials::parse(
            r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="6629FAE49393A05397450978507C4EF1", qop="auth", nc=0000000A, cnonce="c""#,
        )
        .unwrap();
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rejects_bad_values_with_the_parameter_named() {
        let base = r#"Digest username="u", realm="r", nonce="n", uri="sip:x""#;
        let md5 = "6629fae49393a05397450978507c4ef1";
        for (extra, want) in [
            (
                format!(r#", response="{md5}", qop=auth, cnonce="c", nc=1"#),
                AuthError::InvalidNonceCount { value: "1".into() },
            ),
            (
                format!(r#", response="{md5}", qop=auth, cnonce="c", nc=0000000g"#),
                AuthError::InvalidNonceCount {
                    value: "0000000g".into(),
                },
            ),
            (
                format!(r#", response="{md5}", qop=auth, nc=00000001"#),
                AuthError::MissingParam { param: "cnonce" },
            ),
            (
                format!(r#", response="{md5}", qop=auth, cnonce="c""#),
                AuthError::MissingParam { param: "nc" },
            ),
            (
                format!(r#", response="{md5}", algorithm=SHA-256"#),
                AuthError::MalformedParam {
                    param: "response".into(),
                    detail: "is not a hex digest of the length the algorithm produces",
                },
            ),
            (
                r#", response="zz29fae49393a05397450978507c4ef1""#.to_string(),
                AuthError::MalformedParam {
                    param: "response".into(),
                    detail: "is not a hex digest of the length the algorithm produces",
                },
            ),
            (String::new(), AuthError::MissingParam { param: "response" }),
        ] {
            let input = format!("{base}{extra}");
            assert_eq!(Credentials::parse(&input), Err(want), "{input}");
        }
        assert_eq!(
            Credentials::parse(&format!(
                r#"Digest realm="r", nonce="n", uri="u", response="{md5}""#
            )),
            Err(AuthError::MissingParam { param: "username" })
        );
    }
}
