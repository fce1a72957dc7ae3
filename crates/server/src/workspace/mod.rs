//! Each user's container: its directories, gateway socket, spec and lifecycle.

mod activity;
mod admission;
mod agent_settings;
pub mod apparmor;
mod dirs;
pub mod disk;
mod kill;
mod monitor;
mod notices;
mod service;
mod tier_change;

pub use activity::{Activity, BusyGuard};
pub use kill::kill_marked;
pub use notices::{next_notice, Notice, Notices};
pub use service::{runtime_error, WorkspaceService};
pub use tier_change::{apply as apply_tier_change, check_disk_fits, spec_for, TierChange};
