//! Starting a run in the background and forwarding its log to a socket.

use std::sync::Arc;

use cchub_policy::TierName;
use cchub_store::{AuditEvent, User};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::agent::{run_agent, AgentCommand, ReadOutcome, Run, RunContext, RunEvent};
use crate::error::ApiError;
use crate::state::AppState;

fn event_message(event: RunEvent) -> Value {
    match event {
        RunEvent::Event(event) => json!({"type": "event", "event": event}),
        RunEvent::Error { code, message } => json!({"type": "error", "code": code, "message": message}),
        RunEvent::Done { exit_code, aborted } => json!({"type": "done", "exit_code": exit_code, "aborted": aborted}),
    }
}

/// Registers a run within the user's tier limit, starts it in the background and makes
/// `outgoing` follow it; returns the run id.
pub fn start(state: &AppState, user: &User, command: AgentCommand, outgoing: mpsc::Sender<Value>) -> Result<String, ApiError> {
    let limit = TierName::parse(&user.tier)
        .ok()
        .and_then(|tier| state.config.resources.tier(&tier).map(|t| t.max_runs))
        .unwrap_or(1);
    let run_id = format!("{:016x}", rand::thread_rng().gen::<u64>());
    let run = state.runs.start(user.id, &run_id, limit).map_err(|reached| {
        ApiError::conflict(
            "run_in_progress",
            format!("your tier allows {} run(s) at once; wait for one to finish or abort it", reached.limit),
        )
    })?;
    forward(run.clone(), 0, outgoing);

    let state = state.clone();
    let user = user.clone();
    tokio::spawn(async move { execute(state, user, command, run).await });
    Ok(run_id)
}

/// Returns the tool calls in one Claude Code event: the tool's name and its command, file
/// path or pattern.
fn tool_calls(event: &Value) -> Vec<(String, String)> {
    if event["type"] != "assistant" {
        return Vec::new();
    }
    event["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "tool_use")
        .map(|block| {
            let input = &block["input"];
            let summary = ["command", "file_path", "path", "pattern", "url"].iter().find_map(|key| input[*key].as_str()).unwrap_or_default();
            // Commands can be long; the audit row keeps their start.
            let summary: String = summary.chars().take(MAX_AUDITED_INPUT).collect();
            (block["name"].as_str().unwrap_or("unknown").to_string(), summary)
        })
        .collect()
}

/// Characters of a tool's command or path kept in its audit row.
const MAX_AUDITED_INPUT: usize = 2000;

async fn audit_run(state: &AppState, user: &User, action: &'static str, run_id: &str, detail: Value) {
    let mut detail = detail;
    detail["run_id"] = Value::from(run_id);
    state
        .audit(AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action,
            target: Some(run_id.to_string()),
            outcome: "success",
            detail: Some(detail),
            ..AuditEvent::default()
        })
        .await;
}

/// Runs the agent and writes everything it produces into the run's log.
async fn execute(state: AppState, user: User, command: AgentCommand, run: Arc<Run>) {
    let started = std::time::Instant::now();
    crate::metrics::metrics().run_started();
    let outcome = match state.workspaces.ensure_running(&user).await {
        Ok(outcome) => outcome,
        Err(error) => {
            run.push(event_message(RunEvent::Error { code: error.code, message: error.message }));
            run.finish_with(event_message(RunEvent::Done { exit_code: -1, aborted: false }));
            crate::metrics::metrics().run_ended("failed", started.elapsed());
            return;
        }
    };

    audit_run(&state, &user, "agent.run_start", &run.id, serde_json::json!({"session_id": command.session.as_ref().map(|s| s.as_str())})).await;
    let (events, mut receiver) = mpsc::channel::<RunEvent>(256);
    let log = run.clone();
    let (audit_state, audit_user, run_id) = (state.clone(), user.clone(), run.id.clone());
    let writer = tokio::spawn(async move {
        while let Some(event) = receiver.recv().await {
            if let RunEvent::Event(value) = &event {
                for (tool, summary) in tool_calls(value) {
                    audit_run(&audit_state, &audit_user, "agent.tool", &run_id, serde_json::json!({"tool": tool, "input": summary})).await;
                }
            }
            log.push(event_message(event));
        }
    });
    let context = RunContext {
        runtime: state.workspaces.runtime().as_ref(),
        container_id: &outcome.info.id,
        run_id: &run.id,
        program: &state.config.model.agent_command,
        max_retries: state.config.model.max_retries,
    };
    let result = run_agent(context, &command, events, run.abort_signal()).await;
    let _ = writer.await;

    run.finish_with(event_message(RunEvent::Done { exit_code: result.exit_code, aborted: result.aborted }));
    let ending = match (result.aborted, result.exit_code) {
        (true, _) => "aborted",
        (false, 0) => "finished",
        _ => "failed",
    };
    crate::metrics::metrics().run_ended(ending, started.elapsed());
    state.workspaces.touch(user.id);
    state
        .audit(AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action: "agent.run",
            target: Some(outcome.info.name.clone()),
            outcome: if result.exit_code == 0 { "success" } else { "failure" },
            detail: Some(json!({"run_id": run.id, "exit_code": result.exit_code, "aborted": result.aborted,
                "session_id": run.session_id(), "resumed_session": command.session.as_ref().map(|s| s.as_str())})),
            ..Default::default()
        })
        .await;
}

/// Sends the run's messages numbered above `after` to `outgoing`, each with its run id
/// and number, until the run ends or the socket goes away.
pub fn forward(run: Arc<Run>, after: u64, outgoing: mpsc::Sender<Value>) {
    tokio::spawn(async move {
        let mut reader = run.reader(after);
        loop {
            let message = match reader.next().await {
                ReadOutcome::Message(seq, mut message) => {
                    message["run_id"] = json!(run.id);
                    message["seq"] = json!(seq);
                    message
                }
                ReadOutcome::Gap(up_to) => json!({"type": "error", "code": "events_dropped", "run_id": run.id,
                    "message": format!("messages up to {up_to} are no longer kept; the run's later messages follow")}),
                ReadOutcome::Finished => break,
            };
            if outgoing.send(message).await.is_err() {
                break;
            }
        }
    });
}
