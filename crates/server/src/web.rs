//! The built web UI (`web/dist`), served from the hub's own origin. Hashed files under
//! `/assets/` are cached for a year; everything else is revalidated. Every response carries
//! a Content Security Policy that allows only this origin.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::error::ApiError;
use crate::state::AppState;

/// Scripts, styles, images and connections from this origin only. `'self'` in
/// connect-src also covers WebSockets to this origin (CSP Level 3, as browsers implement
/// it), so a script injected into the page cannot send tokens to another host.
/// Inline styles are allowed because xterm.js and CodeMirror set element styles.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Serves a request that matched no API route: a file of the UI, the UI's page for an
/// application path, or the API's JSON 404.
pub async fn fallback(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let is_api = path.starts_with("/api/") || path.starts_with("/ws/") || path == "/api" || path == "/ws";
    if is_api || !(method == Method::GET || method == Method::HEAD) {
        return crate::routes::not_found_for(uri).into_response();
    }
    let root = &state.config.server.web_dir;
    let Some(relative) = safe_relative(path) else {
        return ApiError::not_found("file_not_found", "no such file").into_response();
    };
    let file = root.join(&relative);
    let (served, cache) = if is_plain_file(&file).await {
        let cache = if relative.starts_with("assets/") { IMMUTABLE } else { "no-cache" };
        (file, cache)
    } else if relative.extension().is_none() {
        // An application path such as /files or /admin/users: the page routes it.
        (root.join("index.html"), "no-cache")
    } else {
        return ApiError::not_found("file_not_found", format!("no such file: {path}")).into_response();
    };
    match tokio::fs::read(&served).await {
        Ok(bytes) => respond(bytes, content_type(&served), cache),
        Err(err) => {
            warn!(path = %served.display(), error = %err, "web UI file missing");
            ApiError::unavailable("web_ui_missing", "the web UI is not built; run `npm ci && npm run build` in web/ or set server.web_dir").into_response()
        }
    }
}

fn respond(bytes: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Turns a URL path into a relative file path, or `None` when a segment could leave the
/// folder or name a hidden file. `/` becomes `index.html`.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Some(PathBuf::from("index.html"));
    }
    let mut relative = PathBuf::new();
    for segment in trimmed.split('/') {
        let bad = segment.is_empty() || segment.starts_with('.') || segment.contains(['\\', '\0', '%']);
        if bad {
            return None;
        }
        relative.push(segment);
    }
    Some(relative)
}

/// Checks that `path` is a regular file and not a symbolic link.
async fn is_plain_file(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok_and(|meta| meta.is_file())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        assert_eq!(safe_relative("/").unwrap(), PathBuf::from("index.html"));
        assert_eq!(safe_relative("/assets/app-1a2b.js").unwrap(), PathBuf::from("assets/app-1a2b.js"));
        for bad in ["/../secrets", "/assets/../../x", "/.env", "/a%2e%2e/b", "/a\\b"] {
            assert!(safe_relative(bad).is_none(), "{bad} must be refused");
        }
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(content_type(Path::new("index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("a.js")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
    }
}
