use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
use cchub_store::User;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// The subprotocol the hub selects; browsers fail the handshake unless one is echoed.
pub const PROTOCOL: &str = "cchub";
const TOKEN_PROTOCOL_PREFIX: &str = "cchub.token.";
/// How long a client has to send its auth message.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// The access token offered as a subprotocol, if any.
pub fn protocol_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .find_map(|protocol| protocol.strip_prefix(TOKEN_PROTOCOL_PREFIX))
        .map(str::to_string)
}

pub async fn send_json(sink: &mut SplitSink<WebSocket, Message>, value: serde_json::Value) -> bool {
    sink.send(Message::Text(value.to_string().into())).await.is_ok()
}

pub fn error_message(error: &ApiError) -> serde_json::Value {
    let mut message = json!({"type": "error", "code": error.code, "message": error.message});
    if let (Some(fields), Some(object)) = (&error.detail, message.as_object_mut()) {
        object.extend(fields.clone());
    }
    message
}

/// Authenticates a socket from its subprotocol token or its first message; on failure
/// tells the client why and closes.
pub async fn authenticate(
    state: &AppState,
    token: Option<String>,
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
) -> Option<User> {
    let token = match token {
        Some(token) => Some(token),
        None => first_message_token(stream).await,
    };
    let result = match token {
        Some(token) => state.auth.authenticate(&token).await,
        None => Err(ApiError::unauthorized(
            "missing_token",
            "send {\"type\":\"auth\",\"token\":…} first, or offer the token as the cchub.token.<token> subprotocol",
        )),
    };
    match result {
        Ok(user) => Some(user),
        Err(error) => {
            let _ = send_json(sink, error_message(&error)).await;
            // 1008: policy violation, the close code for a rejected credential.
            let frame = CloseFrame {
                code: 1008,
                reason: error.code.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
            None
        }
    }
}

async fn first_message_token(stream: &mut SplitStream<WebSocket>) -> Option<String> {
    let message = tokio::time::timeout(AUTH_TIMEOUT, stream.next()).await.ok()??.ok()?;
    let Message::Text(text) = message else { return None };
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    if value["type"] != "auth" {
        return None;
    }
    value["token"].as_str().map(str::to_string)
}
