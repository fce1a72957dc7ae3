use std::path::PathBuf;

use thiserror::Error;

/// Why the configuration could not be loaded. Every variant names the key or file.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },

    #[error("invalid value for {key}: {message}")]
    Invalid { key: String, message: String },

    #[error("environment variable {name} is referenced by {key} but not set")]
    MissingEnv { name: String, key: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}
