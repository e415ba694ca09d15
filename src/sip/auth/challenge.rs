//! A Digest challenge: the value of `WWW-Authenticate` (in a 401) or
//! `Proxy-Authenticate` (in a 407), RFC 3261 §22.1 / §25.1, RFC 7616 §3.3.

use std::fmt;
use std::str::FromStr;

use super::algorithm::Algorithm;
use super::auth_params::{parse_digest, push_param};
use super::AuthError;
use crate::sip::message::{HeaderName, Headers};

/// A quality-of-protection option (RFC 7616 §3.3 `qop`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Qop {
    Auth,
    /// Integrity protection of the body; recognised, not answered.
    AuthInt,
    Other(String),
}

impl Qop {
    pub fn parse(token: &str) -> Qop {
        if token.eq_ignore_ascii_case("auth") {
            Qop::Auth
        } else if token.eq_ignore_ascii_case("auth-int") {
            Qop::AuthInt
        } else {
            Qop::Other(token.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
            Qop::Other(s) => s,
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed Digest challenge. Unknown parameters (`charset`, `userhash`,
/// extensions) are ignored, as RFC 7616 §3.3 asks of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// MD5 when the challenge names none (RFC 2617 §3.2.1).
    pub algorithm: Algorithm,
    /// The qop options offered, in order; empty for an RFC 2069 challenge.
    pub qop: Vec<Qop>,
    /// RFC 7616 §3.3: the previous request was refused only because its nonce
    /// was stale; the credentials were right. Retry with the new nonce
    /// without counting an authentication failure or asking for a password.
    pub stale: bool,
    /// The protection space (`domain`), URIs separated by spaces.
    pub domain: Vec<String>,
}

impl Challenge {
    /// A challenge with qop=auth offered and nothing else optional.
    pub fn new(realm: impl Into<String>, nonce: impl Into<String>, algorithm: Algorithm) -> Self {
        Challenge {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            qop: vec![Qop::Auth],
            stale: false,
            domain: Vec::new(),
        }
    }

    /// Parses a header value such as
    /// `Digest realm="sip.example.com", nonce="abc", qop="auth", algorithm=SHA-256`.
    /// Parameter order and whitespace do not matter; realm and nonce are
    /// required; an algorithm other than the six of RFC 8760 is an error
    /// (RFC 2617 §3.2.1: such a challenge is to be ignored).
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = Algorithm::Md5;
        let mut qop = Vec::new();
        let mut stale = false;
        let mut domain = Vec::new();
        for p in parse_digest(value)? {
            match p.name.as_str() {
                "realm" => realm = Some(p.value),
                "nonce" => nonce = Some(p.value),
                "opaque" => opaque = Some(p.value),
                "algorithm" => algorithm = Algorithm::parse(p.value.trim())?,
                "qop" => {
                    // Quoted list per the grammar; some servers send a bare
                    // token (`qop=auth`), which reads the same way.
                    qop = p
                        .value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(Qop::parse)
                        .collect();
                    if qop.is_empty() {
                        return Err(AuthError::MalformedParam {
                            param: p.name,
                            detail: "lists no qop option",
                        });
                    }
                }
                // RFC 7616 §3.3: "true" in any case; anything else is false.
                "stale" => stale = p.value.trim().eq_ignore_ascii_case("true"),
                "domain" => domain = p.value.split_whitespace().map(str::to_string).collect(),
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(AuthError::MissingParam { param: "realm" })?,
            nonce: nonce.ok_or(AuthError::MissingParam { param: "nonce" })?,
            opaque,
            algorithm,
            qop,
            stale,
            domain,
        })
    }

    pub fn offers(&self, qop: &Qop) -> bool {
        self.qop.contains(qop)
    }

    /// The header value, e.g. `Digest realm="r", nonce="n", algorithm=MD5, qop="auth"`.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(128);
        push_param(&mut out, "realm", &self.realm, true);
        push_param(&mut out, "nonce", &self.nonce, true);
        if let Some(o) = &self.opaque {
            push_param(&mut out, "opaque", o, true);
        }
        push_param(&mut out, "algorithm", self.algorithm.as_str(), false);
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(Qop::as_str).collect();
            push_param(&mut out, "qop", &list.join(","), true);
        }
        if self.stale {
            push_param(&mut out, "stale", "TRUE", false);
        }
        if !self.domain.is_empty() {
            push_param(&mut out, "domain", &self.domain.join(" "), true);
        }
        out
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

impl FromStr for Challenge {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Challenge::parse(s)
    }
}

/// Every challenge in the `name` header lines of a 401/407
/// (`HeaderName::WwwAuthenticate` or `HeaderName::ProxyAuthenticate`), in
/// order, each parsed or with the reason it was not. In SIP each challenge
/// has its own header line (RFC 3261 §25.1), so lines are not split at commas.
pub fn challenges(headers: &Headers, name: &HeaderName) -> Vec<Result<Challenge, AuthError>> {
    headers.get_all(name).map(Challenge::parse).collect()
}

/// The header that answers a challenge header: `Authorization` for
/// `WWW-Authenticate` (401), `Proxy-Authorization` for `Proxy-Authenticate`
/// (407), RFC 3261 §22.2 and §22.3. None for any other header.
pub fn credentials_header(challenge_header: &HeaderName) -> Option<HeaderName> {
    match challenge_header {
        HeaderName::WwwAuthenticate => Some(HeaderName::Authorization),
        HeaderName::ProxyAuthenticate => Some(HeaderName::ProxyAuthorization),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asterisk_style() {
        let c = Challenge::parse(r#"Digest algorithm=MD5, realm="asterisk", nonce="1c5a2b8e""#)
            .unwrap();
        assert_eq!(c.realm, "asterisk");
        assert_eq!(c.nonce, "1c5a2b8e");
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert!(c.qop.is_empty());
        assert!(!c.stale);
        assert_eq!(c.opaque, None);
    }

    #[test]
    fn cloud_style_with_qop_and_opaque() {
        // The shape Twilio / SignalWire style registrars send: qop quoted,
        // no algorithm (so MD5), an opaque to echo, no spaces after commas.
        let c = Challenge::parse(
            r#"Digest realm="sip.example-cloud.com",nonce="Y2x5dGlmZ3Vhcm/Qx5Q9+Tz8=",opaque="5ccc069c403ebaf9f0171e9517f40e41",qop="auth""#,
        )
        .unwrap();
        assert_eq!(c.realm, "sip.example-cloud.com");
        assert_eq!(c.nonce, "Y2x5dGlmZ3Vhcm/Qx5Q9+Tz8=");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!(c.qop, vec![Qop::Auth]);
    }

    #[test]
    fn sha256_with_two_qop_options_and_odd_spacing() {
        let c = Challenge::parse(
            "DIGEST qop = \"auth, auth-int\" ,\talgorithm = sha-256 , nonce=\"n1\", realm=\"r\"",
        )
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert!(c.offers(&Qop::Auth));
    }

    #[test]
    fn stale_is_case_insensitive_and_false_otherwise() {
        for (v, want) in [
            ("TRUE", true),
            ("true", true),
            ("\"True\"", true),
            ("FALSE", false),
            ("yes", false),
        ] {
            let c = Challenge::parse(&format!(
                "Digest realm=\"r\", nonce=\"n\", stale={v}, algorithm=SHA-512-256-sess"
            ))
            .unwrap();
            assert_eq!(c.stale, want, "{v}");
            assert_eq!(c.algorithm, Algorithm::Sha512_256Sess);
        }
    }

    #[test]
    fn domain_and_unknown_params() {
        let c = Challenge::parse(
            r#"Digest realm="r", nonce="n", domain="sip:a.example sip:b.example", charset=UTF-8, userhash=false"#,
        )
        .unwrap();
        assert_eq!(c.domain, vec!["sip:a.example", "sip:b.example"]);
    }

    #[test]
    fn escaped_realm() {
        let c = Challenge::parse(r#"Digest realm="say \"hi\" \\o/", nonce="n""#).unwrap();
        assert_eq!(c.realm, r#"say "hi" \o/"#);
        assert_eq!(Challenge::parse(&c.to_header_value()).unwrap(), c);
    }

    #[test]
    fn render_round_trips() {
        let mut c = Challenge::new("pbxgate", "abc123", Algorithm::Sha256);
        c.qop = vec![Qop::Auth, Qop::AuthInt];
        c.stale = true;
        c.opaque = Some("op".into());
        c.domain = vec!["sip:gw.example".into()];
        let s = c.to_string();
        assert_eq!(
            s,
            r#"Digest realm="pbxgate", nonce="abc123", opaque="op", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE, domain="sip:gw.example""#
        );
        assert_eq!(s.parse::<Challenge>().unwrap(), c);
    }

    #[test]
    fn malformed_challenges_are_specific_errors() {
        for (input, want) in [
            (
                r#"Digest realm="asterisk", algorithm=MD5"#,
                AuthError::MissingParam { param: "nonce" },
            ),
            (
                r#"Digest nonce="abc""#,
                AuthError::MissingParam { param: "realm" },
            ),
            (
                r#"Digest realm="asterisk", nonce="abc"#,
                AuthError::UnterminatedQuote {
                    param: "nonce".into(),
                },
            ),
            (
                r#"Digest realm="r", nonce="n", algorithm=SHA-1"#,
                AuthError::UnknownAlgorithm {
                    value: "SHA-1".into(),
                },
            ),
            (
                r#"Digest realm="r", nonce="n", qop="""#,
                AuthError::MalformedParam {
                    param: "qop".into(),
                    detail: "lists no qop option",
                },
            ),
            (
                r#"Basic realm="r""#,
                AuthError::NotDigest {
                    scheme: "Basic".into(),
                },
            ),
        ] {
            assert_eq!(Challenge::parse(input), Err(want), "{input}");
        }
    }

    #[test]
    fn errors_read_well() {
        let e = Challenge::parse(r#"Digest realm="asterisk""#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Digest value lacks the required parameter 'nonce'"
        );
        let e = Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-1"#).unwrap_err();
        assert!(e.to_string().contains("'SHA-1' is not supported"), "{e}");
    }

    #[test]
    fn never_panics_on_truncations_of_a_challenge() {
        let full =
            "Digest realm=\"r\u{e9}\\\"\", nonce=\"n\", opaque=\"o\", qop=\"auth\", stale=TRUE";
        for (i, _) in full.char_indices() {
            let _ = Challenge::parse(&full[..i]);
            let _ = Challenge::parse(&full[i..]);
        }
    }

    #[test]
    fn challenges_from_headers_keep_each_line_whole() {
        let mut h = Headers::new();
        h.push(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="r", nonce="1", algorithm=SHA-256, qop="auth""#,
        );
        h.push(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="r", nonce="2", algorithm=MD5"#,
        );
        h.push(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="r", nonce="3", algorithm=X"#,
        );
        let got = challenges(&h, &HeaderName::WwwAuthenticate);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().algorithm, Algorithm::Sha256);
        assert_eq!(got[1].as_ref().unwrap().nonce, "2");
        assert!(got[2].is_err());
        assert!(challenges(&h, &HeaderName::ProxyAuthenticate).is_empty());
    }

    #[test]
    fn answering_header_names() {
        assert_eq!(
            credentials_header(&HeaderName::WwwAuthenticate),
            Some(HeaderName::Authorization)
        );
        assert_eq!(
            credentials_header(&HeaderName::ProxyAuthenticate),
            Some(HeaderName::ProxyAuthorization)
        );
        assert_eq!(credentials_header(&HeaderName::Via), None);
    }
}
