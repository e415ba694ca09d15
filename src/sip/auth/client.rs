//! The client side: answering a 401/407 challenge (RFC 3261 §22.2, §22.3),
//! for registration with the cloud and for outbound calls.

use std::collections::HashMap;

use super::challenge::{challenges, credentials_header, Challenge, Qop};
use super::credentials::Credentials;
use super::digest::{response, DigestInput};
use super::AuthError;
use crate::sip::message::{HeaderName, Method, Response};

/// A server that keeps inventing realms cannot make the client grow without
/// bound; past this many the client forgets the realm state it has.
const MAX_REALMS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
struct NonceUse {
    nonce: String,
    count: u32,
}

/// Answers Digest challenges and remembers, per realm, the nonce in use and
/// how often it was used, so that reusing a nonce (a re-REGISTER before the
/// server sends a new one) counts up `nc` as RFC 7616 §3.4 requires.
///
/// A challenge with `stale: true` means the password was right and only the
/// nonce was old: answer it at once and do not count a failure.
#[derive(Clone, Debug, Default)]
pub struct DigestClient {
    nonces: HashMap<String, NonceUse>,
}

impl DigestClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the `Authorization` (for a 401) or `Proxy-Authorization` (for
    /// a 407) value answering `challenge`. `request_uri` is the Request-URI
    /// exactly as it will be sent; `rng_cnonce` is a fresh random token from
    /// the caller's random source (used only when the challenge offers qop).
    ///
    /// With qop=auth offered, answers qop=auth with the next nonce count for
    /// this nonce (`00000001` for a new nonce). Without any qop, answers in
    /// the RFC 2069 form. A challenge that offers only `auth-int` cannot be
    /// answered.
    pub fn authorize(
        &mut self,
        challenge: &Challenge,
        username: &str,
        password: &str,
        method: &Method,
        request_uri: &str,
        rng_cnonce: &str,
    ) -> Result<Credentials, AuthError> {
        let use_qop = if challenge.qop.is_empty() {
            false
        } else if challenge.offers(&Qop::Auth) {
            true
        } else {
            let offered: Vec<&str> = challenge.qop.iter().map(Qop::as_str).collect();
            return Err(AuthError::UnsupportedQop {
                offered: offered.join(","),
            });
        };
        let count = if use_qop {
            if rng_cnonce.is_empty() {
                return Err(AuthError::EmptyCnonce);
            }
            match self.nonces.get(&challenge.realm) {
                Some(u) if u.nonce == challenge.nonce => u
                    .count
                    .checked_add(1)
                    .ok_or(AuthError::NonceCountExhausted)?,
                _ => 1,
            }
        } else {
            0
        };
        let qop_auth = use_qop.then_some((rng_cnonce, count));
        let digest = response(&DigestInput {
            algorithm: challenge.algorithm,
            username,
            realm: &challenge.realm,
            password,
            nonce: &challenge.nonce,
            method: method.as_str(),
            uri: request_uri,
            qop_auth,
        })?;
        if use_qop {
            self.remember(&challenge.realm, &challenge.nonce, count);
        }
        Ok(Credentials {
            username: username.to_string(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: request_uri.to_string(),
            response: digest,
            algorithm: Some(challenge.algorithm),
            cnonce: use_qop.then(|| rng_cnonce.to_string()),
            opaque: challenge.opaque.clone(),
            qop: use_qop.then_some(Qop::Auth),
            nc: use_qop.then_some(count),
        })
    }

    /// The nonce count last sent in `realm`, if any.
    pub fn nonce_count(&self, realm: &str) -> Option<u32> {
        self.nonces.get(realm).map(|u| u.count)
    }

    /// Drops what is known about `realm` (after a final failure, or when the
    /// account is reconfigured).
    pub fn forget(&mut self, realm: &str) {
        self.nonces.remove(realm);
    }

    fn remember(&mut self, realm: &str, nonce: &str, count: u32) {
        if self.nonces.len() >= MAX_REALMS && !self.nonces.contains_key(realm) {
            self.nonces.clear();
        }
        self.nonces.insert(
            realm.to_string(),
            NonceUse {
                nonce: nonce.to_string(),
                count,
            },
        );
    }
}

/// Whether the client can answer `c`: qop=auth offered, or no qop at all
/// with a non-session algorithm.
pub fn can_answer(c: &Challenge) -> bool {
    if c.qop.is_empty() {
        !c.algorithm.is_session()
    } else {
        c.offers(&Qop::Auth)
    }
}

/// Of the challenges in one 401/407 (one per header line, parsed with
/// [`super::challenges`]), the one to answer: the strongest algorithm the
/// client can answer (SHA-512-256, then SHA-256, then MD5; plain before
/// `-sess`), and among equals the topmost, which is the server's own order
/// of preference. None when no challenge can be answered.
pub fn choose(challenges: &[Challenge]) -> Option<&Challenge> {
    let mut best: Option<&Challenge> = None;
    for c in challenges.iter().filter(|c| can_answer(c)) {
        let better = match best {
            None => true,
            Some(b) => c.algorithm.strength() > b.algorithm.strength(),
        };
        if better {
            best = Some(c);
        }
    }
    best
}

/// The challenge to answer in a 401 or 407 `response`, and the header its
/// credentials go in (RFC 3261 §22.2, §22.3): a 407's `Proxy-Authenticate`
/// lines, answered in `Proxy-Authorization`; for any other status the
/// `WWW-Authenticate` lines, answered in `Authorization`. Of those lines the
/// one [`choose`] picks; lines that do not parse are passed over. None when
/// no line can be answered.
pub fn pick_challenge(response: &Response) -> Option<(Challenge, HeaderName)> {
    let offered_in = if response.status == 407 {
        HeaderName::ProxyAuthenticate
    } else {
        HeaderName::WwwAuthenticate
    };
    let offered: Vec<Challenge> = challenges(&response.headers, &offered_in)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let answer_in = credentials_header(&offered_in)?;
    Some((choose(&offered)?.clone(), answer_in))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::Algorithm;
    use crate::sip::message::{Request, Uri};

    fn rfc2617_challenge() -> Challenge {
        Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap()
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let mut client = DigestClient::new();
        let get = Method::Extension("GET".into());
        let c = client
            .authorize(
                &rfc2617_challenge(),
                "Mufasa",
                "Circle Of Life",
                &get,
                "/dir/index.html",
                "0a4f113b",
            )
            .unwrap();
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let header = c.to_header_value();
        assert!(header.contains("nc=00000001"), "{header}");
        assert!(header.contains(r#"cnonce="0a4f113b""#), "{header}");
        assert!(header.contains("qop=auth,"), "{header}");
    }

    #[test]
    fn rfc7616_section_3_9_1_md5_and_sha256() {
        // Password "Circle of Life", lowercase "of": RFC 7616 erratum 4495.
        for (alg, want) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ch = Challenge::parse(&format!(
                r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            ))
            .unwrap();
            let c = DigestClient::new()
                .authorize(
                    &ch,
                    "Mufasa",
                    "Circle of Life",
                    &Method::Extension("GET".into()),
                    "/dir/index.html",
                    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                )
                .unwrap();
            assert_eq!(c.response, want, "{alg}");
            assert_eq!(c.algorithm, Some(Algorithm::parse(alg).unwrap()));
        }
    }

    #[test]
    fn nonce_count_increments_per_nonce_and_resets_on_a_new_one() {
        let mut client = DigestClient::new();
        let ch = Challenge::new("sip.example.com", "nonce-1", Algorithm::Sha256);
        let uri = "sip:sip.example.com";
        let mut responses = Vec::new();
        for want in 1..=3u32 {
            let c = client
                .authorize(&ch, "alice", "pw", &Method::Register, uri, "cn")
                .unwrap();
            assert_eq!(c.nc, Some(want));
            assert!(c.to_header_value().contains(&format!("nc={want:08x}")));
            responses.push(c.response);
        }
        // Each count changes the digest.
        assert_ne!(responses[0], responses[1]);
        assert_eq!(client.nonce_count("sip.example.com"), Some(3));

        let mut fresh = Challenge::new("sip.example.com", "nonce-2", Algorithm::Sha256);
        fresh.stale = true;
        let c = client
            .authorize(&fresh, "alice", "pw", &Method::Register, uri, "cn")
            .unwrap();
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.nonce, "nonce-2");

        // Realms are counted apart.
        let other = Challenge::new("other", "nonce-2", Algorithm::Md5);
        let c = client
            .authorize(&other, "alice", "pw", &Method::Register, uri, "cn")
            .unwrap();
        assert_eq!(c.nc, Some(1));
        client.forget("other");
        assert_eq!(client.nonce_count("other"), None);
    }

    #[test]
    fn stale_is_visible_on_the_challenge() {
        let ch =
            Challenge::parse(r#"Digest realm="r", nonce="n2", stale=TRUE, qop="auth""#).unwrap();
        assert!(ch.stale);
        let ch = Challenge::parse(r#"Digest realm="r", nonce="n2", qop="auth""#).unwrap();
        assert!(!ch.stale);
    }

    #[test]
    fn rfc2069_form_without_qop() {
        let ch = Challenge::parse(r#"Digest algorithm=MD5, realm="asterisk", nonce="1c5a2b8e""#)
            .unwrap();
        let mut client = DigestClient::new();
        let c = client
            .authorize(&ch, "6001", "pw", &Method::Register, "sip:pbx.lan", "cn")
            .unwrap();
        assert_eq!(c.qop, None);
        assert_eq!(c.nc, None);
        assert_eq!(c.cnonce, None);
        let ha1 = Algorithm::Md5.hash(b"6001:asterisk:pw");
        let ha2 = Algorithm::Md5.hash(b"REGISTER:sip:pbx.lan");
        assert_eq!(
            c.response,
            Algorithm::Md5.hash(format!("{ha1}:1c5a2b8e:{ha2}").as_bytes())
        );
        let h = c.to_header_value();
        assert!(
            !h.contains("nc=") && !h.contains("cnonce") && !h.contains("qop"),
            "{h}"
        );
    }

    #[test]
    fn unanswerable_challenges_are_errors() {
        let mut client = DigestClient::new();
        let auth_int = Challenge::parse(r#"Digest realm="r", nonce="n", qop="auth-int""#).unwrap();
        assert_eq!(
            client.authorize(&auth_int, "u", "p", &Method::Invite, "sip:x", "c"),
            Err(AuthError::UnsupportedQop {
                offered: "auth-int".into()
            })
        );
        let sess = Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#).unwrap();
        assert_eq!(
            client.authorize(&sess, "u", "p", &Method::Invite, "sip:x", "c"),
            Err(AuthError::SessionWithoutQop {
                algorithm: Algorithm::Md5Sess
            })
        );
        let ok = Challenge::new("r", "n", Algorithm::Md5);
        assert_eq!(
            client.authorize(&ok, "u", "p", &Method::Invite, "sip:x", ""),
            Err(AuthError::EmptyCnonce)
        );
        // Failures leave no count behind.
        assert_eq!(client.nonce_count("r"), None);
    }

    #[test]
    fn choose_prefers_the_strongest_answerable_algorithm() {
        let md5 = Challenge::new("r", "1", Algorithm::Md5);
        let sha256 = Challenge::new("r", "2", Algorithm::Sha256);
        let sha256_sess = Challenge::new("r", "3", Algorithm::Sha256Sess);
        let mut sha512_auth_int = Challenge::new("r", "4", Algorithm::Sha512_256);
        sha512_auth_int.qop = vec![Qop::AuthInt];
        let all = [
            md5.clone(),
            sha256_sess.clone(),
            sha256.clone(),
            sha512_auth_int,
        ];
        assert_eq!(choose(&all), Some(&sha256));
        assert_eq!(choose(std::slice::from_ref(&md5)), Some(&md5));
        assert_eq!(choose(&[]), None);
        // Equal strength: the topmost wins.
        let sha256_b = Challenge::new("r", "5", Algorithm::Sha256);
        assert_eq!(choose(&[sha256.clone(), sha256_b.clone()]), Some(&sha256));
        let sha512 = Challenge::new("r", "6", Algorithm::Sha512_256);
        assert_eq!(choose(&[md5, sha256, sha512.clone()]), Some(&sha512));
        // -sess without qop cannot be answered.
        let mut sess_no_qop = Challenge::new("r", "7", Algorithm::Sha256Sess);
        sess_no_qop.qop.clear();
        assert_eq!(choose(&[sess_no_qop]), None);
    }

    #[test]
    fn pick_challenge_reads_the_header_of_the_status_and_names_the_answer() {
        let invite = Request::new(Method::Invite, Uri::parse("sip:bob@example.com").unwrap());
        let md5 = r#"Digest realm="r", nonce="m", algorithm=MD5"#;
        let sha256 = r#"Digest realm="r", nonce="s", algorithm=SHA-256"#;
        let with = |status: u16, header: HeaderName, values: &[&str]| {
            let mut resp = Response::for_request(&invite, status, Some("t"));
            for v in values {
                resp.headers.push(header.clone(), *v);
            }
            pick_challenge(&resp).map(|(c, answer)| (c.nonce, answer))
        };
        // 401: WWW-Authenticate, the strongest, answered in Authorization;
        // a line that does not parse is passed over.
        let www = HeaderName::WwwAuthenticate;
        let picked = with(401, www.clone(), &["Basic realm=\"r\"", md5, sha256]);
        assert_eq!(picked, Some(("s".into(), HeaderName::Authorization)));
        // 407: Proxy-Authenticate, answered in Proxy-Authorization.
        let picked = with(407, HeaderName::ProxyAuthenticate, &[md5]);
        assert_eq!(picked, Some(("m".into(), HeaderName::ProxyAuthorization)));
        // A 407 is never answered from WWW-Authenticate, nor a 401 with
        // nothing answerable.
        assert_eq!(with(407, www.clone(), &[md5]), None);
        let auth_int = r#"Digest realm="r", nonce="i", qop="auth-int""#;
        assert_eq!(with(401, www, &[auth_int]), None);
    }
}
