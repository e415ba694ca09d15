//! Identifiers that peers must not be able to guess: SIP tags, Call-IDs,
//! Via branches, digest cnonces, RTP SSRCs and the keys derived from them.
//!
//! RFC 3261 §19.3 asks for tags that are "cryptographically random" with at
//! least 32 bits of randomness, and §8.1.1.4 for Call-IDs that cannot be
//! guessed; a predictable generator would let an off-path sender forge a BYE
//! or a CANCEL for a dialog it has only seen one identifier of. So the
//! identifiers come from ChaCha20 keyed from the operating system, never
//! from a generator built for speed (fastrand, which stays for SRV weights
//! and retry jitter, where guessing gains nothing).
//!
//! The cores take an [`IdGenerator`] from outside (sans-IO: they read no
//! OS source themselves): the shell builds it with [`IdGenerator::from_os`],
//! tests with [`IdGenerator::from_seed`] so that their identifiers repeat.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// The magic cookie every RFC 3261 branch starts with (§8.1.1.7).
const BRANCH_COOKIE: &str = "z9hG4bK";

/// The operating system gave no randomness; the gateway cannot make
/// identifiers a peer cannot guess, so it does not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the operating system's random source (getrandom): {0}")]
pub struct RandomError(getrandom::Error);

/// A cryptographically secure source of identifiers (ChaCha20).
pub struct IdGenerator {
    rng: ChaCha20Rng,
}

impl IdGenerator {
    /// Keyed with 256 bits from the operating system's CSPRNG.
    pub fn from_os() -> Result<IdGenerator, RandomError> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(RandomError)?;
        Ok(IdGenerator {
            rng: ChaCha20Rng::from_seed(key),
        })
    }

    /// For tests: the same seed gives the same identifiers. Never use it
    /// for a running gateway: 64 bits of seed can be searched.
    pub fn from_seed(seed: u64) -> IdGenerator {
        IdGenerator {
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// A generator of its own for a part of the gateway (a registration,
    /// the B2BUA), keyed with 256 bits of this one's output: as
    /// unpredictable as this one, and still fixed by a test's seed.
    pub fn fork(&mut self) -> IdGenerator {
        IdGenerator {
            rng: ChaCha20Rng::from_seed(self.bytes()),
        }
    }

    pub fn u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    pub fn u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }

    /// A From/To tag: 64 random bits as 16 hex digits (RFC 3261 §19.3
    /// asks for at least 32).
    pub fn tag(&mut self) -> String {
        format!("{:016x}", self.u64())
    }

    /// A Call-ID: 128 random bits, so it is unique across boxes and time
    /// without a host name (RFC 3261 §8.1.1.4).
    pub fn call_id(&mut self) -> String {
        format!("{:016x}{:016x}@pbxgate", self.u64(), self.u64())
    }

    /// A Via branch: the magic cookie then 96 random bits (RFC 3261
    /// §8.1.1.7: unique across space and time for all requests of a UA).
    pub fn branch(&mut self) -> String {
        format!("{BRANCH_COOKIE}{:016x}{:08x}", self.u64(), self.u32())
    }

    /// A digest cnonce (RFC 7616 §3.4): 64 random bits.
    pub fn cnonce(&mut self) -> String {
        format!("{:016x}", self.u64())
    }

    /// An RTP SSRC: random so that two sources in one session are unlikely
    /// to collide, and so that an off-path sender cannot guess it
    /// (RFC 3550 §8).
    pub fn ssrc(&mut self) -> u32 {
        self.u32()
    }
}

/// Never prints the key or the stream position.
impl std::fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdGenerator { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(ids: &mut IdGenerator) -> Vec<String> {
        vec![ids.tag(), ids.call_id(), ids.branch(), ids.cnonce()]
    }

    #[test]
    fn a_seed_fixes_every_identifier() {
        let a = draw(&mut IdGenerator::from_seed(7));
        assert_eq!(a, draw(&mut IdGenerator::from_seed(7)));
        assert_ne!(a, draw(&mut IdGenerator::from_seed(8)));
    }

    #[test]
    fn the_os_keys_each_generator_differently() {
        let a = draw(&mut IdGenerator::from_os().unwrap());
        let b = draw(&mut IdGenerator::from_os().unwrap());
        assert_ne!(a, b);
        for (x, y) in a.iter().zip(&b) {
            assert_ne!(x, y);
        }
    }

    #[test]
    fn forks_differ_from_each_other_and_repeat_under_a_seed() {
        let mut root = IdGenerator::from_seed(1);
        let mut f1 = root.fork();
        let mut f2 = root.fork();
        let (t1, t2) = (f1.tag(), f2.tag());
        assert_ne!(t1, t2);
        let mut again = IdGenerator::from_seed(1);
        assert_eq!(again.fork().tag(), t1);
        assert_eq!(again.fork().tag(), t2);
    }

    #[test]
    fn identifiers_have_their_rfc_shapes() {
        let mut ids = IdGenerator::from_seed(3);
        let tag = ids.tag();
        assert_eq!(tag.len(), 16, "64 bits ≥ the 32 of RFC 3261 §19.3");
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        let branch = ids.branch();
        assert!(
            branch.starts_with(crate::sip::message::MAGIC_COOKIE),
            "{branch}"
        );
        assert_eq!(branch.len(), 7 + 24);
        let call_id = ids.call_id();
        assert!(call_id.ends_with("@pbxgate"), "{call_id}");
        assert_eq!(call_id.len(), 32 + "@pbxgate".len());
    }

    /// The stream is ChaCha20's keystream, not a generator of our own:
    /// RFC 8439 Appendix A.1, test vector 1 (all-zero key, nonce and
    /// counter) starts with the bytes 76 b8 e0 ad.
    #[test]
    fn the_generator_is_chacha20() {
        let mut ids = IdGenerator {
            rng: ChaCha20Rng::from_seed([0u8; 32]),
        };
        assert_eq!(ids.u32(), u32::from_le_bytes([0x76, 0xb8, 0xe0, 0xad]));
    }

    #[test]
    fn debug_shows_no_state() {
        assert_eq!(
            format!("{:?}", IdGenerator::from_seed(1)),
            "IdGenerator { .. }"
        );
    }
}
