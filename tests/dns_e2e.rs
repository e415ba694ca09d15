//! RFC 3263 server location end to end: the async resolver asks a real DNS
//! server, dnsmasq (Debian package dnsmasq-base, installed by
//! tests/run.sh), on a loopback address of its own.

mod common;

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{start_dnsmasq, KillOnDrop};
use pbxgate::sip::dns::{
    Answer, DnsError, Query, RecordType, Resolver, ResolverConfig, ServerTarget, TargetList,
};
use pbxgate::sip::message::Uri;
use pbxgate::sip::transport::Transport;

const DNS_IP: &str = "127.0.53.1";
const DNS_PORT: u16 = 5399;

/// dnsmasq serving pbx.test; killed and reaped when dropped, whatever the
/// test did.
fn dnsmasq() -> KillOnDrop {
    let mut records: Vec<String> = [
        "--log-facility=-",
        // Names under pbx.test that are not listed are NXDOMAIN.
        "--local=/pbx.test/",
        // dnsmasq serves its own records with TTL 0 unless told otherwise.
        "--local-ttl=60",
        "--srv-host=_sip._udp.pbx.test,sip1.pbx.test,5070,10,60",
        "--srv-host=_sip._udp.pbx.test,sip2.pbx.test,5072,20,10",
        "--srv-host=_sips._tcp.pbx.test,sip1.pbx.test,5071,10,0",
        "--host-record=sip1.pbx.test,127.0.0.71",
        "--host-record=sip1.pbx.test,127.0.0.72",
        "--host-record=sip2.pbx.test,127.0.0.73",
        "--host-record=plain.pbx.test,127.0.0.74",
    ]
    .map(String::from)
    .into();
    // 120 addresses: too many for a 1232-byte UDP reply, so the resolver
    // must ask again over TCP.
    for i in 1..=120 {
        records.push(format!("--host-record=big.pbx.test,127.0.81.{i}"));
    }
    start_dnsmasq(DNS_IP, DNS_PORT, &records)
}

fn resolver() -> Resolver {
    let mut config = ResolverConfig::with_nameserver(SocketAddr::from(([127, 0, 53, 1], DNS_PORT)));
    config.timeout = Duration::from_millis(500);
    config.attempts = 2;
    Resolver::with_rng(config, fastrand::Rng::with_seed(3263))
}

fn wait_until_answering(resolver: &Resolver, dnsmasq: &mut KillOnDrop) {
    let started = Instant::now();
    let probe = Query::new("plain.pbx.test", RecordType::A);
    loop {
        if let Some(status) = dnsmasq.exited() {
            panic!("dnsmasq exited at start: {status}");
        }
        if let Answer::Records(_) = smol::block_on(resolver.query(&probe)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "dnsmasq did not answer on {DNS_IP}:{DNS_PORT} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn locate(resolver: &Resolver, uri: &str) -> Result<TargetList, DnsError> {
    let uri = Uri::parse(uri).expect("test URI");
    smol::block_on(resolver.locate(&uri))
}

fn addrs(list: &TargetList) -> Vec<String> {
    list.targets().iter().map(|t| t.addr.to_string()).collect()
}

#[test]
fn locates_sip_servers_through_dnsmasq() {
    let mut dnsmasq = dnsmasq();
    let resolver = resolver();
    wait_until_answering(&resolver, &mut dnsmasq);

    // SRV: priority 10 (two addresses) before priority 20.
    let list = locate(&resolver, "sip:pbx.test").expect("sip:pbx.test");
    let got = addrs(&list);
    assert_eq!(got.len(), 3, "{got:?}");
    let first_two: HashSet<&str> = got.iter().take(2).map(String::as_str).collect();
    assert_eq!(
        first_two,
        HashSet::from(["127.0.0.71:5070", "127.0.0.72:5070"])
    );
    assert_eq!(got.get(2).map(String::as_str), Some("127.0.0.73:5072"));
    assert!(list
        .targets()
        .iter()
        .all(|t| t.transport == Transport::Udp && !t.tls));
    assert!(list.valid_until().is_some());

    // Failover walks that order.
    let mut walk = list.clone();
    let first = walk.next().expect("first target");
    walk.mark_failed(pbxgate::sip::dns::Failure::Timeout);
    walk.mark_failed(pbxgate::sip::dns::Failure::ServiceUnavailable);
    assert_eq!(
        walk.current().map(|t| t.addr.to_string()).as_deref(),
        Some("127.0.0.73:5072")
    );
    assert_ne!(Some(first), walk.current());

    // SIPS: _sips._tcp, TLS targets.
    let list = locate(&resolver, "sips:pbx.test").expect("sips:pbx.test");
    assert!(list
        .targets()
        .iter()
        .all(|t| t.tls && t.addr.port() == 5071));
    assert_eq!(list.len(), 2);

    // No SRV: the A record on the default port.
    let list = locate(&resolver, "sip:plain.pbx.test").expect("plain");
    assert_eq!(
        list.targets(),
        &[ServerTarget::new(
            Transport::Udp,
            SocketAddr::from(([127, 0, 0, 74], 5060))
        )]
    );

    // Explicit port and transport: A/AAAA only.
    let list = locate(&resolver, "sip:plain.pbx.test:5099;transport=tcp").expect("port");
    assert_eq!(addrs(&list), ["127.0.0.74:5099"]);
    assert_eq!(
        list.targets().first().map(|t| t.transport),
        Some(Transport::Tcp)
    );

    // NXDOMAIN names the name.
    let err = locate(&resolver, "sip:nowhere.pbx.test").expect_err("nowhere");
    assert_eq!(
        err,
        DnsError::NoSuchName {
            name: "nowhere.pbx.test".into()
        }
    );

    // A reply too large for UDP comes again over TCP.
    let list = locate(&resolver, "sip:big.pbx.test:5060").expect("big");
    assert_eq!(list.len(), 120);

    // With the server gone, the cached SRV and A records (TTL 60 s) still
    // answer; the uncached negative answers just time out.
    drop(dnsmasq);
    let list = locate(&resolver, "sip:pbx.test").expect("from cache");
    assert_eq!(addrs(&list).len(), 3);
}

#[test]
fn silent_nameserver_times_out_after_the_configured_tries() {
    // A socket that reads queries and never answers.
    let silent = UdpSocket::bind("127.0.53.2:5399").expect("bind silent server");
    silent
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut config = ResolverConfig::with_nameserver(SocketAddr::from(([127, 0, 53, 2], 5399)));
    config.timeout = Duration::from_millis(200);
    config.attempts = 2;
    let resolver = Resolver::new(config);
    let started = Instant::now();
    let answer = smol::block_on(resolver.query(&Query::new("pbx.test", RecordType::A)));
    let elapsed = started.elapsed();
    match answer {
        Answer::Failed(reason) => assert!(
            reason.starts_with("no reply from 127.0.53.2:5399 after 2 tries"),
            "{reason}"
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let mut buf = [0u8; 512];
    let mut received = 0;
    while silent.recv_from(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received, 2, "one query per try");

    let err = locate(&resolver, "sip:pbx.test:5060").expect_err("no DNS");
    assert!(
        err.to_string()
            .starts_with("DNS lookup failed for A pbx.test: no reply from 127.0.53.2:5399"),
        "{err}"
    );
}
