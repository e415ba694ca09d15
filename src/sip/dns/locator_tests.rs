//! Tests of the sans-IO locator: a table of DNS answers stands in for the
//! network, and time is stepped by hand.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::sip::message::Uri;
use crate::sip::transport::Transport;

/// The SRV names of example.com, by transport (RFC 3263 §4.1).
const SRV_UDP: &str = "_sip._udp.example.com";
const SRV_TCP: &str = "_sip._tcp.example.com";
const SRV_TLS: &str = "_sips._tcp.example.com";

/// A zone: answers by question; anything not listed is NXDOMAIN.
#[derive(Clone, Default)]
struct Zone(HashMap<Query, Answer>);

impl Zone {
    /// Adds one SRV record (priority, weight, port, target) to `name`.
    fn srv(mut self, name: &str, priority: u16, weight: u16, port: u16, target: &str) -> Zone {
        let record = Record::srv(priority, weight, port, target, 300);
        let query = Query::new(name, RecordType::Srv);
        match self.0.entry(query).or_insert(Answer::Records(Vec::new())) {
            Answer::Records(records) => records.push(record),
            other => *other = Answer::Records(vec![record]),
        }
        self
    }

    fn a(self, name: &str, ips: &[[u8; 4]]) -> Zone {
        self.a_ttl(name, ips, 300)
    }

    fn a_ttl(mut self, name: &str, ips: &[[u8; 4]], ttl: u32) -> Zone {
        let recs = ips
            .iter()
            .map(|ip| Record::a(Ipv4Addr::from(*ip), ttl))
            .collect();
        self.0
            .insert(Query::new(name, RecordType::A), Answer::Records(recs));
        self.0.insert(
            Query::new(name, RecordType::Aaaa),
            Answer::NoData { negative_ttl: ttl },
        );
        self
    }

    fn aaaa(mut self, name: &str, ips: &[&str]) -> Zone {
        let recs = ips
            .iter()
            .filter_map(|ip| ip.parse::<Ipv6Addr>().ok())
            .map(|ip| Record::aaaa(ip, 300))
            .collect();
        self.0
            .insert(Query::new(name, RecordType::Aaaa), Answer::Records(recs));
        self
    }

    fn answer(mut self, query: Query, answer: Answer) -> Zone {
        self.0.insert(query, answer);
        self
    }

    fn nodata(self, name: &str, record_type: RecordType, negative_ttl: u32) -> Zone {
        let query = Query::new(name, record_type);
        self.answer(query, Answer::NoData { negative_ttl })
    }

    fn fail(self, name: &str, record_type: RecordType, why: &str) -> Zone {
        self.answer(Query::new(name, record_type), Answer::Failed(why.into()))
    }

    fn lookup(&self, q: &Query) -> Answer {
        self.0
            .get(q)
            .cloned()
            .unwrap_or(Answer::NoSuchName { negative_ttl: 60 })
    }
}

/// What one location run did.
struct Run {
    asked: Vec<Query>,
    result: Result<TargetList, DnsError>,
}

fn locate_with(
    uri: &str,
    zone: &Zone,
    families: AddressFamilies,
    rng: fastrand::Rng,
    cache: &mut DnsCache,
    now: Instant,
) -> Run {
    let uri = Uri::parse(uri).expect("test URI");
    let mut loc = match ServerLocator::new(&uri, families, rng, cache, now) {
        Ok(l) => l,
        Err(e) => {
            return Run {
                asked: vec![],
                result: Err(e),
            }
        }
    };
    let mut asked = Vec::new();
    // Collect every question first, as the shell does when it sends them
    // in parallel, then answer in order.
    for _ in 0..100 {
        let batch: Vec<Query> = std::iter::from_fn(|| loc.poll_query()).collect();
        if batch.is_empty() {
            break;
        }
        for q in batch {
            asked.push(q.clone());
            let a = zone.lookup(&q);
            loc.handle_answer(&q, a, cache, now);
        }
    }
    assert!(loc.is_done(), "locator not done after its questions");
    let result = loc.poll_result().expect("a result");
    assert!(loc.poll_result().is_none(), "the result is handed out once");
    Run { asked, result }
}

fn locate(uri: &str, zone: &Zone) -> Run {
    locate_with(
        uri,
        zone,
        AddressFamilies::Ipv4ThenIpv6,
        fastrand::Rng::with_seed(99),
        &mut DnsCache::new(),
        Instant::now(),
    )
}

