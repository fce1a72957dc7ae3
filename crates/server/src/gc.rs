//! Garbage collection: containers, networks and images of this hub that nothing needs any
//! more, and store rows whose container is gone. It runs hourly inside `serve` and on
//! demand with `cchub gc [--dry-run]`. Every action is audited.

use std::collections::HashSet;

use cchub_config::Config;
use cchub_policy::internal_network_name;
use cchub_runtime::{ContainerRuntime, ContainerState, DockerRuntime};
use cchub_store::{now_ms, AuditEvent, Store};
use serde::Serialize;
use tracing::{info, warn};

/// One thing garbage collection removed, or would remove in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcAction {
    /// `orphan_container`, `stopped_container`, `network`, `store_row` or `image`.
    pub kind: &'static str,
    pub target: String,
    pub reason: String,
    /// Empty when done (or in a dry run); the error otherwise.
    pub error: Option<String>,
}

/// Finds what to collect and, unless `dry_run`, removes it.
pub async fn collect(config: &Config, store: &Store, runtime: &DockerRuntime, dry_run: bool) -> Result<Vec<GcAction>, cchub_runtime::RuntimeError> {
    let instance = &config.containers.instance;
    let mut planned: Vec<(GcAction, Target)> = Vec::new();
    let containers = runtime.list_managed(instance).await?;
    let records = store.list_containers().await.unwrap_or_default();
    let mut kept_users = HashSet::new();

    for container in &containers {
        let user = match container.user_id() {
            Some(id) => store.user_by_id(id).await.ok().flatten(),
            None => None,
        };
        let Some(user) = user else {
            planned.push((action("orphan_container", &container.name, "its user is not in the store"), Target::Container(container.id.clone())));
            continue;
        };
        let stopped = matches!(container.state, ContainerState::Exited | ContainerState::Created | ContainerState::Dead);
        let record = records.iter().find(|r| r.user_id == user.id);
        let stopped_for = record.map(|r| now_ms() - r.updated_at).unwrap_or(0);
        if let (true, Some(limit)) = (stopped, config.containers.remove_after) {
            if stopped_for >= limit.as_millis() as i64 {
                let reason = format!("stopped for {} days; the files stay", stopped_for / 86_400_000);
                planned.push((action("stopped_container", &container.name, &reason), Target::Container(container.id.clone())));
                continue;
            }
        }
        kept_users.insert(user.id);
    }

    let engine_names: HashSet<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    for record in &records {
        if !engine_names.contains(record.name.as_str()) {
            planned.push((action("store_row", &record.name, "the container no longer exists"), Target::Row(record.user_id)));
        }
    }

    for network in runtime.list_managed_networks(instance).await? {
        let used = kept_users.iter().any(|id| internal_network_name(instance, *id) == network);
        if !used {
            planned.push((action("network", &network, "no container of its user is left"), Target::Network(network.clone())));
        }
    }

    for image in runtime.dangling_runtime_images().await.unwrap_or_default() {
        planned.push((action("image", &image, "an untagged workspace image from an earlier build"), Target::Image(image.clone())));
    }

    let mut done = Vec::new();
    for (mut gc_action, target) in planned {
        if !dry_run {
            let result = match &target {
                Target::Container(id) => runtime.remove(id).await.map_err(|e| e.to_string()),
                Target::Network(name) => runtime.remove_network(name).await.map_err(|e| e.to_string()),
                Target::Image(id) => runtime.remove_image(id).await.map_err(|e| e.to_string()),
                Target::Row(user_id) => store.delete_container(*user_id).await.map_err(|e| e.to_string()),
            };
            gc_action.error = result.err();
            record(store, &gc_action).await;
        }
        done.push(gc_action);
    }
    info!(actions = done.len(), dry_run, "garbage collection finished");
    Ok(done)
}

enum Target {
    Container(String),
    Network(String),
    Image(String),
    Row(i64),
}

fn action(kind: &'static str, target: &str, reason: &str) -> GcAction {
    GcAction {
        kind,
        target: target.to_string(),
        reason: reason.to_string(),
        error: None,
    }
}

async fn record(store: &Store, gc_action: &GcAction) {
    let event = AuditEvent {
        actor: Some("gc".into()),
        action: match gc_action.kind {
            "orphan_container" => "gc.orphan_container",
            "stopped_container" => "gc.stopped_container",
            "network" => "gc.network",
            "store_row" => "gc.store_row",
            _ => "gc.image",
        },
        target: Some(gc_action.target.clone()),
        outcome: if gc_action.error.is_none() { "success" } else { "failure" },
        detail: Some(serde_json::json!({"reason": gc_action.reason, "error": gc_action.error})),
        ..AuditEvent::default()
    };
    if let Err(err) = store.record_audit(&event).await {
        warn!(error = %err, "cannot record a garbage collection action");
    }
}
