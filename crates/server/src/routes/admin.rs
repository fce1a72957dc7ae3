//! Administration of accounts. Every handler takes [`AdminUser`], so a non-admin gets 403
//! before anything else happens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cchub_policy::TierName;
use cchub_store::{AuditEvent, AuditFilter, AuditRecord, NewUser, Role, User, Username};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{password, AdminUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ClientIp};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: String,
    role: Option<String>,
    tier: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    tier: Option<String>,
    disabled: Option<bool>,
    role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    /// Unix milliseconds, inclusive.
    since: Option<i64>,
    /// Unix milliseconds, exclusive.
    until: Option<i64>,
    limit: Option<i64>,
}

impl AuditQuery {
    fn filter(self, default_limit: i64, max_limit: i64) -> ApiResult<AuditFilter> {
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=max_limit).contains(&limit) {
            return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {max_limit}, got {limit}")));
        }
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                return Err(ApiError::bad_request("invalid_query", format!("since ({since}) must be before until ({until}); both are Unix milliseconds")));
            }
        }
        Ok(AuditFilter {
            action: self.action,
            actor: self.actor,
            since: self.since,
            until: self.until,
            limit,
        })
    }
}

fn parse_tier(state: &AppState, tier: &str) -> ApiResult<TierName> {
    let name = TierName::parse(tier).map_err(|e| ApiError::bad_request("invalid_tier", e.to_string()))?;
    if state.config.resources.tier(&name).is_none() {
        let known: Vec<&str> = state.config.resources.tiers.keys().map(TierName::as_str).collect();
        return Err(ApiError::bad_request("unknown_tier", format!("tier {tier:?} is not configured; use one of {}", known.join(", "))));
    }
    Ok(name)
}

fn parse_role(role: &str) -> ApiResult<Role> {
    Role::parse(role).ok_or_else(|| ApiError::bad_request("invalid_role", format!("role {role:?} is not admin or user")))
}

pub(super) async fn target_user(state: &AppState, id: i64) -> ApiResult<User> {
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user_not_found", format!("user {id} does not exist")))
}

pub(super) fn admin_event(admin: &User, action: &'static str, target: &User, ip: &ClientIp, detail: serde_json::Value) -> AuditEvent {
    AuditEvent {
        actor_id: Some(admin.id),
        actor: Some(admin.username.to_string()),
        action,
        target: Some(target.username.to_string()),
        outcome: "success",
        ip: Some(ip.label()),
        detail: Some(detail),
    }
}

/// `GET /api/admin/users`
pub async fn list_users(State(state): State<AppState>, AdminUser(_): AdminUser) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.store.list_users().await?))
}

