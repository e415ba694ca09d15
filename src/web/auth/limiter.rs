//! Failed logins per source address: after `max` failures within
//! `window`, the source is refused until its oldest failure leaves the
//! window. Sans-IO: every call takes `now`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources remembered at most; past this the one with the oldest last
/// failure is forgotten, so a scan from many addresses cannot grow memory.
const MAX_SOURCES: usize = 4096;

#[derive(Debug, Default)]
pub struct Limiter {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Limiter {
    /// Ok when `source` may try to log in; Err(how long until it may).
    pub fn check(
        &mut self,
        source: IpAddr,
        max: u32,
        window: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        let Some(list) = self.failures.get_mut(&source) else {
            return Ok(());
        };
        while list
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            list.pop_front();
        }
        if list.is_empty() {
            self.failures.remove(&source);
            return Ok(());
        }
        if list.len() >= max as usize {
            // The oldest failure that still counts leaves the window then.
            let oldest = list[list.len() - max as usize];
            let wait = window.saturating_sub(now.saturating_duration_since(oldest));
            return Err(wait.max(Duration::from_secs(1)));
        }
        Ok(())
    }

    pub fn failed(&mut self, source: IpAddr, now: Instant) {
        if !self.failures.contains_key(&source) && self.failures.len() >= MAX_SOURCES {
            let stalest = self
                .failures
                .iter()
                .min_by_key(|(_, l)| l.back().copied())
                .map(|(ip, _)| *ip);
            if let Some(ip) = stalest {
                self.failures.remove(&ip);
            }
        }
        let list = self.failures.entry(source).or_default();
        list.push_back(now);
        // More than any configurable limit is never needed.
        if list.len() > 1000 {
            list.pop_front();
        }
    }

    /// A successful login forgets the source's failures.
    pub fn succeeded(&mut self, source: IpAddr) {
        self.failures.remove(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_the_window_refuse_until_the_oldest_leaves_it() {
        let mut l = Limiter::default();
        let ip: IpAddr = "192.168.1.50".parse().unwrap();
        let other: IpAddr = "192.168.1.51".parse().unwrap();
        let window = Duration::from_secs(15 * 60);
        let t0 = Instant::now();
        for i in 0..5 {
            let now = t0 + Duration::from_secs(i * 60);
            assert_eq!(l.check(ip, 5, window, now), Ok(()));
            l.failed(ip, now);
        }
        let now = t0 + Duration::from_secs(5 * 60);
        assert_eq!(
            l.check(ip, 5, window, now),
            Err(Duration::from_secs(10 * 60))
        );
        assert_eq!(l.check(other, 5, window, now), Ok(()), "per source");
        // The first failure leaves the window at 15 min.
        let later = t0 + window - Duration::from_secs(1);
        assert!(l.check(ip, 5, window, later).is_err());
        assert_eq!(l.check(ip, 5, window, t0 + window), Ok(()));
        l.failed(ip, t0 + window);
        assert!(l.check(ip, 5, window, t0 + window).is_err());
        l.succeeded(ip);
        assert_eq!(l.check(ip, 5, window, t0 + window), Ok(()));
    }

    #[test]
    fn memory_is_bounded() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            l.failed(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(l.failures.len(), MAX_SOURCES);
    }
}
