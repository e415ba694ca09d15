//! Secrets made from the OS random source: session ids, CSRF tokens, API
//! tokens (256 bits each) and one-time passwords.

use std::fmt::Write;

#[derive(Debug, thiserror::Error)]
#[error("the operating system gave no random bytes: {0}")]
pub struct RandomError(String);

pub fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| RandomError(e.to_string()))?;
    Ok(b)
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// 256 random bits as 64 hex digits.
pub fn token() -> Result<String, RandomError> {
    Ok(hex(&bytes::<32>()?))
}

/// A one-time password: 20 characters from 32 that cannot be mistaken for
/// one another when read off a console (no 0/O, 1/l/I): 100 bits.
pub fn one_time_password() -> Result<String, RandomError> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789A";
    let raw = bytes::<20>()?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_differ_and_have_their_length() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let p = one_time_password().unwrap();
        assert_eq!(p.len(), 20);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
