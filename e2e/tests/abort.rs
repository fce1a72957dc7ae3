//! Abort ends the agent and every tool process it started.

use std::time::{Duration, Instant};

use cchub_e2e::{ChatOptions, ChatSocket, TestHub};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_kills_the_agent_and_its_tools() {
    let hub = TestHub::start().await.unwrap();
    let henry = hub.create_user("henry").await.unwrap();
    let mut socket = ChatSocket::connect(&hub, &henry).await.unwrap();

    // The tool keeps running, and a detached child leaves the agent's process tree.
    let script = "[[bash: (setsid sh -c 'while true; do sleep 1; done' > /dev/null 2>&1 &) ; for i in $(seq 600); do sleep 1; echo tick; done]]";
    socket.prompt(script, &ChatOptions::default()).await.unwrap();
    loop {
        let message = socket.next().await.unwrap();
        if message["type"] == "event" && message["event"]["type"] == "assistant" {
            break;
        }
        assert_ne!(message["type"], "done", "the run ended before the tool started: {message}");
    }
    // Wait until the tool's processes exist.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, out) = hub.exec(&henry, "ps -eo args").await.unwrap();
        if out.contains("sleep 1") && out.contains("while true") {
            break;
        }
        assert!(Instant::now() < deadline, "tool processes never appeared: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    socket.send(json!({"type": "abort"})).await.unwrap();
    let aborted_at = Instant::now();
    let done = loop {
        let message = socket.next().await.unwrap();
        if message["type"] == "done" {
            break message;
        }
    };
    assert_eq!(done["aborted"], true, "{done}");

    let mut out = String::new();
    while aborted_at.elapsed() < Duration::from_secs(2) {
        let (_, listing) = hub.exec(&henry, "ps -eo args").await.unwrap();
        out = listing;
        if !out.contains("claude") && !out.contains("sleep") && !out.contains("while true") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(aborted_at.elapsed() < Duration::from_secs(2), "processes left 2 s after abort:\n{out}");
    assert!(!out.contains("claude"), "{out}");
    assert!(!out.contains("sleep"), "{out}");

    // The relay survives and the next run works.
    socket.prompt("[[text: still here]]", &ChatOptions::default()).await.unwrap();
    let messages = socket.until_done().await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0, "{messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_prompt_during_a_run_is_refused() {
    let hub = TestHub::start().await.unwrap();
    let ivy = hub.create_user("ivy").await.unwrap();
    let mut socket = ChatSocket::connect(&hub, &ivy).await.unwrap();
    socket.prompt("[[bash: for i in $(seq 30); do sleep 1; done]]", &ChatOptions::default()).await.unwrap();
    let started = socket.next().await.unwrap();
    assert_eq!(started["type"], "started");
    socket.prompt("another", &ChatOptions::default()).await.unwrap();
    let refused = loop {
        let message = socket.next().await.unwrap();
        if message["type"] == "error" {
            break message;
        }
    };
    assert_eq!(refused["code"], "run_in_progress");
    socket.send(json!({"type": "abort"})).await.unwrap();
    let messages = socket.until_done().await.unwrap();
    assert_eq!(messages.last().unwrap()["aborted"], true);
    socket.send(json!({"type": "abort"})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["code"], "no_active_run");
}
