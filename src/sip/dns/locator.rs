//! RFC 3263 §4 server location as a sans-IO state machine.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::debug;

use super::cache::{DnsCache, MAX_TTL};
use super::error::DnsError;
use super::record::{normalize_name, Answer, Query, RecordData, RecordType};
use super::srv::{self, Srv};
use super::target::{ServerTarget, TargetList};
use crate::sip::message::{Host, Uri};
use crate::sip::transport::Transport;

/// RFC 3261 §19.1.2: the default ports.
pub const SIP_PORT: u16 = 5060;
pub const SIPS_PORT: u16 = 5061;

/// Which address records to ask for, and which addresses to try first when
/// a name has both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressFamilies {
    Ipv4Only,
    Ipv6Only,
    /// IPv4 addresses of a name before its IPv6 ones: a box behind a
    /// consumer router more often has working IPv4 than IPv6.
    #[default]
    Ipv4ThenIpv6,
    Ipv6ThenIpv4,
}

impl AddressFamilies {
    fn record_types(self) -> &'static [RecordType] {
        match self {
            AddressFamilies::Ipv4Only => &[RecordType::A],
            AddressFamilies::Ipv6Only => &[RecordType::Aaaa],
            AddressFamilies::Ipv4ThenIpv6 => &[RecordType::A, RecordType::Aaaa],
            AddressFamilies::Ipv6ThenIpv4 => &[RecordType::Aaaa, RecordType::A],
        }
    }
}

/// The transport a URI asks for, or leaves open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Via {
    transport: Transport,
    tls: bool,
}

const UDP: Via = Via {
    transport: Transport::Udp,
    tls: false,
};
const TCP: Via = Via {
    transport: Transport::Tcp,
    tls: false,
};
const TLS: Via = Via {
    transport: Transport::Tls,
    tls: true,
};

impl Via {
    fn default_port(self) -> u16 {
        if self.tls {
            SIPS_PORT
        } else {
            SIP_PORT
        }
    }

    /// RFC 3263 §4.2: `_sips._tcp` for TLS, `_sip._tcp`, `_sip._udp`.
    fn srv_prefix(self) -> &'static str {
        match (self.tls, self.transport) {
            (true, _) | (_, Transport::Tls) => "_sips._tcp",
            (false, Transport::Tcp) => "_sip._tcp",
            (false, Transport::Udp) => "_sip._udp",
        }
    }

    fn target(self, addr: SocketAddr) -> ServerTarget {
        ServerTarget {
            transport: self.transport,
            addr,
            tls: self.tls,
        }
    }
}

/// A host and port still to be turned into addresses.
#[derive(Clone, Debug)]
struct Candidate {
    host: String,
    port: u16,
    via: Via,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the SRV answers, one query per transport, in order of
    /// preference.
    Srv {
        services: Vec<(Query, Via)>,
    },
    /// Waiting for the A/AAAA answers of every candidate. `srv_names` is
    /// set when the candidates came from SRV records (for the error).
    Addresses {
        candidates: Vec<Candidate>,
        srv_names: Option<String>,
    },
    Done,
}

/// Locates the SIP server for one URI (RFC 3263 §4), without IO.
///
/// Feed it DNS answers; it says which questions to ask and, at the end,
/// which targets to try in which order. NAPTR is skipped (RFC 3263 §4.1
/// allows it when the client knows which transports it wants): without a
/// `transport` parameter a `sip:` URI asks SRV for UDP and then TCP, a
/// `sips:` URI for TLS over TCP.
///
/// ```
/// use std::time::Instant;
/// use pbxgate::sip::dns::{Answer, AddressFamilies, DnsCache, Query, Record, RecordType, ServerLocator};
/// use pbxgate::sip::message::Uri;
///
/// let uri = Uri::parse("sip:example.com:5080").unwrap();
/// let mut cache = DnsCache::new();
/// let now = Instant::now();
/// let rng = fastrand::Rng::with_seed(1);
/// let mut loc = ServerLocator::new(&uri, AddressFamilies::Ipv4Only, rng, &mut cache, now).unwrap();
/// let q = loc.poll_query().unwrap();
/// assert_eq!(q, Query::new("example.com", RecordType::A));
/// loc.handle_answer(&q, Answer::Records(vec![Record::a([192, 0, 2, 7].into(), 300)]), &mut cache, now);
/// let mut targets = loc.poll_result().unwrap().unwrap();
/// assert_eq!(targets.next().unwrap().addr.to_string(), "192.0.2.7:5080");
/// ```
#[derive(Debug)]
pub struct ServerLocator {
    uri: String,
    /// The domain to locate (the `maddr` parameter if present, else host).
    domain: String,
    families: AddressFamilies,
    rng: fastrand::Rng,
    phase: Phase,
    /// Queries to hand out through `poll_query`.
    outbox: VecDeque<Query>,
    /// Queries handed out (or about to be) and not answered yet.
    pending: HashSet<Query>,
    /// Answers gathered in this run, with the time each was received.
    answers: HashMap<Query, (Answer, Instant)>,
    result: Option<Result<TargetList, DnsError>>,
}

