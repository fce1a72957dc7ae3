use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use cchub_store::{Role, User};

use crate::error::ApiError;
use crate::state::AppState;

/// The signed-in user of a request, from `Authorization: Bearer <access token>`.
pub struct CurrentUser(pub User);

/// A signed-in administrator; any other user gets 403.
pub struct AdminUser(pub User);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "sign in and send the access token as Authorization: Bearer <token>"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("invalid_token", "the Authorization header is not valid text"))?;
    // The scheme name is case-insensitive (RFC 7235, section 2.1).
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    Some(token.trim())
        .filter(|t| scheme.eq_ignore_ascii_case("bearer") && !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "use the Bearer scheme: Authorization: Bearer <token>"))
}

/// Checks for a request that only reads state a page polls (the workspace's status and
/// use, the options, the user), which must not keep an idle workspace awake.
fn only_observes(parts: &Parts) -> bool {
    let path = parts.uri.path();
    parts.method == axum::http::Method::GET && (path.starts_with("/api/workspace") || path == "/api/options" || path == "/api/me")
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let user = state.auth.authenticate(token).await?;
        tracing::Span::current().record("user_id", user.id);
        if !only_observes(parts) {
            state.workspaces.touch(user.id);
        }
        Ok(Self(user))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden("admin_required", "this action needs an administrator account"));
        }
        Ok(Self(user))
    }
}
