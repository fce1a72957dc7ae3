//! Bad input gets a 4xx with a JSON error body, never a 5xx, and nothing is half-written.

use cchub_e2e::{chat, ChatSocket, HubOptions, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn assert_json_error(status: StatusCode, body: &str, what: &str) -> Value {
    assert!(status.is_client_error(), "{what}: expected 4xx, got {status}: {body}");
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: body is not JSON: {body}"));
    assert!(value["error"]["code"].is_string(), "{what}: {body}");
    assert!(value["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_errors() {
    let hub = TestHub::start().await.unwrap();
    let wes = hub.create_user("wes").await.unwrap();
    let admin = hub.admin.access.clone();
    let json_type = "application/json";

    // (method, path, token, content type, body, what is wrong)
    type Case<'a> = (Method, &'a str, Option<&'a str>, &'a str, Vec<u8>, &'a str);
    let cases: Vec<Case> = vec![
        (Method::POST, "/api/auth/login", None, json_type, b"{not json".to_vec(), "malformed JSON"),
        (Method::POST, "/api/auth/login", None, json_type, br#"{"username":"a"}"#.to_vec(), "missing field"),
        (Method::POST, "/api/auth/login", None, json_type, br#"{"username":"a","password":"b","extra":1}"#.to_vec(), "unknown field"),
        (Method::POST, "/api/auth/login", None, json_type, br#"{"username":1,"password":"b"}"#.to_vec(), "wrong type"),
        (Method::POST, "/api/auth/login", None, "text/plain", br#"{"username":"a","password":"b"}"#.to_vec(), "wrong content type"),
        (Method::POST, "/api/auth/login", None, json_type, vec![b' '; 2 << 20], "oversized body"),
        (Method::POST, "/api/auth/login", None, json_type, vec![0xff, 0xfe, 0x00], "invalid UTF-8"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"Bad Name","password":"long-enough-1"}"#.to_vec(), "bad user name"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"ok","password":"short"}"#.to_vec(), "weak password"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"ok2","password":"long-enough-1","tier":"gold"}"#.to_vec(), "unknown tier"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"ok3","password":"long-enough-1","tier":"../pro"}"#.to_vec(), "invalid tier name"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"ok4","password":"long-enough-1","role":"root"}"#.to_vec(), "invalid role"),
        (Method::POST, "/api/admin/users", Some(&admin), json_type, br#"{"username":"wes","password":"long-enough-1"}"#.to_vec(), "duplicate user"),
        (Method::PATCH, "/api/admin/users/abc", Some(&admin), json_type, br#"{"tier":"pro"}"#.to_vec(), "non-numeric id"),
        (Method::PATCH, "/api/admin/users/99999", Some(&admin), json_type, br#"{"tier":"pro"}"#.to_vec(), "unknown user"),
        (Method::PATCH, "/api/admin/users/2", Some(&admin), json_type, br#"{}"#.to_vec(), "empty update"),
        (Method::PATCH, "/api/admin/users/2", Some(&admin), json_type, br#"{"tier":"Pro!"}"#.to_vec(), "bad tier name in update"),
        (Method::GET, "/api/admin/audit?limit=many", Some(&admin), json_type, Vec::new(), "bad query"),
        (Method::GET, "/api/nope", Some(&admin), json_type, Vec::new(), "unknown route"),
        (Method::DELETE, "/api/me", Some(&admin), json_type, Vec::new(), "wrong method"),
        (Method::POST, "/api/files/upload?path=", Some(&wes.access), json_type, br#"{"file":"x"}"#.to_vec(), "upload that is not a form"),
    ];
    for (method, path, token, content_type, body, what) in cases {
        let mut result = hub.raw(method.clone(), path, token, content_type, body.clone()).await;
        // After the oversized body the hub closes its connection, and the client may pick
        // that pooled connection for the next request; one new attempt tells the two apart.
        if result.is_err() && what != "oversized body" {
            result = hub.raw(method, path, token, content_type, body).await;
        }
        match result {
            Ok((status, text)) => {
                assert_json_error(status, &text, what);
            }
            // The hub answers 413 as soon as it sees the length and closes the connection,
            // which can reset a client still sending; that too is a refusal.
            Err(err) if what == "oversized body" => println!("oversized body: connection closed early ({err})"),
            Err(err) => panic!("{what}: {err}"),
        }
    }

    let path_cases = ["..", "../x", "/etc/passwd", "a%00b", "%2e%2e%2f", "x/../../y"];
    for path in path_cases {
        let (status, text) = hub.raw(Method::GET, &format!("/api/files/content?path={path}"), Some(&wes.access), json_type, Vec::new()).await.unwrap();
        let value = assert_json_error(status, &text, path);
        assert_eq!(value["error"]["code"], "invalid_path", "{path}");
    }
    let (status, text) = hub.raw(Method::GET, "/api/files/content?path=a&unknown=1", Some(&wes.access), json_type, Vec::new()).await.unwrap();
    assert_json_error(status, &text, "unknown query parameter");

    // Failed writes leave nothing behind.
    let workspace = hub.data_dir.join("users").join(wes.user_id.to_string()).join("mnt/workspace");
    let bad_writes = [
        json!({"content": "!!!", "encoding": "base64"}),
        json!({"content": "x", "encoding": "latin-1"}),
        json!({"content": 5}),
        json!({"text": "x"}),
    ];
    for body in bad_writes {
        let (status, text) = hub.raw(Method::PUT, "/api/files/content?path=target.txt", Some(&wes.access), json_type, body.to_string().into_bytes()).await.unwrap();
        assert_json_error(status, &text, &body.to_string());
    }
    let big = json!({"content": "x".repeat(17 << 20)});
    let (status, text) = hub.raw(Method::PUT, "/api/files/content?path=target.txt", Some(&wes.access), json_type, big.to_string().into_bytes()).await.unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    let leftovers: Vec<String> = match std::fs::read_dir(&workspace) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect(),
        Err(_) => Vec::new(),
    };
    assert!(leftovers.is_empty(), "nothing may be written: {leftovers:?}");

    // The hub is healthy afterwards.
    let (status, _) = hub.request(Method::GET, "/healthz", None, None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chat_messages_get_error_events() {
    let hub = TestHub::start().await.unwrap();
    let xia = hub.create_user("xia").await.unwrap();
    let mut socket = ChatSocket::connect(&hub, &xia).await.unwrap();
    let cases = [
        (Message::Text("not json".into()), "invalid_message"),
        (Message::Text(r#"{"type":"launch"}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"prompt"}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"prompt","text":"x","evil":1}"#.into()), "invalid_message"),
        (Message::Text(r#"{"type":"prompt","text":"   "}"#.into()), "empty_prompt"),
        (Message::Text(r#"{"type":"prompt","text":"x","model":"gpt-4"}"#.into()), "model_not_allowed"),
        (Message::Text(r#"{"type":"prompt","text":"x","permission_mode":"root"}"#.into()), "permission_mode_not_allowed"),
        (Message::Text(r#"{"type":"prompt","text":"x","session_id":"--dangerously-skip"}"#.into()), "invalid_session_id"),
        (Message::Binary(vec![1, 2, 3].into()), "invalid_message"),
    ];
    for (message, code) in cases {
        socket.send_raw(message.clone()).await.unwrap();
        let reply = socket.next().await.unwrap();
        assert_eq!(reply["type"], "error", "{message:?}: {reply}");
        assert_eq!(reply["code"], code, "{message:?}: {reply}");
    }
    // The socket still works.
    socket.send(json!({"type": "ping"})).await.unwrap();
    assert_eq!(socket.next().await.unwrap()["type"], "pong");

    // A message over 512 KiB gets an error event, then the socket closes.
    let huge = json!({"type": "prompt", "text": "x".repeat(600 * 1024)}).to_string();
    let _ = socket.send_raw(Message::Text(huge.into())).await;
    let reply = socket.next().await.unwrap();
    assert_eq!(reply["code"], "message_too_large", "{reply}");
    assert!(socket.next().await.is_err(), "the socket is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_a_clear_error() {
    // A loopback port with nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let hub = TestHub::start_with(HubOptions {
        upstream: Some(format!("http://{closed}")),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let yan = hub.create_user("yan").await.unwrap();

    let started = std::time::Instant::now();
    let messages = chat(&hub, &yan, "hello").await.unwrap();
    let elapsed = started.elapsed();
    let error = messages.iter().find(|m| m["type"] == "error").unwrap_or_else(|| panic!("no error event: {messages:?}"));
    assert_eq!(error["code"], "model_error", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("unreachable") || message.contains("API Error"), "{message}");
    assert_eq!(messages.last().unwrap()["type"], "done");
    assert!(elapsed.as_secs() < 30, "the error must come quickly, not after minutes of retries: {elapsed:?}");

    let (status, _) = hub.request(Method::GET, "/healthz", None, None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hub.request(Method::GET, "/api/me", Some(&yan.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_user_says_it_exists() {
    let hub = TestHub::start().await.unwrap();
    hub.create_user("dup").await.unwrap();
    let (status, body) = hub
        .request(Method::POST, "/api/admin/users", Some(&hub.admin.access), Some(serde_json::json!({"username": "dup", "password": "long-enough-1"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "already_exists");
    assert_eq!(body["error"]["message"], "user dup already exists; choose another name");
    let (status, body) = hub.request(Method::GET, "/api/admin/users/99999", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "user 99999 does not exist", "{body}");
}
