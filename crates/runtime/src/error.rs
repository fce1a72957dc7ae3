use thiserror::Error;

/// A failed engine operation. Every variant names the container, image or exec involved.
#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot reach the Docker Engine at {socket}: {source}")]
    Connect {
        socket: String,
        source: bollard::errors::Error,
    },

    #[error("image {image} is not present; build it with `cchub image build`")]
    ImageMissing { image: String },

    #[error("a container named {name} already exists")]
    NameConflict { name: String },

    #[error("container {container} not found")]
    NotFound { container: String },

    #[error("Docker Engine call {operation} on {target} failed: {source}")]
    Engine {
        operation: &'static str,
        target: String,
        source: bollard::errors::Error,
    },

    #[error("the subnet {subnet} of network {network} overlaps a network that already exists on this engine; set security.internal_subnet_pool to a free IPv4 block (each hub on one engine needs its own)")]
    SubnetOverlap { network: String, subnet: String },

    #[error("cannot set the host firewall rule for bridge {bridge}: {message}")]
    Firewall { bridge: String, message: String },

    #[error("cannot attach to exec {exec_id}: {message}")]
    Attach { exec_id: String, message: String },

    #[error("image build failed: {0}")]
    Build(String),

    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl RuntimeError {
    pub(crate) fn engine(operation: &'static str, target: impl Into<String>, source: bollard::errors::Error) -> Self {
        Self::Engine {
            operation,
            target: target.into(),
            source,
        }
    }

    /// The HTTP status the engine answered with, if the failure was such an answer.
    pub fn engine_status(&self) -> Option<u16> {
        match self {
            RuntimeError::Engine {
                source: bollard::errors::Error::DockerResponseServerError { status_code, .. },
                ..
            } => Some(*status_code),
            _ => None,
        }
    }
}
