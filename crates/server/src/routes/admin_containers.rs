//! The admin console's view of the workspace containers: state and live use, and stop,
//! restart and remove (the files stay).

use axum::extract::State;
use axum::Json;
use cchub_runtime::{ContainerRuntime, ContainerState};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{admin_event, target_user};
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, ClientIp};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Adds live CPU, memory and process use of running containers (about 1 s).
    stats: Option<bool>,
}

/// `GET /api/admin/containers?stats=true`
pub async fn list(State(state): State<AppState>, AdminUser(_): AdminUser, ApiQuery(query): ApiQuery<ListQuery>) -> ApiResult<Json<Value>> {
    let containers = state
        .workspaces
        .runtime()
        .list_managed(&state.config.containers.instance)
        .await
        .map_err(crate::workspace::runtime_error)?;
    let with_stats = query.stats.unwrap_or(false);
    let rows = futures_util::future::join_all(containers.into_iter().map(|container| {
        let state = state.clone();
        async move {
            let user = match container.user_id() {
                Some(id) => state.store.user_by_id(id).await.ok().flatten(),
                None => None,
            };
            let usage = if with_stats && container.state == ContainerState::Running {
                state.workspaces.runtime().usage(&container.id).await.ok()
            } else {
                None
            };
            json!({
                "id": container.id,
                "name": container.name,
                "state": container.state.as_str(),
                "user_id": container.user_id(),
                "username": user.as_ref().map(|u| u.username.to_string()),
                "tier": user.as_ref().map(|u| u.tier.clone()),
                "usage": usage,
            })
        }
    }))
    .await;
    Ok(Json(json!({"containers": rows})))
}

/// `POST /api/admin/containers/{user_id}/stop`: ends the user's runs and stops the container.
pub async fn stop(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let user = target_user(&state, id).await?;
    state.runs.abort_all(user.id);
    let info = state.workspaces.stop(&user).await?;
    state.audit(admin_event(&admin, "admin.container.stop", &user, &ip, json!({}))).await;
    Ok(Json(json!({"state": info.map(|i| i.state.as_str()).unwrap_or("absent")})))
}

/// `POST /api/admin/containers/{user_id}/restart`
pub async fn restart(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let user = target_user(&state, id).await?;
    if user.disabled {
        return Err(ApiError::conflict("user_disabled", "the user is disabled; enable the account before restarting its workspace"));
    }
    state.runs.abort_all(user.id);
    state.workspaces.stop(&user).await?;
    let outcome = state.workspaces.ensure_running(&user).await?;
    state.audit(admin_event(&admin, "admin.container.restart", &user, &ip, json!({}))).await;
    Ok(Json(json!({"state": outcome.info.state.as_str()})))
}

/// `DELETE /api/admin/containers/{user_id}`: removes the container; the files stay and the
/// next start makes a new one.
pub async fn remove(State(state): State<AppState>, ip: ClientIp, AdminUser(admin): AdminUser, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let user = target_user(&state, id).await?;
    state.runs.abort_all(user.id);
    let removed = state.workspaces.remove(&user).await?;
    state.audit(admin_event(&admin, "admin.container.remove", &user, &ip, json!({"removed": removed}))).await;
    Ok(Json(json!({"removed": removed})))
}
