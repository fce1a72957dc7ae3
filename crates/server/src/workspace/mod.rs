//! Each user's container: its directories, gateway socket, spec and lifecycle.

mod activity;
mod agent_settings;
pub mod apparmor;
mod dirs;
pub mod disk;
mod kill;
mod service;

pub use activity::{Activity, TerminalGuard};
pub use kill::kill_marked;
pub use service::{runtime_error, WorkspaceService};
