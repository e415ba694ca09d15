//! The crypto suites of RFC 4568 §6.2 the gateway supports: AES counter
//! mode with a 128-bit key and HMAC-SHA1, the two SRTP profiles every SDES
//! peer offers.

use std::fmt;

/// Master key bytes of both suites (RFC 4568 §6.2: 128-bit key).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt bytes of both suites (112 bits).
pub const MASTER_SALT_LEN: usize = 14;
/// Session authentication key bytes (RFC 3711 §4.2.1: n_a = 160).
pub const AUTH_KEY_LEN: usize = 20;
/// SRTCP's tag is 80 bits for both suites (RFC 4568 §6.2.2: only the SRTP
/// tag of `_32` is shortened).
pub const SRTCP_TAG_LEN: usize = 10;
/// The E flag and 31-bit SRTCP index every SRTCP packet carries (RFC 3711
/// §3.4).
pub const SRTCP_INDEX_LEN: usize = 4;
/// Most bytes `protect` adds to an RTP packet.
pub const SRTP_MAX_OVERHEAD: usize = 10;
/// Bytes `protect_rtcp` adds to an RTCP packet.
pub const SRTCP_OVERHEAD: usize = SRTCP_INDEX_LEN + SRTCP_TAG_LEN;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// `AES_CM_128_HMAC_SHA1_80`: 80-bit tags on SRTP and SRTCP.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: 32-bit SRTP tag, 80-bit SRTCP tag.
    AesCm128HmacSha1_32,
}

impl Suite {
    /// The name SDP uses (RFC 4568 §6.2).
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite an SDP name denotes; suite names are case-sensitive
    /// tokens (RFC 4568 §9.2 lists them in upper case).
    pub fn from_name(name: &str) -> Option<Suite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    /// Bytes of the SRTP authentication tag.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
