//! The SRTP transform of RTP packets (RFC 3711 §3.1, §3.3), in place:
//! the payload is encrypted with AES-CM, the header is left clear, and
//! the tag over header, payload and ROC is appended (protect) or checked
//! and cut off (unprotect).

use super::auth::Authenticator;
use super::cipher::AesCm;
use super::error::SrtpError;
use super::kdf::SessionKeys;
use super::key::MasterKey;
use super::replay::{estimate_index, ReplayWindow};
use super::streams::Streams;
use super::suite::Suite;

/// RFC 3550 §5.1: the fixed header.
const FIXED: usize = 12;

/// Where the header ends (RFC 3550 §5.1, §5.3.1): after the CSRC list and
/// the extension, both left unencrypted by SRTP (RFC 3711 §3.1).
pub(super) fn header_len(p: &[u8]) -> Result<usize, SrtpError> {
    if p.len() < FIXED {
        return Err(SrtpError::TooShort {
            len: p.len(),
            needed: FIXED,
        });
    }
    if p[0] >> 6 != 2 {
        return Err(SrtpError::NotVersion2);
    }
    let mut end = FIXED + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let words = p
            .get(end + 2..end + 4)
            .ok_or(SrtpError::BadHeader { len: p.len() })?;
        end += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if end > p.len() {
        return Err(SrtpError::BadHeader { len: p.len() });
    }
    Ok(end)
}

/// `len` bytes of `buf` are the packet.
pub(super) fn check_len(buf: &[u8], len: usize) -> Result<(), SrtpError> {
    if len > buf.len() {
        return Err(SrtpError::LengthBeyondBuffer {
            len,
            capacity: buf.len(),
        });
    }
    Ok(())
}

pub(super) struct RtpTransform {
    cipher: AesCm,
    auth: Authenticator,
    tag_len: usize,
    /// Sending: the highest index protected per SSRC, from which the next
    /// packet's ROC is told (the sender keeps its ROC the same way the
    /// receiver estimates it, so packets handed over out of order near a
    /// wrap keep their right index).
    send: Streams<u64>,
    /// Receiving: the replay window per SSRC; its newest index is s_l.
    recv: Streams<ReplayWindow>,
}

impl RtpTransform {
    pub fn new(suite: Suite, master: &MasterKey) -> RtpTransform {
        let keys = SessionKeys::rtp(master);
        RtpTransform {
            cipher: AesCm::new(&keys.cipher, &keys.salt),
            auth: Authenticator::new(&keys.auth),
            tag_len: suite.rtp_tag_len(),
            send: Streams::new(),
            recv: Streams::new(),
        }
    }

    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        let start = header_len(&buf[..len])?;
        let new_len = len + self.tag_len;
        if new_len > buf.len() {
            return Err(SrtpError::NoRoom {
                len,
                needed: self.tag_len,
                capacity: buf.len(),
            });
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        // RFC 3711 §3.3.1: the sender's ROC starts at 0.
        let index = match self.send.get(ssrc) {
            Some(newest) => estimate_index(newest, seq)?,
            None => u64::from(seq),
        };
        self.cipher.apply(ssrc, index, &mut buf[start..len]);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let (packet, trailer) = buf.split_at_mut(len);
        self.auth.tag(&[packet, &roc], &mut trailer[..self.tag_len]);
        let newest = self.send.get(ssrc).map_or(index, |n| n.max(index));
        self.send.put(ssrc, newest);
        Ok(new_len)
    }

    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        let p = &mut buf[..len];
        let start = header_len(p)?;
        if len < start + self.tag_len {
            return Err(SrtpError::TooShort {
                len,
                needed: start + self.tag_len,
            });
        }
        let seq = u16::from_be_bytes([p[2], p[3]]);
        let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
        let window = self.recv.get(ssrc);
        let index = match &window {
            Some(w) => {
                let index = estimate_index(w.newest(), seq)?;
                w.check(index)?;
                index
            }
            // A new stream: its first packet sets s_l, ROC 0 (§3.3.1).
            None => u64::from(seq),
        };
        let end = len - self.tag_len;
        let roc = ((index >> 16) as u32).to_be_bytes();
        let (authenticated, tag) = p.split_at(end);
        if !self.auth.verify(&[authenticated, &roc], tag) {
            return Err(SrtpError::AuthenticationFailed);
        }
        self.cipher.apply(ssrc, index, &mut p[start..end]);
        // Only now, authenticated, may the packet move the window (§3.3.2).
        let window = match window {
            Some(mut w) => {
                w.accept(index);
                w
            }
            None => ReplayWindow::starting_at(index),
        };
        self.recv.put(ssrc, window);
        Ok(end)
    }

    #[cfg(test)]
    pub fn receiving_streams(&self) -> usize {
        self.recv.len()
    }
}