fn targets(run: &Run) -> Vec<String> {
    match &run.result {
        Ok(list) => list.targets().iter().map(ServerTarget::to_string).collect(),
        Err(e) => panic!("location failed: {e}"),
    }
}

fn err(run: Run) -> DnsError {
    match run.result {
        Ok(list) => panic!("expected an error, got {:?}", list.targets()),
        Err(e) => e,
    }
}

/// Until when the run's targets may be used: the shortest TTL they rest on.
fn valid_until(run: &Run) -> Option<Instant> {
    run.result.as_ref().ok().and_then(TargetList::valid_until)
}

fn names(run: &Run) -> Vec<String> {
    run.asked.iter().map(Query::to_string).collect()
}

#[test]
fn numeric_hosts_need_no_dns() {
    // Default ports 5060 and 5061; the transport from the parameter or the
    // scheme; IPv4 and IPv6.
    for (uri, target) in [
        ("sip:192.0.2.1", "UDP 192.0.2.1:5060"),
        (
            "sip:alice@192.0.2.1:5070;transport=tcp",
            "TCP 192.0.2.1:5070",
        ),
        ("sips:192.0.2.1", "TLS 192.0.2.1:5061"),
        ("sip:[2001:db8::1]", "UDP [2001:db8::1]:5060"),
        (
            "sip:[2001:db8::1]:5080;transport=TCP",
            "TCP [2001:db8::1]:5080",
        ),
        ("sip:[2001:db8::1];transport=tls", "TLS [2001:db8::1]:5061"),
    ] {
        let run = locate(uri, &Zone::default());
        assert!(run.asked.is_empty(), "{uri}");
        assert_eq!(targets(&run), [target], "{uri}");
        // Nothing was looked up, so nothing expires.
        assert_eq!(valid_until(&run), None, "{uri}");
    }
}

#[test]
fn explicit_port_skips_srv() {
    let zone = Zone::default()
        .srv(SRV_UDP, 10, 1, 5999, "srv.example.com")
        .a("example.com", &[[192, 0, 2, 10]]);
    let run = locate("sip:example.com:5080", &zone);
    assert_eq!(names(&run), ["A example.com", "AAAA example.com"]);
    assert_eq!(targets(&run), ["UDP 192.0.2.10:5080"]);
}

#[test]
fn srv_targets_in_priority_order() {
    let zone = Zone::default()
        .srv(SRV_UDP, 20, 0, 5062, "b.example.com")
        .srv(SRV_UDP, 10, 0, 5061, "a.example.com")
        .srv(SRV_UDP, 30, 0, 5063, "c.example.com")
        .a("a.example.com", &[[192, 0, 2, 1]])
        .a("b.example.com", &[[192, 0, 2, 2]])
        .a("c.example.com", &[[192, 0, 2, 3]]);
    let run = locate("sip:example.com", &zone);
    let in_order = [
        "UDP 192.0.2.1:5061",
        "UDP 192.0.2.2:5062",
        "UDP 192.0.2.3:5063",
    ];
    assert_eq!(targets(&run), in_order);
    // SRV for both transports (no NAPTR), then the targets' addresses.
    assert_eq!(
        names(&run)[..2],
        ["SRV _sip._udp.example.com", "SRV _sip._tcp.example.com"]
    );
    assert_eq!(run.asked.len(), 2 + 3 * 2);
}

#[test]
fn srv_weights_three_to_one_give_about_75_25() {
    let zone = Zone::default()
        .srv(SRV_UDP, 10, 1, 5060, "light.example.com")
        .srv(SRV_UDP, 10, 3, 5060, "heavy.example.com")
        .a("light.example.com", &[[192, 0, 2, 1]])
        .a("heavy.example.com", &[[192, 0, 2, 3]]);
    let mut master = fastrand::Rng::with_seed(2024);
    let draws = 4000;
    let mut heavy_first = 0u32;
    for _ in 0..draws {
        let run = locate_with(
            "sip:example.com",
            &zone,
            AddressFamilies::Ipv4Only,
            master.fork(),
            &mut DnsCache::new(),
            Instant::now(),
        );
        let t = targets(&run);
        assert_eq!(t.len(), 2);
        if t.first().map(String::as_str) == Some("UDP 192.0.2.3:5060") {
            heavy_first += 1;
        }
    }
    let share = f64::from(heavy_first) / f64::from(draws);
    assert!((0.72..0.78).contains(&share), "heavy first in {share}");
}

