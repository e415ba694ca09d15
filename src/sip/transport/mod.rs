//! Transports: the types that name where messages come from and go to, the
//! RFC 3261 §18 rules for stamping and routing via Via, and (in `udp.rs`,
//! `tcp.rs`) the async shells that own the sockets.

mod event;
pub mod tcp;
pub mod tls;
pub mod udp;
mod via_routing;

pub use event::TransportEvent;
pub use via_routing::{response_target, stamp_received};

use std::fmt;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2.1, RFC 5630 for `sips:`).
    Tls,
}

impl Transport {
    /// Reliable transports get no retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// Carried on a connection (TCP or TLS): responses go back on it and
    /// keep-alives are CRLF pings (RFC 5626 §4.4.1).
    pub fn is_stream(self) -> bool {
        self.is_reliable()
    }

    /// The token used in Via and in `;transport=` parameters.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Index of a configured listener (`wan`, `lan`, ...) in the running set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u16);

/// A TCP connection, as numbered by the transport shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// The far end of a message: which listener it came in on (or goes out of),
/// the transport, the remote address and, for TCP, the connection to reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub listener: ListenerId,
    pub transport: Transport,
    pub remote: SocketAddr,
    pub connection: Option<ConnectionId>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.remote)
    }
}

/// Bytes to send to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Vec<u8>,
}
