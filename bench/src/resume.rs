//! Resume: a paused workspace, as the idle handling leaves it, until a shell opened
//! before the pause prints the output of a command. Through the hub that is
//! `POST /api/workspace/start` and a line typed into the open `/ws/shell`. The floor
//! unpauses through the Engine API and types the same line into a direct TTY exec.

use std::time::{Duration, Instant};

use cchub_e2e::{ShellSocket, TestHub};
use cchub_runtime::ContainerRuntime;
use reqwest::Method;
use tokio::io::AsyncWriteExt;

use crate::stats::Report;

pub async fn run(iterations: usize) -> anyhow::Result<Report> {
    let hub = TestHub::start().await?;
    let user = hub.create_user("bench-resume").await?;
    let id = hub.start_workspace(&user).await?;

    let mut shell = ShellSocket::connect(&hub, &user).await?;
    shell.wait_for("$ ", Duration::from_secs(30)).await?;
    let mut hub_samples = Vec::new();
    for round in 0..iterations {
        // The idle sweep pauses through the same runtime call.
        hub.runtime.pause(&id).await?;
        let started = Instant::now();
        let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&user.access), None).await?;
        anyhow::ensure!(status.is_success() && body["action"] == "unpaused", "resume failed: {status} {body}");
        // The shell computes the number, so the typed line cannot match it.
        shell.type_text(&format!("echo r-$((7000+{round}))\n")).await?;
        shell.wait_for(&format!("r-{}\r\n", 7000 + round), Duration::from_secs(10)).await?;
        hub_samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shell.close().await?;

    let mut tty = crate::terminal::direct_shell(&hub, &id).await?;
    crate::terminal::read_until(&mut tty.output, "$ ").await?;
    let mut floor_samples = Vec::new();
    for round in 0..iterations {
        hub.runtime.pause(&id).await?;
        let started = Instant::now();
        hub.runtime.unpause(&id).await?;
        tty.input.write_all(format!("echo r-$((8000+{round}))\n").as_bytes()).await?;
        crate::terminal::read_until(&mut tty.output, &format!("r-{}\r\n", 8000 + round)).await?;
        floor_samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = tty.input.write_all(b"exit\n").await;

    let report = Report {
        name: "paused workspace resume",
        hub: hub_samples,
        floor: floor_samples,
        target: "cchub p50 <= 50 ms",
    };
    report.print_detail();
    Ok(report)
}
