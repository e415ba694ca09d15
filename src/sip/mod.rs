//! The SIP stack: messages, transports, transactions, digest authentication
//! and the endpoint core.

pub mod auth;
pub mod dns;
pub mod ids;
pub mod message;
pub mod registration;
pub mod transaction;
pub mod transport;
