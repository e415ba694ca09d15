//! The SRTCP transform (RFC 3711 §3.4), in place: everything after the
//! first 8 bytes (the first header and its SSRC) is encrypted, then the
//! E flag with the 31-bit SRTCP index and an 80-bit tag over all of it
//! are appended (protect) or checked and cut off (unprotect).

use super::auth::Authenticator;
use super::cipher::AesCm;
use super::error::SrtpError;
use super::kdf::SessionKeys;
use super::key::MasterKey;
use super::replay::ReplayWindow;
use super::rtp::check_len;
use super::streams::Streams;
use super::suite::{SRTCP_INDEX_LEN, SRTCP_OVERHEAD, SRTCP_TAG_LEN};

/// The part of the first RTCP header left in the clear: V/P/RC, PT,
/// length and the sender's SSRC (RFC 3711 §3.4).
const CLEAR: usize = 8;
/// The E flag: the packet is encrypted.
const E_FLAG: u32 = 1 << 31;
/// Largest SRTCP index (31 bits).
const MAX_INDEX: u32 = E_FLAG - 1;

pub(super) struct RtcpTransform {
    cipher: AesCm,
    auth: Authenticator,
    /// Sending: the next SRTCP index per SSRC. RFC 3711 §3.4: zero for the
    /// first packet, then one more each packet.
    send: Streams<u32>,
    recv: Streams<ReplayWindow>,
}

fn first_header(p: &[u8], needed: usize) -> Result<u32, SrtpError> {
    if p.len() < needed {
        return Err(SrtpError::TooShort {
            len: p.len(),
            needed,
        });
    }
    if p[0] >> 6 != 2 {
        return Err(SrtpError::NotVersion2);
    }
    Ok(u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
}

impl RtcpTransform {
    pub fn new(master: &MasterKey) -> RtcpTransform {
        let keys = SessionKeys::rtcp(master);
        RtcpTransform {
            cipher: AesCm::new(&keys.cipher, &keys.salt),
            auth: Authenticator::new(&keys.auth),
            send: Streams::new(),
            recv: Streams::new(),
        }
    }

    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        let ssrc = first_header(&buf[..len], CLEAR)?;
        let new_len = len + SRTCP_OVERHEAD;
        if new_len > buf.len() {
            return Err(SrtpError::NoRoom {
                len,
                needed: SRTCP_OVERHEAD,
                capacity: buf.len(),
            });
        }
        let index = self.send.get(ssrc).unwrap_or(0);
        if index > MAX_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        self.cipher
            .apply(ssrc, u64::from(index), &mut buf[CLEAR..len]);
        buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&(E_FLAG | index).to_be_bytes());
        let (packet, tag) = buf.split_at_mut(len + SRTCP_INDEX_LEN);
        self.auth.tag(&[packet], &mut tag[..SRTCP_TAG_LEN]);
        self.send.put(ssrc, index + 1);
        Ok(new_len)
    }

    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        let p = &mut buf[..len];
        let ssrc = first_header(p, CLEAR + SRTCP_OVERHEAD)?;
        let end = len - SRTCP_OVERHEAD;
        let tag_at = len - SRTCP_TAG_LEN;
        let e_index = u32::from_be_bytes([p[end], p[end + 1], p[end + 2], p[end + 3]]);
        let index = u64::from(e_index & MAX_INDEX);
        let window = self.recv.get(ssrc);
        if let Some(w) = &window {
            w.check(index)?;
        }
        let (authenticated, tag) = p.split_at(tag_at);
        if !self.auth.verify(&[authenticated], tag) {
            return Err(SrtpError::AuthenticationFailed);
        }
        // RFC 4568 §6.3.2: unencrypted SRTCP only if UNENCRYPTED_SRTCP was
        // negotiated, which the gateway never does.
        if e_index & E_FLAG == 0 {
            return Err(SrtpError::SrtcpNotEncrypted);
        }
        self.cipher.apply(ssrc, index, &mut p[CLEAR..end]);
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

    /// Makes the next packet of `ssrc` carry `index` (tests use a
    /// published packet whose sender started counting at 1).
    #[cfg(test)]
    pub fn set_next_index(&mut self, ssrc: u32, index: u32) {
        self.send.put(ssrc, index);
    }
}
