//! cchub's model gateway.
//!
//! Each user gets a Unix socket under `users/<id>/run/`, mounted read-only into that
//! user's container. A process that connects to a socket acts as that user: the socket
//! path is the identity, so no credential exists inside any container. The gateway forwards only
//! Messages API calls to the upstream, adding the organisation's key, and streams the
//! answer back as it arrives.

mod accounting;
mod error;
mod forward;
mod meter;
mod proxy;
mod socket;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use cchub_config::Secret;

pub use accounting::{Accounting, NoAccounting, Refusal, Usage};
pub use error::GatewayError;

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Base URL of the Messages API, without a trailing slash.
    pub upstream: String,
    /// Largest request body forwarded.
    pub max_request_bytes: usize,
    /// Whether the egress proxy may connect to private addresses found for a listed name.
    pub egress_allow_private: bool,
}

/// The per-user sockets and the shared upstream client.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    config: GatewayConfig,
    api_key: RwLock<Option<Secret>>,
    accounting: Arc<dyn Accounting>,
    client: reqwest::Client,
    listeners: Mutex<HashMap<i64, socket::Listener>>,
    proxies: Mutex<HashMap<i64, proxy::ProxyListener>>,
    /// Per user, the permits for requests being read and sent upstream.
    in_flight: Mutex<HashMap<i64, Arc<tokio::sync::Semaphore>>>,
}

/// Owner given to each socket so that the container's unprivileged user can connect.
#[derive(Debug, Clone, Copy)]
pub struct SocketOwner {
    pub uid: u32,
    pub gid: u32,
}

impl Gateway {
    pub fn new(config: GatewayConfig, api_key: Option<Secret>, accounting: Arc<dyn Accounting>) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // A streamed response may pause while the model thinks, but not this long.
            .read_timeout(Duration::from_secs(600))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(GatewayError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api_key: RwLock::new(api_key),
                accounting,
                client,
                listeners: Mutex::new(HashMap::new()),
                proxies: Mutex::new(HashMap::new()),
                in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Makes sure user `user_id` has a listening socket in `dir`, creating it (and
    /// replacing a stale socket file left by an earlier hub) when needed.
    pub async fn ensure_socket(&self, user_id: i64, dir: &Path, owner: Option<SocketOwner>) -> Result<PathBuf, GatewayError> {
        let path = dir.join(cchub_policy::GATEWAY_SOCKET_NAME);
        // Checking and binding under one lock: two concurrent calls for one user must
        // not both bind, or the second would unlink the first one's socket.
        let mut listeners = self.inner.listeners.lock().expect("gateway listener map poisoned");
        if let Some(listener) = listeners.get(&user_id) {
            if listener.is_alive() && listener.path() == path && path.exists() {
                return Ok(path);
            }
        }
        let listener = socket::Listener::bind(self.inner.clone(), user_id, &path, owner)?;
        listeners.insert(user_id, listener);
        Ok(path)
    }

    /// Stops serving user `user_id` and removes the socket files.
    pub fn close_socket(&self, user_id: i64) {
        let removed = self.inner.listeners.lock().expect("gateway listener map poisoned").remove(&user_id);
        drop(removed);
        let proxy = self.inner.proxies.lock().expect("gateway proxy map poisoned").remove(&user_id);
        drop(proxy);
    }

    /// Makes sure user `user_id` has an egress proxy socket in `dir` that allows exactly
    /// `allowlist` (network mode `proxy`).
    pub fn ensure_proxy_socket(&self, user_id: i64, dir: &Path, owner: Option<SocketOwner>, allowlist: Vec<String>) -> Result<PathBuf, GatewayError> {
        let path = dir.join(cchub_policy::PROXY_SOCKET_NAME);
        let mut proxies = self.inner.proxies.lock().expect("gateway proxy map poisoned");
        if proxies.get(&user_id).is_some_and(|p| p.matches(&path, &allowlist)) {
            return Ok(path);
        }
        proxies.remove(&user_id);
        let listener = proxy::ProxyListener::bind(self.inner.accounting.clone(), user_id, &path, owner, allowlist, self.inner.config.egress_allow_private)?;
        proxies.insert(user_id, listener);
        Ok(path)
    }

    /// Stops the egress proxy of user `user_id`, as when its tier no longer uses one.
    pub fn close_proxy_socket(&self, user_id: i64) {
        let proxy = self.inner.proxies.lock().expect("gateway proxy map poisoned").remove(&user_id);
        drop(proxy);
    }

    /// Replaces the organisation key for every later request.
    pub fn set_api_key(&self, key: Option<Secret>) {
        *self.inner.api_key.write().expect("gateway key lock poisoned") = key;
    }

    pub fn has_api_key(&self) -> bool {
        self.inner.api_key.read().expect("gateway key lock poisoned").is_some()
    }

    pub fn upstream(&self) -> &str {
        &self.inner.config.upstream
    }
}