#[test]
fn srv_target_with_several_addresses_gives_one_target_each() {
    let pool = [[192, 0, 2, 1], [192, 0, 2, 2], [192, 0, 2, 3]];
    let zone = Zone::default()
        .srv(SRV_UDP, 10, 0, 5070, "pool.example.com")
        .srv(SRV_UDP, 20, 0, 5060, "backup.example.com")
        .a("pool.example.com", &pool)
        .aaaa("pool.example.com", &["2001:db8::7"])
        .a("backup.example.com", &[[198, 51, 100, 1]]);
    let expected = [
        "UDP 192.0.2.1:5070",
        "UDP 192.0.2.2:5070",
        "UDP 192.0.2.3:5070",
        "UDP [2001:db8::7]:5070",
        "UDP 198.51.100.1:5060",
    ];
    assert_eq!(targets(&locate("sip:example.com", &zone)), expected);
}

#[test]
fn no_srv_falls_back_to_address_records_on_default_port() {
    let zone = Zone::default()
        .nodata(SRV_UDP, RecordType::Srv, 60)
        .a("example.com", &[[192, 0, 2, 9]]);
    let run = locate("sip:example.com", &zone);
    assert_eq!(targets(&run), ["UDP 192.0.2.9:5060"]);
    let srv_then_address = [
        "SRV _sip._udp.example.com",
        "SRV _sip._tcp.example.com",
        "A example.com",
        "AAAA example.com",
    ];
    assert_eq!(names(&run), srv_then_address);

    let run = locate("sips:example.com", &zone);
    assert_eq!(names(&run)[0], "SRV _sips._tcp.example.com");
    assert_eq!(targets(&run), ["TLS 192.0.2.9:5061"]);
}

#[test]
fn failing_srv_lookup_falls_back_to_address_records() {
    let zone = Zone::default()
        .fail(SRV_UDP, RecordType::Srv, "SERVFAIL")
        .a("example.com", &[[192, 0, 2, 9]]);
    let found = targets(&locate("sip:example.com", &zone));
    assert_eq!(found, ["UDP 192.0.2.9:5060"]);
}

#[test]
fn nxdomain_is_an_error_naming_the_name() {
    let e = err(locate("sip:nowhere.example", &Zone::default()));
    let name = "nowhere.example".to_string();
    assert_eq!(e, DnsError::NoSuchName { name });
    let text = "DNS name 'nowhere.example' does not exist (NXDOMAIN)";
    assert_eq!(e.to_string(), text);
}

#[test]
fn address_lookup_failure_is_reported_with_the_query() {
    let no_reply = "no reply from 127.0.0.53:53 after 2 tries";
    for (a, text) in [
        (
            Answer::Failed(no_reply.into()),
            "DNS lookup failed for A example.com: no reply from 127.0.0.53:53 after 2 tries",
        ),
        (
            Answer::NoData { negative_ttl: 0 },
            "DNS name 'example.com' has no A or AAAA records",
        ),
    ] {
        let zone = Zone::default()
            .answer(Query::new("example.com", RecordType::A), a)
            .nodata("example.com", RecordType::Aaaa, 0);
        let e = err(locate("sip:example.com:5060", &zone));
        assert_eq!(e.to_string(), text);
    }
}

