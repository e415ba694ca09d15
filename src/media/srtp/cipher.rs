//! AES in counter mode as SRTP uses it (RFC 3711 §4.1.1): one session
//! key, expanded once; per packet only the IV changes.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::Aes128;
use ctr::flavors::Ctr128BE;
use ctr::CtrCore;
use zeroize::Zeroize;

use super::suite::{MASTER_KEY_LEN, MASTER_SALT_LEN};

pub(super) struct AesCm {
    /// The expanded session key (the aes crate wipes it on drop).
    aes: Aes128,
    salt: [u8; MASTER_SALT_LEN],
}

impl AesCm {
    pub fn new(key: &[u8; MASTER_KEY_LEN], salt: &[u8; MASTER_SALT_LEN]) -> AesCm {
        AesCm {
            aes: Aes128::new(key.into()),
            salt: *salt,
        }
    }

    /// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16),
    /// a 128-bit big-endian number whose low 16 bits count the blocks.
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        // The 48-bit index in bytes 8..14.
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }

    /// Encrypts or decrypts `data` (the same XOR) of the packet `index` of
    /// `ssrc`. Cloning the expanded key costs a copy of its round keys,
    /// far less than expanding it again.
    pub fn apply(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = self.iv(ssrc, index);
        let core = CtrCore::<Aes128, Ctr128BE>::inner_iv_init(self.aes.clone(), &iv.into());
        let mut ctr = StreamCipherCoreWrapper::from_core(core);
        ctr.apply_keystream(data);
        iv.zeroize();
    }
}

impl Drop for AesCm {
    fn drop(&mut self) {
        self.salt.zeroize();
    }
}
