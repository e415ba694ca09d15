//! The server side, for the WAN: challenging peers and verifying their
//! answers (RFC 3261 §22.1, §22.4; RFC 7616 §3.3, §5.4–§5.5).
//!
//! Nonces carry their own issue time, sequence number and algorithm, sealed
//! with HMAC-SHA256 under a secret the server was built with:
//!
//! ```text
//! nonce = hex(issued_at u64 BE) hex(seq u64 BE) hex(algorithm u8)      34 chars
//!         hex(HMAC-SHA256(secret, "pbxgate-digest-nonce-v1" 0 realm 0 payload)[..16])  32 chars
//! ```
//!
//! so checking that a nonce is ours and how old it is needs no table, and a
//! nonce cannot be forged, moved to another realm or aged backwards.
//! Replay protection does need memory: the highest nonce count seen for each
//! nonce still in use. That memory is bounded; a nonce that has been pushed
//! out of it is answered [`DigestVerdict::Stale`] (the client retries with a fresh
//! nonce), never accepted blindly.

use std::collections::BTreeMap;
use std::fmt::Write;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::algorithm::Algorithm;
use super::challenge::{Challenge, Qop};
use super::credentials::Credentials;
use super::digest::{response, DigestInput};
use crate::sip::message::{Method, Uri};

type HmacSha256 = Hmac<Sha256>;

const NONCE_DOMAIN: &[u8] = b"pbxgate-digest-nonce-v1\0";
const PAYLOAD_HEX: usize = 16 + 16 + 2;
const MAC_BYTES: usize = 16;
const NONCE_HEX: usize = PAYLOAD_HEX + 2 * MAC_BYTES;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// A nonce older than this is stale: a right answer to it gets
    /// [`DigestVerdict::Stale`] and the caller re-challenges with `stale=true`.
    pub nonce_lifetime_secs: u64,
    /// How many issued nonces are remembered for nonce-count replay checks.
    /// The oldest are forgotten first; each costs a few dozen bytes.
    pub max_tracked_nonces: usize,
    /// First nonce sequence number. Pass a random value at start-up so that
    /// a restarted server never issues a nonce it issued before.
    pub nonce_seed: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            nonce_lifetime_secs: 300,
            max_tracked_nonces: 4096,
            nonce_seed: 0,
        }
    }
}

/// What [`DigestServer::verify`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestVerdict {
    /// The credentials are right and fresh.
    Ok { username: String },
    /// The password was right but the nonce is expired or no longer
    /// remembered: answer 401/407 with a new challenge carrying `stale=true`.
    Stale,
    /// Answer 401/407 with a new challenge (stale=false), or 403; the reason
    /// is for the log, not for the peer.
    Rejected(RejectReason),
}

/// Why credentials were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("realm '{got}' is not the realm this server challenges with")]
    RealmMismatch { got: String },
    #[error("the nonce was not issued by this server (bad format or signature)")]
    ForgedNonce,
    #[error("algorithm {got} differs from {issued}, which the challenge named")]
    AlgorithmMismatch { issued: Algorithm, got: Algorithm },
    #[error("uri '{uri}' does not match the Request-URI")]
    UriMismatch { uri: String },
    #[error("qop=auth with cnonce and nc is required; RFC 2069 answers cannot be protected against replay")]
    QopRequired,
    #[error("unknown user '{username}'")]
    UnknownUser { username: String },
    #[error("the response digest for user '{username}' is wrong (wrong password, or computed over another method or URI)")]
    WrongPassword { username: String },
    #[error(
        "nonce count {nc:08x} is not above {highest:08x}, already seen for this nonce: a replay"
    )]
    ReplayedNonceCount { nc: u32, highest: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Issued {
    issued_at: u64,
    highest_nc: u32,
}

/// A nonce whose seal checked out.
struct OpenedNonce {
    issued_at: u64,
    seq: u64,
    algorithm: Algorithm,
}

/// Challenges and verifies Digest credentials. Sans-IO: time comes in as
/// `now_secs` (any monotonic or wall-clock seconds, as long as the caller is
/// consistent), randomness as the secret and the seed.
#[derive(Clone)]
pub struct DigestServer {
    mac: HmacSha256,
    config: ServerConfig,
    next_seq: u64,
    /// By sequence number, which grows with issue time, so the first entry
    /// is the oldest.
    issued: BTreeMap<u64, Issued>,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("DigestServer")
            .field("config", &self.config)
            .field("next_seq", &self.next_seq)
            .field("tracked_nonces", &self.issued.len())
            .finish()
    }
}

