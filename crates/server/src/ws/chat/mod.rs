//! `/ws/chat`: prompts in, the agent's stream-json events out.
//!
//! A run belongs to the user, not to the socket: closing the socket leaves it running,
//! and any socket of the user can attach to it again by its id.

mod run;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cchub_store::User;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::debug;

use super::auth::{authenticate, error_message, protocol_token, send_json, PROTOCOL};
use crate::agent::AgentCommand;
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
    /// Follows a run again after a reconnect, from the message after `after_seq`.
    Attach {
        run_id: String,
        after_seq: Option<u64>,
    },
    /// Stops `run_id`, or every run of the user when it is missing.
    Abort {
        run_id: Option<String>,
    },
    Ping,
    /// Starts the next prompt in a fresh session instead of continuing the current one.
    NewSession,
}

/// `GET /ws/chat`
pub async fn chat(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let token = protocol_token(&headers);
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(state, socket, token))
}

/// The state one socket keeps between messages.
struct SocketState {
    user: User,
    /// Messages from the runs this socket follows.
    outgoing: mpsc::Sender<serde_json::Value>,
    /// The session the last run used; a prompt without a session id continues it.
    current_session: Option<String>,
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
    let _counted = crate::metrics::metrics().socket_opened(crate::metrics::Socket::Chat);

    let mut notices = state.workspaces.notices().subscribe(user.id);
    let (outgoing, mut receiver) = mpsc::channel::<serde_json::Value>(256);
    let mut socket_state = SocketState {
        user,
        outgoing,
        current_session: None,
    };
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
                    Some(Err(err)) => {
                        // An oversized message is the one read error a client can fix, so it
                        // gets an error event and close code 1009 (message too big).
                        debug!(user_id = socket_state.user.id, error = %err, "chat socket read failed");
                        if err.to_string().contains("too long") {
                            let error = ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "message_too_large", format!("a chat message may have at most {} KiB", MAX_CLIENT_MESSAGE / 1024));
                            let _ = send_json(&mut sink, error_message(&error)).await;
                            let frame = axum::extract::ws::CloseFrame { code: 1009, reason: "message_too_large".into() };
                            let _ = futures_util::SinkExt::send(&mut sink, Message::Close(Some(frame))).await;
                        }
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                };
                state.workspaces.touch(socket_state.user.id);
                if let Some(reply) = handle_message(&state, &mut socket_state, &text).await {
                    if !send_json(&mut sink, reply).await { break; }
                }
            }
            notice = crate::workspace::next_notice(&mut notices) => {
                if !send_json(&mut sink, notice.to_message()).await { break; }
            }
            Some(message) = receiver.recv() => {
                if message["type"] == "event" && message["event"]["type"] == "system" && message["event"]["subtype"] == "init" {
                    if let Some(id) = message["event"]["session_id"].as_str() {
                        socket_state.current_session = Some(id.to_string());
                    }
                }
                if !send_json(&mut sink, message).await { break; }
            }
        }
    }
    // Runs go on without the socket; their forwarders stop at their next message.
    debug!(user_id = socket_state.user.id, "chat socket closed");
}

/// Handles one client message; returns an immediate reply, if any.
async fn handle_message(state: &AppState, socket: &mut SocketState, text: &str) -> Option<serde_json::Value> {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => {
            let error = ApiError::bad_request(
                "invalid_message",
                format!("the message is not a valid prompt, attach, abort, new_session or ping: {err}"),
            );
            return Some(error_message(&error));
        }
    };
    let user = &socket.user;
    match message {
        ClientMessage::Ping => Some(json!({"type": "pong"})),
        ClientMessage::Auth { .. } => None,
        ClientMessage::NewSession => {
            socket.current_session = None;
            Some(json!({"type": "session_reset"}))
        }
        ClientMessage::Abort { run_id } => {
            let aborted = match run_id {
                Some(id) => state.runs.get(user.id, &id).is_some_and(|run| run.request_abort()),
                None => state.runs.abort_all(user.id) > 0,
            };
            if aborted {
                None
            } else {
                Some(error_message(&ApiError::conflict("no_active_run", "there is no run to abort")))
            }
        }
        ClientMessage::Attach { run_id, after_seq } => match state.runs.get(user.id, &run_id) {
            Some(run) => {
                let running = run.is_running();
                run::forward(run, after_seq.unwrap_or(0), socket.outgoing.clone());
                Some(json!({"type": "attached", "run_id": run_id, "running": running}))
            }
            None => Some(error_message(&ApiError::not_found("run_not_found", format!("you have no run {run_id}; list your runs with GET /api/runs")))),
        },
        ClientMessage::Prompt { text, session_id, model, permission_mode } => {
            // The socket was authenticated when it opened; a disable, password change or
            // role change since then ends what it may do.
            if let Err(error) = still_valid(state, user).await {
                return Some(error_message(&error));
            }
            let session_id = session_id.or_else(|| socket.current_session.clone());
            let command = match AgentCommand::from_request(&state.config, text, session_id, model, permission_mode) {
                Ok(command) => command,
                Err(error) => return Some(error_message(&error)),
            };
            if let Some(session) = &command.session {
                if let Err(error) = check_session(state, user, session).await {
                    return Some(error_message(&error));
                }
            }
            match run::start(state, user, command, socket.outgoing.clone()) {
                Ok(run_id) => Some(json!({"type": "started", "run_id": run_id})),
                Err(error) => Some(error_message(&error)),
            }
        }
    }
}

/// Refuses to resume a session the user does not have, before any process starts.
async fn check_session(state: &AppState, user: &User, session: &crate::agent::SessionId) -> Result<(), ApiError> {
    let home = state.workspaces.prepare_dirs(user).await?.home;
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