#[test]
fn srv_targets_that_do_not_resolve_are_skipped_or_reported() {
    let only_gone = Zone::default().srv(SRV_UDP, 10, 0, 5060, "gone.example.com");
    let zone = only_gone
        .clone()
        .srv(SRV_UDP, 20, 0, 5060, "ok.example.com");
    let zone = zone.a("ok.example.com", &[[192, 0, 2, 5]]);
    let found = targets(&locate("sip:example.com", &zone));
    assert_eq!(found, ["UDP 192.0.2.5:5060"]);

    let e = err(locate("sip:example.com", &only_gone));
    assert!(matches!(e, DnsError::NoUsableTargets { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("_sip._udp.example.com"), "{text}");
    assert!(
        text.contains("gone.example.com: DNS name 'gone.example.com' does not exist"),
        "{text}"
    );
}

#[test]
fn srv_root_target_means_service_not_available() {
    let zone = Zone::default()
        .srv(SRV_TLS, 0, 0, 0, ".")
        .a("example.com", &[[192, 0, 2, 9]]);
    let e = err(locate("sips:example.com", &zone));
    let name = SRV_TLS.to_string();
    assert_eq!(e, DnsError::ServiceNotAvailable { name });
}

#[test]
fn transport_parameter_picks_the_srv_service() {
    let zone = Zone::default()
        .srv(SRV_TCP, 10, 0, 5070, "tcp.example.com")
        .a("tcp.example.com", &[[192, 0, 2, 20]])
        .srv(SRV_TLS, 10, 0, 5071, "tls.example.com")
        .a("tls.example.com", &[[192, 0, 2, 21]]);
    let run = locate("sip:example.com;transport=tcp", &zone);
    assert_eq!(names(&run)[0], "SRV _sip._tcp.example.com");
    assert_eq!(targets(&run), ["TCP 192.0.2.20:5070"]);
    for uri in ["sips:example.com", "sip:example.com;transport=tls"] {
        assert_eq!(targets(&locate(uri, &zone)), ["TLS 192.0.2.21:5071"]);
    }
    // Without a parameter a sip: URI takes SRV for UDP, then for TCP.
    let zone = zone
        .srv(SRV_UDP, 10, 0, 5060, "udp.example.com")
        .a("udp.example.com", &[[192, 0, 2, 22]]);
    let found = targets(&locate("sip:example.com", &zone));
    assert_eq!(found, ["UDP 192.0.2.22:5060", "TCP 192.0.2.20:5070"]);
}

#[test]
fn unusable_uris_are_refused_with_a_reason() {
    let zone = Zone::default();
    for (uri, why) in [
        (
            "sips:example.com;transport=udp",
            "sips:example.com;transport=udp asks for UDP, but a sips: URI must be reached over TLS (RFC 3261 §26.2.2)",
        ),
        (
            "sip:example.com;transport=sctp",
            "transport=sctp in sip:example.com;transport=sctp is not supported (udp, tcp and tls are)",
        ),
    ] {
        assert_eq!(err(locate(uri, &zone)).to_string(), why);
    }
    assert!(matches!(
        err(locate("tel:+15551234567", &zone)),
        DnsError::UnsupportedScheme { .. }
    ));
    let long = format!("sip:{}.example.com", "a".repeat(64));
    assert!(matches!(
        err(locate(&long, &zone)),
        DnsError::InvalidName { .. }
    ));
}

#[test]
fn maddr_replaces_the_host() {
    let zone = Zone::default().a("proxy.example.net", &[[192, 0, 2, 44]]);
    let run = locate("sip:example.com:5090;maddr=proxy.example.net", &zone);
    assert_eq!(targets(&run), ["UDP 192.0.2.44:5090"]);
    let run = locate("sip:example.com;maddr=192.0.2.45", &zone);
    assert!(run.asked.is_empty());
    assert_eq!(targets(&run), ["UDP 192.0.2.45:5060"]);
}

#[test]
fn address_family_preference() {
    let zone = Zone::default()
        .a("dual.example.com", &[[192, 0, 2, 1]])
        .aaaa("dual.example.com", &["2001:db8::1"]);
    let run = |families| {
        locate_with(
            "sip:dual.example.com:5060",
            &zone,
            families,
            fastrand::Rng::with_seed(1),
            &mut DnsCache::new(),
            Instant::now(),
        )
    };
    assert_eq!(
        targets(&run(AddressFamilies::Ipv6ThenIpv4)),
        ["UDP [2001:db8::1]:5060", "UDP 192.0.2.1:5060"]
    );
    let v6 = run(AddressFamilies::Ipv6Only);
    assert_eq!(names(&v6), ["AAAA dual.example.com"]);
    assert_eq!(targets(&v6), ["UDP [2001:db8::1]:5060"]);
}

#[test]
fn cached_answers_are_used_until_their_ttl_expires() {
    let zone = Zone::default()
        .answer(
            Query::new(SRV_UDP, RecordType::Srv),
            Answer::Records(vec![Record::srv(10, 0, 5070, "sip1.example.com", 120)]),
        )
        .nodata(SRV_TCP, RecordType::Srv, 600)
        .a_ttl("sip1.example.com", &[[192, 0, 2, 71]], 60);
    let mut cache = DnsCache::new();
    let t0 = Instant::now();
    let at = |secs: u64, cache: &mut DnsCache| {
        locate_with(
            "sip:example.com",
            &zone,
            AddressFamilies::Ipv4ThenIpv6,
            fastrand::Rng::with_seed(5),
            cache,
            t0 + Duration::from_secs(secs),
        )
    };
    let first = at(0, &mut cache);
    assert_eq!(first.asked.len(), 4);
    assert_eq!(targets(&first), ["UDP 192.0.2.71:5070"]);
    let a_ttl_ends = Some(t0 + Duration::from_secs(60));
    assert_eq!(valid_until(&first), a_ttl_ends);

    // Within every TTL: no question at all.
    let second = at(59, &mut cache);
    assert!(second.asked.is_empty(), "{:?}", names(&second));
    assert_eq!(targets(&second), ["UDP 192.0.2.71:5070"]);
    assert_eq!(valid_until(&second), a_ttl_ends);

    // The A/AAAA records (60 s) have expired, the SRV (120 s) has not.
    let third = at(61, &mut cache);
    let addresses = ["A sip1.example.com", "AAAA sip1.example.com"];
    assert_eq!(names(&third), addresses);
    // And after 120 s the SRV is asked again too, not the TCP NODATA (600 s).
    let fourth = at(180, &mut cache);
    assert_eq!(names(&fourth)[0], "SRV _sip._udp.example.com");
    assert_eq!(names(&fourth)[1..], addresses);
}

#[test]
fn failover_walks_srv_targets_then_addresses() {
    let zone = Zone::default()
        .srv(SRV_UDP, 10, 0, 5060, "primary.example.com")
        .srv(SRV_UDP, 20, 0, 5060, "secondary.example.com")
        .a("primary.example.com", &[[192, 0, 2, 1], [192, 0, 2, 2]])
        .a("secondary.example.com", &[[198, 51, 100, 1]]);
    let run = locate("sip:example.com", &zone);
    let mut list = run.result.expect("targets");
    let addr = |t: Option<ServerTarget>| t.map(|t| t.addr);
    let sa = |s: &str| s.parse::<SocketAddr>().ok();
    assert_eq!(addr(list.next()), sa("192.0.2.1:5060"));
    assert_eq!(
        addr(list.mark_failed(Failure::Timeout)),
        sa("192.0.2.2:5060")
    );
    assert_eq!(
        addr(list.mark_failed(Failure::ServiceUnavailable)),
        sa("198.51.100.1:5060")
    );
    assert_eq!(list.current().map(|t| t.transport), Some(Transport::Udp));
    assert_eq!(list.mark_failed(Failure::Timeout), None);
    assert_eq!(list.failures().len(), 3);
}

#[test]
fn answers_to_unasked_questions_are_ignored() {
    let uri = Uri::parse("sip:example.com:5060").expect("uri");
    let mut cache = DnsCache::new();
    let now = Instant::now();
    let mut loc = ServerLocator::new(
        &uri,
        AddressFamilies::Ipv4Only,
        fastrand::Rng::with_seed(1),
        &mut cache,
        now,
    )
    .expect("locator");
    let stray = Query::new("evil.example", RecordType::A);
    loc.handle_answer(
        &stray,
        Answer::Records(vec![Record::a(Ipv4Addr::new(203, 0, 113, 1), 300)]),
        &mut cache,
        now,
    );
    assert!(cache.is_empty());
    assert!(!loc.is_done());
    let q = loc.poll_query().expect("a question");
    assert_eq!(loc.outstanding(), 1);
    loc.handle_answer(
        &q,
        Answer::Records(vec![Record::a(Ipv4Addr::new(192, 0, 2, 1), 300)]),
        &mut cache,
        now,
    );
    // A second answer to the same question changes nothing.
    loc.handle_answer(
        &q,
        Answer::Records(vec![Record::a(Ipv4Addr::new(203, 0, 113, 1), 300)]),
        &mut cache,
        now,
    );
    let list = loc.poll_result().expect("done").expect("targets");
    assert_eq!(list.targets().len(), 1);
    assert_eq!(
        list.targets().first().map(|t| t.addr),
        "192.0.2.1:5060".parse().ok()
    );
}
