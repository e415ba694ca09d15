//! Admission of a packet on one listener, decided on its raw source
//! address before anything is parsed: the allowlist, the action for
//! sources not on it, and the per-source rate limit (one for listed
//! sources, one for the rest).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;

use super::rate_limit::SourceRateLimiter;
use super::Allowlist;
use crate::config::{AdmitMode, DenyAction, ListenerConfig};

/// Sources the rate limiter tracks at most per listener.
const MAX_TRACKED_SOURCES: usize = 4096;
/// Prefixes the denied-source counters keep at most.
const MAX_PREFIXES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    NotAllowed,
    RateLimited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdmissionVerdict {
    /// Process the packet. `needs_auth`: requests from it must pass the
    /// digest server (admitted by `digest`/`either`, not by the allowlist).
    Admit {
        needs_auth: bool,
    },
    Drop(DenyReason),
    /// Answer requests 403, drop anything else.
    Reject(DenyReason),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionCounters {
    pub admitted: u64,
    pub admitted_for_auth: u64,
    pub dropped_not_allowed: u64,
    pub rejected_not_allowed: u64,
    /// Over `rate_per_s` (sources not listed).
    pub dropped_rate_limited: u64,
    /// Over `rate_per_s_listed` (sources in the allowlist, contacted peers).
    pub dropped_rate_limited_listed: u64,
}

#[derive(Clone, Debug)]
pub struct Admission {
    allowlist: Allowlist,
    mode: AdmitMode,
    on_deny: DenyAction,
    limiter: SourceRateLimiter,
    /// Listed sources have their own buckets: a flood from unknown sources
    /// cannot take their place, and their limit is set apart.
    listed_limiter: SourceRateLimiter,
    counters: AdmissionCounters,
    denied_by_prefix: HashMap<IpNet, u64>,
}

impl Admission {
    pub fn from_listener(l: &ListenerConfig) -> Result<Admission, String> {
        Ok(Admission {
            allowlist: Allowlist::parse(&l.allow_list())?,
            mode: l.admit,
            on_deny: l.deny_action(),
            limiter: SourceRateLimiter::new(l.rate_per_s, l.burst, MAX_TRACKED_SOURCES),
            listed_limiter: listed_limiter(l),
            counters: AdmissionCounters::default(),
            denied_by_prefix: HashMap::new(),
        })
    }

    /// `trusted`: the gateway itself sent to this address (a registrar, a
    /// call target answering), so the allowlist does not apply; the rate
    /// limit for listed sources does.
    ///
    /// A packet over its source's rate limit is always
    /// `AdmissionVerdict::Drop(DenyReason::RateLimited)` (and only such a packet):
    /// that is how a caller tells a rate-limit drop from the others.
    pub fn check(&mut self, ip: IpAddr, trusted: bool, now: Instant) -> AdmissionVerdict {
        let listed = self.is_listed(ip, trusted);
        let needs_auth = match (self.mode, listed) {
            (AdmitMode::Allowlist, false) => {
                self.count_denied(ip);
                return match self.on_deny {
                    DenyAction::Drop => {
                        self.counters.dropped_not_allowed += 1;
                        AdmissionVerdict::Drop(DenyReason::NotAllowed)
                    }
                    // A 403 per packet would reflect a spoofed flood at its
                    // victim: refused sources are rate-limited too.
                    DenyAction::Reject if !self.limiter.allow(ip, now) => {
                        self.counters.dropped_rate_limited += 1;
                        AdmissionVerdict::Drop(DenyReason::RateLimited)
                    }
                    DenyAction::Reject => {
                        self.counters.rejected_not_allowed += 1;
                        AdmissionVerdict::Reject(DenyReason::NotAllowed)
                    }
                };
            }
            (AdmitMode::Allowlist, true) | (AdmitMode::Either, true) => false,
            (AdmitMode::Digest, _) => !trusted,
            (AdmitMode::Either, false) => true,
        };
        let limiter = if listed {
            &mut self.listed_limiter
        } else {
            &mut self.limiter
        };
        if !limiter.allow(ip, now) {
            // Answering a flood would amplify it: always dropped.
            if listed {
                self.counters.dropped_rate_limited_listed += 1;
            } else {
                self.counters.dropped_rate_limited += 1;
            }
            self.count_denied(ip);
            return AdmissionVerdict::Drop(DenyReason::RateLimited);
        }
        if needs_auth {
            self.counters.admitted_for_auth += 1;
        } else {
            self.counters.admitted += 1;
        }
        AdmissionVerdict::Admit { needs_auth }
    }

    /// Whether `ip` is in the allowlist or a peer the gateway contacted
    /// (`trusted`): such sources get `rate_per_s_listed`, and on an
    /// `either` listener they never meet the digest server.
    pub fn is_listed(&self, ip: IpAddr, trusted: bool) -> bool {
        trusted || self.allowlist.contains(ip)
    }

    /// Whether requests from `ip` must pass the digest server, without
    /// counting anything (the packet was already admitted).
    pub fn needs_auth(&self, ip: IpAddr, trusted: bool) -> bool {
        match self.mode {
            AdmitMode::Allowlist => false,
            AdmitMode::Digest => !trusted,
            AdmitMode::Either => !(trusted || self.allowlist.contains(ip)),
        }
    }

    pub fn mode(&self) -> AdmitMode {
        self.mode
    }

    pub fn counters(&self) -> &AdmissionCounters {
        &self.counters
    }

    /// Who knocks: denied packets per /24 (IPv4) or /48 (IPv6), most first.
    pub fn denied_by_prefix(&self) -> Vec<(IpNet, u64)> {
        let mut v: Vec<(IpNet, u64)> = self
            .denied_by_prefix
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    fn count_denied(&mut self, ip: IpAddr) {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let len = if ip.is_ipv4() { 24 } else { 48 };
        let Ok(net) = IpNet::new(ip, len).map(|n| n.trunc()) else {
            return;
        };
        if let Some(c) = self.denied_by_prefix.get_mut(&net) {
            *c += 1;
        } else if self.denied_by_prefix.len() < MAX_PREFIXES {
            self.denied_by_prefix.insert(net, 1);
        }
    }
}

/// Listed sources are never held tighter than strangers: a listener
/// without a limit (`rate_per_s = 0`) limits nobody, and a stranger's
/// limit set above the listed one lifts it too. (Without this a
/// `rate_per_s = 0` written for a busy trunk would start throttling the
/// trunk itself at the listed default.)
fn listed_limiter(l: &ListenerConfig) -> SourceRateLimiter {
    let (rate, burst) = if l.rate_per_s == 0 || l.rate_per_s_listed == 0 {
        (0, 0)
    } else {
        (
            l.rate_per_s_listed.max(l.rate_per_s),
            l.burst_listed.max(l.burst),
        )
    };
    SourceRateLimiter::new(rate, burst, MAX_TRACKED_SOURCES)
}

impl Admission {
    /// Takes over `old`'s counters, so that a new configuration does not
    /// reset what the status page and the metrics count.
    pub fn keep_counts(&mut self, old: &Admission) {
        self.counters = old.counters.clone();
        self.denied_by_prefix = old.denied_by_prefix.clone();
    }

    /// Whether `ip` passes this listener's allowlist (or `admit` mode),
    /// leaving the rate limit aside; counts nothing. For packets whose
    /// rate-limit drop may be overridden (emergency calls).
    pub fn admits_source(&self, ip: IpAddr, trusted: bool) -> bool {
        self.mode != AdmitMode::Allowlist || trusted || self.allowlist.contains(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::policy::ip;

    /// The admission of a listener on `side` with `extra` lines.
    fn admission(extra: &str, side: &str) -> Admission {
        let cfg = Config::from_toml(&format!(
            "[inbound_auth]\nusers = [{{ username = 'u', password = 'p' }}]\n\
             [[listener]]\nname='l'\nside='{side}'\nbind='127.0.0.1:5060'\n{extra}\n"
        ))
        .expect("config");
        Admission::from_listener(&cfg.listeners[0]).expect("allowlist")
    }

    const PASS: AdmissionVerdict = AdmissionVerdict::Admit { needs_auth: false };
    const AUTH: AdmissionVerdict = AdmissionVerdict::Admit { needs_auth: true };
    const DROP: AdmissionVerdict = AdmissionVerdict::Drop(DenyReason::NotAllowed);
    const REJECT: AdmissionVerdict = AdmissionVerdict::Reject(DenyReason::NotAllowed);
    const LIMITED: AdmissionVerdict = AdmissionVerdict::Drop(DenyReason::RateLimited);

    #[test]
    fn verdicts_by_mode_list_and_trust() {
        let t = Instant::now();
        let allow = "allow = ['198.51.100.0/24']";
        type Row<'a> = (&'a str, &'a str, &'a str, bool, AdmissionVerdict);
        // (description, listener lines, source, trusted, verdict)
        #[rustfmt::skip]
        let rows: &[Row] = &[
            ("allowlist, listed",                "",                   "198.51.100.7",        false, PASS),
            ("allowlist, not listed, WAN drops", "",                   "203.0.113.1",         false, DROP),
            ("allowlist, not listed, reject",    "on_deny = 'reject'", "203.0.113.1",         false, REJECT),
            ("allowlist, trusted peer",          "",                   "203.0.113.1",         true,  PASS),
            ("digest, anyone must authenticate", "admit = 'digest'",   "198.51.100.7",        false, AUTH),
            ("digest, trusted peer",             "admit = 'digest'",   "203.0.113.1",         true,  PASS),
            ("either, listed",                   "admit = 'either'",   "198.51.100.7",        false, PASS),
            ("either, not listed",               "admit = 'either'",   "203.0.113.1",         false, AUTH),
            ("mapped IPv4 is IPv4",              "",                   "::ffff:198.51.100.9", false, PASS),
        ];
        for (what, extra, src, trusted, expected) in rows {
            let mut a = admission(&format!("{allow}\n{extra}"), "wan");
            assert_eq!(a.check(ip(src), *trusted, t), *expected, "{what}");
        }
    }

    #[test]
    fn rate_limited_sources_are_dropped_and_counted() {
        let t = Instant::now();
        let mut a = admission(
            "rate_per_s = 1\nburst = 2\nrate_per_s_listed = 1\nburst_listed = 2\non_deny = 'reject'",
            "wan",
        );
        let src = ip("127.0.0.1");
        let verdicts: Vec<AdmissionVerdict> = (0..4).map(|_| a.check(src, false, t)).collect();
        assert_eq!(verdicts[1], PASS);
        assert_eq!(verdicts[2], LIMITED);
        assert_eq!(a.check(ip("10.1.2.3"), false, t), REJECT);
        assert_eq!(a.check(ip("10.1.2.4"), false, t), REJECT);
        let c = a.counters();
        assert_eq!(
            (
                c.admitted,
                c.dropped_rate_limited_listed,
                c.dropped_rate_limited,
                c.rejected_not_allowed
            ),
            (2, 2, 0, 2)
        );
        let by_prefix = a.denied_by_prefix();
        assert_eq!(by_prefix[0], ("10.1.2.0/24".parse().unwrap(), 2));
        assert_eq!(by_prefix[1], ("127.0.0.0/24".parse().unwrap(), 2));
    }

    #[test]
    fn listed_sources_have_their_own_limit() {
        let t = Instant::now();
        let mut a = admission(
            "admit = 'either'\nallow = ['198.51.100.0/24']\nrate_per_s = 1\nburst = 1",
            "wan",
        );
        // An unknown source gets rate_per_s / burst ...
        let stranger = ip("203.0.113.9");
        assert_eq!(a.check(stranger, false, t), AUTH);
        assert_eq!(a.check(stranger, false, t), LIMITED);
        // ... the platform in `allow` gets the default burst_listed (4000),
        // and so does a peer the gateway contacted.
        let platform = ip("198.51.100.7");
        let admitted = (0..5000)
            .filter(|_| a.check(platform, false, t) == PASS)
            .count();
        assert_eq!(admitted, 4000);
        let registrar = ip("192.0.2.50");
        assert!((0..1000).all(|_| a.check(registrar, true, t) == PASS));
        let c = a.counters();
        assert_eq!(
            (c.dropped_rate_limited, c.dropped_rate_limited_listed),
            (1, 1000)
        );
        assert!(a.is_listed(platform, false) && a.is_listed(stranger, true));
        assert!(!a.is_listed(stranger, false));

        // A listener without a limit for strangers limits nobody, and a
        // stranger's limit above the listed one lifts it.
        for (extra, expected) in [
            ("rate_per_s = 0", 10_000),
            ("rate_per_s = 5000\nburst = 6000", 6000),
        ] {
            let mut a = admission(&format!("allow = ['198.51.100.0/24']\n{extra}"), "wan");
            let admitted = (0..10_000)
                .filter(|_| a.check(platform, false, t) == PASS)
                .count();
            assert_eq!(admitted, expected, "{extra}");
        }

        // 0 = no limit for listed sources, while others keep theirs.
        let mut a = admission(
            "allow = ['198.51.100.0/24']\nrate_per_s = 1\nburst = 1\nrate_per_s_listed = 0",
            "wan",
        );
        assert!((0..100_000).all(|_| a.check(platform, false, t) == PASS));
    }

    #[test]
    fn refused_sources_get_403_only_within_the_rate() {
        let t = Instant::now();
        let mut a = admission("on_deny = 'reject'\nrate_per_s = 1\nburst = 2", "wan");
        let spoofed = ip("203.0.113.50");
        let v: Vec<AdmissionVerdict> = (0..4).map(|_| a.check(spoofed, false, t)).collect();
        assert_eq!(v, vec![REJECT, REJECT, LIMITED, LIMITED]);
    }

    #[test]
    fn defaults_per_side() {
        let t = Instant::now();
        for (side, src, expected) in [
            ("wan", "127.0.0.1", PASS),
            ("wan", "::1", PASS),
            ("wan", "127.0.0.2", DROP),
            ("wan", "192.168.1.5", DROP),
            ("lan", "192.168.1.5", PASS),
            ("lan", "10.9.8.7", PASS),
            ("lan", "fe80::1", PASS),
            ("lan", "8.8.8.8", REJECT),
        ] {
            let mut a = admission("", side);
            assert_eq!(a.check(ip(src), false, t), expected, "{side} {src}");
        }
    }

    #[test]
    fn bad_fields_are_named() {
        // A bad allow entry is data the configuration cannot judge: the
        // admission refuses it, naming the entry (`gateway::compile` adds
        // the field).
        for (extra, entry) in [
            ("allow = ['10.0.0.0/33']", "10.0.0.0/33"),
            ("allow = ['10.0.0.1', 'nope']", "nope"),
        ] {
            let cfg = Config::from_toml(&format!(
                "[[listener]]\nname='l'\nside='wan'\nbind='127.0.0.1:5060'\n{extra}\n"
            ))
            .expect(extra);
            let e = Admission::from_listener(&cfg.listeners[0]).expect_err(extra);
            assert!(e.contains(entry), "{extra}: {e}");
        }
        let rows = [
            ("rate_per_s = 10\nburst = 0", "listener[0].burst"),
            ("rate_per_s = 2000000", "listener[0].rate_per_s"),
            (
                "rate_per_s_listed = 2000000",
                "listener[0].rate_per_s_listed",
            ),
            (
                "rate_per_s_listed = 10\nburst_listed = 0",
                "listener[0].burst_listed",
            ),
            ("on_deny = 'explode'", "on_deny"),
            ("admit = 'maybe'", "admit"),
        ];
        for (extra, field) in rows {
            let e = Config::from_toml(&format!(
                "[[listener]]\nname='l'\nside='wan'\nbind='127.0.0.1:5060'\n{extra}\n"
            ))
            .expect_err(extra);
            assert!(e.contains(field), "{extra}: {e}");
        }
    }
}
