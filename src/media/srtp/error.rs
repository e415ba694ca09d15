//! Why a packet could not be protected or unprotected. No variant carries
//! key material; indexes and lengths are safe to log.

use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SrtpError {
    #[error("packet of {len} bytes is too short for SRTP/SRTCP (needs at least {needed})")]
    TooShort { len: usize, needed: usize },
    #[error("packet is not RTP/RTCP version 2")]
    NotVersion2,
    #[error("RTP header (CSRC list or extension) runs past the end of the {len}-byte packet")]
    BadHeader { len: usize },
    #[error("packet length {len} exceeds its buffer of {capacity} bytes")]
    LengthBeyondBuffer { len: usize, capacity: usize },
    #[error("no room for the {needed}-byte SRTP trailer: packet {len} bytes, buffer {capacity}")]
    NoRoom {
        len: usize,
        needed: usize,
        capacity: usize,
    },
    #[error("authentication tag does not match (wrong key, or the packet was altered)")]
    AuthenticationFailed,
    #[error("packet index {index} was already received (replay, RFC 3711 §3.3.2)")]
    Replayed { index: u64 },
    #[error("packet index {index} is older than the replay window (newest {newest})")]
    TooOld { index: u64, newest: u64 },
    #[error("SRTCP packet is not encrypted (E flag 0), which this session did not negotiate")]
    SrtcpNotEncrypted,
    #[error(
        "the master key has protected the most packets RFC 3711 §3.2.1 allows (2^48 SRTP, 2^31 SRTCP); a new key is needed"
    )]
    KeyExhausted,
}
