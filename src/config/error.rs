use std::path::PathBuf;

/// Why a configuration was refused. Always names the field (or file) and
/// what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
