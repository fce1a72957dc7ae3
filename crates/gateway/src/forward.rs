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
