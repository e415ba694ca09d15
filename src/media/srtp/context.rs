//! `SrtpContext`: the SRTP and SRTCP state of one direction of one media
//! leg, keyed by one master key.

use std::fmt;

use super::error::SrtpError;
use super::key::MasterKey;
use super::rtcp::RtcpTransform;
use super::rtp::RtpTransform;
use super::suite::Suite;

/// One direction's crypto context (RFC 3711 §3.2), for every SSRC that
/// direction carries. With SDES each side sends with the key of its own
/// `a=crypto` line (RFC 4568 §6.1): a leg has one context made from the
/// key the gateway offered or answered, for `protect`, and one from the
/// peer's key, for `unprotect`.
///
/// All calls work in place in the caller's buffer: `buf[..len]` is the
/// packet, `buf.len()` the room it may grow into. `protect` adds the tag
/// (`SRTP_MAX_OVERHEAD` bytes at most) and `protect_rtcp` the index and
/// tag (`SRTCP_OVERHEAD`); the unprotect calls return the shorter length.
/// A refused packet leaves the context as it was; the buffer may then
/// hold garbage. Nothing is allocated per packet.
pub struct SrtpContext {
    suite: Suite,
    rtp: RtpTransform,
    rtcp: RtcpTransform,
}

impl SrtpContext {
    pub fn new(suite: Suite, master: &MasterKey) -> SrtpContext {
        SrtpContext {
            suite,
            rtp: RtpTransform::new(suite, master),
            rtcp: RtcpTransform::new(master),
        }
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// RTP to SRTP; returns the new length.
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.rtp.protect(buf, len)
    }

    /// SRTP to RTP, after the tag and the replay window accept it; returns
    /// the new length.
    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.rtp.unprotect(buf, len)
    }

    /// RTCP (a compound packet) to SRTCP; returns the new length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.rtcp.protect(buf, len)
    }

    /// SRTCP to RTCP; returns the new length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.rtcp.unprotect(buf, len)
    }

    #[cfg(test)]
    pub(super) fn rtp(&self) -> &RtpTransform {
        &self.rtp
    }

    #[cfg(test)]
    pub(super) fn rtcp_mut(&mut self) -> &mut RtcpTransform {
        &mut self.rtcp
    }
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session keys stay out of any log.
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}
