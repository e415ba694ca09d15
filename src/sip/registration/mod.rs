//! Registration with cloud SIP domains: one sans-IO `RegistrationClient` per
//! account, its retry and refresh timing, and the status others observe.

mod backoff;
mod client;
mod status;

pub use backoff::{refresh_delay, retry_delay};
pub use client::{OutgoingRequest, Purpose, RegistrationClient, RegistrationParams};
pub use status::{RegistrationState, RegistrationStatus};

#[cfg(test)]
mod tests;
