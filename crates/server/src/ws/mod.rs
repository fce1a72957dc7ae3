//! WebSocket endpoints. The access token travels in `Sec-WebSocket-Protocol`
//! (`cchub`, `cchub.token.<jwt>`) or in a first `{"type":"auth","token":…}` message,
//! never in the URL, where proxies and browser history would keep it.

mod auth;
mod chat;
mod shell;

pub use chat::chat;
pub use shell::shell;
