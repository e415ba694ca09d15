//! The result of server location: the targets to try, in order, and the
//! bookkeeping of RFC 3263 §4.3 failover.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use crate::sip::transport::Transport;

/// One place to send a request: transport and address. `tls` is set for
/// SIPS (and `transport=tls`): TLS over the TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerTarget {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub tls: bool,
}

impl ServerTarget {
    pub fn new(transport: Transport, addr: SocketAddr) -> ServerTarget {
        ServerTarget {
            transport,
            addr,
            tls: false,
        }
    }

    pub fn tls(addr: SocketAddr) -> ServerTarget {
        ServerTarget {
            transport: Transport::Tls,
            addr,
            tls: true,
        }
    }
}

impl fmt::Display for ServerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            write!(f, "TLS {}", self.addr)
        } else {
            write!(f, "{} {}", self.transport, self.addr)
        }
    }
}

/// Why the caller gave up on a target (RFC 3263 §4.3: on a transaction
/// timeout, a transport error or a 503, try the next one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The client transaction timed out (Timer B or F).
    Timeout,
    /// The connection could not be made or the send failed.
    TransportError,
    /// The server answered 503 Service Unavailable.
    ServiceUnavailable,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Timeout => "timed out",
            Failure::TransportError => "transport error",
            Failure::ServiceUnavailable => "503 Service Unavailable",
        })
    }
}

/// Targets in the order to try them, and where the caller is.
///
/// ```
/// use pbxgate::sip::dns::{Failure, ServerTarget, TargetList};
/// use pbxgate::sip::transport::Transport;
///
/// let a = ServerTarget::new(Transport::Udp, "192.0.2.1:5060".parse().unwrap());
/// let b = ServerTarget::new(Transport::Udp, "192.0.2.2:5060".parse().unwrap());
/// let mut list = TargetList::new(vec![a, b], None);
/// assert_eq!(list.next(), Some(a));          // send to a
/// assert_eq!(list.mark_failed(Failure::Timeout), Some(b)); // a timed out: b
/// assert_eq!(list.current(), Some(b));
/// assert_eq!(list.mark_failed(Failure::ServiceUnavailable), None); // none left
/// assert_eq!(list.failures().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetList {
    targets: Vec<ServerTarget>,
    /// Index of the target last handed out by `next()`.
    position: Option<usize>,
    failures: Vec<(ServerTarget, Failure)>,
    valid_until: Option<Instant>,
}

impl TargetList {
    /// `valid_until`: when the DNS records behind the list expire (`None`
    /// when no DNS was involved).
    pub fn new(targets: Vec<ServerTarget>, valid_until: Option<Instant>) -> TargetList {
        TargetList {
            targets,
            position: None,
            failures: Vec::new(),
            valid_until,
        }
    }

    /// The target last handed out by [`next`](Iterator::next), that is the
    /// one in use.
    pub fn current(&self) -> Option<ServerTarget> {
        self.position.and_then(|i| self.targets.get(i).copied())
    }

    /// Records that the current target failed, and moves on: returns the
    /// next target to try, or `None` when all have been tried.
    pub fn mark_failed(&mut self, failure: Failure) -> Option<ServerTarget> {
        if let Some(t) = self.current() {
            self.failures.push((t, failure));
        }
        self.next()
    }

    /// All targets, in order.
    pub fn targets(&self) -> &[ServerTarget] {
        &self.targets
    }

    /// The targets not handed out yet.
    pub fn remaining(&self) -> &[ServerTarget] {
        let from = self.position.map_or(0, |i| i + 1);
        self.targets.get(from..).unwrap_or(&[])
    }

    /// Each failure marked so far, in order.
    pub fn failures(&self) -> &[(ServerTarget, Failure)] {
        &self.failures
    }

    /// "UDP 192.0.2.1:5060 timed out; UDP 192.0.2.2:5060 503 Service
    /// Unavailable", for a log line or an error once all have failed.
    pub fn failure_summary(&self) -> String {
        self.failures
            .iter()
            .map(|(t, f)| format!("{t} {f}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// When to locate the server again: the earliest expiry of the DNS
    /// records used (RFC 3263 §4.4 asks clients to honour TTLs).
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl Iterator for TargetList {
    type Item = ServerTarget;

    /// Moves to the next target (the first on the first call).
    fn next(&mut self) -> Option<ServerTarget> {
        let next = self.position.map_or(0, |i| i + 1);
        if next > self.targets.len() {
            return None;
        }
        self.position = Some(next);
        self.targets.get(next).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(last: u8) -> ServerTarget {
        ServerTarget::new(Transport::Udp, SocketAddr::from(([192, 0, 2, last], 5060)))
    }

    #[test]
    fn walks_in_order_and_records_failures() {
        let mut list = TargetList::new(vec![t(1), t(2), t(3)], None);
        assert_eq!(list.current(), None);
        assert_eq!(list.remaining().len(), 3);
        assert_eq!(list.next(), Some(t(1)));
        assert_eq!(list.current(), Some(t(1)));
        assert_eq!(list.mark_failed(Failure::Timeout), Some(t(2)));
        assert_eq!(list.mark_failed(Failure::ServiceUnavailable), Some(t(3)));
        assert_eq!(list.remaining(), &[] as &[ServerTarget]);
        assert_eq!(list.mark_failed(Failure::TransportError), None);
        assert_eq!(list.current(), None);
        assert_eq!(list.next(), None);
        assert_eq!(list.mark_failed(Failure::Timeout), None);
        assert_eq!(
            list.failure_summary(),
            "UDP 192.0.2.1:5060 timed out; UDP 192.0.2.2:5060 503 Service Unavailable; \
             UDP 192.0.2.3:5060 transport error"
        );
    }

    #[test]
    fn empty_list() {
        let mut list = TargetList::new(vec![], None);
        assert!(list.is_empty());
        assert_eq!(list.next(), None);
        assert_eq!(list.current(), None);
    }

    #[test]
    fn tls_targets_display_as_tls() {
        let t = ServerTarget::tls(SocketAddr::from(([192, 0, 2, 1], 5061)));
        assert_eq!(t.to_string(), "TLS 192.0.2.1:5061");
        assert_eq!(t.transport, Transport::Tls);
    }
}
