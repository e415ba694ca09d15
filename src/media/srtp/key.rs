//! The master key and salt a pair of peers agree on (with SDES, the
//! `inline:` value of an `a=crypto` line). Never printed: `Debug` shows
//! only that a key is there, and the bytes are wiped when it is dropped.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::suite::{MASTER_KEY_LEN, MASTER_SALT_LEN};

/// Master key followed by master salt, as `a=crypto` carries them.
pub const MASTER_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;

#[derive(Clone)]
pub struct MasterKey {
    key: [u8; MASTER_KEY_LEN],
    salt: [u8; MASTER_SALT_LEN],
}

impl MasterKey {
    /// From the 30 bytes of key then salt (RFC 4568 §6.1: "concatenated
    /// master key and salt"). Fresh keys come from the caller's
    /// cryptographic random source: the core takes bytes, it does not
    /// draw them.
    pub fn from_bytes(bytes: &[u8; MASTER_LEN]) -> MasterKey {
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&bytes[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&bytes[MASTER_KEY_LEN..]);
        MasterKey { key, salt }
    }

    pub(super) fn key(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.key
    }

    pub(super) fn salt(&self) -> &[u8; MASTER_SALT_LEN] {
        &self.salt
    }

    /// Key then salt, for writing an `a=crypto` line.
    pub(super) fn write_to(&self, out: &mut [u8; MASTER_LEN]) {
        out[..MASTER_KEY_LEN].copy_from_slice(&self.key);
        out[MASTER_KEY_LEN..].copy_from_slice(&self.salt);
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.salt.zeroize();
    }
}

/// Compared in constant time, like any secret.
impl PartialEq for MasterKey {
    fn eq(&self, other: &MasterKey) -> bool {
        bool::from(self.key.ct_eq(&other.key) & self.salt.ct_eq(&other.salt))
    }
}

impl Eq for MasterKey {}
