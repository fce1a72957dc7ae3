use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::agent::SessionId;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::sessions::{list_sessions, read_messages};
use crate::state::AppState;

/// `GET /api/sessions`: the user's Claude Code sessions, the most recent first.
pub async fn list(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let home = state.workspaces.prepare_dirs(&user).await?.home;
    let sessions = tokio::task::spawn_blocking(move || list_sessions(&home))
        .await
        .map_err(|e| ApiError::internal("listing sessions", e))?
        .map_err(|e| ApiError::internal("listing sessions", e))?;
    Ok(Json(json!({"sessions": sessions})))
}

/// `GET /api/runs`: the user's agent runs, running or recently finished, newest first;
/// a reconnecting client attaches to one with `{"type":"attach","run_id":…}`.
pub async fn runs(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(json!({"runs": state.runs.list(user.id)}))
}

/// `GET /api/sessions/{id}/messages`: one session's history.
pub async fn messages(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    let id = SessionId::parse(&id)?;
    let home = state.workspaces.prepare_dirs(&user).await?.home;
    let lookup = id.clone();
    let messages = tokio::task::spawn_blocking(move || read_messages(&home, &lookup))
        .await
        .map_err(|e| ApiError::internal("reading a session", e))?
        .map_err(|e| ApiError::internal("reading a session", e))?
        .ok_or_else(|| ApiError::not_found("session_not_found", format!("you have no session {}", id.as_str())))?;
    Ok(Json(json!({"id": id.as_str(), "messages": messages})))
}
