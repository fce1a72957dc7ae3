use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(reqwest::Error),

    #[error("cannot create gateway socket {path}: {source}")]
    Socket { path: PathBuf, source: std::io::Error },
}
