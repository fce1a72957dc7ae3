//! cchub's HTTP and WebSocket server: authentication, the REST API, chat and files.

pub mod agent;
pub mod auth;
pub mod backup;
pub mod doctor;
mod error;
mod extract;
pub mod files;
pub mod gc;
pub mod metrics;
mod routes;
pub mod sessions;
mod startup;
mod state;
pub mod terminal;
pub mod usage;
mod web;
pub mod workspace;
mod ws;

pub use error::{ApiError, ApiResult};
pub use startup::{App, StartupError};
pub use state::AppState;
