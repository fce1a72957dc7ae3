//! Folder creation, rename, delete, upload and download.

use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::warn;

use super::files::{file_error, on_workspace, parse_path, PathQuery};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::files::{begin_upload, delete_entry, make_dir, open_for_download, rename_entry, WorkspacePath};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MkdirRequest {
    path: String,
    parents: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    from: String,
    to: String,
    overwrite: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    path: Option<String>,
    recursive: Option<bool>,
}

fn parse(raw: &str) -> ApiResult<WorkspacePath> {
    WorkspacePath::parse(raw).map_err(|m| ApiError::bad_request("invalid_path", m))
}

fn chown() -> bool {
    rustix::process::geteuid().is_root()
}

/// `POST /api/files/mkdir`
pub async fn mkdir(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiJson(request): ApiJson<MkdirRequest>) -> ApiResult<(StatusCode, Json<Value>)> {
    let path = parse(&request.path)?;
    let shown = path.display();
    let parents = request.parents.unwrap_or(false);
    on_workspace(&state, &user, move |root| make_dir(root, &path, parents, chown())).await?;
    super::files::audit_file(&state, &user, "file.mkdir", shown.clone(), None).await;
    Ok((StatusCode::CREATED, Json(json!({"path": shown}))))
}

/// `POST /api/files/rename`
pub async fn rename(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiJson(request): ApiJson<RenameRequest>) -> ApiResult<Json<Value>> {
    let from = parse(&request.from)?;
    let to = parse(&request.to)?;
    let shown = to.display();
    let old = from.display();
    let overwrite = request.overwrite.unwrap_or(false);
    on_workspace(&state, &user, move |root| rename_entry(root, &from, &to, overwrite)).await?;
    super::files::audit_file(&state, &user, "file.rename", shown.clone(), Some(json!({"from": old}))).await;
    Ok(Json(json!({"path": shown})))
}

/// `DELETE /api/files?path=&recursive=`
pub async fn delete(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<DeleteQuery>) -> ApiResult<StatusCode> {
    let path = parse(query.path.as_deref().unwrap_or(""))?;
    let shown = path.display();
    let recursive = query.recursive.unwrap_or(false);
    on_workspace(&state, &user, move |root| delete_entry(root, &path, recursive)).await?;
    super::files::audit_file(&state, &user, "file.delete", shown, Some(json!({"recursive": recursive}))).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/files/download?path=`: the file's bytes, streamed.
pub async fn download(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<PathQuery>) -> ApiResult<Response> {
    let path = parse_path(&query)?;
    let name = path.split().map(|(_, name)| name).unwrap_or_default();
    let (file, size) = on_workspace(&state, &user, move |root| open_for_download(root, &path)).await?;
    let file = tokio::fs::File::from_std(file);
    // The guard travels with the body, so the workspace counts as busy until the last
    // byte is sent or the client goes away.
    let busy = state.workspaces.busy(user.id);
    let stream = futures_util::stream::unfold((file, busy), |(mut file, busy)| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buffer)), (file, busy)))
            }
            Err(err) => Some((Err(err), (file, busy))),
        }
    });
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename*=UTF-8''{encoded}")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /api/files/upload?path=FOLDER`: multipart files, each streamed to disk and
/// moved into place only when complete.
pub async fn upload(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(query): ApiQuery<PathQuery>, multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>) -> ApiResult<Json<Value>> {
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::bad_request("invalid_form", format!("send the files as multipart/form-data, one part named file per file ({})", rejection.body_text()))
    })?;
    let folder = parse_path(&query)?;
    let _busy = state.workspaces.busy(user.id);
    let limit = state.config.server.max_upload_size.as_u64();
    let root = state.workspaces.prepare_dirs(&user).await?.workspace;
    let bad_form = |err: axum::extract::multipart::MultipartError| {
        ApiError::bad_request("invalid_upload", format!("the upload is not a valid multipart form: {}", err.body_text()))
    };

    let mut uploaded = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        let Some(name) = field.file_name().map(str::to_string) else {
            return Err(ApiError::bad_request("invalid_upload", "every part needs a file name (Content-Disposition filename)"));
        };
        let (start_root, start_folder, start_name) = (root.clone(), folder.clone(), name.clone());
        let upload = tokio::task::spawn_blocking(move || begin_upload(&start_root, &start_folder, &start_name))
            .await
            .map_err(|e| ApiError::internal("starting an upload", e))?
            .map_err(file_error)?;
        let mut file = tokio::fs::File::from_std(upload.file.try_clone().map_err(|e| ApiError::internal("starting an upload", e))?);

        let mut size: u64 = 0;
        let written = loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > limit {
                        break Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", format!("{name} is larger than the upload limit of {limit} bytes")));
                    }
                    if let Err(err) = file.write_all(&chunk).await {
                        warn!(user_id = user.id, error = %err, "upload write failed");
                        if super::files::is_disk_full(&err) {
                            break Err(ApiError::new(
                                StatusCode::INSUFFICIENT_STORAGE,
                                "disk_full",
                                format!("{name} does not fit: your workspace disk is full; delete files or ask an administrator for a larger tier"),
                            ));
                        }
                        break Err(ApiError::internal("writing an upload", err));
                    }
                }
                Ok(None) => {
                    break file.flush().await.map_err(|e| {
                        if super::files::is_disk_full(&e) {
                            ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", format!("{name} does not fit: your workspace disk is full"))
                        } else {
                            ApiError::internal("writing an upload", e)
                        }
                    })
                }
                Err(err) => break Err(bad_form(err)),
            }
        };
        drop(file);
        if let Err(error) = written {
            tokio::task::spawn_blocking(move || upload.abandon()).await.ok();
            return Err(error);
        }
        let path = tokio::task::spawn_blocking(move || upload.commit(chown()))
            .await
            .map_err(|e| ApiError::internal("finishing an upload", e))?
            .map_err(file_error)?;
        super::files::audit_file(&state, &user, "file.upload", path.display(), Some(json!({"size": size}))).await;
        uploaded.push(json!({"path": path.display(), "size": size}));
    }
    if uploaded.is_empty() {
        return Err(ApiError::bad_request("invalid_upload", "the form contains no file"));
    }
    Ok(Json(json!({"files": uploaded})))
}
