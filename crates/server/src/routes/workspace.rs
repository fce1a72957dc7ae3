use axum::extract::State;
use axum::Json;
use cchub_policy::TierName;
use cchub_runtime::ContainerInfo;
use cchub_store::User;
use serde_json::{json, Value};

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::state::AppState;

fn limits(state: &AppState, user: &User) -> Value {
    let tier = TierName::parse(&user.tier).ok().and_then(|name| state.config.resources.tier(&name).cloned());
    match tier {
        Some(tier) => json!({
            "cpu": tier.cpu,
            "memory_bytes": tier.memory.as_u64(),
            "memory_swap_bytes": tier.memory_swap.as_u64(),
            "memory_reservation_bytes": tier.memory_reservation.as_u64(),
            "disk_bytes": tier.disk.as_u64(),
            "pids": tier.pids,
        }),
        None => Value::Null,
    }
}

/// Returns the limits the engine applies to the container now, in the units of `limits`.
fn live_limits(info: &ContainerInfo) -> Value {
    match &info.limits {
        Some(limits) => json!({
            "cpu": if limits.cpu_period > 0 { limits.cpu_quota as f64 / limits.cpu_period as f64 } else { 0.0 },
            "memory_bytes": limits.memory,
            "memory_swap_bytes": limits.memory_swap,
            "memory_reservation_bytes": limits.memory_reservation,
            "pids": limits.pids_limit,
        }),
        None => Value::Null,
    }
}

fn body(state: &AppState, user: &User, info: Option<&ContainerInfo>, action: Option<&str>) -> Json<Value> {
    // A container made from an older spec (another seccomp profile or network mode, say)
    // keeps it until the next start, which recreates it. Limits change in place.
    let expected = state.workspaces.spec_for(user).ok();
    let restart_required = match (info, &expected) {
        (Some(info), Some(expected)) => info.spec_hash() != Some(expected.fingerprint().as_str()),
        _ => false,
    };
    let tier_applied = match (info, &expected) {
        (Some(info), Some(expected)) => !restart_required && info.limits.as_ref() == Some(&expected.limits),
        _ => false,
    };
    Json(json!({
        "state": info.map(|i| i.state.as_str()).unwrap_or("absent"),
        "container": info.map(|i| json!({
            "id": i.id,
            "name": i.name,
            "tier": if tier_applied { Some(&user.tier) } else { i.labels.get(cchub_policy::LABEL_TIER) },
            "limits": live_limits(i),
        })),
        "restart_required": restart_required,
        "action": action,
        "tier": user.tier,
        "limits": limits(state, user),
        "active_runs": state.runs.active_count(user.id),
    }))
}

/// `GET /api/workspace`: also this month's model usage against the tier's budget.
pub async fn status(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let info = state.workspaces.inspect(&user).await?;
    let Json(mut value) = body(&state, &user, info.as_ref(), None);
    let month = cchub_store::month_start(&cchub_store::utc_day(cchub_store::now_ms()));
    let used = state.store.usage_since(user.id, &month).await?;
    let budget = TierName::parse(&user.tier).ok().and_then(|t| state.config.resources.tier(&t)).and_then(|t| t.monthly_tokens);
    value["usage"] = json!({"since": month, "tokens": used.total(), "budget_tokens": budget, "detail": used});
    Ok(Json(value))
}

/// `GET /api/workspace/usage`: live CPU, memory, processes and disk of the user's
/// container; `running` is false, with zeros, when it does not run.
pub async fn usage(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let info = state.workspaces.inspect(&user).await?;
    let dirs = state.workspaces.user_dirs(user.id);
    let disk = tokio::task::spawn_blocking(move || crate::workspace::disk::disk_space(&dirs)).await.ok().flatten();
    let (used, total) = disk.unwrap_or((0, 0));
    let live = match info {
        Some(info) if info.state == cchub_runtime::ContainerState::Running => state.workspaces.runtime().usage(&info.id).await.ok(),
        _ => None,
    };
    Ok(Json(json!({
        "running": live.is_some(),
        "cpu_cores": live.map(|u| u.cpu_cores).unwrap_or(0.0),
        "memory_bytes": live.map(|u| u.memory_bytes).unwrap_or(0),
        "pids": live.map(|u| u.pids).unwrap_or(0),
        "disk_used_bytes": used,
        "disk_total_bytes": total,
    })))
}

/// `POST /api/workspace/start`: safe to call any number of times at once.
pub async fn start(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let outcome = state.workspaces.ensure_running(&user).await?;
    Ok(body(&state, &user, Some(&outcome.info), Some(outcome.action.as_str())))
}

/// `POST /api/workspace/stop`
pub async fn stop(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    state.runs.abort_all(user.id);
    let info = state.workspaces.stop(&user).await?;
    Ok(body(&state, &user, info.as_ref(), Some("stopped")))
}
