//! A token bucket per source address: every admitted packet takes a token,
//! tokens come back at a steady rate up to a burst.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// One token, in the fixed-point unit buckets count in (so refills of a
/// fraction of a token per packet are not lost to rounding).
const TOKEN: u64 = 1_000_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: u64,
    last: Instant,
}

#[derive(Clone, Debug)]
pub struct SourceRateLimiter {
    /// Tokens per second; 0 = no limit.
    rate: u64,
    burst: u64,
    max_sources: usize,
    buckets: HashMap<SourceKey, Bucket>,
}

/// IPv6 hosts own a /64, so one key per /64; IPv4-mapped IPv6 is IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    V4(u32),
    V6(u64),
}

fn key(ip: IpAddr) -> SourceKey {
    match ip {
        IpAddr::V4(v4) => SourceKey::V4(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SourceKey::V4(u32::from(v4)),
            None => SourceKey::V6((u128::from(v6) >> 64) as u64),
        },
    }
}

impl SourceRateLimiter {
    pub fn new(rate_per_s: u32, burst: u32, max_sources: usize) -> Self {
        SourceRateLimiter {
            rate: u64::from(rate_per_s),
            burst: u64::from(burst.max(1)) * TOKEN,
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for a packet from `ip`; false when it has none left.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let k = key(ip);
        if !self.buckets.contains_key(&k) && self.buckets.len() >= self.max_sources {
            self.forget_idle(now);
            if self.buckets.len() >= self.max_sources {
                // Every tracked source is busy: a flood from rotating
                // addresses must not push out the peers already talking.
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(k).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now
            .saturating_duration_since(b.last)
            .as_nanos()
            .min(u128::from(u64::MAX)) as u64;
        // rate tokens/s = rate*TOKEN units per 1e9 ns.
        let refill =
            (u128::from(elapsed) * u128::from(rate) * u128::from(TOKEN) / 1_000_000_000) as u64;
        if refill > 0 {
            b.tokens = b.tokens.saturating_add(refill).min(burst);
            b.last = now;
        }
        if b.tokens >= TOKEN {
            b.tokens -= TOKEN;
            true
        } else {
            false
        }
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Drops the sources whose bucket has refilled completely: they have
    /// been quiet long enough that forgetting them changes nothing.
    fn forget_idle(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            let missing = burst.saturating_sub(b.tokens);
            let need_ns =
                u128::from(missing) * 1_000_000_000 / (u128::from(rate) * u128::from(TOKEN));
            now.saturating_duration_since(b.last).as_nanos() < need_ns
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ip;
    use std::time::Duration;

    #[test]
    fn burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let mut l = SourceRateLimiter::new(10, 5, 100);
        let a = ip("203.0.113.5");
        let allowed = (0..8).filter(|_| l.allow(a, t0)).count();
        assert_eq!(allowed, 5, "the burst");
        // 10/s: one token every 100 ms, none before.
        assert!(!l.allow(a, t0 + Duration::from_millis(99)));
        assert!(l.allow(a, t0 + Duration::from_millis(100)));
        assert!(!l.allow(a, t0 + Duration::from_millis(150)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..8).filter(|_| l.allow(a, later)).count(), 5);
    }

    #[test]
    fn sources_are_separate_and_ipv6_counts_per_64() {
        let t0 = Instant::now();
        let mut l = SourceRateLimiter::new(1, 1, 100);
        let rows = [
            ("198.51.100.1", true),
            ("198.51.100.1", false),
            ("198.51.100.2", true),
            ("::ffff:198.51.100.2", false),
            ("2001:db8:1:2::1", true),
            ("2001:db8:1:2::ffff", false),
            ("2001:db8:1:3::1", true),
        ];
        for (addr, expected) in rows {
            assert_eq!(l.allow(ip(addr), t0), expected, "{addr}");
        }
    }

    #[test]
    fn a_rotating_flood_neither_grows_memory_nor_evicts_busy_peers() {
        let t0 = Instant::now();
        let mut l = SourceRateLimiter::new(1, 2, 16);
        let busy = ip("192.0.2.1");
        assert!(l.allow(busy, t0));
        for i in 0..10_000u32 {
            let src = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            l.allow(src, t0 + Duration::from_micros(u64::from(i)));
            assert!(l.tracked() <= 16);
        }
        // The busy peer still has its one remaining token, not a new bucket.
        let t1 = t0 + Duration::from_millis(20);
        assert!(l.allow(busy, t1));
        assert!(!l.allow(busy, t1));
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let mut l = SourceRateLimiter::new(0, 1, 1);
        let t0 = Instant::now();
        assert!((0..1000).all(|i| l.allow(IpAddr::from([10, 0, (i / 256) as u8, i as u8]), t0)));
    }
}
