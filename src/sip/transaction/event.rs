//! What the transaction layer reports to the transaction user (TU), and the
//! handles the TU uses to name transactions.

use std::fmt;

use crate::sip::message::{Request, Response};
use crate::sip::transport::Peer;

/// A server transaction (a request we received). Never reused within one
/// `TransactionLayer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTransactionId(pub(crate) u64);

/// A client transaction (a request we sent). Never reused within one
/// `TransactionLayer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTransactionId(pub(crate) u64);

impl fmt::Display for ServerTransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server transaction #{}", self.0)
    }
}

impl fmt::Display for ClientTransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client transaction #{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A new server transaction (any method but ACK). `cancels` is set for a
    /// CANCEL that matched a live INVITE server transaction (RFC 3261 §9.2),
    /// whatever state that transaction is in: the TU decides between 200
    /// and 481 for the CANCEL and 487 for the INVITE.
    Request {
        id: ServerTransactionId,
        request: Request,
        from: Peer,
        cancels: Option<ServerTransactionId>,
    },
    /// An ACK that matched no INVITE server transaction (the ACK for a 2xx,
    /// RFC 3261 §17.2.3), or one that matched a transaction in the RFC 6026
    /// Accepted state: it belongs to the dialog layer.
    Ack { request: Request, from: Peer },
    /// A response for a client transaction (provisional and final;
    /// retransmitted non-2xx finals are absorbed).
    Response {
        id: ClientTransactionId,
        response: Response,
    },
    /// A response that matched no client transaction (e.g. a retransmitted
    /// 2xx after the INVITE client transaction ended): for the dialog layer
    /// to re-ACK.
    StrayResponse { response: Response, from: Peer },
    /// Timer B or F fired (no final response), or a cancelled INVITE got no
    /// final response within 64*T1 of its CANCEL (RFC 3261 §9.1).
    Timeout { id: ClientTransactionId },
    /// Timer H fired: a non-2xx final was never ACKed.
    AckTimeout { id: ServerTransactionId },
}
