//! `srtp = "off" | "offer" | "require"`: whether a leg's media is SRTP
//! (RFC 3711) with SDES keys (RFC 4568), on a listener for the calls that
//! arrive on it and on accounts and route targets for the calls the
//! gateway places.

use serde::{Deserialize, Serialize};

/// The message of every refusal of `offer`/`require` without TLS: SDES
/// puts the keys in the SDP, so SIP in clear would give them away
/// (RFC 4568 §8.3).
pub const SDES_NEEDS_TLS: &str = "SDES keys travel only over TLS";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// Plain RTP (RTP/AVP); an SRTP offer is refused with 488.
    #[default]
    Off,
    /// SRTP when the peer offers or accepts it, plain RTP otherwise.
    Offer,
    /// SRTP only: a plain offer or answer is refused.
    Require,
}

impl SrtpMode {
    pub fn is_default(&self) -> bool {
        *self == SrtpMode::Off
    }

    pub fn name(self) -> &'static str {
        match self {
            SrtpMode::Off => "off",
            SrtpMode::Offer => "offer",
            SrtpMode::Require => "require",
        }
    }
}
