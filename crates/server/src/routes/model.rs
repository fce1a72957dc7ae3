//! The organisation's model key and usage, for administrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cchub_config::Secret;
use cchub_store::{now_ms, utc_day, AuditEvent};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, ClientIp};
use crate::state::AppState;
use crate::usage::{KeySource, MODEL_KEY_SETTING};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetKey {
    api_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    days: Option<i64>,
}

fn key_event(admin: &cchub_store::User, ip: &ClientIp, action: &'static str) -> AuditEvent {
    AuditEvent {
        actor_id: Some(admin.id),
        actor: Some(admin.username.to_string()),
        action,
        target: Some("model key".into()),
        outcome: "success",
        ip: Some(ip.label()),
        detail: None,
    }
}

/// `GET /api/admin/model-key`: whether a key is set and where it came from; never the key.
pub async fn status(State(state): State<AppState>, AdminUser(_): AdminUser) -> Json<Value> {
    let source = *state.model_key_source.lock().expect("key source lock poisoned");
    Json(json!({"configured": source.is_some(), "source": source}))
}

/// `PUT /api/admin/model-key`: stores the key encrypted and uses it from the next request.
pub async fn set(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiJson(request): ApiJson<SetKey>) -> ApiResult<StatusCode> {
    let key = request.api_key.trim().to_string();
    if key.len() < 8 || key.len() > 512 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::bad_request("invalid_api_key", "the key must be 8 to 512 characters without spaces or control characters"));
    }
    let sealed = state.secrets.seal(&key).map_err(|e| ApiError::internal("encrypting the key", e))?;
    state.store.set_setting(MODEL_KEY_SETTING, &sealed).await?;
    state.gateway.set_api_key(Some(Secret::new(key)));
    *state.model_key_source.lock().expect("key source lock poisoned") = Some(KeySource::Admin);
    state.audit(key_event(&admin, &ip, "admin.model_key.set")).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/admin/model-key`: removes the stored key; the configured one, if any,
/// applies again.
pub async fn delete(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser) -> ApiResult<StatusCode> {
    state.store.delete_setting(MODEL_KEY_SETTING).await?;
    let configured = state.config.model.api_key.clone();
    let source = configured.as_ref().map(|_| KeySource::Environment);
    state.gateway.set_api_key(configured);
    *state.model_key_source.lock().expect("key source lock poisoned") = source;
    state.audit(key_event(&admin, &ip, "admin.model_key.delete")).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/usage?days=N`: tokens per user and UTC day, newest first.
pub async fn usage(State(state): State<AppState>, AdminUser(_): AdminUser, ApiQuery(query): ApiQuery<UsageQuery>) -> ApiResult<Json<Value>> {
    let days = query.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request("invalid_query", format!("days must be between 1 and 366, got {days}")));
    }
    let first_day = utc_day(now_ms() - (days - 1) * 86_400_000);
    let rows = state.store.usage_rows(&first_day).await?;
    Ok(Json(json!({"since": first_day, "rows": rows})))
}
