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

    let (events, mut receiver) = mpsc::channel::<RunEvent>(256);
    let log = run.clone();
    let writer = tokio::spawn(async move {
        while let Some(event) = receiver.recv().await {
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
