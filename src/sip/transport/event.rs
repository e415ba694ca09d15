//! What the transport shells hand to whoever owns the endpoint: the shell
//! wraps it in its own message type (`T: From<TransportEvent>`), so the
//! transports know nothing of the gateway above them.

use std::net::SocketAddr;

use super::{ConnectionId, Peer};
use crate::sip::message::ParseError;

#[derive(Debug)]
pub enum TransportEvent {
    Datagram {
        bytes: Vec<u8>,
        from: Peer,
    },
    /// One message framed from a stream.
    StreamMessage {
        bytes: Vec<u8>,
        from: Peer,
    },
    /// The stream could not be framed; the connection is closing.
    StreamError {
        err: ParseError,
        from: Peer,
    },
    /// A CRLF keep-alive ping on a connection (already answered).
    KeepAlive,
    /// A CRLF pong on a connection to `remote`.
    Pong {
        remote: SocketAddr,
    },
    ConnectionClosed {
        id: ConnectionId,
        remote: SocketAddr,
    },
}
