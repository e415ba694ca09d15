//! Why the transaction layer refused something the TU asked of it.

use crate::sip::message::Method;

use super::event::{ClientTransactionId, ServerTransactionId};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("{0} does not exist (it never did, or it has ended)")]
    UnknownServerTransaction(ServerTransactionId),

    #[error("{id} already sent final response {sent}; cannot send {attempted} as well")]
    AlreadyFinal {
        id: ServerTransactionId,
        sent: u16,
        attempted: u16,
    },

    #[error("status {0} is not a SIP response code (100-699)")]
    InvalidStatus(u16),

    #[error("an ACK is not sent in a client transaction: send the ACK for a 2xx with send_stateless (the ACK for a non-2xx is sent by the transaction itself)")]
    AckNotAllowed,

    #[error(
        "request method {method} has no RFC 3261 branch (z9hG4bK...) in its top Via: {reason}"
    )]
    MissingBranch { method: Method, reason: String },

    #[error("{method} request has an unusable CSeq: {reason}")]
    BadCSeq { method: Method, reason: String },

    #[error("a {method} client transaction with branch {branch} already exists ({existing}); each request needs a new branch")]
    DuplicateBranch {
        method: Method,
        branch: String,
        existing: ClientTransactionId,
    },
}
