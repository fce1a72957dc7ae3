//! Claude Code sessions: listed from the user's home, resumed by id, continued in an open
//! chat, and private to their user.

use cchub_e2e::{chat_with, ChatOptions, ChatSocket, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn session_of(messages: &[Value]) -> String {
    messages
        .iter()
        .find(|m| m["event"]["type"] == "system" && m["event"]["subtype"] == "init")
        .and_then(|m| m["event"]["session_id"].as_str())
        .unwrap_or_else(|| panic!("no init event in {messages:?}"))
        .to_string()
}

fn user_texts(history: &Value) -> Vec<String> {
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| match &m["message"]["content"] {
            Value::String(text) => Some(text.clone()),
            Value::Array(blocks) => blocks.iter().find(|b| b["type"] == "text").and_then(|b| b["text"].as_str()).map(str::to_string),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_resumed() {
    let hub = TestHub::start().await.unwrap();
    let ada = hub.create_user("ada").await.unwrap();
    let none = ChatOptions::default();

    let first = chat_with(&hub, &ada, "first task [[text: one]]", &none).await.unwrap();
    let second = chat_with(&hub, &ada, "second task [[text: two]]", &none).await.unwrap();
    let first_id = session_of(&first);
    let second_id = session_of(&second);
    assert_ne!(first_id, second_id);

    let resume = ChatOptions { session_id: Some(first_id.clone()), ..ChatOptions::default() };
    let third = chat_with(&hub, &ada, "third task [[text: three]]", &resume).await.unwrap();
    assert_eq!(third.last().unwrap()["exit_code"], 0, "{third:?}");

    let (status, list) = hub.request(Method::GET, "/api/sessions", Some(&ada.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{list}");
    let sessions = list["sessions"].as_array().unwrap();
    let ids: Vec<&str> = sessions.iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.contains(&first_id.as_str()), "{list}");
    assert!(ids.contains(&second_id.as_str()), "{list}");
    let first_entry = sessions.iter().find(|s| s["id"] == first_id.as_str()).unwrap();
    assert!(first_entry["title"].as_str().unwrap().starts_with("first task"), "{first_entry}");
    assert!(first_entry["message_count"].as_u64().unwrap() >= 4, "{first_entry}");
    assert!(first_entry["last_activity"].is_string());

    // The resumed session holds the first and the third prompt, in that order.
    let resumed_id = session_of(&third);
    let (status, history) = hub.request(Method::GET, &format!("/api/sessions/{resumed_id}/messages"), Some(&ada.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{history}");
    let texts = user_texts(&history);
    let first_at = texts.iter().position(|t| t.starts_with("first task")).unwrap_or_else(|| panic!("{texts:?}"));
    let third_at = texts.iter().position(|t| t.starts_with("third task")).unwrap_or_else(|| panic!("{texts:?}"));
    assert!(first_at < third_at, "{texts:?}");
    assert!(!texts.iter().any(|t| t.starts_with("second task")), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_chat_continues_its_session() {
    let hub = TestHub::start().await.unwrap();
    let bea = hub.create_user("bea").await.unwrap();
    let mut socket = ChatSocket::connect(&hub, &bea).await.unwrap();
    let none = ChatOptions::default();

    socket.prompt("hello [[text: a]]", &none).await.unwrap();
    let first = session_of(&socket.until_done().await.unwrap());
    socket.prompt("follow-up [[text: b]]", &none).await.unwrap();
    let second = session_of(&socket.until_done().await.unwrap());
    assert_eq!(first, second, "a follow-up continues the session");

    socket.send(json!({"type": "new_session"})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["type"], "session_reset");
    socket.prompt("fresh start [[text: c]]", &none).await.unwrap();
    let third = session_of(&socket.until_done().await.unwrap());
    assert_ne!(third, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_session_is_refused() {
    let hub = TestHub::start().await.unwrap();
    let cat = hub.create_user("cat").await.unwrap();
    let dov = hub.create_user("dov").await.unwrap();
    let cat_session = session_of(&chat_with(&hub, &cat, "private [[text: secret plan]]", &ChatOptions::default()).await.unwrap());

    let (status, body) = hub.request(Method::GET, &format!("/api/sessions/{cat_session}/messages"), Some(&dov.access), None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "session_not_found");
    let (_, list) = hub.request(Method::GET, "/api/sessions", Some(&dov.access), None).await.unwrap();
    assert_eq!(list["sessions"], json!([]));

    let mut socket = ChatSocket::connect(&hub, &dov).await.unwrap();
    socket.prompt("steal it", &ChatOptions { session_id: Some(cat_session.clone()), ..ChatOptions::default() }).await.unwrap();
    let reply = socket.next().await.unwrap();
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "session_not_found");

    for bad in ["not-a-session", "..%2f..%2fetc", "--help"] {
        let (status, body) = hub.request(Method::GET, &format!("/api/sessions/{bad}/messages"), Some(&dov.access), None).await.unwrap();
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
}
