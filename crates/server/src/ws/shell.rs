use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cchub_policy::{CONTAINER_GID, CONTAINER_UID, CONTAINER_WORKSPACE};
use cchub_runtime::{ContainerRuntime, ExecRequest};
use cchub_store::AuditEvent;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info, warn};

use super::auth::{authenticate, error_message, protocol_token, send_json, PROTOCOL};
use crate::error::ApiError;
use crate::state::AppState;
use crate::terminal::{Utf8Carry, MAX_COLS, MAX_ROWS};
use crate::workspace::{kill_marked, next_notice};

/// Environment variable that marks every process of one terminal session.
const SHELL_MARKER: &str = "CCHUB_SHELL_ID";
/// Largest input frame, in bytes (a big paste).
const MAX_CLIENT_MESSAGE: usize = 1 << 20;
/// How long a cut-off UTF-8 sequence is held before it is sent as it is. The rest of a
/// character normally follows within microseconds, but a busy host can pause the
/// container's output for tens of milliseconds. Only output that is not UTF-8 waits
/// this long, and only for its last three bytes.
const CARRY_FLUSH: Duration = Duration::from_millis(500);
/// How long a shell that ended waits for a notice that explains why.
const NOTICE_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ControlMessage {
    Resize { cols: u16, rows: u16 },
    Ping,
}

/// `GET /ws/shell`: bash in the user's container; binary frames carry terminal bytes both
/// ways, JSON text frames carry `resize` and `ping`.
pub async fn shell(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
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
    let container = match state.workspaces.ensure_running(&user).await {
        Ok(outcome) => outcome.info,
        Err(error) => {
            let _ = send_json(&mut sink, error_message(&error)).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };

    let shell_id = format!("{:016x}", rand::thread_rng().gen::<u64>());
    let marker = format!("{SHELL_MARKER}={shell_id}");
    let request = ExecRequest {
        cmd: vec!["bash".into(), "-l".into()],
        env: vec!["TERM=xterm-256color".into(), marker.clone()],
        working_dir: Some(CONTAINER_WORKSPACE.into()),
        user: Some(format!("{CONTAINER_UID}:{CONTAINER_GID}")),
        ..ExecRequest::default()
    };
    let runtime = state.workspaces.runtime().clone();
    let tty = match runtime.exec_tty(&container.id, request).await {
        Ok(tty) => tty,
        Err(err) => {
            warn!(user_id = user.id, error = %err, "cannot start a terminal");
            let error = ApiError::unavailable("terminal_failed", "the terminal could not be started in your workspace; try again");
            let _ = send_json(&mut sink, error_message(&error)).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };
    let _open = state.workspaces.busy(user.id);
    let _counted = crate::metrics::metrics().socket_opened(crate::metrics::Socket::Shell);
    info!(user_id = user.id, shell_id = %shell_id, "terminal opened");
    state
        .audit(AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action: "terminal.open",
            target: Some(container.name.clone()),
            outcome: "success",
            detail: Some(json!({"shell_id": shell_id})),
            ..AuditEvent::default()
        })
        .await;
    if !send_json(&mut sink, json!({"type": "ready", "shell_id": shell_id})).await {
        kill_marked(runtime.as_ref(), &container.id, &marker).await;
        return;
    }

    let exec_id = tty.exec_id.clone();
    let mut notices = state.workspaces.notices().subscribe(user.id);
    let mut output = tty.output;
    let mut input = tty.input;
    let mut carry = Utf8Carry::default();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut exited = false;
    loop {
        tokio::select! {
            read = output.read(&mut buffer) => match read {
                Ok(0) | Err(_) => {
                    exited = true;
                    break;
                }
                Ok(n) => {
                    let bytes = carry.push(&buffer[..n]);
                    if !bytes.is_empty() && sink.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
            },
            notice = next_notice(&mut notices) => {
                // Shown in the terminal itself, on a line of its own, and as a JSON message
                // for a page that draws its own banner.
                let mut line = carry.flush();
                line.extend_from_slice(notice_line(&notice).as_bytes());
                if sink.send(Message::Binary(line.into())).await.is_err() || !send_json(&mut sink, notice.to_message()).await {
                    break;
                }
            }
            _ = tokio::time::sleep(CARRY_FLUSH), if carry.has_pending() => {
                if sink.send(Message::Binary(carry.flush().into())).await.is_err() {
                    break;
                }
            }
            message = stream.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    state.workspaces.touch(user.id);
                    if input.write_all(&bytes).await.is_err() {
                        exited = true;
                        break;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    let reply = control(runtime.as_ref(), &exec_id, &text).await;
                    if let Some(reply) = reply {
                        if !send_json(&mut sink, reply).await {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }

    if exited {
        let rest = carry.flush();
        if !rest.is_empty() {
            let _ = sink.send(Message::Binary(rest.into())).await;
        }
        // A shell killed by a signal may have died with its container (out of memory, say).
        // The container's event arrives just after, so a short wait lets the notice explain
        // why the terminal closed.
        let code = runtime.exec_exit_code(&exec_id).await.ok().flatten();
        let killed = code.is_none_or(|code| code >= 128);
        let explained = if killed { tokio::time::timeout(NOTICE_GRACE, next_notice(&mut notices)).await.ok() } else { None };
        if let Some(notice) = explained {
            let _ = sink.send(Message::Binary(notice_line(&notice).into_bytes().into())).await;
            let _ = send_json(&mut sink, notice.to_message()).await;
        }
        let _ = send_json(&mut sink, json!({"type": "exit", "code": code})).await;
        let _ = sink.send(Message::Close(None)).await;
    }
    // The engine keeps an exec running after its client goes away; end the shell and
    // everything started from it.
    kill_marked(runtime.as_ref(), &container.id, &marker).await;
    debug!(user_id = user.id, shell_id = %shell_id, "terminal closed");
}

/// Formats a notice as terminal output: its own line, in bold yellow.
fn notice_line(notice: &crate::workspace::Notice) -> String {
    format!("\r\n\x1b[1;33m[cchub] {}\x1b[0m\r\n", notice.message)
}

/// Handles one JSON control message; returns a reply for the client, if any.
async fn control<R: ContainerRuntime>(runtime: &R, exec_id: &str, text: &str) -> Option<serde_json::Value> {
    match serde_json::from_str::<ControlMessage>(text) {
        Ok(ControlMessage::Ping) => Some(json!({"type": "pong"})),
        Ok(ControlMessage::Resize { cols, rows }) => {
            if cols == 0 || rows == 0 || cols > MAX_COLS || rows > MAX_ROWS {
                let error = ApiError::bad_request(
                    "invalid_size",
                    format!("a terminal size must be 1 to {MAX_COLS} columns and 1 to {MAX_ROWS} rows, got {cols}x{rows}"),
                );
                return Some(error_message(&error));
            }
            if let Err(err) = runtime.resize_exec(exec_id, cols, rows).await {
                warn!(exec_id, error = %err, "terminal resize failed");
            }
            None
        }
        Err(err) => {
            let error = ApiError::bad_request(
                "invalid_message",
                format!("text frames must be a resize or ping message ({err}); send terminal input as binary frames"),
            );
            Some(error_message(&error))
        }
    }
}
