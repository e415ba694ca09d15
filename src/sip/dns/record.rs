//! The DNS vocabulary the locator speaks: the questions it asks and the
//! answers it is given. Plain data, independent of any wire-format crate,
//! so the locator can be driven by tests without building DNS packets.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types RFC 3263 server location needs (NAPTR is not used,
/// see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    A,
    Aaaa,
    Srv,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Srv => "SRV",
        })
    }
}

/// One DNS question. `name` is an absolute domain name in lower case,
/// without the trailing dot (`_sip._udp.example.com`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Query {
    pub name: String,
    pub record_type: RecordType,
}

impl Query {
    pub fn new(name: impl Into<String>, record_type: RecordType) -> Query {
        Query {
            name: normalize_name(&name.into()),
            record_type,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.record_type, self.name)
    }
}

/// Domain names compare case-insensitively (RFC 4343) and the trailing
/// dot of an absolute name carries no meaning here.
pub(crate) fn normalize_name(name: &str) -> String {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    trimmed.to_ascii_lowercase()
}

/// A resource record of a type the locator uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Time to live in seconds, as received.
    pub ttl: u32,
    pub data: RecordData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// RFC 2782. `target` is normalized like [`Query::name`]; the root
    /// name `.` (service decidedly not available) is the empty string.
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
}

impl Record {
    pub fn a(ip: Ipv4Addr, ttl: u32) -> Record {
        Record {
            ttl,
            data: RecordData::A(ip),
        }
    }

    pub fn aaaa(ip: Ipv6Addr, ttl: u32) -> Record {
        Record {
            ttl,
            data: RecordData::Aaaa(ip),
        }
    }

    pub fn srv(priority: u16, weight: u16, port: u16, target: &str, ttl: u32) -> Record {
        Record {
            ttl,
            data: RecordData::Srv {
                priority,
                weight,
                port,
                target: normalize_name(target),
            },
        }
    }

    pub fn record_type(&self) -> RecordType {
        match self.data {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::Aaaa,
            RecordData::Srv { .. } => RecordType::Srv,
        }
    }
}

/// What became of one [`Query`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// RCODE NOERROR. The records of the asked type (the server has
    /// followed any CNAME chain; records of other types are left out).
    /// An empty list is NODATA: the name exists but has no such record.
    Records(Vec<Record>),
    /// RCODE NOERROR with no record of the asked type (RFC 2308 NODATA).
    /// `negative_ttl` is how long that may be cached, from the SOA in the
    /// authority section (0: do not cache).
    NoData { negative_ttl: u32 },
    /// RCODE NXDOMAIN: the name does not exist (RFC 2308 §5 caching as
    /// for `NoData`).
    NoSuchName { negative_ttl: u32 },
    /// No usable answer: SERVFAIL, REFUSED, no reply from any nameserver,
    /// a malformed reply. Never cached. The text says what happened.
    Failed(String),
}