impl ServerLocator {
    /// Starts locating the server of `uri`. Numeric hosts finish at once
    /// (`poll_result` has the answer); names take queries, answered from
    /// `cache` where it can. `rng` orders SRV records of equal priority.
    pub fn new(
        uri: &Uri,
        families: AddressFamilies,
        rng: fastrand::Rng,
        cache: &mut DnsCache,
        now: Instant,
    ) -> Result<ServerLocator, DnsError> {
        let sip = match uri {
            Uri::Sip(u) => u,
            Uri::Other { scheme, .. } => {
                return Err(DnsError::UnsupportedScheme {
                    scheme: scheme.clone(),
                })
            }
        };
        let uri_text = sip.to_string();
        let pinned = match sip.params.value("transport") {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("udp") => {
                if sip.secure {
                    return Err(DnsError::SipsOverUdp { uri: uri_text });
                }
                Some(UDP)
            }
            Some(t) if t.eq_ignore_ascii_case("tcp") => Some(if sip.secure { TLS } else { TCP }),
            Some(t) if t.eq_ignore_ascii_case("tls") => Some(TLS),
            Some(t) => {
                return Err(DnsError::UnsupportedTransport {
                    transport: t.to_string(),
                    uri: uri_text,
                })
            }
        };
        let default_via = pinned.unwrap_or(if sip.secure { TLS } else { UDP });
        // RFC 3263 §4: maddr, when present, is the target instead of the host.
        let host = match sip.params.value("maddr") {
            Some(m) => Host::parse(m).map_err(|reason| DnsError::InvalidName {
                name: m.to_string(),
                reason,
            })?,
            None => sip.host.clone(),
        };

        let mut locator = ServerLocator {
            uri: uri_text,
            domain: String::new(),
            families,
            rng,
            phase: Phase::Done,
            outbox: VecDeque::new(),
            pending: HashSet::new(),
            answers: HashMap::new(),
            result: None,
        };

        let domain = match host {
            Host::Ipv4(ip) => return Ok(locator.numeric(IpAddr::V4(ip), sip.port, default_via)),
            Host::Ipv6(ip) => return Ok(locator.numeric(IpAddr::V6(ip), sip.port, default_via)),
            Host::Domain(d) => normalize_name(&d),
        };
        validate_name(&domain)?;
        locator.domain = domain.clone();

        locator.phase = match sip.port {
            // RFC 3263 §4.2: an explicit port means A/AAAA only.
            Some(port) => Phase::Addresses {
                candidates: vec![Candidate {
                    host: domain,
                    port,
                    via: default_via,
                }],
                srv_names: None,
            },
            None => {
                let vias: &[Via] = match pinned {
                    Some(v) => &[v][..],
                    None if sip.secure => &[TLS],
                    None => &[UDP, TCP],
                };
                let services = vias
                    .iter()
                    .map(|v| {
                        let name = format!("{}.{domain}", v.srv_prefix());
                        (Query::new(name, RecordType::Srv), *v)
                    })
                    .collect();
                Phase::Srv { services }
            }
        };
        locator.ask_for_phase(cache, now);
        locator.advance(cache, now);
        Ok(locator)
    }

    /// The next DNS question to send, if any. Each is handed out once;
    /// its answer (or failure) goes back through `handle_answer`.
    pub fn poll_query(&mut self) -> Option<Query> {
        self.outbox.pop_front()
    }

    /// An answer to a query handed out by `poll_query`. It is stored in
    /// `cache` (as its TTL allows) and moves the location on. Answers to
    /// questions not asked are ignored.
    pub fn handle_answer(
        &mut self,
        query: &Query,
        answer: Answer,
        cache: &mut DnsCache,
        now: Instant,
    ) {
        if !self.pending.remove(query) {
            debug!(%query, "DNS answer to a question not asked, ignored");
            return;
        }
        self.outbox.retain(|q| q != query);
        cache.insert(query, &answer, now);
        self.answers.insert(query.clone(), (answer, now));
        self.advance(cache, now);
    }

