//! Accounts and sessions: argon2id password hashes, short-lived JWT access tokens and
//! rotating refresh tokens stored as hashes.

mod extractors;
mod jwt;
mod limiter;
pub mod password;
mod refresh;
mod service;

pub use extractors::{AdminUser, CurrentUser};
pub use jwt::{Claims, JwtKeys};
pub use limiter::LoginLimiter;
pub use refresh::{hash_refresh_token, new_refresh_token};
pub use service::{AuthService, TokenPair};
