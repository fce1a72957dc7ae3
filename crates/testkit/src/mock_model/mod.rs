//! A small server that speaks enough of the Anthropic Messages API for Claude Code.
//!
//! Replies are scripted by directives in the user's prompt:
//!
//! - `[[bash: COMMAND]]` makes the model call the Bash tool with COMMAND. Several
//!   directives run one after another, one tool call per turn.
//! - `[[text: TEXT]]` sets the final answer (default: `Mock reply.`).
//! - `[[delay-ms: N]]` waits N milliseconds between streamed events.
//! - `[[error: STATUS]]` answers every request with that HTTP status and an
//!   Anthropic-style error body.
//!
//! Requests without a `Bash` tool (title generation and similar side requests) always get
//! plain text.

mod reply;
mod script;
mod server;

pub use server::{MockModel, RecordedRequest};
