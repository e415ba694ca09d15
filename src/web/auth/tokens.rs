//! API tokens for scripts: `web-tokens.toml` keeps each token's name and
//! the SHA-256 of the token, never the token. A token is 256 random bits,
//! so it cannot be guessed and a fast hash is enough to make the file
//! useless to a reader (a slow hash like Argon2 protects passwords a
//! person chose, which can be guessed); a fast one also lets every API
//! request be checked without a deliberate delay.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{files, secret};

pub const FILE: &str = "web-tokens.toml";
/// Marks a token in logs and scripts; 64 hex digits follow.
pub const PREFIX: &str = "pbxg_";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default, rename = "token")]
    pub tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub name: String,
    /// SHA-256 of the token, hex.
    pub sha256: String,
    /// Unix seconds.
    pub created: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a name is needed (letters, digits, '-', '_' and '.', at most 64)")]
    BadName,
    #[error("a token named '{0}' exists")]
    Exists(String),
    #[error("no token is named '{0}'")]
    Unknown(String),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Random(#[from] secret::RandomError),
}

pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn digest(token: &str) -> String {
    secret::hex(&Sha256::digest(token.as_bytes()))
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Tokens {
    pub fn read(path: &Path) -> Result<Tokens, TokenError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| TokenError::Read {
                path: path.into(),
                message: e.message().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tokens::default()),
            Err(e) => Err(TokenError::Read {
                path: path.into(),
                message: e.to_string(),
            }),
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), TokenError> {
        let text = format!(
            "# API tokens of the web page (SHA-256 of each; the tokens themselves\n\
             # were shown once). Written by pbxgate.\n\n{}",
            toml::to_string(self).unwrap_or_default()
        );
        files::write_private(path, &text).map_err(|source| TokenError::Write {
            path: path.into(),
            source,
        })
    }

    /// Makes a token named `name`; returns it (to be shown once).
    pub fn make(&mut self, name: &str, now_unix: u64) -> Result<String, TokenError> {
        if !valid_name(name) {
            return Err(TokenError::BadName);
        }
        if self.tokens.iter().any(|t| t.name == name) {
            return Err(TokenError::Exists(name.into()));
        }
        let token = format!("{PREFIX}{}", secret::token()?);
        self.tokens.push(Token {
            name: name.into(),
            sha256: digest(&token),
            created: now_unix,
            last_used: None,
        });
        Ok(token)
    }

    pub fn delete(&mut self, name: &str) -> Result<(), TokenError> {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.name != name);
        if self.tokens.len() == before {
            return Err(TokenError::Unknown(name.into()));
        }
        Ok(())
    }

    /// The name of the token `presented` is, noting its use.
    pub fn check(&mut self, presented: &str, now_unix: u64) -> Option<String> {
        let d = digest(presented);
        let t = self
            .tokens
            .iter_mut()
            .find(|t| bool::from(t.sha256.as_bytes().ct_eq(d.as_bytes())))?;
        t.last_used = Some(now_unix);
        Some(t.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_shown_once_kept_hashed_and_checked() {
        let mut t = Tokens::default();
        let tok = t.make("grafana", 100).unwrap();
        assert!(tok.starts_with(PREFIX) && tok.len() == PREFIX.len() + 64);
        let text = toml::to_string(&t).unwrap();
        assert!(!text.contains(&tok[PREFIX.len()..]), "never stored");
        assert_eq!(t.check(&tok, 200), Some("grafana".into()));
        assert_eq!(t.tokens[0].last_used, Some(200));
        assert_eq!(t.check("pbxg_00", 200), None);
        assert!(matches!(t.make("grafana", 1), Err(TokenError::Exists(_))));
        assert!(matches!(t.make("a b", 1), Err(TokenError::BadName)));
        t.delete("grafana").unwrap();
        assert_eq!(t.check(&tok, 300), None);
        assert!(matches!(t.delete("grafana"), Err(TokenError::Unknown(_))));
    }
}
