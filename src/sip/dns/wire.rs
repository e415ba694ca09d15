//! DNS messages on the wire, through hickory-proto: a [`Query`] becomes a
//! request packet, a reply packet becomes an [`Answer`]. Pure functions;
//! the sockets are in the resolver shell.

use std::collections::HashSet;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as WireQuery, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType as WireType};

use super::error::DnsError;
use super::record::{normalize_name, Answer, Query, Record, RecordData, RecordType};

/// The EDNS(0) UDP payload size advertised (the DNS Flag Day 2020 value:
/// fits an IPv6 minimum MTU without fragmentation).
pub const EDNS_UDP_PAYLOAD: u16 = 1232;

/// The most CNAMEs followed inside one reply.
const MAX_CNAME_CHAIN: usize = 8;

fn wire_type(t: RecordType) -> WireType {
    match t {
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Srv => WireType::SRV,
    }
}

fn wire_name(name: &str) -> Result<Name, DnsError> {
    Name::from_ascii(format!("{name}.")).map_err(|e| DnsError::InvalidName {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

/// A recursive query (RD set) for `query` with message id `id`, with an
/// EDNS(0) OPT record advertising [`EDNS_UDP_PAYLOAD`].
pub fn encode_query(id: u16, query: &Query) -> Result<Vec<u8>, DnsError> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(WireQuery::query(
        wire_name(&query.name)?,
        wire_type(query.record_type),
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_UDP_PAYLOAD);
    msg.set_edns(edns);
    msg.to_vec().map_err(|e| DnsError::InvalidName {
        name: query.name.clone(),
        reason: e.to_string(),
    })
}

/// What a received packet is to the query it may answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The reply to the query.
    Answer(Answer),
    /// The reply to the query, cut short (TC): ask again over TCP.
    Truncated,
    /// Not a reply to this query (wrong id or question, not a response,
    /// not a DNS message). Keep waiting: it may be stray or forged.
    Unrelated(String),
}

/// Reads `bytes` as the reply to `query` sent with message id `id`.
pub fn decode_reply(bytes: &[u8], id: u16, query: &Query) -> Reply {
    let msg = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(e) => return Reply::Unrelated(format!("not a DNS message: {e}")),
    };
    if msg.metadata.message_type != MessageType::Response {
        return Reply::Unrelated("not a response".into());
    }
    if msg.metadata.id != id {
        return Reply::Unrelated(format!("message id {} instead of {id}", msg.metadata.id));
    }
    // RFC 5452 §4.2: the question must be ours as well as the id.
    let ours = msg.queries.len() == 1
        && msg.queries.iter().all(|q| {
            q.query_type() == wire_type(query.record_type)
                && q.query_class() == DNSClass::IN
                && normalize_name(&q.name().to_ascii()) == query.name
        });
    if !ours {
        return Reply::Unrelated("question does not match".into());
    }
    if msg.metadata.truncation {
        return Reply::Truncated;
    }
    match msg.metadata.response_code {
        ResponseCode::NoError => {
            let records = records_for(&msg, query);
            if records.is_empty() {
                Reply::Answer(Answer::NoData {
                    negative_ttl: negative_ttl(&msg),
                })
            } else {
                Reply::Answer(Answer::Records(records))
            }
        }
        ResponseCode::NXDomain => Reply::Answer(Answer::NoSuchName {
            negative_ttl: negative_ttl(&msg),
        }),
        other => Reply::Answer(Answer::Failed(format!("the server answered {other}"))),
    }
}

/// The answer-section records of the asked type that belong to the asked
/// name or to a CNAME chain starting from it. The chain's TTLs bound the
/// records' (the alias may change before the target does).
fn records_for(msg: &Message, query: &Query) -> Vec<Record> {
    let mut names: HashSet<String> = HashSet::new();
    names.insert(query.name.clone());
    let mut chain_ttl = u32::MAX;
    for _ in 0..MAX_CNAME_CHAIN {
        let mut grew = false;
        for r in &msg.answers {
            if let RData::CNAME(cname) = &r.data {
                let owner = normalize_name(&r.name.to_ascii());
                let target = normalize_name(&cname.0.to_ascii());
                if names.contains(&owner) && !names.contains(&target) {
                    names.insert(target);
                    chain_ttl = chain_ttl.min(r.ttl);
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    msg.answers
        .iter()
        .filter(|r| names.contains(&normalize_name(&r.name.to_ascii())))
        .filter_map(|r| {
            let data = match (&r.data, query.record_type) {
                (RData::A(a), RecordType::A) => RecordData::A(a.0),
                (RData::AAAA(a), RecordType::Aaaa) => RecordData::Aaaa(a.0),
                (RData::SRV(s), RecordType::Srv) => RecordData::Srv {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: normalize_name(&s.target.to_ascii()),
                },
                _ => return None,
            };
            Some(Record {
                ttl: r.ttl.min(chain_ttl),
                data,
            })
        })
        .collect()
}

/// RFC 2308 §5: a negative answer is cached for the smaller of the SOA
/// record's TTL and its MINIMUM field; without an SOA, not at all.
fn negative_ttl(msg: &Message) -> u32 {
    msg.authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV};
    use hickory_proto::rr::Record as WireRecord;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn reply_to(id: u16, q: &Query) -> Message {
        let mut m = Message::response(id, OpCode::Query);
        m.add_query(WireQuery::query(
            name(&format!("{}.", q.name)),
            wire_type(q.record_type),
        ));
        m
    }

    fn bytes(m: &Message) -> Vec<u8> {
        m.to_vec().expect("encode")
    }

    /// A reply to `q` with message id `id` and these answer records
    /// (owner, TTL, data), as bytes.
    fn reply_with(id: u16, q: &Query, answers: &[(&str, u32, RData)]) -> Vec<u8> {
        let mut m = reply_to(id, q);
        for (owner, ttl, rdata) in answers {
            m.add_answer(WireRecord::from_rdata(name(owner), *ttl, rdata.clone()));
        }
        bytes(&m)
    }

    /// The records `decode_reply` finds in a reply; anything else fails.
    fn records_in(reply: &[u8], id: u16, q: &Query) -> Vec<Record> {
        match decode_reply(reply, id, q) {
            Reply::Answer(Answer::Records(records)) => records,
            other => panic!("expected records, got {other:?}"),
        }
    }

    fn a(ip: [u8; 4]) -> RData {
        RData::A(A(Ipv4Addr::from(ip)))
    }

    fn srv(priority: u16, weight: u16, port: u16, target: Name) -> RData {
        RData::SRV(SRV::new(priority, weight, port, target))
    }

    #[test]
    fn query_encodes_with_rd_and_edns() {
        let q = Query::new("_sip._udp.Pbx.Test.", RecordType::Srv);
        let wire = encode_query(0x1234, &q).expect("encode");
        let m = Message::from_vec(&wire).expect("decode");
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.metadata.message_type, MessageType::Query);
        let wq = m.queries.first().expect("question");
        assert_eq!(wq.name().to_ascii(), "_sip._udp.pbx.test.");
        assert_eq!(wq.query_type(), WireType::SRV);
        assert_eq!(m.max_payload(), EDNS_UDP_PAYLOAD);
    }

    #[test]
    fn a_and_aaaa_records_decode() {
        let q = Query::new("sip1.pbx.test", RecordType::A);
        let answers = [
            ("sip1.pbx.test.", 300, a([127, 0, 0, 71])),
            ("SIP1.pbx.test.", 200, a([127, 0, 0, 72])),
        ];
        let expected = vec![
            Record::a(Ipv4Addr::new(127, 0, 0, 71), 300),
            Record::a(Ipv4Addr::new(127, 0, 0, 72), 200),
        ];
        assert_eq!(records_in(&reply_with(7, &q, &answers), 7, &q), expected);
        let q6 = Query::new("sip1.pbx.test", RecordType::Aaaa);
        let localhost = RData::AAAA(AAAA(Ipv6Addr::LOCALHOST));
        let reply = reply_with(8, &q6, &[("sip1.pbx.test.", 60, localhost)]);
        let expected = vec![Record::aaaa(Ipv6Addr::LOCALHOST, 60)];
        assert_eq!(records_in(&reply, 8, &q6), expected);
    }

    #[test]
    fn srv_records_decode_with_normalized_targets() {
        let q = Query::new("_sip._udp.pbx.test", RecordType::Srv);
        let owner = "_sip._udp.pbx.test.";
        let answers = [
            (owner, 3600, srv(10, 60, 5070, name("Sip1.Pbx.Test."))),
            (owner, 3600, srv(0, 0, 0, Name::root())),
        ];
        let expected = vec![
            Record::srv(10, 60, 5070, "sip1.pbx.test", 3600),
            Record::srv(0, 0, 0, ".", 3600),
        ];
        assert_eq!(records_in(&reply_with(9, &q, &answers), 9, &q), expected);
        let root = RecordData::Srv {
            priority: 0,
            weight: 0,
            port: 0,
            target: String::new(),
        };
        assert_eq!(Record::srv(0, 0, 0, ".", 1).data, root);
    }

    #[test]
    fn cname_chain_is_followed_and_strangers_dropped() {
        let q = Query::new("alias.pbx.test", RecordType::A);
        let cname = RData::CNAME(CNAME(name("real.pbx.test.")));
        let answers = [
            ("alias.pbx.test.", 30, cname),
            ("real.pbx.test.", 300, a([192, 0, 2, 1])),
            ("elsewhere.example.", 300, a([203, 0, 113, 66])),
        ];
        // The TTL is the chain's shortest.
        let expected = vec![Record::a(Ipv4Addr::new(192, 0, 2, 1), 30)];
        assert_eq!(records_in(&reply_with(1, &q, &answers), 1, &q), expected);
    }

    fn soa_record(ttl: u32, minimum: u32) -> WireRecord {
        WireRecord::from_rdata(
            name("pbx.test."),
            ttl,
            RData::SOA(SOA::new(
                name("ns.pbx.test."),
                name("hostmaster.pbx.test."),
                1,
                3600,
                600,
                86400,
                minimum,
            )),
        )
    }

    #[test]
    fn nxdomain_and_nodata_take_the_soa_negative_ttl() {
        let q = Query::new("nope.pbx.test", RecordType::A);
        let mut m = reply_to(2, &q);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.add_authority(soa_record(900, 120));
        assert_eq!(
            decode_reply(&bytes(&m), 2, &q),
            Reply::Answer(Answer::NoSuchName { negative_ttl: 120 })
        );
        let mut m = reply_to(3, &q);
        m.add_authority(soa_record(60, 120));
        assert_eq!(
            decode_reply(&bytes(&m), 3, &q),
            Reply::Answer(Answer::NoData { negative_ttl: 60 })
        );
        let m = reply_to(4, &q);
        assert_eq!(
            decode_reply(&bytes(&m), 4, &q),
            Reply::Answer(Answer::NoData { negative_ttl: 0 })
        );
    }

    #[test]
    fn server_failure_is_a_failed_answer() {
        let q = Query::new("pbx.test", RecordType::A);
        let mut m = reply_to(5, &q);
        m.metadata.response_code = ResponseCode::ServFail;
        match decode_reply(&bytes(&m), 5, &q) {
            Reply::Answer(Answer::Failed(text)) => {
                assert_eq!(text, "the server answered Server Failure")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_replies_ask_for_tcp() {
        let q = Query::new("pbx.test", RecordType::A);
        let mut m = reply_to(6, &q);
        m.metadata.truncation = true;
        assert_eq!(decode_reply(&bytes(&m), 6, &q), Reply::Truncated);
    }

    #[test]
    fn replies_to_other_questions_are_unrelated() {
        let q = Query::new("pbx.test", RecordType::A);
        let m = reply_to(10, &q);
        assert!(matches!(
            decode_reply(&bytes(&m), 11, &q),
            Reply::Unrelated(_)
        ));
        let other = Query::new("pbx.test", RecordType::Aaaa);
        assert!(matches!(
            decode_reply(&bytes(&m), 10, &other),
            Reply::Unrelated(_)
        ));
        let other = Query::new("evil.test", RecordType::A);
        assert!(matches!(
            decode_reply(&bytes(&m), 10, &other),
            Reply::Unrelated(_)
        ));
        // Our own query echoed back is not a response.
        let wire = encode_query(10, &q).expect("encode");
        assert!(matches!(decode_reply(&wire, 10, &q), Reply::Unrelated(_)));
        for junk in [&[][..], &[0u8; 5][..], &[0xff; 40][..]] {
            assert!(matches!(decode_reply(junk, 0, &q), Reply::Unrelated(_)));
        }
    }

    #[test]
    fn every_prefix_of_a_reply_decodes_without_panic() {
        let q = Query::new("_sip._udp.pbx.test", RecordType::Srv);
        let mut m = reply_to(12, &q);
        let target = srv(10, 60, 5070, name("sip1.pbx.test."));
        m.add_answer(WireRecord::from_rdata(
            name("_sip._udp.pbx.test."),
            60,
            target,
        ));
        m.add_authority(soa_record(60, 60));
        let full = bytes(&m);
        for n in 0..full.len() {
            let _ = decode_reply(full.get(..n).unwrap_or(&[]), 12, &q);
        }
        let mut flipped = full.clone();
        for i in 0..flipped.len() {
            if let Some(b) = flipped.get_mut(i) {
                *b ^= 0xff;
            }
            let _ = decode_reply(&flipped, 12, &q);
        }
    }
}
