//! The end-to-end test harness: a real hub in the test process, on a real Docker Engine,
//! with the real runtime image and the mock model as upstream.
//!
//! Every [`TestHub`] has its own data directory and its own instance name, so tests can
//! run in parallel on one engine. Its containers are removed when it is dropped.

mod chat;
mod hub;
mod paths;
mod shell;

pub use chat::{chat, chat_with, ChatOptions, ChatSocket};
pub use hub::{exec_in_container, postgres_backend, HubOptions, Session, TestHub, ADMIN_PASSWORD, TEST_KEY};
pub use paths::{cchub_binary, repo_root};
pub use shell::ShellSocket;
