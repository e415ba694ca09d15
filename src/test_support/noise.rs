//! Pseudo-random bytes for tests that feed a parser every mix of the bytes
//! that matter to it, and check that it never panics.

/// `len` bytes drawn from `alphabet` by xorshift64 (Marsaglia, 2003);
/// `seed` carries on from one call to the next.
pub fn noise(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            alphabet[(*seed % alphabet.len() as u64) as usize]
        })
        .collect()
}
