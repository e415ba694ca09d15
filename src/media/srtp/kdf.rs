//! Session keys from the master key (RFC 3711 §4.3), with the key
//! derivation rate 0 that SDES uses unless a `KDR=` parameter says
//! otherwise (RFC 4568 §6.3.1): each session key is derived once, when
//! the context is made.

use aes::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroize;

use super::key::MasterKey;
use super::suite::{MASTER_KEY_LEN, MASTER_SALT_LEN};

type AesCtr = ctr::Ctr128BE<aes::Aes128>;

/// The labels of RFC 3711 §4.3.2: 0 to 2 for SRTP, 3 to 5 for SRTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    RtpCipher = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpCipher = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// Writes the session key of `label` into `out` (its length is the key's:
/// 16, 20 or 14 bytes). RFC 3711 §4.3.1: with r = 0, key_id = label * 2^48
/// and x = key_id XOR master_salt; the key is the AES-CM keystream of the
/// master key from IV = x * 2^16 (§4.3.3).
pub(super) fn derive(master: &MasterKey, label: Label, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(master.salt());
    // key_id is 56 bits aligned with the low end of the 112-bit salt, so
    // the label lands on the salt's eighth byte.
    iv[7] ^= label as u8;
    let mut ctr = AesCtr::new(master.key().into(), &iv.into());
    out.fill(0);
    ctr.apply_keystream(out);
    iv.zeroize();
}

/// Session keys of one direction, RTP or RTCP.
pub(super) struct SessionKeys {
    pub cipher: [u8; MASTER_KEY_LEN],
    pub auth: [u8; super::suite::AUTH_KEY_LEN],
    pub salt: [u8; MASTER_SALT_LEN],
}

impl SessionKeys {
    pub fn rtp(master: &MasterKey) -> SessionKeys {
        Self::with_labels(master, Label::RtpCipher, Label::RtpAuth, Label::RtpSalt)
    }

    pub fn rtcp(master: &MasterKey) -> SessionKeys {
        Self::with_labels(master, Label::RtcpCipher, Label::RtcpAuth, Label::RtcpSalt)
    }

    fn with_labels(master: &MasterKey, c: Label, a: Label, s: Label) -> SessionKeys {
        let mut keys = SessionKeys {
            cipher: [0; MASTER_KEY_LEN],
            auth: [0; super::suite::AUTH_KEY_LEN],
            salt: [0; MASTER_SALT_LEN],
        };
        derive(master, c, &mut keys.cipher);
        derive(master, a, &mut keys.auth);
        derive(master, s, &mut keys.salt);
        keys
    }
}

impl Drop for SessionKeys {
    fn drop(&mut self) {
        self.cipher.zeroize();
        self.auth.zeroize();
        self.salt.zeroize();
    }
}
