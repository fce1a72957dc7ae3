//! Cold start: `POST /api/workspace/start` until a command runs in the container, against
//! creating and starting a container of the same image and flags directly on the engine
//! and running the same command.

use std::time::{Duration, Instant};

use cchub_e2e::{exec_in_container, TestHub};
use cchub_runtime::ContainerRuntime;
use reqwest::Method;

use crate::stats::Report;

pub async fn run(iterations: usize) -> anyhow::Result<Report> {
    let hub = TestHub::start().await?;
    let user = hub.create_user("bench-cold").await?;
    // Warm the image and the code paths once.
    hub.start_workspace(&user).await?;
    let name = hub.container_name(user.user_id);
    let spec = hub.runtime.inspect(&name).await?.ok_or_else(|| anyhow::anyhow!("no container"))?;
    hub.runtime.remove(&spec.id).await?;

    let mut hub_samples = Vec::new();
    let mut floor_samples = Vec::new();
    for round in 0..iterations {
        // The hub: from the request to the first command that runs.
        let started = Instant::now();
        let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&user.access), None).await?;
        anyhow::ensure!(status.is_success(), "start failed: {body}");
        let (code, _) = exec_in_container(&hub.runtime, &name, "true").await?;
        anyhow::ensure!(code == 0, "command failed in the hub's container");
        hub_samples.push(started.elapsed());
        let id = body["container"]["id"].as_str().unwrap_or_default().to_string();

        // The floor: the identical spec, created and started directly.
        let mut direct = hub.workspace_spec(&user).await?;
        direct.name = format!("{}-floor-{round}", hub.instance);
        hub.runtime.remove(&id).await?;
        let started = Instant::now();
        let floor_id = hub.runtime.create(&direct).await?;
        hub.runtime.start(&floor_id).await?;
        let (code, _) = exec_in_container(&hub.runtime, &direct.name, "true").await?;
        anyhow::ensure!(code == 0, "command failed in the floor container");
        floor_samples.push(started.elapsed());
        hub.runtime.remove(&floor_id).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = Report {
        name: "cold start",
        hub: hub_samples,
        floor: floor_samples,
        target: "ratio <= 1.3",
    };
    report.print_detail();
    Ok(report)
}
