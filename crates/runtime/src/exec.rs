use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWrite;

use crate::RuntimeError;

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    /// Extra `NAME=value` entries on top of the container's environment.
    pub env: Vec<String>,
    pub tty: bool,
    pub attach_stdin: bool,
    pub working_dir: Option<String>,
    /// `uid:gid`; the container's own user when `None`.
    pub user: Option<String>,
}

/// One piece of output, as the engine delivered it (not split into lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecChunk {
    Stdout(Bytes),
    Stderr(Bytes),
}

pub type ExecOutput = Pin<Box<dyn Stream<Item = Result<ExecChunk, RuntimeError>> + Send>>;

/// A started exec: its id (for the exit code and resizing), output and input.
pub struct ExecSession {
    pub exec_id: String,
    pub output: ExecOutput,
    /// Write to send stdin; shut it down to send end-of-file.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}
