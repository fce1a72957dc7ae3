use std::time::Duration;

use bytes::Bytes;
use cchub_policy::{CONTAINER_GID, CONTAINER_UID, CONTAINER_WORKSPACE};
use cchub_runtime::{ContainerRuntime, ExecChunk, ExecRequest};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::workspace::kill_marked;
use super::lines::{Line, LineSplitter};
use super::AgentCommand;

/// Environment variable set on the agent's exec; every process of the run inherits it,
/// which is how an abort finds them all.
pub const RUN_MARKER: &str = "CCHUB_RUN_ID";

/// Longest stdout line relayed. A stream-json line contains one event, and even a large
/// file read by a tool stays far below this.
const MAX_LINE_BYTES: usize = 64 << 20;
/// How much of stderr is kept for the error message.
const STDERR_TAIL_BYTES: usize = 16 * 1024;
/// How long output may still arrive after an abort.
const ABORT_DRAIN: Duration = Duration::from_secs(3);

/// A message from a run towards the client, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// One stream-json object printed by the agent.
    Event(Value),
    Error { code: &'static str, message: String },
    Done { exit_code: i64, aborted: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    pub exit_code: i64,
    pub aborted: bool,
}

/// Everything a run needs besides the command.
pub struct RunContext<'a, R: ContainerRuntime> {
    pub runtime: &'a R,
    pub container_id: &'a str,
    pub run_id: &'a str,
    pub program: &'a str,
    pub max_retries: u32,
}

/// Runs the agent once and streams its events and errors to `events`; the caller sends
/// [`RunEvent::Done`] once the run's slot is free. Setting `abort` kills the run's
/// processes in the container.
pub async fn run_agent<R: ContainerRuntime>(ctx: RunContext<'_, R>, command: &AgentCommand, events: mpsc::Sender<RunEvent>, mut abort: watch::Receiver<bool>) -> RunOutcome {
    // An abort that came while the container was starting needs no process to kill.
    if *abort.borrow_and_update() {
        info!(run_id = ctx.run_id, "agent run aborted before it started");
        return RunOutcome { exit_code: 130, aborted: true };
    }
    let request = ExecRequest {
        cmd: command.argv(ctx.program),
        env: vec![format!("{RUN_MARKER}={}", ctx.run_id), format!("CLAUDE_CODE_MAX_RETRIES={}", ctx.max_retries)],
        tty: false,
        attach_stdin: true,
        working_dir: Some(CONTAINER_WORKSPACE.into()),
        user: Some(format!("{CONTAINER_UID}:{CONTAINER_GID}")),
    };
    let session = match ctx.runtime.exec(ctx.container_id, request).await {
        Ok(session) => session,
        Err(err) => {
            warn!(run_id = ctx.run_id, error = %err, "cannot start the agent");
            let _ = events.send(RunEvent::Error { code: "agent_start_failed", message: "the agent could not be started in your workspace; try again".into() }).await;
            return RunOutcome { exit_code: -1, aborted: false };
        }
    };
    info!(run_id = ctx.run_id, container = ctx.container_id, "agent run started");

    let mut input = session.input;
    let prompt = command.prompt.clone();
    tokio::spawn(async move {
        let written = input.write_all(prompt.as_bytes()).await;
        let closed = input.shutdown().await;
        if let Err(err) = written.and(closed) {
            debug!(error = %err, "writing the prompt to the agent failed");
        }
    });

    let mut output = session.output;
    let mut relay = Relay::new(events.clone());
    let mut aborted = false;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(chunk)) => relay.chunk(chunk).await,
                Some(Err(err)) => {
                    warn!(run_id = ctx.run_id, error = %err, "agent output stream failed");
                    break;
                }
                None => break,
            },
            changed = abort.changed(), if !aborted => {
                if changed.is_ok() && *abort.borrow() {
                    aborted = true;
                    info!(run_id = ctx.run_id, "aborting agent run");
                    kill_marked(ctx.runtime, ctx.container_id, &format!("{RUN_MARKER}={}", ctx.run_id)).await;
                    let deadline = tokio::time::sleep(ABORT_DRAIN);
                    tokio::pin!(deadline);
                    loop {
                        tokio::select! {
                            chunk = output.next() => match chunk {
                                Some(Ok(chunk)) => relay.chunk(chunk).await,
                                _ => break,
                            },
                            _ = &mut deadline => break,
                        }
                    }
                    break;
                }
                if changed.is_err() {
                    // The registry went away: treat as an abort.
                    aborted = true;
                    kill_marked(ctx.runtime, ctx.container_id, &format!("{RUN_MARKER}={}", ctx.run_id)).await;
                    break;
                }
            }
        }
    }
    relay.finish().await;

    let exit_code = exit_code(ctx.runtime, &session.exec_id).await.unwrap_or(if aborted { 137 } else { -1 });
    if !aborted {
        if let Some((code, message)) = relay.failure(exit_code) {
            let _ = events.send(RunEvent::Error { code, message }).await;
        }
    }
    info!(run_id = ctx.run_id, exit_code, aborted, "agent run finished");
    RunOutcome { exit_code, aborted }
}

