//! The RFC 3261 §17 transaction layer, sans-IO.

mod ack;
mod cancel;

pub use ack::ack_for_non_2xx;
pub use cancel::cancel_for;
