//! Relay latency: a line printed by the agent process until it reaches the WebSocket
//! client, against reading the same line from a direct `docker exec` of the same
//! program. The program stamps each line with the wall clock just before printing it;
//! the container shares the host's clock, so the receiver subtracts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cchub_e2e::{ChatOptions, ChatSocket, HubOptions, TestHub};
use cchub_runtime::{ContainerRuntime, ExecChunk, ExecRequest};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::stats::Report;

const AGENT: &str = "/workspace/bench-agent.sh";

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn latency(line: &serde_json::Value) -> Option<Duration> {
    let stamped: u128 = line["t"].as_str()?.parse().ok()?;
    Some(Duration::from_nanos(now_ns().saturating_sub(stamped) as u64))
}

pub async fn run(lines: usize) -> anyhow::Result<Report> {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!("model:\n  agent_command: {AGENT}\n")),
        ..HubOptions::default()
    })
    .await?;
    let user = hub.create_user("bench-relay").await?;
    let script = format!(
        "#!/bin/sh\ncat > /dev/null\ni=0\nwhile [ $i -lt {lines} ]; do\n  printf '{{\"type\":\"bench\",\"t\":\"%s\"}}\\n' \"$(date +%s%N)\"\n  i=$((i+1))\n  sleep 0.01\ndone\n"
    );
    let (status, body) = hub
        .request(Method::PUT, "/api/files/content?path=bench-agent.sh", Some(&user.access), Some(json!({"content": script})))
        .await?;
    anyhow::ensure!(status.is_success(), "cannot write the agent script: {body}");
    hub.start_workspace(&user).await?;
    hub.exec(&user, &format!("chmod +x {AGENT}")).await?;

    let mut hub_samples = Vec::new();
    let mut socket = ChatSocket::connect(&hub, &user).await?;
    socket.prompt("bench", &ChatOptions::default()).await?;
    loop {
        let message = socket.next().await?;
        if message["type"] == "event" && message["event"]["type"] == "bench" {
            hub_samples.extend(latency(&message["event"]));
        }
        if message["type"] == "done" {
            break;
        }
    }

    let mut floor_samples = Vec::new();
    let session = hub
        .runtime
        .exec(
            &hub.container_name(user.user_id),
            ExecRequest {
                cmd: vec![AGENT.into()],
                user: Some("1000:1000".into()),
                ..ExecRequest::default()
            },
        )
        .await?;
    let mut output = session.output;
    let mut pending = String::new();
    while let Some(chunk) = output.next().await {
        if let ExecChunk::Stdout(bytes) = chunk.context("exec output")? {
            pending.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(newline) = pending.find('\n') {
                let line: String = pending.drain(..=newline).collect();
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    floor_samples.extend(latency(&value));
                }
            }
        }
    }

    let report = Report {
        name: "relay line to WebSocket",
        hub: hub_samples,
        floor: floor_samples,
        target: "cchub p50 <= 5 ms",
    };
    report.print_detail();
    Ok(report)
}
