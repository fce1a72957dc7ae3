use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cchub_store::{AuditEvent, User};
use futures_util::StreamExt;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::auth::{authenticate, error_message, protocol_token, send_json, PROTOCOL};
use crate::agent::{run_agent, AgentCommand, RunContext, RunEvent};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest client message, in bytes (a prompt plus JSON framing).
const MAX_CLIENT_MESSAGE: usize = 512 * 1024;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Auth {
        #[allow(dead_code)]
        token: String,
    },
    Prompt {
        text: String,
        session_id: Option<String>,
        model: Option<String>,
        permission_mode: Option<String>,
    },
    Abort,
    Ping,
    /// Starts the next prompt in a fresh session instead of continuing the current one.
    NewSession,
}

/// `GET /ws/chat`: prompts in, the agent's stream-json events out.
pub async fn chat(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let token = protocol_token(&headers);
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(state, socket, token))
}

async fn session(state: AppState, socket: WebSocket, token: Option<String>) {
    let (mut sink, mut stream) = socket.split();
    let Some(user) = authenticate(&state, token, &mut sink, &mut stream).await else {
        return;
    };
    if !send_json(&mut sink, json!({"type": "ready", "user": user.username})).await {
        return;
    }
    debug!(user_id = user.id, "chat socket open");

    let (events, mut receiver) = mpsc::channel::<RunEvent>(256);
    // The session the last run used; a prompt without a session id continues it.
    let mut current_session: Option<String> = None;
    loop {
        tokio::select! {
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        let error = ApiError::bad_request("invalid_message", "send JSON text messages");
                        if !send_json(&mut sink, error_message(&error)).await { break; }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if let Some(reply) = handle_message(&state, &user, &text, &events, &mut current_session).await {
                    if !send_json(&mut sink, reply).await { break; }
                }
            }
            Some(event) = receiver.recv() => {
                if let RunEvent::Event(value) = &event {
                    if value["type"] == "system" && value["subtype"] == "init" {
                        if let Some(id) = value["session_id"].as_str() {
                            current_session = Some(id.to_string());
                        }
                    }
                }
                if !send_json(&mut sink, event_message(event)).await { break; }
            }
        }
    }

    // NOTE: a closed socket ends the user's run; following a run across reconnects
    // needs the events kept on the hub, which is not built yet.
    if state.runs.abort(user.id) {
        info!(user_id = user.id, "chat socket closed during a run; aborting it");
    }
}

fn event_message(event: RunEvent) -> serde_json::Value {
    match event {
        RunEvent::Event(event) => json!({"type": "event", "event": event}),
        RunEvent::Error { code, message } => json!({"type": "error", "code": code, "message": message}),
        RunEvent::Done { exit_code, aborted } => json!({"type": "done", "exit_code": exit_code, "aborted": aborted}),
    }
}

/// Handles one client message; returns an immediate reply, if any.
async fn handle_message(
    state: &AppState,
    user: &User,
    text: &str,
    events: &mpsc::Sender<RunEvent>,
    current_session: &mut Option<String>,
) -> Option<serde_json::Value> {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => {
            let error = ApiError::bad_request(
                "invalid_message",
                format!("the message is not a valid prompt, abort or ping: {err}"),
            );
            return Some(error_message(&error));
        }
    };
    match message {
        ClientMessage::Ping => Some(json!({"type": "pong"})),
        ClientMessage::NewSession => {
            *current_session = None;
            Some(json!({"type": "session_reset"}))
        }
        ClientMessage::Auth { .. } => None,
        ClientMessage::Abort => {
            if state.runs.abort(user.id) {
                None
            } else {
                Some(error_message(&ApiError::conflict("no_active_run", "there is no run to abort")))
            }
        }
        ClientMessage::Prompt { text, session_id, model, permission_mode } => {
            // The socket was authenticated when it opened; a disable, password change or
            // role change since then ends what it may do.
            if let Err(error) = still_valid(state, user).await {
                return Some(error_message(&error));
            }
            let session_id = session_id.or_else(|| current_session.clone());
            let command = match AgentCommand::from_request(&state.config, text, session_id, model, permission_mode) {
                Ok(command) => command,
                Err(error) => return Some(error_message(&error)),
            };
            if let Some(session) = &command.session {
                if let Err(error) = check_session(state, user, session).await {
                    return Some(error_message(&error));
                }
            }
            start_run(state, user, command, events.clone())
        }
    }
}

/// Refuses to resume a session the user does not have, before any process starts.
async fn check_session(state: &AppState, user: &User, session: &crate::agent::SessionId) -> Result<(), ApiError> {
    let home = state.workspaces.prepare_dirs(user.id)?.home;
    let lookup = session.clone();
    let exists = tokio::task::spawn_blocking(move || crate::sessions::session_exists(&home, &lookup))
        .await
        .map_err(|e| ApiError::internal("looking up a session", e))?
        .map_err(|e| ApiError::internal("looking up a session", e))?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found("session_not_found", format!("you have no session {}; send the prompt without session_id to start one", session.as_str())))
    }
}

async fn still_valid(state: &AppState, user: &User) -> Result<(), ApiError> {
    let current = state.store.user_by_id(user.id).await?;
    match current {
        Some(current) if !current.disabled && current.token_version == user.token_version => Ok(()),
        Some(current) if current.disabled => Err(ApiError::unauthorized("account_disabled", "this account is disabled; ask an administrator")),
        _ => Err(ApiError::unauthorized("token_revoked", "the session was ended; sign in again")),
    }
}

fn start_run(state: &AppState, user: &User, command: AgentCommand, events: mpsc::Sender<RunEvent>) -> Option<serde_json::Value> {
    let run_id = format!("{:016x}", rand::thread_rng().gen::<u64>());
    let Some(guard) = state.runs.try_start(user.id, &run_id) else {
        let error = ApiError::conflict("run_in_progress", "a run is already in progress; wait for it to finish or abort it");
        return Some(error_message(&error));
    };

    let state = state.clone();
    let user = user.clone();
    tokio::spawn(async move {
        let outcome = match state.workspaces.ensure_running(&user).await {
            Ok(outcome) => outcome,
            Err(error) => {
                drop(guard);
                let _ = events.send(RunEvent::Error { code: error.code, message: error.message }).await;
                let _ = events.send(RunEvent::Done { exit_code: -1, aborted: false }).await;
                return;
            }
        };
        let context = RunContext {
            runtime: state.workspaces.runtime().as_ref(),
            container_id: &outcome.info.id,
            run_id: guard.run_id(),
            program: &state.config.model.agent_command,
            max_retries: state.config.model.max_retries,
        };
        let abort = guard.abort.clone();
        let result = run_agent(context, &command, events.clone(), abort).await;
        let run_id = guard.run_id().to_string();
        // Free the slot before `done`, so a prompt sent right after it is accepted.
        drop(guard);
        let _ = events.send(RunEvent::Done { exit_code: result.exit_code, aborted: result.aborted }).await;
        state
            .audit(AuditEvent {
                actor_id: Some(user.id),
                actor: Some(user.username.to_string()),
                action: "agent.run",
                target: Some(outcome.info.name.clone()),
                outcome: if result.exit_code == 0 { "success" } else { "failure" },
                detail: Some(json!({"run_id": run_id, "exit_code": result.exit_code, "aborted": result.aborted,
                    "resumed_session": command.session.as_ref().map(|s| s.as_str())})),
                ..AuditEvent::default()
            })
            .await;
    });
    Some(json!({"type": "started", "run_id": run_id}))
}
