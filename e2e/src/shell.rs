use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

use crate::{Session, TestHub};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A terminal on `/ws/shell`: everything received is kept, frame by frame.
pub struct ShellSocket {
    socket: Socket,
    /// Every binary frame received, in order.
    pub frames: Vec<Vec<u8>>,
    /// Every JSON text message received, in order.
    pub messages: Vec<Value>,
}

impl ShellSocket {
    pub async fn connect(hub: &TestHub, session: &Session) -> anyhow::Result<Self> {
        Self::connect_url(&format!("{}/ws/shell", hub.ws_url), &session.access, None).await
    }

    /// Connects to `url` (ws:// or wss://, with `connector` for a private CA) and waits
    /// for `ready`.
    pub async fn connect_url(url: &str, access_token: &str, connector: Option<Connector>) -> anyhow::Result<Self> {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", format!("cchub, cchub.token.{access_token}").parse()?);
        let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await.context("shell connect")?;
        let mut shell = Self {
            socket,
            frames: Vec::new(),
            messages: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !shell.messages.iter().any(|m| m["type"] == "ready") {
            if shell.messages.iter().any(|m| m["type"] == "error") {
                bail!("shell refused: {:?}", shell.messages);
            }
            shell.receive_until(deadline).await?;
        }
        Ok(shell)
    }

    /// Sends terminal input as a binary frame.
    pub async fn type_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.socket.send(Message::Binary(text.as_bytes().to_vec().into())).await?;
        Ok(())
    }

    pub async fn send_json(&mut self, value: Value) -> anyhow::Result<()> {
        self.socket.send(Message::Text(value.to_string().into())).await?;
        Ok(())
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) -> anyhow::Result<()> {
        self.send_json(json!({"type": "resize", "cols": cols, "rows": rows})).await
    }

    /// Returns all terminal output so far, decoded leniently.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.frames.concat()).to_string()
    }

    /// Returns the output without escape sequences and whitespace, for text that a
    /// full-screen program draws with cursor moves between its words.
    pub fn compact_output(&self) -> String {
        let raw = self.output();
        let mut plain = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\u{1b}' {
                if !c.is_whitespace() {
                    plain.push(c);
                }
                continue;
            }
            match chars.next() {
                // CSI: parameters up to a final byte in @..~.
                Some('[') => {
                    for next in chars.by_ref() {
                        if ('@'..='~').contains(&next) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(next) = chars.next() {
                        if next == '\u{7}' || (next == '\u{1b}' && chars.peek() == Some(&'\\')) {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        plain
    }

    /// Waits until the compacted output contains `needle` with its whitespace removed.
    pub async fn wait_for_text(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let wanted: String = needle.chars().filter(|c| !c.is_whitespace()).collect();
        let deadline = Instant::now() + timeout;
        while !self.compact_output().contains(&wanted) {
            self.receive_until(deadline)
                .await
                .with_context(|| format!("waiting for {needle:?}; text so far: {}", self.compact_output()))?;
        }
        Ok(())
    }

    /// Waits until the output contains `needle`; fails after `timeout`.
    pub async fn wait_for(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(needle) {
            self.receive_until(deadline)
                .await
                .with_context(|| format!("waiting for {needle:?}; output so far: {}", self.output()))?;
        }
        Ok(())
    }

    /// Waits until at least `count` binary frames have arrived.
    pub async fn wait_for_frames(&mut self, count: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.frames.len() < count {
            self.receive_until(deadline).await?;
        }
        Ok(())
    }

    /// Waits for a JSON message of `kind`.
    pub async fn wait_for_message(&mut self, kind: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.messages.iter().find(|m| m["type"] == kind) {
                return Ok(found.clone());
            }
            self.receive_until(deadline).await?;
        }
    }

    async fn receive_until(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, self.socket.next())
            .await
            .context("timed out")?
            .context("shell socket closed")??;
        match message {
            Message::Binary(bytes) => self.frames.push(bytes.to_vec()),
            Message::Text(text) => self.messages.push(serde_json::from_str(&text)?),
            Message::Close(_) => bail!("shell socket closed by the hub"),
            _ => {}
        }
        Ok(())
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.close(None).await?;
        Ok(())
    }
}
