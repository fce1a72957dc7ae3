use axum::extract::State;
use axum::Json;
use base64::Engine;
use cchub_store::User;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::files::{list_dir, read_file, write_file, FileError, WorkspacePath};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    pub(super) path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    content: String,
    /// `utf-8` (default) or `base64`.
    encoding: Option<String>,
}

pub(super) fn parse_path(query: &PathQuery) -> ApiResult<WorkspacePath> {
    WorkspacePath::parse(query.path.as_deref().unwrap_or("")).map_err(|m| ApiError::bad_request("invalid_path", m))
}

pub(super) fn file_error(err: FileError) -> ApiError {
    let message = err.to_string();
    match err {
        FileError::NotFound(_) => ApiError::not_found("not_found", message),
        FileError::Escapes(_) => ApiError::forbidden("path_outside_workspace", message),
        FileError::IsDirectory(_) => ApiError::bad_request("is_a_directory", message),
        FileError::NotDirectory(_) => ApiError::bad_request("not_a_directory", message),
        FileError::NotRegular(_) => ApiError::bad_request("not_a_regular_file", message),
        FileError::TooLarge { .. } => ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", message),
        FileError::NoWorkspace => ApiError::not_found("workspace_missing", "your workspace folder does not exist yet; start the workspace first"),
        FileError::Exists(_) => ApiError::conflict("already_exists", message),
        FileError::NotEmpty(_) => ApiError::conflict("not_empty", message),
        FileError::IsRoot => ApiError::bad_request("is_root", message),
        FileError::InvalidName(_) => ApiError::bad_request("invalid_name", message),
        FileError::Io { ref source, .. } if is_disk_full(source) => ApiError::new(
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            "your workspace disk is full; delete files or ask an administrator for a larger tier",
        ),
        FileError::Io { .. } => ApiError::internal("file operation", message),
    }
}

/// Records a change the files API made, with the workspace path as target.
pub(super) async fn audit_file(state: &AppState, user: &User, action: &'static str, path: String, detail: Option<Value>) {
    state
        .audit(cchub_store::AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action,
            target: Some(path),
            outcome: "success",
            detail,
            ..cchub_store::AuditEvent::default()
        })
        .await;
}

/// Checks for ENOSPC and EDQUOT, which a full disk image or quota gives.
pub(super) fn is_disk_full(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::StorageFull || err.kind() == std::io::ErrorKind::QuotaExceeded
}

/// Runs a blocking file operation on the user's workspace root.
pub(super) async fn on_workspace<T, F>(state: &AppState, user: &User, operation: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&std::path::Path) -> Result<T, FileError> + Send + 'static,
{
    let dirs = state.workspaces.prepare_dirs(user).await?;
    tokio::task::spawn_blocking(move || operation(&dirs.workspace))
        .await
        .map_err(|e| ApiError::internal("file operation", e))?
        .map_err(file_error)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeQuery {
    path: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// Most entries one page of a listing returns.
const MAX_PAGE: usize = 5_000;

/// `GET /api/files/tree?path=&offset=&limit=`: one folder's entries (folders first), a
/// page at a time, so a client loads the tree folder by folder.
pub async fn tree(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<TreeQuery>) -> ApiResult<Json<Value>> {
    let path = WorkspacePath::parse(query.path.as_deref().unwrap_or("")).map_err(|m| ApiError::bad_request("invalid_path", m))?;
    let limit = query.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}, got {limit}")));
    }
    let offset = query.offset.unwrap_or(0);
    let shown = path.display();
    let listing = on_workspace(&state, &user, move |root| list_dir(root, &path, offset, limit)).await?;
    Ok(Json(json!({"path": shown, "entries": listing.entries, "total": listing.total, "offset": offset, "truncated": listing.truncated})))
}

/// `GET /api/files/content?path=`: UTF-8 text as is, anything else as base64.
pub async fn read(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<PathQuery>) -> ApiResult<Json<Value>> {
    let path = parse_path(&query)?;
    let shown = path.display();
    let limit = state.config.server.max_file_size.as_u64();
    let content = on_workspace(&state, &user, move |root| read_file(root, &path, limit)).await?;
    let size = content.bytes.len();
    let (text, encoding) = match String::from_utf8(content.bytes) {
        Ok(text) => (text, "utf-8"),
        Err(err) => (base64::engine::general_purpose::STANDARD.encode(err.into_bytes()), "base64"),
    };
    Ok(Json(json!({"path": shown, "content": text, "encoding": encoding, "size": size, "modified": content.modified})))
}

/// `PUT /api/files/content?path=`: replaces the file atomically.
pub async fn write(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<PathQuery>, ApiJson(request): ApiJson<WriteRequest>) -> ApiResult<Json<Value>> {
    let path = parse_path(&query)?;
    let shown = path.display();
    let bytes = match request.encoding.as_deref() {
        None | Some("utf-8") => request.content.into_bytes(),
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(request.content.as_bytes())
            .map_err(|e| ApiError::bad_request("invalid_base64", format!("content is not valid base64: {e}")))?,
        Some(other) => return Err(ApiError::bad_request("invalid_encoding", format!("encoding {other:?} is not utf-8 or base64"))),
    };
    let limit = state.config.server.max_file_size.as_u64();
    if bytes.len() as u64 > limit {
        return Err(ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", format!("the file is {} bytes; the limit is {limit}", bytes.len())));
    }
    let chown = rustix::process::geteuid().is_root();
    let size = bytes.len();
    let written = on_workspace(&state, &user, move |root| write_file(root, &path, &bytes, chown)).await?;
    audit_file(&state, &user, "file.write", shown, Some(json!({"size": size}))).await;
    Ok(Json(json!(written)))
}
