//! Digest authentication of WAN-side peers (RFC 3261 §22.2): requests of
//! the configured methods must carry credentials for a configured user;
//! sources that keep failing are ignored for a while.
//!
//! The endpoint asks only about sources their listener challenges: a
//! source in the allow list of an `either` listener never reaches `check`
//! there (so its failures are never counted) and is never held to
//! `is_blocked` there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::info;

use crate::config::InboundAuthConfig;
use crate::sip::auth::{
    Algorithm, Credentials, DigestServer, DigestVerdict, RejectReason, ServerConfig,
};
use crate::sip::message::{HeaderName, Request, Response};

pub enum AuthOutcome {
    /// Authenticated (or no authentication applies).
    Pass,
    /// Answer with this challenge or refusal.
    Answer(Response),
}

struct Failures {
    first: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

pub struct InboundAuth {
    config: InboundAuthConfig,
    algorithms: Vec<Algorithm>,
    server: DigestServer,
    epoch: Instant,
    failures: HashMap<IpAddr, Failures>,
}

/// Failure records kept at most; the oldest are dropped beyond it so a
/// spray of sources cannot grow memory without bound.
const MAX_TRACKED_SOURCES: usize = 4096;

impl InboundAuth {
    pub fn new(config: InboundAuthConfig, secret: [u8; 32], nonce_seed: u64, now: Instant) -> Self {
        let server = DigestServer::new(
            secret,
            ServerConfig {
                nonce_lifetime_secs: config.nonce_lifetime_s,
                nonce_seed,
                ..ServerConfig::default()
            },
        );
        InboundAuth {
            algorithms: algorithms(&config),
            config,
            server,
            epoch: now,
            failures: HashMap::new(),
        }
    }

    /// New users, realm, algorithms, methods and failure limits for the
    /// requests that come next; nonces already given out stay good, and
    /// sources blocked stay blocked until their time is up.
    pub fn set_config(&mut self, config: InboundAuthConfig) {
        self.algorithms = algorithms(&config);
        self.config = config;
    }

    pub fn enabled(&self) -> bool {
        !self.config.users.is_empty()
    }

    /// Whether requests of `method` must authenticate.
    pub fn requires_auth(&self, method: &crate::sip::message::Method) -> bool {
        self.enabled() && self.config.methods.iter().any(|m| m == method.as_str())
    }

    /// Whether the source is being ignored after repeated failures.
    pub fn is_blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = source_key(ip);
        match self.failures.get(&ip).and_then(|f| f.blocked_until) {
            Some(until) if until > now => true,
            Some(_) => {
                self.failures.remove(&ip);
                false
            }
            None => false,
        }
    }

    pub fn check(
        &mut self,
        req: &Request,
        source: IpAddr,
        to_tag: &str,
        now: Instant,
    ) -> AuthOutcome {
        if !self.requires_auth(&req.method) {
            return AuthOutcome::Pass;
        }
        let proxy = self.config.status == 407;
        let header = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        let now_secs = now.saturating_duration_since(self.epoch).as_secs();
        let ours: Vec<Credentials> = req
            .headers
            .get_all(&header)
            .filter_map(|v| Credentials::parse(v).ok())
            .filter(|c| c.realm == self.config.realm)
            .collect();
        let Some(creds) = ours.first() else {
            return AuthOutcome::Answer(self.challenge(req, to_tag, false, now_secs));
        };
        let users = &self.config.users;
        let verdict = self.server.verify(
            creds,
            &self.config.realm,
            &req.method,
            &req.uri,
            |name| {
                users
                    .iter()
                    .find(|u| u.username == name)
                    .map(|u| u.password.clone())
            },
            now_secs,
        );
        match verdict {
            DigestVerdict::Ok { username } => {
                info!(%source, user = %username, method = %req.method, "authenticated");
                self.failures.remove(&source_key(source));
                AuthOutcome::Pass
            }
            DigestVerdict::Stale => {
                AuthOutcome::Answer(self.challenge(req, to_tag, true, now_secs))
            }
            // A nonce the gateway never issued (garbage, another server's)
            // proves nothing about the sender's password and costs a spoofer
            // nothing: challenge again, count nothing.
            DigestVerdict::Rejected(RejectReason::ForgedNonce) => {
                AuthOutcome::Answer(self.challenge(req, to_tag, false, now_secs))
            }
            DigestVerdict::Rejected(reason) => {
                info!(%source, user = %creds.username, %reason, "authentication failed");
                // Only a wrong answer to a nonce we issued counts towards
                // blocking the source: a replayed nonce-count is refused, but
                // may be a reordered retransmission or a spoof of one.
                if matches!(
                    reason,
                    RejectReason::WrongPassword { .. } | RejectReason::UnknownUser { .. }
                ) {
                    self.note_failure(source, now);
                }
                // The reason stays in the log: telling the peer whether the
                // user or the password was wrong would help a guesser.
                AuthOutcome::Answer(Response::for_request(req, 403, Some(to_tag)))
            }
        }
    }

    fn challenge(&mut self, req: &Request, to_tag: &str, stale: bool, now_secs: u64) -> Response {
        let proxy = self.config.status == 407;
        let mut r = Response::for_request(req, self.config.status, Some(to_tag));
        let header = if proxy {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        for alg in self.algorithms.clone() {
            let c = self
                .server
                .challenge(&self.config.realm, now_secs, stale, alg);
            r.headers.push(header.clone(), c.to_header_value());
        }
        r
    }

    fn note_failure(&mut self, source: IpAddr, now: Instant) {
        let source = source_key(source);
        let window = Duration::from_secs(self.config.failure_window_s);
        if self.failures.len() >= MAX_TRACKED_SOURCES && !self.failures.contains_key(&source) {
            // Evict a record that blocks nothing first, so spraying new
            // sources cannot unblock a blocked one.
            if let Some(oldest) = self
                .failures
                .iter()
                .min_by_key(|(_, f)| (f.blocked_until.is_some(), f.first))
                .map(|(ip, _)| *ip)
            {
                self.failures.remove(&oldest);
            }
        }
        let f = self.failures.entry(source).or_insert(Failures {
            first: now,
            count: 0,
            blocked_until: None,
        });
        if now.saturating_duration_since(f.first) > window {
            f.first = now;
            f.count = 0;
        }
        f.count += 1;
        if f.count >= self.config.max_failures {
            f.blocked_until = Some(now + Duration::from_secs(self.config.block_s));
            info!(%source, failures = f.count, block_s = self.config.block_s, "too many authentication failures; ignoring the source");
        }
    }
}

/// The unit a failure is counted against: an IPv4 address, or an IPv6 /64
/// (one subscriber's prefix, which a sender can hop across freely).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The configured algorithm names in the SIP stack's type (the
/// configuration checked them against `DIGEST_ALGORITHMS`).
fn algorithms(config: &InboundAuthConfig) -> Vec<Algorithm> {
    config
        .algorithms
        .iter()
        .filter_map(|a| Algorithm::parse(a).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DIGEST_ALGORITHMS;

    /// The configuration lists the names on its own (it knows no SIP): the
    /// two lists must be the same, or a name would pass the check and be
    /// dropped here (or the reverse).
    #[test]
    fn the_configurations_algorithm_names_are_the_sip_stacks() {
        let ours: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(ours, DIGEST_ALGORITHMS);
        let cfg = InboundAuthConfig {
            algorithms: vec!["sha-256".into(), "MD5".into()],
            ..InboundAuthConfig::default()
        };
        assert_eq!(algorithms(&cfg), vec![Algorithm::Sha256, Algorithm::Md5]);
    }
}