    /// The outcome, once: `Some` when location has finished.
    pub fn poll_result(&mut self) -> Option<Result<TargetList, DnsError>> {
        self.result.take()
    }

    /// True once the outcome is known (taken or not).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Questions handed out and not answered yet.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    fn numeric(mut self, ip: IpAddr, port: Option<u16>, via: Via) -> ServerLocator {
        // RFC 3263 §4.2: a numeric host is used as is, with the URI's port
        // or the transport's default.
        let addr = SocketAddr::new(ip, port.unwrap_or(via.default_port()));
        self.result = Some(Ok(TargetList::new(vec![via.target(addr)], None)));
        self.phase = Phase::Done;
        self
    }

    /// Asks the questions the current phase waits for.
    fn ask_for_phase(&mut self, cache: &DnsCache, now: Instant) {
        let queries: Vec<Query> = match &self.phase {
            Phase::Srv { services } => services.iter().map(|(q, _)| q.clone()).collect(),
            Phase::Addresses { candidates, .. } => {
                let mut qs = Vec::new();
                for c in candidates {
                    for t in self.families.record_types() {
                        let q = Query::new(c.host.clone(), *t);
                        if !qs.contains(&q) {
                            qs.push(q);
                        }
                    }
                }
                qs
            }
            Phase::Done => Vec::new(),
        };
        for q in queries {
            self.ask(q, cache, now);
        }
    }

    fn ask(&mut self, query: Query, cache: &DnsCache, now: Instant) {
        if self.answers.contains_key(&query) || self.pending.contains(&query) {
            return;
        }
        if let Some(answer) = cache.get(&query, now) {
            self.answers.insert(query, (answer, now));
            return;
        }
        self.pending.insert(query.clone());
        self.outbox.push_back(query);
    }

    fn answered(&self, q: &Query) -> bool {
        self.answers.contains_key(q)
    }

    /// Moves to the next phase while the current one has all its answers.
    fn advance(&mut self, cache: &DnsCache, now: Instant) {
        loop {
            let next = match &self.phase {
                Phase::Srv { services } => {
                    if !services.iter().all(|(q, _)| self.answered(q)) {
                        return;
                    }
                    let services = services.clone();
                    match self.candidates_from_srv(&services) {
                        Ok(phase) => phase,
                        Err(e) => {
                            self.finish(Err(e));
                            return;
                        }
                    }
                }
                Phase::Addresses {
                    candidates,
                    srv_names,
                } => {
                    let all = candidates.iter().all(|c| {
                        self.families
                            .record_types()
                            .iter()
                            .all(|t| self.answered(&Query::new(c.host.clone(), *t)))
                    });
                    if !all {
                        return;
                    }
                    let result = self.targets(candidates, srv_names.as_deref());
                    self.finish(result);
                    return;
                }
                Phase::Done => return,
            };
            self.phase = next;
            self.ask_for_phase(cache, now);
        }
    }

    /// RFC 3263 §4.2: the SRV records of each transport in order of
    /// preference, each set ordered per RFC 2782; no SRV at all means the
    /// A/AAAA records of the domain itself, on the default port.
    fn candidates_from_srv(&mut self, services: &[(Query, Via)]) -> Result<Phase, DnsError> {
        let mut candidates = Vec::new();
        let mut refused = None;
        for (query, via) in services {
            let Some((answer, _)) = self.answers.get(query) else {
                continue;
            };
            let records = match answer {
                Answer::Records(r) => r,
                Answer::Failed(reason) => {
                    // A resolver that fails SRV queries (some home routers
                    // do) should not make the server unreachable: fall
                    // back to A/AAAA as if there were no SRV.
                    debug!(%query, %reason, "SRV lookup failed, treating as no SRV");
                    continue;
                }
                Answer::NoData { .. } | Answer::NoSuchName { .. } => continue,
            };
            let srvs: Vec<Srv> = records
                .iter()
                .filter_map(|r| match &r.data {
                    RecordData::Srv {
                        priority,
                        weight,
                        port,
                        target,
                    } => Some(Srv {
                        priority: *priority,
                        weight: *weight,
                        port: *port,
                        target: target.clone(),
                    }),
                    _ => None,
                })
                .collect();
            // RFC 2782: a lone target "." says the service is not offered.
            if srvs.len() == 1 && srvs.iter().all(|s| s.target.is_empty()) {
                refused = Some(query.name.clone());
                continue;
            }
            let usable: Vec<Srv> = srvs.into_iter().filter(|s| !s.target.is_empty()).collect();
            for s in srv::order(usable, &mut self.rng) {
                candidates.push(Candidate {
                    host: s.target,
                    port: s.port,
                    via: *via,
                });
            }
        }
        if !candidates.is_empty() {
            let names = services
                .iter()
                .map(|(q, _)| q.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Ok(Phase::Addresses {
                candidates,
                srv_names: Some(names),
            });
        }
        if let Some(name) = refused {
            return Err(DnsError::ServiceNotAvailable { name });
        }
        let via = services.first().map_or(UDP, |(_, v)| *v);
        Ok(Phase::Addresses {
            candidates: vec![Candidate {
                host: self.domain.clone(),
                port: via.default_port(),
                via,
            }],
            srv_names: None,
        })
    }

    /// RFC 3263 §4.3: every address of every candidate, in order; a name
    /// with several A records gives one target per address.
    fn targets(
        &self,
        candidates: &[Candidate],
        srv_names: Option<&str>,
    ) -> Result<TargetList, DnsError> {
        let mut targets: Vec<ServerTarget> = Vec::new();
        for c in candidates {
            for t in self.families.record_types() {
                let q = Query::new(c.host.clone(), *t);
                let Some((Answer::Records(records), _)) = self.answers.get(&q) else {
                    continue;
                };
                for r in records {
                    let ip = match r.data {
                        RecordData::A(ip) => IpAddr::V4(ip),
                        RecordData::Aaaa(ip) => IpAddr::V6(ip),
                        RecordData::Srv { .. } => continue,
                    };
                    let target = c.via.target(SocketAddr::new(ip, c.port));
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
            }
        }
        if !targets.is_empty() {
            return Ok(TargetList::new(targets, self.valid_until()));
        }
        match srv_names {
            Some(name) => Err(DnsError::NoUsableTargets {
                name: name.to_string(),
                details: self.address_failures(candidates),
            }),
            None => Err(self.host_error(&self.domain)),
        }
    }

    /// Why `host` has no address: NXDOMAIN, a failed lookup, or no record.
    fn host_error(&self, host: &str) -> DnsError {
        let answers: Vec<(&Query, &Answer)> = self
            .families
            .record_types()
            .iter()
            .filter_map(|t| {
                let q = Query::new(host, *t);
                self.answers.get_key_value(&q).map(|(q, (a, _))| (q, a))
            })
            .collect();
        if answers
            .iter()
            .any(|(_, a)| matches!(a, Answer::NoSuchName { .. }))
        {
            return DnsError::NoSuchName {
                name: host.to_string(),
            };
        }
        if let Some((q, Answer::Failed(reason))) =
            answers.iter().find(|(_, a)| matches!(a, Answer::Failed(_)))
        {
            return DnsError::LookupFailed {
                query: q.to_string(),
                reason: reason.clone(),
            };
        }
        DnsError::NoAddresses {
            name: host.to_string(),
        }
    }

    fn address_failures(&self, candidates: &[Candidate]) -> String {
        let mut hosts: Vec<&str> = Vec::new();
        for c in candidates {
            if !hosts.contains(&c.host.as_str()) {
                hosts.push(&c.host);
            }
        }
        hosts
            .iter()
            .map(|h| format!("{h}: {}", self.host_error(h)))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The earliest expiry among the answers consulted, positive or
    /// negative (RFC 3263 §4.4: honour the TTLs).
    fn valid_until(&self) -> Option<Instant> {
        self.answers
            .values()
            .filter_map(|(answer, received)| {
                let ttl = match answer {
                    Answer::Records(r) => r.iter().map(|r| r.ttl).min()?,
                    Answer::NoData { negative_ttl } | Answer::NoSuchName { negative_ttl } => {
                        Some(*negative_ttl).filter(|t| *t > 0)?
                    }
                    Answer::Failed(_) => return None,
                };
                Some(*received + Duration::from_secs(u64::from(ttl)).min(MAX_TTL))
            })
            .min()
    }

    fn finish(&mut self, result: Result<TargetList, DnsError>) {
        if let Err(e) = &result {
            debug!(uri = %self.uri, error = %e, "server location failed");
        }
        self.result = Some(result);
        self.phase = Phase::Done;
        self.outbox.clear();
        self.pending.clear();
    }
}

/// RFC 1035 §2.3.4: labels of 1 to 63 octets, 253 characters in all.
fn validate_name(name: &str) -> Result<(), DnsError> {
    let bad = |reason: &str| DnsError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > 253 {
        return Err(bad("it is longer than 253 characters"));
    }
    if name.split('.').any(str::is_empty) {
        return Err(bad("it has an empty label"));
    }
    if name.split('.').any(|l| l.len() > 63) {
        return Err(bad("a label is longer than 63 characters"));
    }
    Ok(())
}
