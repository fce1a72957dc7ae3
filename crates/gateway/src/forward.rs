//! Forwarding one request from a user's socket to the upstream Messages API.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tracing::{info, warn};

use crate::meter::Meter;
use crate::{Inner, Refusal};

type GatewayBody = BoxBody<Bytes, std::io::Error>;

/// The only calls the gateway forwards; everything else the organisation's key could
/// reach (files, batches, admin endpoints) stays out of reach.
///
/// NOTE: the model named in a request is not checked here, so a user can call any model
/// the key allows. `model.allowed_models` binds only the chat endpoint.
const FORWARDED_PATHS: [&str; 2] = ["/v1/messages", "/v1/messages/count_tokens"];

/// Request headers passed upstream; credentials and hop-by-hop headers are dropped.
const FORWARDED_REQUEST_HEADERS: [&str; 5] = ["content-type", "accept", "anthropic-version", "anthropic-beta", "user-agent"];

/// Requests of one user whose bodies may be in the hub's memory at once. Each body is
/// buffered whole (up to `max_request_bytes`), so this bounds the memory one user's
/// container can make the hub use. Further requests wait for a permit.
const MAX_IN_FLIGHT_PER_USER: usize = 4;

/// Response headers passed back to the agent.
const FORWARDED_RESPONSE_HEADERS: [&str; 7] = [
    "content-type",
    "request-id",
    "retry-after",
    "x-should-retry",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-organization-id",
];

pub(crate) async fn handle(inner: Arc<Inner>, user_id: i64, request: Request<Incoming>) -> Result<Response<GatewayBody>, Infallible> {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    let response = forward(&inner, user_id, request).await;
    let status = response.status().as_u16();
    info!(user_id, path = %path, status, elapsed_ms = started.elapsed().as_millis() as u64, "gateway request");
    Ok(response)
}

async fn forward(inner: &Arc<Inner>, user_id: i64, request: Request<Incoming>) -> Response<GatewayBody> {
    let path = request.uri().path();
    if !FORWARDED_PATHS.contains(&path) {
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("cchub gateway: {path} is not forwarded; only POST /v1/messages and /v1/messages/count_tokens are"),
        );
    }
    if request.method() != Method::POST {
        return error_response(StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", "cchub gateway: only POST is forwarded");
    }
    if let Err(refusal) = inner.accounting.admit(user_id).await {
        return refused(refusal);
    }
    let metered = path == FORWARDED_PATHS[0];

    let url = format!(
        "{}{}",
        inner.config.upstream,
        request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(path)
    );
    let mut upstream = inner.client.post(&url);
    for name in FORWARDED_REQUEST_HEADERS {
        for value in request.headers().get_all(name) {
            upstream = upstream.header(name, value.clone());
        }
    }
    for (name, value) in request.headers() {
        if name.as_str().starts_with("x-stainless-") {
            upstream = upstream.header(name, value.clone());
        }
    }
    if let Some(key) = inner.api_key.read().expect("gateway key lock poisoned").as_ref() {
        upstream = upstream.header("x-api-key", key.expose());
    }

    // Held until the upstream responds, when the request body has left the hub's memory.
    let _permit = in_flight_permit(inner, user_id).await;
    let body = match Limited::new(request.into_body(), inner.config.max_request_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            let too_large = err.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            return if too_large {
                error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    &format!("cchub gateway: request body exceeds {} bytes", inner.config.max_request_bytes),
                )
            } else {
                error_response(StatusCode::BAD_REQUEST, "invalid_request_error", "cchub gateway: could not read the request body")
            };
        }
    };

    if metered {
        if let Some(refusal) = remote_tool_refusal(&body) {
            warn!(user_id, reason = refusal, "gateway rejected a request with a provider-side network tool");
            return error_response(StatusCode::FORBIDDEN, "permission_error", &format!("cchub gateway: {refusal}"));
        }
    }

    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(err) => {
            let reason = describe(&err);
            warn!(upstream = %inner.config.upstream, error = %err.without_url(), "model upstream unreachable");
            let mut response = error_response(
                StatusCode::BAD_GATEWAY,
                "api_error",
                &format!(
                    "cchub gateway: the model upstream {} is unreachable ({}); ask your administrator to check model.upstream",
                    inner.config.upstream,
                    reason
                ),
            );
            // The agent would otherwise retry for minutes before reporting anything.
            response.headers_mut().insert("x-should-retry", "false".parse().expect("static header"));
            return response;
        }
    };

    let mut response = Response::builder().status(answer.status().as_u16());
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(name) {
            response = response.header(name, value.as_bytes());
        }
    }
    let streaming = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut watcher = (metered && answer.status().is_success()).then(|| Metered {
        meter: Some(Meter::new(streaming)),
        inner: inner.clone(),
        user_id,
    });
    // The watcher sees every chunk on its way and records the usage when the body is
    // dropped: after the last chunk, or when the agent hangs up early.
    let stream = answer
        .bytes_stream()
        .map(move |chunk| {
            if let (Ok(bytes), Some(watcher)) = (&chunk, watcher.as_mut()) {
                if let Some(meter) = watcher.meter.as_mut() {
                    meter.observe(bytes);
                }
            }
            chunk
        })
        .map_ok(Frame::data)
        .map_err(std::io::Error::other);
    response
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap_or_else(|_| error_response(StatusCode::BAD_GATEWAY, "api_error", "cchub gateway: invalid upstream response"))
}

