//! Runs outlive the socket: a reconnect replays what was missed, exactly once.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cchub_e2e::{ChatOptions, ChatSocket, HubOptions, ShellSocket, TestHub};
use cchub_runtime::{ContainerRuntime, ContainerState};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_sees_every_event_once() {
    let hub = TestHub::start().await.unwrap();
    let ann = hub.create_user("ann").await.unwrap();

    let mut socket = ChatSocket::connect(&hub, &ann).await.unwrap();
    let prompt = "[[delay-ms: 150]] [[bash: echo one]] [[bash: echo two]] [[bash: echo three]] [[text: all three]]";
    socket.prompt(prompt, &ChatOptions::default()).await.unwrap();
    let started = socket.next().await.unwrap();
    let run_id = started["run_id"].as_str().unwrap().to_string();

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = socket.next().await.unwrap();
        if let Some(seq) = message["seq"].as_u64() {
            seen.push(seq);
        }
    }
    drop(socket);

    // The run goes on while nobody listens.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, runs) = hub.request(Method::GET, "/api/runs", Some(&ann.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs["runs"][0]["run_id"], run_id.as_str(), "{runs}");

    let mut socket = ChatSocket::connect(&hub, &ann).await.unwrap();
    socket.send(json!({"type": "attach", "run_id": run_id, "after_seq": seen.last().unwrap()})).await.unwrap();
    let attached = socket.next().await.unwrap();
    assert_eq!(attached["type"], "attached", "{attached}");
    let rest = socket.until_done().await.unwrap();
    for message in &rest {
        assert_eq!(message["run_id"], run_id.as_str(), "{message}");
        seen.push(message["seq"].as_u64().unwrap());
    }
    let done = rest.last().unwrap();
    assert_eq!(done["exit_code"], 0, "{done}");

    let expected: Vec<u64> = (1..=*seen.last().unwrap()).collect();
    assert_eq!(seen, expected, "every message exactly once, in order");

    // A finished run can still be replayed from the start.
    let mut socket = ChatSocket::connect(&hub, &ann).await.unwrap();
    socket.send(json!({"type": "attach", "run_id": run_id})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["running"], false);
    let replay = socket.until_done().await.unwrap();
    let numbers: BTreeSet<u64> = replay.iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert_eq!(numbers.len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_private_and_limited_by_tier() {
    let hub = TestHub::start().await.unwrap();
    let bo = hub.create_user("bo").await.unwrap();
    let cy = hub.create_user("cy").await.unwrap();
    hub.request(Method::PATCH, &format!("/api/admin/users/{}", bo.user_id), Some(&hub.admin.access), Some(json!({"tier": "pro"})))
        .await
        .unwrap();

    // The pro tier allows two runs at once, not three.
    let mut socket = ChatSocket::connect(&hub, &bo).await.unwrap();
    let slow = "[[bash: for i in $(seq 30); do sleep 1; done]]";
    let mut run_ids = Vec::new();
    for _ in 0..2 {
        // Each run gets its own session rather than continuing the one still running.
        socket.send(json!({"type": "new_session"})).await.unwrap();
        socket.prompt(slow, &ChatOptions::default()).await.unwrap();
        loop {
            let message = socket.next().await.unwrap();
            if message["type"] == "started" {
                run_ids.push(message["run_id"].as_str().unwrap().to_string());
                break;
            }
        }
    }
    socket.send(json!({"type": "new_session"})).await.unwrap();
    socket.prompt(slow, &ChatOptions::default()).await.unwrap();
    let refused = loop {
        let message = socket.next().await.unwrap();
        if message["type"] == "error" {
            break message;
        }
    };
    assert_eq!(refused["code"], "run_in_progress", "{refused}");

    // Another user can neither attach to nor abort them.
    let mut other = ChatSocket::connect(&hub, &cy).await.unwrap();
    other.send(json!({"type": "attach", "run_id": run_ids[0]})).await.unwrap();
    assert_eq!(other.next().await.unwrap()["code"], "run_not_found");
    other.send(json!({"type": "abort", "run_id": run_ids[0]})).await.unwrap();
    assert_eq!(other.next().await.unwrap()["code"], "no_active_run");
    let (_, runs) = hub.request(Method::GET, "/api/runs", Some(&cy.access), None).await.unwrap();
    assert_eq!(runs["runs"], json!([]));

    socket.send(json!({"type": "abort"})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = hub.request(Method::GET, "/api/workspace", Some(&bo.access), None).await.unwrap();
        if body["active_runs"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "runs did not stop: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workspace_stops_but_not_while_used() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("containers:\n  idle_timeout_secs: 5\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let dee = hub.create_user("dee").await.unwrap();
    let eli = hub.create_user("eli").await.unwrap();
    hub.start_workspace(&dee).await.unwrap();
    hub.start_workspace(&eli).await.unwrap();

    // Eli keeps a terminal open; Dee does nothing.
    let mut shell = ShellSocket::connect(&hub, &eli).await.unwrap();
    shell.type_text("echo busy\n").await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dee_state = hub.runtime.inspect(&hub.container_name(dee.user_id)).await.unwrap().unwrap().state;
        if dee_state == ContainerState::Exited {
            break;
        }
        assert!(Instant::now() < deadline, "the idle workspace was not stopped");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let eli_state = hub.runtime.inspect(&hub.container_name(eli.user_id)).await.unwrap().unwrap().state;
    assert_eq!(eli_state, ContainerState::Running, "a workspace with an open terminal keeps running");

    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=container.idle_stop", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    drop(shell);
}