impl DigestServer {
    /// `secret` keys the nonce seal: 32 random bytes, kept across restarts if
    /// nonces issued before a restart should stay valid (they are then
    /// answered Stale once, as they are no longer tracked).
    pub fn new(secret: [u8; 32], config: ServerConfig) -> Self {
        // RFC 2104 §2: a key shorter than the 64-byte block is zero-padded,
        // so this is HMAC keyed with `secret`, built without a fallible call.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&secret);
        let mac = <HmacSha256 as Mac>::new(&key.into());
        DigestServer {
            mac,
            next_seq: config.nonce_seed,
            config,
            issued: BTreeMap::new(),
        }
    }

    /// A fresh challenge for `realm` with qop="auth" and the given algorithm.
    /// `stale` is true when answering a [`DigestVerdict::Stale`]. To offer several
    /// algorithms (RFC 8760 §2.4), call once per algorithm, strongest first,
    /// and send one header line each.
    pub fn challenge(
        &mut self,
        realm: &str,
        now_secs: u64,
        stale: bool,
        algorithm: Algorithm,
    ) -> Challenge {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.forget_expired(now_secs);
        while self.issued.len() >= self.config.max_tracked_nonces.max(1) {
            self.issued.pop_first();
        }
        self.issued.insert(
            seq,
            Issued {
                issued_at: now_secs,
                highest_nc: 0,
            },
        );
        let mut c = Challenge::new(realm, self.seal(realm, now_secs, seq, algorithm), algorithm);
        c.stale = stale;
        c
    }

    /// Checks `auth` (parsed from the request's Authorization or
    /// Proxy-Authorization) against a challenge this server issued for
    /// `realm`. `request_uri` is the request's Request-URI and `method` its
    /// method; `lookup_password` maps a username to its password.
    ///
    /// The order matters: the nonce seal first (cheap, refuses forgeries
    /// before any password is looked up), the digest next, and freshness
    /// last, because `Stale` may only be said to a client that proved it
    /// knows the password (RFC 7616 §3.3).
    pub fn verify(
        &mut self,
        auth: &Credentials,
        realm: &str,
        method: &Method,
        request_uri: &Uri,
        lookup_password: impl Fn(&str) -> Option<String>,
        now_secs: u64,
    ) -> DigestVerdict {
        use DigestVerdict::Rejected;
        if auth.realm != realm {
            return Rejected(RejectReason::RealmMismatch {
                got: auth.realm.clone(),
            });
        }
        let Some(nonce) = self.open(realm, &auth.nonce) else {
            return Rejected(RejectReason::ForgedNonce);
        };
        if auth.algorithm() != nonce.algorithm {
            return Rejected(RejectReason::AlgorithmMismatch {
                issued: nonce.algorithm,
                got: auth.algorithm(),
            });
        }
        if !uri_matches(&auth.uri, request_uri) {
            return Rejected(RejectReason::UriMismatch {
                uri: auth.uri.clone(),
            });
        }
        let (cnonce, nc) = match (&auth.qop, &auth.cnonce, auth.nc) {
            (Some(Qop::Auth), Some(cnonce), Some(nc)) => (cnonce.as_str(), nc),
            _ => return Rejected(RejectReason::QopRequired),
        };
        let password = lookup_password(&auth.username);
        // An unknown user costs the same hashing as a known one, so timing
        // does not tell which usernames exist.
        let expected = response(&DigestInput {
            algorithm: nonce.algorithm,
            username: &auth.username,
            realm,
            password: password.as_deref().unwrap_or(""),
            nonce: &auth.nonce,
            method: method.as_str(),
            uri: &auth.uri,
            qop_auth: Some((cnonce, nc)),
        });
        let Ok(expected) = expected else {
            return Rejected(RejectReason::QopRequired);
        };
        let digest_ok: bool = expected.as_bytes().ct_eq(auth.response.as_bytes()).into();
        if password.is_none() {
            return Rejected(RejectReason::UnknownUser {
                username: auth.username.clone(),
            });
        }
        if !digest_ok {
            return Rejected(RejectReason::WrongPassword {
                username: auth.username.clone(),
            });
        }
        if now_secs.saturating_sub(nonce.issued_at) > self.config.nonce_lifetime_secs {
            return DigestVerdict::Stale;
        }
        match self.issued.get_mut(&nonce.seq) {
            // Evicted, or issued before a restart: we cannot tell which
            // counts were used, so ask for a fresh nonce.
            None => DigestVerdict::Stale,
            Some(entry) if nc <= entry.highest_nc => Rejected(RejectReason::ReplayedNonceCount {
                nc,
                highest: entry.highest_nc,
            }),
            Some(entry) => {
                entry.highest_nc = nc;
                DigestVerdict::Ok {
                    username: auth.username.clone(),
                }
            }
        }
    }

