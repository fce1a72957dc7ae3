use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use super::reply::Reply;
use super::script::{user_text, Script};

/// One request the mock received, for tests to inspect.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub path: String,
    pub api_key: Option<String>,
    pub authorization: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    pub body: Value,
}

#[derive(Default)]
struct MockState {
    expected_key: Option<String>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// (input, output) tokens of every Messages reply, in order.
    reported: Mutex<Vec<(u64, u64)>>,
    counter: AtomicU64,
}

/// A running mock Messages API server on a loopback port.
pub struct MockModel {
    addr: SocketAddr,
    state: Arc<MockState>,
    task: tokio::task::JoinHandle<()>,
}

impl MockModel {
    /// Starts the server on `listen` (use port 0 for a free port). With `expected_key`,
    /// requests whose `x-api-key` differs get a 401 `authentication_error`.
    pub async fn start(listen: SocketAddr, expected_key: Option<String>) -> std::io::Result<Self> {
        let state = Arc::new(MockState {
            expected_key,
            ..MockState::default()
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "mock model server stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the base URL to give as `model.upstream`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("mock state lock").clone()
    }

    /// Returns the (input, output) token counts reported in each Messages reply so far.
    pub fn reported_usage(&self) -> Vec<(u64, u64)> {
        self.state.reported.lock().expect("mock state lock").clone()
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/_mock/requests", get(list_requests))
        .with_state(state)
}

fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, Json(body)).into_response()
}

fn record(state: &MockState, uri: &Uri, headers: &HeaderMap, body: &Value) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let request = RecordedRequest {
        path: uri.to_string(),
        api_key: header("x-api-key"),
        authorization: header("authorization"),
        model: body["model"].as_str().map(str::to_string),
        stream: body["stream"].as_bool().unwrap_or(false),
        body: body.clone(),
    };
    let key_ok = match &state.expected_key {
        Some(expected) => request.api_key.as_deref() == Some(expected.as_str()),
        None => true,
    };
    state.requests.lock().expect("mock state lock").push(request);
    if key_ok {
        None
    } else {
        Some(api_error(StatusCode::UNAUTHORIZED, "authentication_error", "invalid x-api-key"))
    }
}

async fn messages(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(rejection) = record(&state, &uri, &headers, &body) {
        return rejection;
    }
    if let Some(status) = Script::parse(&user_text(&body)).error_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return api_error(status, "api_error", "scripted error from the mock model");
    }

    let number = state.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("msg_mock_{number:06}");
    let reply = Reply::plan(&body, number);
    state.reported.lock().expect("mock state lock").push((reply.input_tokens, reply.output_tokens));
    if !body["stream"].as_bool().unwrap_or(false) {
        return Json(reply.message_json(&id)).into_response();
    }

    let delay = Duration::from_millis(reply.delay_ms);
    let events = reply.stream_events(&id);
    let stream = futures_util::stream::iter(events).then(move |(name, data)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()))
    });
    Sse::new(stream).into_response()
}

async fn count_tokens(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(rejection) = record(&state, &uri, &headers, &body) {
        return rejection;
    }
    Json(json!({"input_tokens": body.to_string().len() / 4 + 1})).into_response()
}

async fn list_requests(State(state): State<Arc<MockState>>) -> Json<Vec<RecordedRequest>> {
    Json(state.requests.lock().expect("mock state lock").clone())
}
