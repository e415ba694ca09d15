//! What the rest of the program (status page, events) sees of a registration.

use std::net::SocketAddr;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not tried yet (waiting for the registrar's address).
    Starting,
    /// A REGISTER is on its way.
    Registering,
    Registered {
        /// When the registrar's grant runs out.
        expires_at: Instant,
        /// The Contact the registrar holds for the gateway.
        contact: String,
    },
    Failing {
        reason: String,
        /// Consecutive failed attempts.
        attempts: u32,
        next_attempt: Instant,
    },
    /// Un-registered on shutdown (or refused the un-REGISTER).
    Unregistered,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationStatus {
    pub account: String,
    pub state: RegistrationState,
    /// The address the registrar sees the gateway at (configured or learned).
    pub public_address: Option<SocketAddr>,
    pub registrar: Option<SocketAddr>,
}
