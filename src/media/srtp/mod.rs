//! SRTP and SRTCP (RFC 3711) with the two SDES suites of RFC 4568 §6.2,
//! `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32`, sans-IO: keys
//! in, packets transformed in the caller's buffer, no clock, no
//! allocation per packet. `sdes` reads and writes the `a=crypto` lines.
//!
//! Built on RustCrypto's `aes`, `ctr`, `hmac` and `sha1` (pure Rust, no
//! -dev package; docs/dependencies.md says why). Files: `suite` (names and
//! sizes), `key` (the master key), `kdf` (session keys, §4.3), `cipher`
//! (AES-CM, §4.1.1), `auth` (HMAC-SHA1 tags, §4.2), `replay` (index
//! estimation and replay window, §3.3), `streams` (per-SSRC state),
//! `rtp` and `rtcp` (the transforms), `context` (the API).
//!
//! Not supported: MKI, key derivation rates other than 0, re-keying when
//! a key lifetime runs out, the AEAD (GCM) and 192/256-bit suites, and
//! unencrypted or unauthenticated SRTP/SRTCP.

mod auth;
mod cipher;
mod context;
mod error;
mod kdf;
mod key;
mod replay;
mod rtcp;
mod rtp;
pub mod sdes;
mod streams;
mod suite;

pub use context::SrtpContext;
pub use error::SrtpError;
pub use key::{MasterKey, MASTER_LEN};
pub use replay::REPLAY_WINDOW;
pub use streams::MAX_STREAMS;
pub use suite::{Suite, SRTCP_OVERHEAD, SRTP_MAX_OVERHEAD};

#[cfg(test)]
mod tests;
