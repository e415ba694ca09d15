//! The SIP stack: messages, transports and transactions.

pub mod message;
pub mod transaction;
pub mod transport;
