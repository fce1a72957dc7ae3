//! cchub's container runtime: one hardened container per user on a Docker Engine.
//!
//! [`ContainerRuntime`] is the engine-facing trait (a Kubernetes backend would be a second
//! implementation); [`DockerRuntime`] implements it with bollard. [`Workspaces`] adds the
//! per-user lock and the get-or-create logic on top of any runtime.

mod cleanup;
mod container;
mod create;
mod docker;
mod ensure;
mod error;
mod events;
mod exec;
pub mod firewall;
pub mod image;
mod tty;
mod usage;

pub use container::{ContainerInfo, ContainerState};
pub use docker::{bridge_of, DockerRuntime};
pub use ensure::{EnsureAction, EnsureOutcome, LiveUpdate, Workspaces};
pub use error::RuntimeError;
pub use events::{ContainerEvent, ContainerEventKind};
pub use exec::{ExecChunk, ExecOutput, ExecRequest, ExecSession};
pub use tty::TtySession;
pub use usage::ContainerUsage;

use async_trait::async_trait;
use cchub_policy::ContainerSpec;

/// The engine operations cchub needs.
#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// The container named `name`, or `None` when it does not exist.
    async fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError>;
    /// Every container carrying the cchub labels of hub `instance`.
    async fn list_managed(&self, instance: &str) -> Result<Vec<ContainerInfo>, RuntimeError>;
    /// Creates the user's internal network unless it exists: no route out, no traffic
    /// between containers, labelled for hub `instance`. The host drops what arrives on
    /// its bridge for the host itself.
    async fn ensure_network(&self, network: &cchub_policy::InternalNetwork, instance: &str) -> Result<(), RuntimeError>;
    /// Removes the hub's network `name` and its firewall rule; absent is fine.
    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError>;
    /// The id of `image`, or `None` when it is not present.
    async fn image_id(&self, image: &str) -> Result<Option<String>, RuntimeError>;
    /// Creates the container; fails with [`RuntimeError::NameConflict`] when the name is taken.
    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;
    async fn start(&self, id: &str) -> Result<(), RuntimeError>;
    async fn unpause(&self, id: &str) -> Result<(), RuntimeError>;
    /// Freezes every process of the container; memory stays allocated.
    async fn pause(&self, id: &str) -> Result<(), RuntimeError>;
    /// Changes CPU, memory and pids limits of a container, running or not.
    async fn update_limits(&self, id: &str, limits: &cchub_policy::ResourceLimits) -> Result<(), RuntimeError>;
    async fn stop(&self, id: &str, timeout_secs: i32) -> Result<(), RuntimeError>;
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecSession, RuntimeError>;
    /// The exit code of a finished exec, `None` while it runs.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError>;
    /// Runs a command with a terminal; `request.tty` is ignored (always on).
    async fn exec_tty(&self, id: &str, request: ExecRequest) -> Result<TtySession, RuntimeError>;
    /// Sets the terminal size of a TTY exec.
    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError>;
}
