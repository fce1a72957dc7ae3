//! Interactive execs with a terminal.
//!
//! bollard decodes an attached exec's output with a reader that treats a chunk starting
//! with byte 0, 1 or 2 as a multiplexing header, which a terminal's raw bytes may well
//! start with. A TTY exec is therefore attached here directly: one HTTP upgrade on the
//! engine's socket, then raw bytes both ways.

use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, UPGRADE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

use crate::RuntimeError;

/// A started TTY exec: raw terminal output and input.
pub struct TtySession {
    pub exec_id: String,
    pub output: Pin<Box<dyn AsyncRead + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

fn attach_error(exec_id: &str, message: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Attach {
        exec_id: exec_id.to_string(),
        message: message.to_string(),
    }
}

/// Starts exec `exec_id` (created with a TTY) and returns its raw byte streams.
pub(crate) async fn start_attached(socket: &Path, api_version: &str, exec_id: &str) -> Result<TtySession, RuntimeError> {
    let stream = UnixStream::connect(socket).await.map_err(|e| attach_error(exec_id, e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| attach_error(exec_id, e))?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(error = %err, "engine attach connection ended");
        }
    });

    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/v{api_version}/exec/{exec_id}/start"))
        .header(HOST, "docker")
        .header(CONTENT_TYPE, "application/json")
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "tcp")
        .body(Full::new(Bytes::from_static(br#"{"Detach":false,"Tty":true}"#)))
        .map_err(|e| attach_error(exec_id, e))?;
    let response = sender.send_request(request).await.map_err(|e| attach_error(exec_id, e))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS && response.status() != StatusCode::OK {
        return Err(attach_error(exec_id, format!("the engine answered {}", response.status())));
    }
    let upgraded = hyper::upgrade::on(response).await.map_err(|e| attach_error(exec_id, e))?;
    let (output, input) = tokio::io::split(TokioIo::new(upgraded));
    Ok(TtySession {
        exec_id: exec_id.to_string(),
        output: Box::pin(output),
        input: Box::pin(input),
    })
}
