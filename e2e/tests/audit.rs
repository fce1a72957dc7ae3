//! The audit trail: file changes and agent runs (with each tool call) leave rows, the
//! admin API filters them by time, and the export is JSON lines.

use cchub_e2e::{chat, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn rows(hub: &TestHub, query: &str) -> Vec<serde_json::Value> {
    let (status, body) = hub.request(Method::GET, &format!("/api/admin/audit?{query}"), Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changes_and_runs_are_audited() {
    let hub = TestHub::start().await.unwrap();
    let ola = hub.create_user("ola").await.unwrap();
    // The sign-in above may share its millisecond with this instant; step past it.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let started = cchub_store::now_ms();

    let write = |path: &str| format!("/api/files/content?path={path}");
    let (status, _) = hub.request(Method::PUT, &write("notes.txt"), Some(&ola.access), Some(json!({"content": "x"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hub.request(Method::POST, "/api/files/rename", Some(&ola.access), Some(json!({"from": "notes.txt", "to": "kept.txt"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hub.request(Method::DELETE, "/api/files?path=kept.txt", Some(&ola.access), None).await.unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (action, target) in [("file.write", "notes.txt"), ("file.rename", "kept.txt"), ("file.delete", "kept.txt")] {
        let found = rows(&hub, &format!("action={action}&actor=ola")).await;
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["target"], target, "{action}");
    }

    chat(&hub, &ola, "[[bash: echo audited-tool]] [[text: ok]]").await.unwrap();
    let tools = rows(&hub, "action=agent.tool&actor=ola").await;
    assert_eq!(tools.len(), 1, "{tools:?}");
    assert_eq!(tools[0]["detail"]["tool"], "Bash");
    assert_eq!(tools[0]["detail"]["input"], "echo audited-tool");
    let run_id = tools[0]["detail"]["run_id"].as_str().unwrap().to_string();
    for action in ["agent.run_start", "agent.run"] {
        assert!(!rows(&hub, &format!("action={action}&actor=ola")).await.is_empty(), "{action} missing");
    }
    assert!(!run_id.is_empty());

    // Time ranges: everything of this test is after `started`, nothing before it.
    assert!(rows(&hub, &format!("actor=ola&since={started}")).await.len() >= 6);
    assert!(rows(&hub, &format!("action=file.write&actor=ola&until={started}")).await.is_empty());
    let (status, body) = hub.request(Method::GET, "/api/admin/audit?since=10&until=5", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The export is JSON lines, oldest first, and only for administrators.
    let response = reqwest::Client::new()
        .get(format!("{}/api/admin/audit/export?actor=ola&since={started}", hub.url))
        .bearer_auth(&hub.admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect();
    assert!(lines.len() >= 6, "{text}");
    assert_eq!(lines[0]["action"], "file.write", "oldest first");
    let (status, _) = hub.request(Method::GET, "/api/admin/audit/export", Some(&ola.access), None).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
}
