//! SRTP on one media leg (RFC 3711 with SDES keys, RFC 4568): what the
//! relay does to a leg's packets when the leg negotiated RTP/SAVP. Each
//! side of an SDES exchange sends with the key of its own `a=crypto` line
//! (RFC 4568 §6.1), so a leg has two contexts: the peer's key opens what
//! arrives from it, the gateway's key seals what goes to it.
//!
//! Both work in place on the relay's receive buffer, which has room for
//! the trailer (`SRTP_MAX_OVERHEAD`, `SRTCP_OVERHEAD`), and allocate
//! nothing per packet.

use std::fmt;

use super::srtp::{MasterKey, SrtpContext, SrtpError, Suite};

/// A leg's keys as the SDP exchange settled them: signalling hands them to
/// the media thread (`MediaCommand::SetSrtp`). `Debug` shows no key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegKeys {
    pub suite: Suite,
    /// The key of the gateway's `a=crypto` line to this leg: protects
    /// what the gateway sends it.
    pub ours: MasterKey,
    /// The key of the peer's `a=crypto` line: unprotects what it sends.
    pub theirs: MasterKey,
}

/// The two SRTP contexts of a leg, and the keys they were made from.
pub struct LegCrypto {
    keys: LegKeys,
    inbound: SrtpContext,
    outbound: SrtpContext,
}

impl LegCrypto {
    pub fn new(keys: &LegKeys) -> LegCrypto {
        LegCrypto {
            keys: keys.clone(),
            inbound: SrtpContext::new(keys.suite, &keys.theirs),
            outbound: SrtpContext::new(keys.suite, &keys.ours),
        }
    }

    /// New keys from a later offer or answer. A context whose key is
    /// unchanged is kept: a fresh one with the same key would start its
    /// SRTCP index and ROC again and so reuse keystream (RFC 3711 §9.1),
    /// and would forget the replay window.
    pub fn update(&mut self, keys: &LegKeys) {
        if keys.suite != self.keys.suite || keys.theirs != self.keys.theirs {
            self.inbound = SrtpContext::new(keys.suite, &keys.theirs);
        }
        if keys.suite != self.keys.suite || keys.ours != self.keys.ours {
            self.outbound = SrtpContext::new(keys.suite, &keys.ours);
        }
        self.keys = keys.clone();
    }

    /// SRTP or SRTCP from the peer, in `buf[..len]`, to RTP or RTCP;
    /// returns the shorter length. Refused packets (tag, replay) leave the
    /// contexts as they were.
    pub fn open(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Result<usize, SrtpError> {
        if rtcp {
            self.inbound.unprotect_rtcp(buf, len)
        } else {
            self.inbound.unprotect(buf, len)
        }
    }

    /// RTP or RTCP for the peer to SRTP or SRTCP; returns the longer length.
    pub fn seal(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Result<usize, SrtpError> {
        if rtcp {
            self.outbound.protect_rtcp(buf, len)
        } else {
            self.outbound.protect(buf, len)
        }
    }
}

impl fmt::Debug for LegCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegCrypto")
            .field("suite", &self.inbound.suite())
            .finish_non_exhaustive()
    }
}