    /// How many nonces are remembered for replay checks.
    pub fn tracked_nonces(&self) -> usize {
        self.issued.len()
    }

    fn forget_expired(&mut self, now_secs: u64) {
        let lifetime = self.config.nonce_lifetime_secs;
        while let Some(entry) = self.issued.first_entry() {
            if now_secs.saturating_sub(entry.get().issued_at) > lifetime {
                entry.remove();
            } else {
                break;
            }
        }
    }

    fn tag(&self, realm: &str, payload: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(NONCE_DOMAIN);
        mac.update(realm.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn seal(&self, realm: &str, issued_at: u64, seq: u64, algorithm: Algorithm) -> String {
        let code = Algorithm::ALL
            .iter()
            .position(|a| *a == algorithm)
            .unwrap_or(0);
        let mut nonce = format!("{issued_at:016x}{seq:016x}{code:02x}");
        let tag = self.tag(realm, &nonce);
        push_hex(&mut nonce, tag.get(..MAC_BYTES).unwrap_or(&[]));
        nonce
    }

    /// Checks the seal of a nonce from the network and reads it back.
    fn open(&self, realm: &str, nonce: &str) -> Option<OpenedNonce> {
        if nonce.len() != NONCE_HEX || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let payload = nonce.get(..PAYLOAD_HEX)?;
        let got_tag = nonce.get(PAYLOAD_HEX..)?;
        let tag = self.tag(realm, payload);
        let mut want_tag = String::with_capacity(2 * MAC_BYTES);
        push_hex(&mut want_tag, tag.get(..MAC_BYTES).unwrap_or(&[]));
        if !bool::from(want_tag.as_bytes().ct_eq(got_tag.as_bytes())) {
            return None;
        }
        // Sealed by us, so the fields are well-formed; parse defensively anyway.
        let issued_at = u64::from_str_radix(payload.get(0..16)?, 16).ok()?;
        let seq = u64::from_str_radix(payload.get(16..32)?, 16).ok()?;
        let code = usize::from_str_radix(payload.get(32..34)?, 16).ok()?;
        let algorithm = *Algorithm::ALL.get(code)?;
        Some(OpenedNonce {
            issued_at,
            seq,
            algorithm,
        })
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
}

/// RFC 3261 §22.4 / RFC 2617 §3.2.2.5: the digest `uri` must name the
/// Request-URI. Compared as parsed URIs, so `SIP:` and `sip:` agree.
fn uri_matches(digest_uri: &str, request_uri: &Uri) -> bool {
    Uri::parse(digest_uri).is_ok_and(|u| &u == request_uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::DigestClient;

    const REALM: &str = "pbxgate.example";
    const URI: &str = "sip:+15551234567@gw.example.net";

    fn server() -> DigestServer {
        DigestServer::new(
            [0x42; 32],
            ServerConfig {
                nonce_lifetime_secs: 300,
                max_tracked_nonces: 8,
                nonce_seed: 1000,
            },
        )
    }

    fn passwords(user: &str) -> Option<String> {
        (user == "trunk").then(|| "s3cret".to_string())
    }

    fn answer(c: &Challenge, password: &str) -> Credentials {
        DigestClient::new()
            .authorize(c, "trunk", password, &Method::Invite, URI, "0a4f113b")
            .unwrap()
    }

    fn verify(s: &mut DigestServer, auth: &Credentials, now: u64) -> DigestVerdict {
        s.verify(
            auth,
            REALM,
            &Method::Invite,
            &Uri::parse(URI).unwrap(),
            passwords,
            now,
        )
    }

    fn ok() -> DigestVerdict {
        DigestVerdict::Ok {
            username: "trunk".into(),
        }
    }

    #[test]
    fn hmac_key_padding_matches_the_slice_constructor() {
        let secret = [0x42u8; 32];
        let mut a = <HmacSha256 as Mac>::new_from_slice(&secret).unwrap();
        let s = DigestServer::new(secret, ServerConfig::default());
        let mut b = s.mac.clone();
        a.update(b"x");
        b.update(b"x");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn a_client_answer_verifies_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let mut s = server();
            let c = s.challenge(REALM, 10_000, false, alg);
            assert_eq!(c.algorithm, alg);
            assert_eq!(c.qop, vec![Qop::Auth]);
            assert_eq!(c.nonce.len(), NONCE_HEX);
            // Through the wire format and back, as a real peer would.
            let c = Challenge::parse(&c.to_header_value()).unwrap();
            let auth = Credentials::parse(&answer(&c, "s3cret").to_header_value()).unwrap();
            assert_eq!(verify(&mut s, &auth, 10_005), ok(), "{alg}");
        }
    }

    #[test]
    fn wrong_password_and_unknown_user_are_rejected() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut s = server();
            let c = s.challenge(REALM, 0, false, alg);
            assert_eq!(
                verify(&mut s, &answer(&c, "guess"), 1),
                DigestVerdict::Rejected(RejectReason::WrongPassword {
                    username: "trunk".into()
                })
            );
            let stranger = DigestClient::new()
                .authorize(&c, "mallory", "x", &Method::Invite, URI, "c")
                .unwrap();
            assert_eq!(
                verify(&mut s, &stranger, 1),
                DigestVerdict::Rejected(RejectReason::UnknownUser {
                    username: "mallory".into()
                })
            );
            // A wrong password never earns Stale, even on an expired nonce.
            assert!(matches!(
                verify(&mut s, &answer(&c, "guess"), 10_000),
                DigestVerdict::Rejected(RejectReason::WrongPassword { .. })
            ));
        }
    }

    #[test]
    fn forged_nonces_are_rejected() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut s = server();
            let c = s.challenge(REALM, 0, false, alg);
            // Flip one hex digit of the MAC, of the issue time, and of the
            // algorithm code; then a nonce sealed under another secret.
            for pos in [NONCE_HEX - 1, 3, PAYLOAD_HEX - 1] {
                let mut forged = c.clone();
                let mut bytes = forged.nonce.into_bytes();
                bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
                forged.nonce = String::from_utf8(bytes).unwrap();
                assert_eq!(
                    verify(&mut s, &answer(&forged, "s3cret"), 1),
                    DigestVerdict::Rejected(RejectReason::ForgedNonce),
                    "{alg} pos {pos}"
                );
            }
            let mut other = DigestServer::new([0x43; 32], ServerConfig::default());
            let foreign = other.challenge(REALM, 0, false, alg);
            assert_eq!(
                verify(&mut s, &answer(&foreign, "s3cret"), 1),
                DigestVerdict::Rejected(RejectReason::ForgedNonce)
            );
            for junk in ["", "abc", "zz", &"0".repeat(NONCE_HEX), &"é".repeat(33)] {
                let mut bad = c.clone();
                bad.nonce = junk.to_string();
                assert_eq!(
                    verify(&mut s, &answer(&bad, "s3cret"), 1),
                    DigestVerdict::Rejected(RejectReason::ForgedNonce),
                    "{junk:?}"
                );
            }
        }
    }

    #[test]
    fn nonce_for_another_realm_is_rejected() {
        let mut s = server();
        let c = s.challenge("other.realm", 0, false, Algorithm::Sha256);
        let mut moved = c.clone();
        moved.realm = REALM.into();
        assert_eq!(
            verify(&mut s, &answer(&moved, "s3cret"), 1),
            DigestVerdict::Rejected(RejectReason::ForgedNonce)
        );
        assert_eq!(
            verify(&mut s, &answer(&c, "s3cret"), 1),
            DigestVerdict::Rejected(RejectReason::RealmMismatch {
                got: "other.realm".into()
            })
        );
    }

    #[test]
    fn expired_nonce_is_stale_and_a_fresh_one_works() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut s = server();
            let c = s.challenge(REALM, 1_000, false, alg);
            let auth = answer(&c, "s3cret");
            assert_eq!(verify(&mut s, &auth, 1_300), ok(), "at the limit");
            let mut client = DigestClient::new();
            let late = client
                .authorize(&c, "trunk", "s3cret", &Method::Invite, URI, "c2")
                .unwrap();
            assert_eq!(late.nc, Some(1));
            assert_eq!(verify(&mut s, &late, 1_301), DigestVerdict::Stale);
            let fresh = s.challenge(REALM, 1_301, true, alg);
            assert!(fresh.stale);
            assert!(fresh.to_header_value().contains("stale=TRUE"));
            assert_eq!(verify(&mut s, &answer(&fresh, "s3cret"), 1_302), ok());
        }
    }

    #[test]
    fn nonce_count_replay_is_rejected_and_higher_counts_pass() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut s = server();
            let c = s.challenge(REALM, 0, false, alg);
            let mut client = DigestClient::new();
            let mut next = || {
                client
                    .authorize(&c, "trunk", "s3cret", &Method::Invite, URI, "cn")
                    .unwrap()
            };
            let first = next();
            assert_eq!(verify(&mut s, &first, 1), ok());
            assert_eq!(
                verify(&mut s, &first, 2),
                DigestVerdict::Rejected(RejectReason::ReplayedNonceCount { nc: 1, highest: 1 })
            );
            let second = next();
            let third = next();
            assert_eq!(third.nc, Some(3));
            // Counts may skip (a lost request) but never go back.
            assert_eq!(verify(&mut s, &third, 3), ok());
            assert_eq!(
                verify(&mut s, &second, 4),
                DigestVerdict::Rejected(RejectReason::ReplayedNonceCount { nc: 2, highest: 3 })
            );
            assert_eq!(verify(&mut s, &next(), 5), ok());
        }
    }

    #[test]
    fn evicted_nonces_are_stale_never_accepted() {
        let mut s = server(); // remembers 8
        let first = s.challenge(REALM, 0, false, Algorithm::Sha256);
        let auth = answer(&first, "s3cret");
        for t in 1..=8 {
            s.challenge(REALM, t, false, Algorithm::Sha256);
        }
        assert_eq!(s.tracked_nonces(), 8);
        assert_eq!(verify(&mut s, &auth, 9), DigestVerdict::Stale);
        // A restarted server (same secret, nothing tracked) does the same.
        let mut restarted = server();
        assert_eq!(verify(&mut restarted, &auth, 9), DigestVerdict::Stale);
    }

    #[test]
    fn expired_entries_are_dropped_when_issuing() {
        let mut s = server();
        for t in 0..5 {
            s.challenge(REALM, t, false, Algorithm::Md5);
        }
        s.challenge(REALM, 303, false, Algorithm::Md5);
        // Issued at 0, 1 and 2 are more than 300 s old at 303.
        assert_eq!(s.tracked_nonces(), 3);
    }

    #[test]
    fn nonces_are_unique_within_one_second() {
        let mut s = server();
        let a = s.challenge(REALM, 7, false, Algorithm::Md5);
        let b = s.challenge(REALM, 7, false, Algorithm::Md5);
        assert_ne!(a.nonce, b.nonce);
    }

    #[test]
    fn algorithm_uri_and_qop_must_match_the_challenge() {
        let mut s = server();
        let c = s.challenge(REALM, 0, false, Algorithm::Sha256);

        let mut md5 = c.clone();
        md5.algorithm = Algorithm::Md5;
        assert_eq!(
            verify(&mut s, &answer(&md5, "s3cret"), 1),
            DigestVerdict::Rejected(RejectReason::AlgorithmMismatch {
                issued: Algorithm::Sha256,
                got: Algorithm::Md5
            })
        );

        let elsewhere = DigestClient::new()
            .authorize(&c, "trunk", "s3cret", &Method::Invite, "sip:other@gw", "c")
            .unwrap();
        assert_eq!(
            verify(&mut s, &elsewhere, 1),
            DigestVerdict::Rejected(RejectReason::UriMismatch {
                uri: "sip:other@gw".into()
            })
        );

        // The digest uri compares as a URI: scheme case does not matter.
        let upper = DigestClient::new()
            .authorize(
                &c,
                "trunk",
                "s3cret",
                &Method::Invite,
                "SIP:+15551234567@gw.example.net",
                "c",
            )
            .unwrap();
        assert_eq!(verify(&mut s, &upper, 1), ok());

        let mut no_qop = c.clone();
        no_qop.qop.clear();
        assert_eq!(
            verify(&mut s, &answer(&no_qop, "s3cret"), 1),
            DigestVerdict::Rejected(RejectReason::QopRequired)
        );

        // A digest over another method does not verify.
        let bye = DigestClient::new()
            .authorize(&c, "trunk", "s3cret", &Method::Bye, URI, "c")
            .unwrap();
        assert!(matches!(
            verify(&mut s, &bye, 1),
            DigestVerdict::Rejected(RejectReason::WrongPassword { .. })
        ));
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            RejectReason::ReplayedNonceCount { nc: 1, highest: 2 }.to_string(),
            "nonce count 00000001 is not above 00000002, already seen for this nonce: a replay"
        );
        let s = format!("{:?}", server());
        assert!(!s.contains("mac"), "{s}");
    }
}
