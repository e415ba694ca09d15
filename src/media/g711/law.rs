//! Which of the two G.711 laws a stream uses, as negotiated in SDP: the
//! static RTP payload types of RFC 3551 (PCMU 0, PCMA 8) tie each law to its
//! name and clock without an `a=rtpmap` line.

use super::sample::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use super::slice::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, RTP payload type 0 (PCMU); North America and Japan.
    Ulaw,
    /// A-law, RTP payload type 8 (PCMA); the rest of the world.
    Alaw,
}

impl Law {
    /// Static RTP payload type (RFC 3551, table 4).
    pub const fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law of a static payload type; `None` for every other type,
    /// dynamic ones included, since those are bound by `a=rtpmap`.
    pub const fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// Encoding name as written in `a=rtpmap` (`PCMU/8000`).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// The code of linear 0, for filling silence: µ-law has two zero codes
    /// and this is the positive one; A-law has none and this is +8.
    pub const fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }

    /// Encodes one sample in this law.
    #[inline]
    pub fn encode(self, s: i16) -> u8 {
        match self {
            Law::Ulaw => ulaw_encode(s),
            Law::Alaw => alaw_encode(s),
        }
    }

    /// Decodes one code of this law.
    #[inline]
    pub fn decode(self, c: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_decode(c),
            Law::Alaw => alaw_decode(c),
        }
    }

    /// Encodes `min(input.len(), output.len())` samples; returns the count.
    pub fn encode_slice(self, input: &[i16], output: &mut [u8]) -> usize {
        match self {
            Law::Ulaw => encode_ulaw(input, output),
            Law::Alaw => encode_alaw(input, output),
        }
    }

    /// Decodes `min(input.len(), output.len())` codes; returns the count.
    pub fn decode_slice(self, input: &[u8], output: &mut [i16]) -> usize {
        match self {
            Law::Ulaw => decode_ulaw(input, output),
            Law::Alaw => decode_alaw(input, output),
        }
    }
}