/// `GET /api/admin/users/{id}`
pub async fn get_user(State(state): State<AppState>, AdminUser(_): AdminUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<User>> {
    Ok(Json(target_user(&state, id).await?))
}

/// `POST /api/admin/users`
pub async fn create_user(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiJson(request): ApiJson<CreateUser>) -> ApiResult<(StatusCode, Json<User>)> {
    let username = Username::parse(&request.username).map_err(|m| ApiError::bad_request("invalid_username", m))?;
    password::check_policy(&request.password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    let role = request.role.as_deref().map(parse_role).transpose()?.unwrap_or(Role::User);
    let tier = match &request.tier {
        Some(tier) => parse_tier(&state, tier)?,
        None => state.config.resources.default_tier.clone(),
    };
    let hash = password::hash(request.password).await.map_err(|e| ApiError::internal("hashing the password", e))?;
    let user = state
        .store
        .create_user(&NewUser {
            username,
            password_hash: hash,
            role,
            tier: tier.to_string(),
        })
        .await?;
    state
        .audit(admin_event(&admin, "admin.user.create", &user, &ip, json!({"role": user.role, "tier": user.tier})))
        .await;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `PATCH /api/admin/users/{id}`: tier, disabled and role.
pub async fn update_user(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiPath(id): ApiPath<i64>, ApiJson(request): ApiJson<UpdateUser>) -> ApiResult<Json<serde_json::Value>> {
    if request.tier.is_none() && request.disabled.is_none() && request.role.is_none() {
        return Err(ApiError::bad_request("empty_update", "give at least one of tier, disabled or role"));
    }
    let tier = request.tier.as_deref().map(|t| parse_tier(&state, t)).transpose()?;
    let role = request.role.as_deref().map(parse_role).transpose()?;
    let mut user = target_user(&state, id).await?;

    let removes_admin = user.role == Role::Admin && !user.disabled && (request.disabled == Some(true) || role == Some(Role::User));
    if removes_admin && state.store.count_active_admins().await? <= 1 {
        return Err(ApiError::conflict("last_admin", "this is the only active administrator; make another user admin first"));
    }

    let mut tier_change = None;
    if let Some(tier) = tier {
        if tier.as_str() != user.tier {
            state.workspaces.check_disk_fits(&user, &tier).await?;
            user = state.store.set_tier(id, tier.as_str()).await?;
            // The tier is saved either way: when the engine cannot apply it now, the next
            // start of the workspace does.
            let change = match state.workspaces.apply_tier(&user).await {
                Ok(change) => json!(change),
                Err(err) => json!({"error": err.code, "message": err.message}),
            };
            state.audit(admin_event(&admin, "admin.user.set_tier", &user, &ip, json!({"tier": user.tier, "applied": change}))).await;
            tier_change = Some(change);
        }
    }
    if let Some(role) = role {
        if role != user.role {
            user = state.store.set_role(id, role).await?;
            state.audit(admin_event(&admin, "admin.user.set_role", &user, &ip, json!({"role": user.role}))).await;
        }
    }
    if let Some(disabled) = request.disabled {
        if disabled != user.disabled {
            user = state.store.set_disabled(id, disabled).await?;
            if disabled {
                state.store.revoke_user_tokens(id).await?;
                state.runs.abort_all(id);
                if let Err(error) = state.workspaces.suspend(&user).await {
                    tracing::warn!(user_id = id, code = error.code, "cannot stop the disabled user's container");
                }
            }
            let action = if disabled { "admin.user.disable" } else { "admin.user.enable" };
            state.audit(admin_event(&admin, action, &user, &ip, json!({}))).await;
        }
    }
    let mut body = serde_json::to_value(&user).map_err(|e| ApiError::internal("serializing the user", e))?;
    if let Some(change) = tier_change {
        body["tier_change"] = change;
    }
    Ok(Json(body))
}

/// `POST /api/admin/users/{id}/password`: sets a new password and ends the user's sessions.
pub async fn reset_password(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiPath(id): ApiPath<i64>, ApiJson(request): ApiJson<ResetPassword>) -> ApiResult<StatusCode> {
    password::check_policy(&request.password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    let user = target_user(&state, id).await?;
    let hash = password::hash(request.password).await.map_err(|e| ApiError::internal("hashing the password", e))?;
    state.store.set_password_hash(user.id, &hash).await?;
    state.store.revoke_user_tokens(user.id).await?;
    state.audit(admin_event(&admin, "admin.user.reset_password", &user, &ip, json!({}))).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/doctor`: the security checklist, as `cchub doctor --json` prints it.
pub async fn doctor(State(state): State<AppState>, AdminUser(_): AdminUser) -> Json<crate::doctor::Report> {
    let context = crate::doctor::DoctorContext {
        config: &state.config,
        store: &state.store,
        runtime: state.workspaces.runtime(),
    };
    Json(crate::doctor::run(&context).await)
}

/// `GET /api/admin/audit?action=&actor=&limit=`
pub async fn audit(State(state): State<AppState>, AdminUser(_): AdminUser, ApiQuery(query): ApiQuery<AuditQuery>) -> ApiResult<Json<Vec<AuditRecord>>> {
    Ok(Json(state.store.list_audit(&query.filter(200, 10_000)?).await?))
}

/// `GET /api/admin/audit/export?action=&actor=&since=&until=&limit=`: the same rows as JSON
/// lines, oldest first, for archiving or a log system.
pub async fn audit_export(State(state): State<AppState>, AdminUser(_): AdminUser, ApiQuery(query): ApiQuery<AuditQuery>) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let mut rows = state.store.list_audit(&query.filter(cchub_store::MAX_AUDIT_ROWS, cchub_store::MAX_AUDIT_ROWS)?).await?;
    rows.reverse();
    let mut body = String::new();
    for row in &rows {
        body.push_str(&serde_json::to_string(row).map_err(|e| ApiError::internal("serializing the audit log", e))?);
        body.push('\n');
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/x-ndjson"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"cchub-audit.jsonl\""),
        ],
        body,
    )
        .into_response())
}
