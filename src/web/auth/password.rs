//! Password hashing with Argon2id (RFC 9106), and the rules for a password
//! a user chooses.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use super::secret;

pub const MIN_LEN: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Random(#[from] secret::RandomError),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The PHC string (`$argon2id$v=19$m=...`), with a random 128-bit salt and
/// the crate's default cost (RFC 9106 §4's second recommended option's
/// memory-constrained form: 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = secret::bytes::<16>()?;
    let phc = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()));
    give_back_memory();
    phc
}

/// Whether `password` matches `phc`; a malformed stored hash matches
/// nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok();
    give_back_memory();
    ok
}

/// Each hash takes 19 MiB. glibc keeps a freed block that large in the
/// thread's heap once its threshold for separate mappings has grown past
/// it, so every blocking-pool thread that ever checked a password kept
/// 19 MiB (measured: 60 MiB more resident after three logins). Hand it
/// back to the system after each hash.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it has no
    // preconditions and may be called from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Why a new password is refused, or None.
pub fn rule_broken(new: &str, confirm: &str) -> Option<&'static str> {
    if new.chars().count() < MIN_LEN {
        Some("at least 10 characters")
    } else if new != confirm {
        Some("the two passwords differ")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(h, hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn rules() {
        assert_eq!(
            rule_broken("short", "short"),
            Some("at least 10 characters")
        );
        assert_eq!(
            rule_broken("long enough 1", "long enough 2"),
            Some("the two passwords differ")
        );
        assert_eq!(rule_broken("long enough", "long enough"), None);
    }
}