async fn in_flight_permit(inner: &Inner, user_id: i64) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let semaphore = inner
        .in_flight
        .lock()
        .expect("gateway in-flight lock poisoned")
        .entry(user_id)
        .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_USER)))
        .clone();
    semaphore.acquire_owned().await.ok()
}

/// Returns why a Messages API request must not be forwarded, when it makes the model
/// provider open connections itself. MCP servers named in the request and the web fetch
/// tool reach any address from the provider's side, past the workspace's network policy.
/// Claude Code runs its MCP servers and WebFetch inside the container instead, where
/// that policy applies.
fn remote_tool_refusal(body: &[u8]) -> Option<&'static str> {
    // A body that is not JSON goes upstream as it is, and the API rejects it there.
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    if request.get("mcp_servers").and_then(|v| v.as_array()).is_some_and(|servers| !servers.is_empty()) {
        return Some("mcp_servers in a request are not allowed: the provider would connect to them from outside the workspace's network policy");
    }
    let tools = request.get("tools").and_then(|v| v.as_array())?;
    let fetch = tools.iter().any(|tool| tool.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.starts_with("web_fetch")));
    fetch.then_some("the web_fetch server tool is not allowed: the provider would fetch addresses outside the workspace's network policy")
}

fn describe(err: &reqwest::Error) -> &'static str {
    if err.is_connect() {
        "connection failed"
    } else if err.is_timeout() {
        "timed out"
    } else {
        "request failed"
    }
}

/// An error in the Messages API's own shape, so the agent reports it as such.
fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<GatewayBody> {
    let body = serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed())
        .expect("static response parts are valid")
}

/// Records a response's usage when dropped.
struct Metered {
    meter: Option<Meter>,
    inner: Arc<Inner>,
    user_id: i64,
}

impl Drop for Metered {
    fn drop(&mut self) {
        let Some(usage) = self.meter.take().and_then(Meter::finish) else { return };
        let accounting = self.inner.accounting.clone();
        let user_id = self.user_id;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { accounting.record(user_id, usage).await });
        } else {
            warn!(user_id, "usage of a model call was not recorded: no runtime");
        }
    }
}

/// The answer to a refused user, in the Messages API's error shape, marked as not
/// worth retrying so that the agent reports it at once.
fn refused(refusal: Refusal) -> Response<GatewayBody> {
    let (status, kind, message) = match refusal {
        Refusal::Disabled | Refusal::UnknownUser => (
            StatusCode::FORBIDDEN,
            "permission_error",
            "cchub: this account is disabled; ask your administrator".to_string(),
        ),
        Refusal::BudgetSpent { used, budget } => (
            StatusCode::PAYMENT_REQUIRED,
            "billing_error",
            format!("cchub: your tier's monthly budget of {budget} tokens is used up ({used} used); ask your administrator for a larger tier"),
        ),
        Refusal::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "cchub: usage could not be checked; try again in a moment".to_string(),
        ),
    };
    let mut response = error_response(status, kind, &message);
    response.headers_mut().insert("x-should-retry", "false".parse().expect("static header"));
    response
}

#[cfg(test)]
mod tests {
    use super::remote_tool_refusal;

    #[test]
    fn provider_network_tools_are_refused() {
        let mcp = br#"{"model":"m","messages":[],"mcp_servers":[{"type":"url","url":"https://example.com/sse","name":"x"}]}"#;
        assert!(remote_tool_refusal(mcp).is_some_and(|r| r.contains("mcp_servers")));
        let fetch = br#"{"model":"m","messages":[],"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}]}"#;
        assert!(remote_tool_refusal(fetch).is_some_and(|r| r.contains("web_fetch")));
    }

    #[test]
    fn ordinary_requests_pass() {
        let tools = br#"{"model":"m","messages":[],"mcp_servers":[],"tools":[{"name":"Bash","input_schema":{}},{"type":"web_search_20250305","name":"web_search"}]}"#;
        assert_eq!(remote_tool_refusal(tools), None);
        assert_eq!(remote_tool_refusal(b"not json"), None);
    }
}
