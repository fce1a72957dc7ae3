//! Each user's container: its directories, gateway socket, spec and lifecycle.

mod dirs;
mod service;

pub use service::{runtime_error, WorkspaceService};
