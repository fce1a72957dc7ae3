use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

use crate::{Session, TestHub};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected, authenticated chat socket.
pub struct ChatSocket {
    socket: Socket,
}

#[derive(Default, Clone)]
pub struct ChatOptions {
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
}

impl ChatSocket {
    /// Connects with the token as a subprotocol and waits for `ready`.
    pub async fn connect(hub: &TestHub, session: &Session) -> anyhow::Result<Self> {
        Self::connect_url(&format!("{}/ws/chat", hub.ws_url), &session.access, None).await
    }

    /// Connects to `url` (ws:// or wss://, with `connector` for a private CA) and waits
    /// for `ready`.
    pub async fn connect_url(url: &str, access_token: &str, connector: Option<Connector>) -> anyhow::Result<Self> {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", format!("cchub, cchub.token.{access_token}").parse()?);
        let (socket, response) = tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await.context("chat connect")?;
        let protocol = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
        if protocol != Some("cchub") {
            bail!("the hub did not select the cchub subprotocol: {protocol:?}");
        }
        let mut chat = Self { socket };
        let ready = chat.next().await?;
        if ready["type"] != "ready" {
            bail!("expected ready, got {ready}");
        }
        Ok(chat)
    }

    /// Connects without a token, for tests of the first-message handshake.
    pub async fn connect_bare(hub: &TestHub) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("{}/ws/chat", hub.ws_url)).await?;
        Ok(Self { socket })
    }

    pub async fn send(&mut self, value: Value) -> anyhow::Result<()> {
        self.socket.send(Message::Text(value.to_string().into())).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        self.socket.send(message).await?;
        Ok(())
    }

    /// Returns the next JSON message; fails after 90 s or when the socket closes.
    pub async fn next(&mut self) -> anyhow::Result<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(90), self.socket.next())
                .await
                .context("no chat message within 90 s")?
                .context("chat socket closed")??;
            match message {
                Message::Text(text) => return Ok(serde_json::from_str(&text)?),
                Message::Close(_) => bail!("chat socket closed by the hub"),
                _ => continue,
            }
        }
    }

    pub async fn prompt(&mut self, text: &str, options: &ChatOptions) -> anyhow::Result<()> {
        let mut message = json!({"type": "prompt", "text": text});
        if let Some(id) = &options.session_id {
            message["session_id"] = json!(id);
        }
        if let Some(model) = &options.model {
            message["model"] = json!(model);
        }
        if let Some(mode) = &options.permission_mode {
            message["permission_mode"] = json!(mode);
        }
        self.send(message).await
    }

    /// Collects every message up to and including `done`.
    pub async fn until_done(&mut self) -> anyhow::Result<Vec<Value>> {
        let mut messages = Vec::new();
        loop {
            let message = self.next().await?;
            let done = message["type"] == "done";
            messages.push(message);
            if done {
                return Ok(messages);
            }
        }
    }
}

/// Sends one prompt on a new socket and returns every message up to `done`.
pub async fn chat(hub: &TestHub, session: &Session, prompt: &str) -> anyhow::Result<Vec<Value>> {
    chat_with(hub, session, prompt, &ChatOptions::default()).await
}

pub async fn chat_with(hub: &TestHub, session: &Session, prompt: &str, options: &ChatOptions) -> anyhow::Result<Vec<Value>> {
    let mut socket = ChatSocket::connect(hub, session).await?;
    socket.prompt(prompt, options).await?;
    socket.until_done().await
}
