//! The gateway against the mock model, over a real Unix socket.

use std::path::Path;

use cchub_config::Secret;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cchub_gateway::{Accounting, Gateway, GatewayConfig, NoAccounting, Refusal, Usage};
use cchub_testkit::mock_model::MockModel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const KEY: &str = "sk-ant-test-organisation-key";

/// Sends one HTTP/1.1 request over the socket and returns (status, whole response text).
async fn raw_request(socket: &Path, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // The gateway may respond and close before a refused body is fully sent.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn gateway_for(upstream: String, dir: &Path) -> (Gateway, std::path::PathBuf) {
    gateway_with(upstream, dir, Arc::new(NoAccounting)).await
}

async fn gateway_with(upstream: String, dir: &Path, accounting: Arc<dyn Accounting>) -> (Gateway, std::path::PathBuf) {
    let config = GatewayConfig {
        upstream,
        max_request_bytes: 1 << 20,
        egress_allow_private: false,
    };
    let gateway = Gateway::new(config, Some(Secret::new(KEY)), accounting).unwrap();
    let socket = gateway.ensure_socket(1, dir, None).await.unwrap();
    (gateway, socket)
}

#[tokio::test]
async fn messages_are_forwarded_with_the_key() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), Some(KEY.into())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(mock.url(), dir.path()).await;

    let body = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"[[text: hi there]]"}]}"#;
    let (status, text) = raw_request(&socket, "POST", "/v1/messages?beta=true", "x-api-key: placeholder-from-container\r\n", body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hi there"), "{text}");

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].api_key.as_deref(), Some(KEY));
    assert_eq!(requests[0].path, "/v1/messages?beta=true");
    assert!(!text.contains(KEY), "the key must never come back to the container");
}

#[tokio::test]
async fn streaming_answer_passes_through() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), Some(KEY.into())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(mock.url(), dir.path()).await;

    let body = r#"{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"[[text: streamed]]"}]}"#;
    let (status, text) = raw_request(&socket, "POST", "/v1/messages", "", body).await;
    assert_eq!(status, 200);
    assert!(text.contains("event: message_start"), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
}

#[tokio::test]
async fn other_paths_and_methods_are_refused() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), Some(KEY.into())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(mock.url(), dir.path()).await;

    for path in ["/v1/files", "/v1/models", "/v1/messages/batches", "/", "/v1/messages/../files", "/_mock/requests"] {
        let (status, text) = raw_request(&socket, "POST", path, "", "{}").await;
        assert!(status == 404 || status == 400, "{path}: {status} {text}");
    }
    let (status, _) = raw_request(&socket, "GET", "/v1/messages", "", "").await;
    assert_eq!(status, 405);
    assert!(mock.requests().is_empty(), "nothing may reach the upstream");
}

#[tokio::test]
async fn unreachable_upstream_is_a_clear_error() {
    // Bind then drop a listener to get a loopback port with nothing behind it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(format!("http://{closed}"), dir.path()).await;

    let (status, text) = raw_request(&socket, "POST", "/v1/messages", "", r#"{"model":"m","messages":[]}"#).await;
    assert_eq!(status, 502);
    assert!(text.contains("unreachable"), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-should-retry: false"), "{text}");
    assert!(!text.contains(KEY));
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(mock.url(), dir.path()).await;
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(2 << 20));
    let (status, _) = raw_request(&socket, "POST", "/v1/messages", "", &big).await;
    assert_eq!(status, 413);
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn socket_is_replaced_and_removed() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (gateway, socket) = gateway_for(mock.url(), dir.path()).await;
    // A second call keeps the live listener.
    assert_eq!(gateway.ensure_socket(1, dir.path(), None).await.unwrap(), socket);
    gateway.close_socket(1);
    assert!(!socket.exists());
    // A stale socket file from an earlier hub is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(stale);
    gateway.ensure_socket(1, dir.path(), None).await.unwrap();
    let (status, _) = raw_request(&socket, "POST", "/v1/messages", "", r#"{"model":"m","messages":[]}"#).await;
    assert_eq!(status, 200);
}

/// Records usage in memory and refuses once `budget` tokens are used.
struct Ledger {
    budget: u64,
    recorded: Mutex<Vec<Usage>>,
}

#[async_trait]
impl Accounting for Ledger {
    async fn admit(&self, _user_id: i64) -> Result<(), Refusal> {
        let used: u64 = self.recorded.lock().unwrap().iter().map(|u| u.input_tokens + u.output_tokens).sum();
        if used >= self.budget {
            return Err(Refusal::BudgetSpent { used, budget: self.budget });
        }
        Ok(())
    }

    async fn record(&self, _user_id: i64, usage: Usage) {
        self.recorded.lock().unwrap().push(usage);
    }
}

#[tokio::test]
async fn usage_is_metered_and_budget_enforced() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), Some(KEY.into())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger { budget: 1, recorded: Mutex::new(Vec::new()) });
    let (_gateway, socket) = gateway_with(mock.url(), dir.path(), ledger.clone()).await;

    let body = r#"{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"[[text: metered answer]]"}]}"#;
    let (status, text) = raw_request(&socket, "POST", "/v1/messages", "", body).await;
    assert_eq!(status, 200, "{text}");
    // Recording happens when the body is dropped; give it a moment.
    for _ in 0..50 {
        if !ledger.recorded.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let recorded = ledger.recorded.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1);
    let sent = mock.requests();
    assert!(recorded[0].input_tokens > 0);
    assert!(recorded[0].output_tokens > 0);
    assert_eq!(sent.len(), 1);

    let (status, text) = raw_request(&socket, "POST", "/v1/messages", "", body).await;
    assert_eq!(status, 402, "{text}");
    assert!(text.contains("billing_error"), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-should-retry: false"), "{text}");
    assert_eq!(mock.requests().len(), 1, "a refused request never reaches the upstream");
}

#[tokio::test]
async fn provider_side_mcp_servers_are_refused() {
    let mock = MockModel::start("127.0.0.1:0".parse().unwrap(), Some(KEY.into())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(mock.url(), dir.path()).await;

    let body = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"mcp_servers":[{"type":"url","url":"https://example.com/sse","name":"exfil"}]}"#;
    let (status, text) = raw_request(&socket, "POST", "/v1/messages", "anthropic-beta: mcp-client-2025-04-04\r\n", body).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("permission_error"), "{text}");
    assert!(text.contains("mcp_servers"), "{text}");
    assert!(mock.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn four_requests_in_flight_per_user() {
    // An upstream that reads requests and never responds, counting the connections.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = upstream.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let counter = accepted.clone();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((stream, _)) = upstream.accept().await else { break };
            *counter.lock().unwrap() += 1;
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (_gateway, socket) = gateway_for(format!("http://{address}"), dir.path()).await;

    let body = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut clients = Vec::new();
    for _ in 0..6 {
        let socket = socket.clone();
        clients.push(tokio::spawn(async move { raw_request(&socket, "POST", "/v1/messages", "", body).await }));
    }
    // Bounded wait: the four admitted requests reach the upstream within a few seconds.
    for _ in 0..50 {
        if *accepted.lock().unwrap() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(*accepted.lock().unwrap(), 4, "two requests wait for a permit");
    for client in clients {
        client.abort();
    }
    holder.abort();
}
