//! The SIP stack: messages, transports, transactions and the endpoint core.

pub mod dns;
pub mod endpoint;
pub mod message;
pub mod transaction;
pub mod transport;
