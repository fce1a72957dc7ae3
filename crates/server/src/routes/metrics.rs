//! `GET /metrics` for Prometheus, behind a bearer token of its own.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use cchub_runtime::ContainerRuntime;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Gauges;
use crate::state::AppState;

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(presented: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(presented.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /metrics`: the Prometheus text format; needs `Authorization: Bearer <token>` with
/// the configured metrics token.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &state.config.metrics_token else {
        return ApiError::not_found("metrics_disabled", "metrics are off; set CCHUB_METRICS_TOKEN or monitoring.metrics_token_file").into_response();
    };
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if !same_token(presented, expected.expose()) {
        return ApiError::unauthorized("invalid_metrics_token", "send the metrics token as Authorization: Bearer <token>").into_response();
    }
    let body = crate::metrics::render(crate::metrics::metrics(), &gauges(&state).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// Reads the containers, the user accounts and the data file system for one scrape.
async fn gauges(state: &AppState) -> Gauges {
    let mut gauges = Gauges::default();
    let users = state.store.list_users().await.ok();
    if let Some(users) = &users {
        let disabled = users.iter().filter(|u| u.disabled).count() as u64;
        gauges.users = Some((users.len() as u64 - disabled, disabled));
    }
    let tiers: BTreeMap<i64, String> = users.into_iter().flatten().map(|u| (u.id, u.tier)).collect();
    if let Ok(listed) = state.workspaces.runtime().list_managed(&state.config.containers.instance).await {
        for container in listed {
            let tier = container.user_id().and_then(|id| tiers.get(&id).cloned()).unwrap_or_else(|| "unknown".into());
            *gauges.containers.entry((container.state.as_str().to_string(), tier)).or_default() += 1;
        }
    }
    if let Ok(stats) = rustix::fs::statvfs(state.config.layout().root()) {
        let block = stats.f_frsize;
        gauges.data_filesystem = Some((stats.f_blocks * block, stats.f_bavail * block));
    }
    gauges
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_token("0123456789abcdeX", "0123456789abcdef"));
        assert!(!same_token("", "0123456789abcdef"));
    }
}
