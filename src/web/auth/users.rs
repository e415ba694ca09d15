//! `web-users.toml` in the data directory: who may log in, with Argon2
//! hashes. The box writes it at first start (one admin with a one-time
//! password) and when a password changes; `pbxgate reset-password` writes
//! it from the console.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{files, password, secret};

pub const FILE: &str = "web-users.toml";
pub const ADMIN: &str = "admin";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Users {
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// Argon2id, PHC string.
    pub hash: String,
    /// A one-time password: the first login must set a new one.
    #[serde(default)]
    pub must_change: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a users file: {message}; `pbxgate reset-password` writes a new one")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Random(#[from] secret::RandomError),
}

pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The file, or None when there is none.
pub fn read(path: &Path) -> Result<Option<Users>, UsersError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(UsersError::Read {
                path: path.into(),
                source,
            })
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| UsersError::Parse {
            path: path.into(),
            message: e.message().to_string(),
        })
}

pub fn write(path: &Path, users: &Users) -> Result<(), UsersError> {
    let text = format!(
        "# Who may log in to the web page (Argon2id hashes). Written by pbxgate;\n\
         # `pbxgate reset-password` makes a new one-time admin password.\n\n{}",
        toml::to_string(users).unwrap_or_default()
    );
    files::write_private(path, &text).map_err(|source| UsersError::Write {
        path: path.into(),
        source,
    })
}

/// Gives `admin` a new one-time password (adding the user if needed) and
/// writes the file; returns the password, to be shown once.
pub fn reset_admin(path: &Path, users: Option<Users>) -> Result<String, UsersError> {
    let mut users = users.unwrap_or_default();
    let one_time = secret::one_time_password()?;
    let hash = password::hash(&one_time)?;
    match users.users.iter_mut().find(|u| u.name == ADMIN) {
        Some(u) => {
            u.hash = hash;
            u.must_change = true;
        }
        None => users.users.push(User {
            name: ADMIN.into(),
            hash,
            must_change: true,
        }),
    }
    write(path, &users)?;
    Ok(one_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_writes_an_owner_only_file_with_a_one_time_admin() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pbxgate-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = path_in(&dir);
        assert_eq!(read(&path).unwrap(), None);
        let pw = reset_admin(&path, None).unwrap();
        let users = read(&path).unwrap().unwrap();
        assert_eq!(users.users.len(), 1);
        assert!(users.users[0].must_change);
        assert!(password::verify(&pw, &users.users[0].hash));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = reset_admin(&path, Some(users)).unwrap();
        assert_ne!(pw, again);
        assert_eq!(read(&path).unwrap().unwrap().users.len(), 1);
        std::fs::write(&path, "user = 3").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("is not a users file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
