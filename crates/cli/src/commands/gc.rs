use std::path::Path;

use anyhow::Context;
use cchub_runtime::DockerRuntime;
use cchub_store::Store;

use super::{load_config, print_line};

/// Removes orphaned and long-stopped containers, unused networks, dangling workspace
/// images and stale store rows; `dry_run` only lists them.
pub async fn run_gc(config_path: Option<&Path>, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    super::check_database(&config, false)?;
    let store = Store::open(config.database.url.expose(), 2).await.context("cannot open the database")?;
    let runtime = DockerRuntime::connect(&config.docker.socket_path).await?;
    let actions = cchub_server::gc::collect(&config, &store, &runtime, dry_run).await.context("garbage collection failed");
    store.close().await;
    let actions = actions?;
    if json {
        return print_line(serde_json::to_string_pretty(&actions)?);
    }
    if actions.is_empty() {
        return print_line("nothing to collect");
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for action in &actions {
        match &action.error {
            None => print_line(format_args!("{verb} {} {} ({})", action.kind, action.target, action.reason))?,
            Some(error) => print_line(format_args!("failed to remove {} {}: {error}", action.kind, action.target))?,
        }
    }
    Ok(())
}
