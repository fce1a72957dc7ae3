//! The hub's logs: JSON lines with the request's id, and none of the secrets a run of the
//! hub handles (passwords, access and refresh tokens, the model key).

use std::io::Write;
use std::sync::{Arc, Mutex};

use cchub_e2e::{chat, TestHub, ADMIN_PASSWORD, TEST_KEY};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_without_secrets() {
    // The same format as `cchub serve` writes by default, at debug level to see more.
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,h2=info,sqlx=info,bollard=info,tungstenite=info,tokio_tungstenite=info")
        .with_target(false)
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test installs the only subscriber of its process");

    let hub = TestHub::start().await.unwrap();
    let pia = hub.create_user("pia").await.unwrap();
    let (status, refreshed) = hub.request(Method::POST, "/api/auth/refresh", None, Some(json!({"refresh_token": pia.refresh}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(hub.login("pia", "a-wrong-password-123").await.is_err());
    let stored_key = "sk-ant-stored-key-for-the-log-test-0001";
    let (status, _) = hub.request(Method::PUT, "/api/admin/model-key", Some(&hub.admin.access), Some(json!({"api_key": stored_key}))).await.unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    chat(&hub, &pia, "[[bash: echo logged]] [[text: ok]]").await.unwrap();
    drop(hub);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect();
    assert!(lines.len() > 20, "too few log lines: {}", lines.len());
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|l| l["span"]["request_id"].as_str().is_some_and(|id| id.len() == 16)), "{requests:?}");
    assert!(requests.iter().any(|l| l["span"]["user_id"].is_number()), "a signed-in request names its user");

    let secrets = [
        pia.access.as_str(),
        pia.refresh.as_str(),
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        "pia-password-1",
        "a-wrong-password-123",
        ADMIN_PASSWORD,
        TEST_KEY,
        stored_key,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret reached the log: {}…", &secret[..8]);
    }
}
