//! The HTTP API, one file per area.

mod admin;
mod admin_containers;
mod auth;
mod files;
mod files_manage;
mod meta;
mod metrics;
mod model;
mod sessions;
mod workspace;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use axum::Router;

use crate::state::AppState;

/// Returns the API's JSON 404 for a path that matches no route.
pub fn not_found_for(uri: axum::http::Uri) -> crate::error::ApiError {
    meta::not_found_error(&uri)
}
use crate::ws;

pub fn router(state: AppState) -> Router {
    let json_limit = state.config.server.max_json_body.as_u64() as usize;
    // File content travels as JSON, base64 for binary files: 4/3 of the size plus framing.
    let file_limit = (state.config.server.max_file_size.as_u64() as usize) / 3 * 4 + 64 * 1024;

    let files = Router::new()
        .route("/api/files/tree", get(files::tree))
        .route("/api/files/content", get(files::read).put(files::write))
        .layer(DefaultBodyLimit::max(file_limit));
    // Uploads are limited per file while they stream, not by buffering the body.
    let uploads = Router::new()
        .route("/api/files/upload", axum::routing::post(files_manage::upload))
        .layer(DefaultBodyLimit::disable());

    Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(meta::openapi))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/options", get(meta::options))
        .route("/api/me/password", post(auth::change_password))
        .route("/api/admin/users", get(admin::list_users).post(admin::create_user))
        .route("/api/admin/users/{id}", get(admin::get_user).merge(patch(admin::update_user)))
        .route("/api/admin/users/{id}/password", post(admin::reset_password))
        .route("/api/admin/audit", get(admin::audit))
        .route("/api/admin/audit/export", get(admin::audit_export))
        .route("/api/admin/containers", get(admin_containers::list))
        .route("/api/admin/containers/{id}", axum::routing::delete(admin_containers::remove))
        .route("/api/admin/containers/{id}/stop", post(admin_containers::stop))
        .route("/api/admin/containers/{id}/restart", post(admin_containers::restart))
        .route("/api/admin/doctor", get(admin::doctor))
        .route("/api/admin/model-key", get(model::status).put(model::set).delete(model::delete))
        .route("/api/admin/usage", get(model::usage))
        .route("/api/sessions", get(sessions::list))
        .route("/api/runs", get(sessions::runs))
        .route("/api/sessions/{id}/messages", get(sessions::messages))
        .route("/api/workspace", get(workspace::status))
        .route("/api/workspace/start", post(workspace::start))
        .route("/api/workspace/usage", get(workspace::usage))
        .route("/api/workspace/stop", post(workspace::stop))
        .route("/api/files/mkdir", post(files_manage::mkdir))
        .route("/api/files/rename", post(files_manage::rename))
        .route("/api/files", axum::routing::delete(files_manage::delete))
        .route("/api/files/download", get(files_manage::download))
        .route("/ws/chat", get(ws::chat))
        .route("/ws/shell", get(ws::shell))
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(files)
        .merge(uploads)
        .fallback(crate::web::fallback)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state)
}
