use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cchub_store::{AuditEvent, RefreshOutcome, User};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{hash_refresh_token, password, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

fn session_body(tokens: crate::auth::TokenPair, user: &User) -> Json<serde_json::Value> {
    Json(json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "user": user,
    }))
}

fn login_event(actor: &str, user: Option<&User>, outcome: &'static str, ip: &ClientIp, reason: &str) -> AuditEvent {
    AuditEvent {
        actor_id: user.map(|u| u.id),
        actor: Some(actor.chars().take(64).collect()),
        action: "auth.login",
        outcome,
        ip: Some(ip.label()),
        detail: (!reason.is_empty()).then(|| json!({"reason": reason})),
        ..AuditEvent::default()
    }
}

/// `POST /api/auth/login`
pub async fn login(State(state): State<AppState>, ip: ClientIp, ApiJson(request): ApiJson<LoginRequest>) -> ApiResult<impl IntoResponse> {
    if let Err(wait) = state.auth.limiter.check(&request.username, ip.0) {
        state.audit(login_event(&request.username, None, "denied", &ip, "too many failed attempts")).await;
        return Err(ApiError::too_many_requests(
            format!("too many failed sign-in attempts; try again in {wait} seconds"),
            wait,
        ));
    }

    let found = state.store.credentials(&request.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let valid = password::verify(request.password, hash).await;
    let user = match (valid, user) {
        (true, Some(user)) => user,
        (_, user) => {
            state.auth.limiter.record_failure(&request.username, ip.0);
            crate::metrics::metrics().login_failure();
            state.audit(login_event(&request.username, user.as_ref(), "failure", &ip, "wrong user name or password")).await;
            return Err(ApiError::unauthorized("invalid_credentials", "wrong user name or password"));
        }
    };
    if user.disabled {
        state.audit(login_event(&request.username, Some(&user), "denied", &ip, "account disabled")).await;
        return Err(ApiError::forbidden("account_disabled", "this account is disabled; ask an administrator"));
    }

    state.auth.limiter.record_success(&request.username);
    let tokens = state.auth.issue(&user, None).await?;
    state.audit(login_event(&request.username, Some(&user), "success", &ip, "")).await;
    Ok(session_body(tokens, &user))
}

/// `POST /api/auth/refresh`: a used refresh token is rejected and ends its login.
pub async fn refresh(State(state): State<AppState>, ip: ClientIp, ApiJson(request): ApiJson<RefreshRequest>) -> ApiResult<impl IntoResponse> {
    let hash = hash_refresh_token(&request.refresh_token);
    match state.store.use_refresh_token(&hash).await? {
        RefreshOutcome::Rotated { user_id, family } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid_refresh_token", "the account no longer exists"))?;
            if user.disabled {
                return Err(ApiError::unauthorized("account_disabled", "this account is disabled; ask an administrator"));
            }
            let tokens = state.auth.issue(&user, Some(family)).await?;
            Ok(session_body(tokens, &user))
        }
        RefreshOutcome::Reused { user_id } => {
            // Someone holds a copy of a rotated token: end every session of the account,
            // access tokens included, not only the login the token belonged to.
            state.store.revoke_user_tokens(user_id).await?;
            state.store.bump_token_version(user_id).await?;
            state
                .audit(AuditEvent {
                    actor_id: Some(user_id),
                    action: "auth.refresh_reuse",
                    outcome: "denied",
                    ip: Some(ip.label()),
                    detail: Some(json!({"effect": "every session of the account was ended"})),
                    ..AuditEvent::default()
                })
                .await;
            Err(ApiError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used, so the session was ended for safety; sign in again",
            ))
        }
        RefreshOutcome::Invalid => Err(ApiError::unauthorized("invalid_refresh_token", "the refresh token is unknown, expired or revoked; sign in again")),
    }
}

/// `POST /api/auth/logout`: revokes the login the refresh token belongs to.
pub async fn logout(State(state): State<AppState>, ip: ClientIp, ApiJson(request): ApiJson<RefreshRequest>) -> ApiResult<StatusCode> {
    let hash = hash_refresh_token(&request.refresh_token);
    if let Some((user_id, family)) = state.store.refresh_token_family(&hash).await? {
        state.store.revoke_family(&family).await?;
        state
            .audit(AuditEvent {
                actor_id: Some(user_id),
                action: "auth.logout",
                outcome: "success",
                ip: Some(ip.label()),
                ..AuditEvent::default()
            })
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`
pub async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

/// `POST /api/me/password`: ends every session of the user, this one included.
pub async fn change_password(State(state): State<AppState>, ip: ClientIp, CurrentUser(user): CurrentUser, ApiJson(request): ApiJson<PasswordChange>) -> ApiResult<StatusCode> {
    password::check_policy(&request.new_password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    // The current password gets the same limit as a login, or a stolen access token
    // would allow guessing it without one.
    let account = user.username.to_string();
    if let Err(wait) = state.auth.limiter.check(&account, ip.0) {
        return Err(ApiError::too_many_requests(format!("too many wrong passwords; try again in {wait} seconds"), wait));
    }
    let hash = state.store.password_hash(user.id).await?;
    if !password::verify(request.current_password, hash).await {
        state.auth.limiter.record_failure(&account, ip.0);
        crate::metrics::metrics().login_failure();
        state
            .audit(AuditEvent {
                actor_id: Some(user.id),
                actor: Some(account),
                action: "auth.password_change",
                outcome: "failure",
                ip: Some(ip.label()),
                detail: Some(json!({"reason": "wrong current password"})),
                ..AuditEvent::default()
            })
            .await;
        return Err(ApiError::forbidden("invalid_credentials", "the current password is wrong"));
    }
    let new_hash = password::hash(request.new_password).await.map_err(|e| ApiError::internal("hashing the password", e))?;
    state.store.set_password_hash(user.id, &new_hash).await?;
    state.store.revoke_user_tokens(user.id).await?;
    state
        .audit(AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action: "auth.password_change",
            outcome: "success",
            ip: Some(ip.label()),
            ..AuditEvent::default()
        })
        .await;
    Ok(StatusCode::NO_CONTENT)
}
