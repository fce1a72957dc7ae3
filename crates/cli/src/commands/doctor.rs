use std::path::Path;

use anyhow::{bail, Context};
use cchub_runtime::DockerRuntime;
use cchub_server::doctor::{run, DoctorContext};
use cchub_store::Store;

use super::{load_config, print_line};

/// Runs the security checklist; fails (non-zero exit) when any item fails.
pub async fn run_doctor(config_path: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    super::check_database(&config, false)?;
    let store = Store::open(config.database.url.expose(), 2).await.context("cannot open the database")?;
    let runtime = DockerRuntime::connect(&config.docker.socket_path).await?;
    let report = run(&DoctorContext {
        config: &config,
        store: &store,
        runtime: &runtime,
    })
    .await;
    store.close().await;

    if json {
        print_line(serde_json::to_string_pretty(&report)?)?;
    } else {
        for check in &report.checks {
            print_line(format_args!("{:<5} {:<48} {}", check.status.as_str(), check.title, check.evidence))?;
        }
    }
    if report.has_failures() {
        bail!("{} check(s) failed", report.checks.iter().filter(|c| c.status == cchub_server::doctor::Status::Fail).count());
    }
    Ok(())
}
