//! Digest algorithms (RFC 7616 §3.2, RFC 8760 §2.1) and their hash `H()`.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::AuthError;

/// A digest algorithm as named in the `algorithm` parameter. The `-sess`
/// variants hash the client nonce into HA1 (RFC 7616 §3.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    Sha512_256,
    Sha512_256Sess,
}

impl Algorithm {
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ];

    /// Reads an `algorithm` token; names compare case-insensitively
    /// (RFC 7616 §3.3 registers them as tokens, and servers vary in case).
    pub fn parse(value: &str) -> Result<Algorithm, AuthError> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(value))
            .ok_or_else(|| AuthError::UnknownAlgorithm {
                value: value.to_string(),
            })
    }

    /// The name as registered (RFC 7616 §6.1, RFC 8760 §2.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Length of `H()` in lowercase hex: 32 for MD5, 64 for the SHA-2 family.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 32,
            _ => 64,
        }
    }

    /// Preference when a server offers several challenges: the stronger hash
    /// wins, and the plain variant beats its `-sess` twin (fewer moving parts
    /// for the same hash).
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5Sess => 0,
            Algorithm::Md5 => 1,
            Algorithm::Sha256Sess => 2,
            Algorithm::Sha256 => 3,
            Algorithm::Sha512_256Sess => 4,
            Algorithm::Sha512_256 => 5,
        }
    }

    /// `H(p1 ":" p2 ":" ...)` in lowercase hex: the parts joined by colons,
    /// as every digest formula writes them, without building the joined
    /// string.
    pub fn hash_parts(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hash_joined::<Md5>(parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hash_joined::<Sha256>(parts),
            // SHA-512/256 has its own initial values (FIPS 180-4 §5.3.6); it
            // is not SHA-512 cut short, which is why RFC 8760 names it apart.
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hash_joined::<Sha512_256>(parts),
        }
    }

    /// `H(data)` in lowercase hex.
    pub fn hash(self, data: &[u8]) -> String {
        self.hash_parts(&[data])
    }
}

fn hash_joined<D: Digest>(parts: &[&[u8]]) -> String
where
    sha2::digest::Output<D>: fmt::LowerHex,
{
    let mut h = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(part);
    }
    format!("{:x}", h.finalize())
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()).unwrap(), a);
            assert_eq!(Algorithm::parse(&a.as_str().to_lowercase()).unwrap(), a);
            assert_eq!(a.hash(b"x").len(), a.hex_len());
        }
        assert_eq!(
            Algorithm::parse("SHA-1"),
            Err(AuthError::UnknownAlgorithm {
                value: "SHA-1".into()
            })
        );
    }

    #[test]
    fn known_hashes() {
        // FIPS 180-4 / RFC 1321 "abc" vectors; the SHA-512/256 one was also
        // checked with `printf abc | openssl dgst -sha512-256` (OpenSSL 3.0.19).
        assert_eq!(
            Algorithm::Md5.hash(b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            Algorithm::Sha256.hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algorithm::Sha512_256.hash(b"abc"),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn hash_parts_joins_with_colons() {
        assert_eq!(
            Algorithm::Sha256.hash_parts(&[b"a", b"b", b"c"]),
            Algorithm::Sha256.hash(b"a:b:c")
        );
        assert_eq!(Algorithm::Md5.hash_parts(&[]), Algorithm::Md5.hash(b""));
    }
}
