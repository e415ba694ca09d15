//! HMAC-SHA1 packet authentication (RFC 3711 §4.2): the session key's
//! HMAC state is computed once; per packet it is copied and fed.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::suite::AUTH_KEY_LEN;

/// Bytes of a full HMAC-SHA1 output; tags are its first 4 or 10.
const FULL: usize = 20;

pub(super) struct Authenticator {
    keyed: Hmac<Sha1>,
}

impl Authenticator {
    pub fn new(key: &[u8; AUTH_KEY_LEN]) -> Authenticator {
        Authenticator {
            keyed: <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length"),
        }
    }

    /// The full HMAC of `parts` in order (RFC 3711 §4.2: for SRTP the
    /// authenticated portion then the ROC; for SRTCP the packet then the
    /// E flag and index).
    fn full(&self, parts: &[&[u8]]) -> [u8; FULL] {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Writes the first `out.len()` bytes of the HMAC into `out`.
    pub fn tag(&self, parts: &[&[u8]], out: &mut [u8]) {
        let full = self.full(parts);
        out.copy_from_slice(&full[..out.len()]);
    }

    /// Whether `tag` is the HMAC's first `tag.len()` bytes, compared in
    /// constant time so a forger learns nothing from the timing.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let full = self.full(parts);
        bool::from(full[..tag.len()].ct_eq(tag))
    }
}
