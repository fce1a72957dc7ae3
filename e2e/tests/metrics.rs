//! `GET /metrics`: the bearer token it needs, a scrape that a Prometheus text parser reads,
//! and metrics that move when the matching actions happen.

use std::time::Duration;

use cchub_e2e::{chat, HubOptions, ShellSocket, TestHub};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

const TOKEN: &str = "metrics-token-for-the-e2e-test";

async fn scrape(hub: &TestHub) -> Scrape {
    let response = reqwest::Client::new().get(format!("{}/metrics", hub.url)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).expect("the scrape parses")
}

/// Returns the value of a counter or gauge, or a histogram's count, whose labels include
/// every pair of `labels`; 0 when absent.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_follow_actions() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!("monitoring:\n  metrics_token_file: {}\n", token_file.display())),
        ..HubOptions::default()
    })
    .await
    .unwrap();

    let client = reqwest::Client::new();
    let url = format!("{}/metrics", hub.url);
    assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(client.get(&url).bearer_auth("wrong-token-0123456789").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // A user's access token is not the metrics token.
    let (status, _) = hub.request(reqwest::Method::GET, "/metrics", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let before = scrape(&hub).await;
    assert_eq!(value(&before, "cchub_build_info", &[]), 1.0);

    // A failed sign-in, a workspace start, a chat run with a tool call, an open terminal.
    assert!(hub.login("admin", "not-the-password").await.is_err());
    let nia = hub.create_user("nia").await.unwrap();
    hub.start_workspace(&nia).await.unwrap();
    chat(&hub, &nia, "[[bash: echo metered]] [[text: ok]]").await.unwrap();
    let mut shell = ShellSocket::connect(&hub, &nia).await.unwrap();
    shell.type_text("echo open\n").await.unwrap();
    shell.wait_for("open\r\n", Duration::from_secs(10)).await.unwrap();

    let after = scrape(&hub).await;
    let grew = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert!(grew("cchub_login_failures_total", &[]) >= 1.0);
    assert!(grew("cchub_container_start_duration_seconds", &[("action", "created")]) >= 1.0);
    assert!(grew("cchub_agent_runs_started_total", &[]) >= 1.0);
    assert!(grew("cchub_agent_run_duration_seconds", &[("outcome", "finished")]) >= 1.0);
    assert!(grew("cchub_gateway_tokens_total", &[("tier", "free"), ("direction", "input")]) > 0.0);
    assert!(grew("cchub_http_request_duration_seconds", &[("route", "/api/workspace/start"), ("status", "200")]) >= 1.0);
    assert!(value(&after, "cchub_containers", &[("state", "running"), ("tier", "free")]) >= 1.0);
    assert!(value(&after, "cchub_websocket_connections", &[("kind", "shell")]) >= 1.0);
    // Scrape-time gauges: the admin and nia are active; the data disk has a size.
    assert_eq!(value(&after, "cchub_users", &[("state", "active")]), 2.0);
    assert_eq!(value(&after, "cchub_users", &[("state", "disabled")]), 0.0);
    let size = value(&after, "cchub_data_filesystem_bytes", &[("kind", "size")]);
    let free = value(&after, "cchub_data_filesystem_bytes", &[("kind", "free")]);
    assert!(size > 0.0, "size {size}");
    assert!(free > 0.0, "free {free}");
    assert!(free <= size, "size {size}, free {free}");
    assert_eq!(value(&after, "cchub_container_failures_total", &[]), 0.0);
    // No label carries a user name.
    assert!(after.samples.iter().all(|s| s.labels.values().all(|v| v != "nia")));
    shell.close().await.unwrap();
}
