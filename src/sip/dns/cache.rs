//! A small DNS answer cache that honours TTLs, with time passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::record::{Answer, Query};

/// Upper bound on how long anything is kept, whatever the TTL says
/// (RFC 2181 §8 allows TTLs up to 68 years; a gateway should notice a
/// provider's changes within a day).
pub const MAX_TTL: Duration = Duration::from_secs(86_400);

/// How many answers are kept; a gateway talks to a handful of domains.
pub const DEFAULT_CAPACITY: usize = 256;

/// Answers by question, each until its TTL runs out. Positive answers live
/// for the smallest TTL of their records (RFC 2181 §5.2: an RRset has one
/// TTL), negative ones (NXDOMAIN, NODATA) for the SOA-derived negative TTL
/// of RFC 2308 §5. Failures are never cached.
#[derive(Debug)]
pub struct DnsCache {
    entries: HashMap<Query, Entry>,
    capacity: usize,
}

#[derive(Debug)]
struct Entry {
    answer: Answer,
    stored: Instant,
    expires: Instant,
}

impl Default for DnsCache {
    fn default() -> Self {
        DnsCache::with_capacity(DEFAULT_CAPACITY)
    }
}

impl DnsCache {
    pub fn new() -> DnsCache {
        DnsCache::default()
    }

    pub fn with_capacity(capacity: usize) -> DnsCache {
        DnsCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The cached answer to `query`, if it has not expired at `now`. The
    /// TTLs in it are what remains of them, so a caller that caches in
    /// turn does not keep a record longer than its owner allowed.
    pub fn get(&self, query: &Query, now: Instant) -> Option<Answer> {
        let entry = self.entries.get(query)?;
        if now >= entry.expires {
            return None;
        }
        let elapsed = now.saturating_duration_since(entry.stored).as_secs();
        let elapsed = u32::try_from(elapsed).unwrap_or(u32::MAX);
        Some(match &entry.answer {
            Answer::Records(records) => Answer::Records(
                records
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.ttl = r.ttl.saturating_sub(elapsed);
                        r
                    })
                    .collect(),
            ),
            Answer::NoData { negative_ttl } => Answer::NoData {
                negative_ttl: negative_ttl.saturating_sub(elapsed),
            },
            Answer::NoSuchName { negative_ttl } => Answer::NoSuchName {
                negative_ttl: negative_ttl.saturating_sub(elapsed),
            },
            Answer::Failed(reason) => Answer::Failed(reason.clone()),
        })
    }

    /// Stores `answer` for `query` received at `now`, if it may be cached.
    pub fn insert(&mut self, query: &Query, answer: &Answer, now: Instant) {
        let ttl = match answer {
            Answer::Records(records) => records.iter().map(|r| r.ttl).min().unwrap_or(0),
            Answer::NoData { negative_ttl } | Answer::NoSuchName { negative_ttl } => *negative_ttl,
            Answer::Failed(_) => 0,
        };
        if ttl == 0 {
            return;
        }
        let ttl = Duration::from_secs(u64::from(ttl)).min(MAX_TTL);
        if !self.entries.contains_key(query) && self.entries.len() >= self.capacity {
            self.purge(now);
            if self.entries.len() >= self.capacity {
                self.evict_soonest();
            }
        }
        self.entries.insert(
            query.clone(),
            Entry {
                answer: answer.clone(),
                stored: now,
                expires: now + ttl,
            },
        );
    }

    /// Drops every entry that has expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        self.entries.retain(|_, e| now < e.expires);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_soonest(&mut self) {
        let soonest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.expires)
            .map(|(q, _)| q.clone());
        if let Some(q) = soonest {
            self.entries.remove(&q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::dns::record::{Record, RecordType};
    use std::net::Ipv4Addr;

    fn q(name: &str) -> Query {
        Query::new(name, RecordType::A)
    }

    #[test]
    fn positive_answer_lives_for_smallest_ttl() {
        let mut cache = DnsCache::new();
        let t0 = Instant::now();
        let answer = Answer::Records(vec![
            Record::a(Ipv4Addr::new(192, 0, 2, 1), 60),
            Record::a(Ipv4Addr::new(192, 0, 2, 2), 30),
        ]);
        cache.insert(&q("a.test"), &answer, t0);
        let later = cache.get(&q("A.Test."), t0 + Duration::from_secs(10));
        assert_eq!(
            later,
            Some(Answer::Records(vec![
                Record::a(Ipv4Addr::new(192, 0, 2, 1), 50),
                Record::a(Ipv4Addr::new(192, 0, 2, 2), 20),
            ]))
        );
        assert_eq!(cache.get(&q("a.test"), t0 + Duration::from_secs(30)), None);
    }

    #[test]
    fn failures_and_zero_ttls_are_not_cached() {
        let mut cache = DnsCache::new();
        let t0 = Instant::now();
        cache.insert(&q("a.test"), &Answer::Failed("SERVFAIL".into()), t0);
        cache.insert(&q("b.test"), &Answer::NoData { negative_ttl: 0 }, t0);
        cache.insert(&q("c.test"), &Answer::Records(vec![]), t0);
        assert!(cache.is_empty());
        cache.insert(&q("d.test"), &Answer::NoSuchName { negative_ttl: 5 }, t0);
        assert_eq!(
            cache.get(&q("d.test"), t0 + Duration::from_secs(2)),
            Some(Answer::NoSuchName { negative_ttl: 3 })
        );
    }

    #[test]
    fn full_cache_evicts_the_entry_expiring_first() {
        let mut cache = DnsCache::with_capacity(2);
        let t0 = Instant::now();
        let rec = |ttl| Answer::Records(vec![Record::a(Ipv4Addr::LOCALHOST, ttl)]);
        cache.insert(&q("long.test"), &rec(300), t0);
        cache.insert(&q("short.test"), &rec(10), t0);
        cache.insert(&q("new.test"), &rec(100), t0);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&q("short.test"), t0).is_none());
        assert!(cache.get(&q("long.test"), t0).is_some());
        assert!(cache.get(&q("new.test"), t0).is_some());
    }

    #[test]
    fn ttl_is_capped() {
        let mut cache = DnsCache::new();
        let t0 = Instant::now();
        let answer = Answer::Records(vec![Record::a(Ipv4Addr::LOCALHOST, u32::MAX)]);
        cache.insert(&q("a.test"), &answer, t0);
        assert!(cache.get(&q("a.test"), t0 + MAX_TTL).is_none());
    }
}
