//! Agent runs: `claude -p --output-format stream-json` inside the user's container,
//! each output line relayed as it arrives.

mod command;
mod lines;
mod registry;
mod runner;

pub use command::{AgentCommand, SessionId};
pub use lines::LineSplitter;
pub use registry::{ReadOutcome, Run, RunInfo, RunLimitReached, RunReader, RunRegistry};
pub use runner::{run_agent, RunContext, RunEvent, RunOutcome};
