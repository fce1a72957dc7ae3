use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cchub_runtime::ContainerRuntime;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

const OPENAPI: &str = include_str!("../../openapi.json");

/// Liveness: the process responds.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database and the container engine respond.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let engine = state.workspaces.runtime().list_managed(&state.config.containers.instance).await.is_ok();
    let status = if database && engine { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"database": database, "engine": engine}))).into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found("route_not_found", format!("no such endpoint: {}; see /api/openapi.json", uri.path()))
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method; see /api/openapi.json")
}
