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

/// `GET /api/options`: the choices the page offers: models, permission modes and tiers.
pub async fn options(axum::extract::State(state): axum::extract::State<crate::state::AppState>, _user: crate::auth::CurrentUser) -> axum::Json<serde_json::Value> {
    let model = &state.config.model;
    axum::Json(serde_json::json!({
        "models": model.allowed_models,
        "permission_modes": model.allowed_permission_modes.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "default_permission_mode": model.default_permission_mode.as_str(),
        "tiers": state.config.resources.tiers.keys().map(|t| t.as_str()).collect::<Vec<_>>(),
        "default_tier": state.config.resources.default_tier.as_str(),
    }))
}

pub fn not_found_error(uri: &Uri) -> ApiError {
    ApiError::not_found("route_not_found", format!("no such endpoint: {}; see /api/openapi.json", uri.path()))
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method; see /api/openapi.json")
}

#[cfg(test)]
mod tests {
    use super::OPENAPI;

    /// Every REST route of the router, as `routes/mod.rs` registers them.
    const ROUTES: &[&str] = &[
        "/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout",
        "/api/me", "/api/me/password", "/api/options", "/api/admin/users", "/api/admin/users/{id}", "/api/admin/users/{id}/password",
        "/api/admin/audit", "/api/admin/audit/export", "/api/admin/containers", "/api/admin/containers/{id}", "/api/admin/containers/{id}/stop", "/api/admin/containers/{id}/restart", "/api/admin/doctor", "/api/admin/model-key", "/api/admin/usage", "/api/sessions", "/api/runs",
        "/api/sessions/{id}/messages", "/api/workspace", "/api/workspace/start", "/api/workspace/usage", "/api/workspace/stop",
        "/api/files/tree", "/api/files/content", "/api/files/mkdir", "/api/files/rename", "/api/files",
        "/api/files/upload", "/api/files/download",
    ];

    #[test]
    fn openapi_describes_every_route() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for route in ROUTES {
            assert!(document["paths"].get(route).is_some(), "{route} is missing from openapi.json");
        }
    }
}