async fn exit_code<R: ContainerRuntime>(runtime: &R, exec_id: &str) -> Option<i64> {
    for _ in 0..40 {
        match runtime.exec_exit_code(exec_id).await {
            Ok(Some(code)) => return Some(code),
            Ok(None) => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(err) => {
                warn!(exec_id, error = %err, "cannot read the agent's exit code");
                return None;
            }
        }
    }
    None
}

/// Turns output chunks into events and remembers what an error message needs.
struct Relay {
    events: mpsc::Sender<RunEvent>,
    stdout: LineSplitter,
    stderr_tail: Vec<u8>,
    /// The text of a `result` event that reported an error.
    result_error: Option<String>,
}

impl Relay {
    fn new(events: mpsc::Sender<RunEvent>) -> Self {
        Self {
            events,
            stdout: LineSplitter::new(MAX_LINE_BYTES),
            stderr_tail: Vec::new(),
            result_error: None,
        }
    }

    async fn chunk(&mut self, chunk: ExecChunk) {
        match chunk {
            ExecChunk::Stdout(bytes) => {
                for line in self.stdout.push(&bytes) {
                    self.line(line).await;
                }
            }
            ExecChunk::Stderr(bytes) => self.keep_stderr(&bytes),
        }
    }

    async fn finish(&mut self) {
        if let Some(rest) = self.stdout.finish() {
            self.line(Line::Complete(rest)).await;
        }
    }

    async fn line(&mut self, line: Line) {
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong => {
                let message = format!("the agent printed a line longer than {MAX_LINE_BYTES} bytes; it was dropped");
                let _ = self.events.send(RunEvent::Error { code: "event_too_large", message }).await;
                return;
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(event) => {
                if event["type"] == "result" && event["is_error"] == true {
                    self.result_error = Some(event["result"].as_str().unwrap_or("the model request failed").to_string());
                }
                let _ = self.events.send(RunEvent::Event(event)).await;
            }
            Err(_) => {
                // Not an event: keep it for the error message like stderr.
                self.keep_stderr(&Bytes::from(bytes));
            }
        }
    }

    fn keep_stderr(&mut self, bytes: &[u8]) {
        self.stderr_tail.extend_from_slice(bytes);
        if self.stderr_tail.len() > STDERR_TAIL_BYTES {
            let cut = self.stderr_tail.len() - STDERR_TAIL_BYTES;
            self.stderr_tail.drain(..cut);
        }
    }

    /// Returns the error to report for a finished run, if it failed.
    fn failure(&self, exit_code: i64) -> Option<(&'static str, String)> {
        if let Some(text) = &self.result_error {
            return Some(("model_error", text.clone()));
        }
        if exit_code == 0 {
            return None;
        }
        let stderr = String::from_utf8_lossy(&self.stderr_tail).trim().to_string();
        let message = if stderr.is_empty() {
            format!("the agent exited with code {exit_code}")
        } else {
            format!("the agent exited with code {exit_code}: {stderr}")
        };
        Some(("agent_failed", message))
    }
}
