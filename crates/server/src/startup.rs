use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use cchub_config::Config;
use cchub_gateway::{Gateway, GatewayConfig};
use cchub_runtime::{ContainerRuntime, DockerRuntime};
use cchub_store::Store;
use thiserror::Error;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{info, warn};

use crate::agent::RunRegistry;
use crate::workspace::apparmor;
use crate::auth::{AuthService, JwtKeys, LoginLimiter};
use crate::error::ApiError;
use crate::state::{AppInner, AppState};
use crate::usage::{load_model_key, SecretBox, StoreAccounting};
use crate::workspace::WorkspaceService;

/// Largest request body the gateway forwards to the model.
const GATEWAY_MAX_REQUEST: usize = 32 << 20;
/// How often garbage collection runs inside `serve`; the first run is one period after
/// the start.
const GC_PERIOD: Duration = Duration::from_secs(3600);
/// How often audit rows past their retention are removed.
const AUDIT_PURGE_PERIOD: Duration = Duration::from_secs(6 * 3600);
/// How often each running container's pids counter and disk use are read.
const RESOURCE_CHECK_PERIOD: Duration = Duration::from_secs(5);

/// A start-up failure; each variant names what to fix.
#[derive(Debug, Error)]
pub enum StartupError {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("JWT signing key: {0}")]
    Key(String),
    #[error(transparent)]
    Store(#[from] cchub_store::StoreError),
    #[error("{0}; start the Docker Engine (dockerd) or set docker.socket_path / CCHUB_DOCKER_SOCKET")]
    Engine(cchub_runtime::RuntimeError),
    #[error("model gateway: {0}")]
    Gateway(#[from] cchub_gateway::GatewayError),
    #[error("seccomp profile: {0}")]
    Policy(#[from] cchub_policy::PolicyError),
    #[error("secrets: {0}")]
    Secrets(String),
}

/// A hub ready to serve: store open, engine connected, containers adopted.
pub struct App {
    state: AppState,
}

impl App {
    pub async fn build(mut config: Config) -> Result<Self, StartupError> {
        config.security.apparmor_profile = apparmor::prepare(&config);
        let config = Arc::new(config);
        let layout = config.layout();
        layout.ensure().map_err(|source| StartupError::DataDir {
            path: layout.root().display().to_string(),
            source,
        })?;
        write_seccomp_profiles(&config)?;

        let keys = JwtKeys::load_or_generate(&config.auth.jwt_key_file).map_err(StartupError::Key)?;
        let store = Store::open(config.database.url.expose(), config.database.max_connections).await?;
        let runtime = Arc::new(DockerRuntime::connect(&config.docker.socket_path).await.map_err(StartupError::Engine)?);
        match runtime.image_id(&config.containers.image).await {
            Ok(Some(_)) => {}
            Ok(None) => warn!(image = %config.containers.image, "workspace image missing; run `cchub image build` before users start workspaces"),
            Err(err) => warn!(error = %err, "cannot check the workspace image"),
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
        for (name, tier) in &config.resources.tiers {
            if tier.cpu > cores {
                warn!(tier = %name, cpu = tier.cpu, host_cores = cores, "tier allows more CPU than this host has; its quota cannot be reached");
            }
            let mode = config.security.network_for(tier);
            if mode == cchub_policy::NetworkMode::Proxy && tier.egress_allowlist.is_empty() {
                warn!(tier = %name, "tier uses network mode proxy with an empty egress_allowlist; its proxy refuses every destination");
            }
            if mode != cchub_policy::NetworkMode::Proxy && !tier.egress_allowlist.is_empty() {
                warn!(tier = %name, mode = mode.as_str(), "tier has an egress_allowlist, which only network mode proxy uses");
            }
        }
        let secrets = SecretBox::load_or_generate(&layout.secrets_dir().join("data.key")).map_err(StartupError::Secrets)?;
        let (api_key, key_source) = load_model_key(&store, &secrets, config.model.api_key.clone()).await.map_err(StartupError::Secrets)?;
        if api_key.is_none() {
            warn!(upstream = %config.model.upstream, "no organisation key (ANTHROPIC_API_KEY or the admin API); the gateway forwards requests without one");
        }

        let accounting = Arc::new(StoreAccounting {
            store: store.clone(),
            config: config.clone(),
        });
        let gateway_config = GatewayConfig {
            upstream: config.model.upstream.clone(),
            max_request_bytes: GATEWAY_MAX_REQUEST,
            egress_allow_private: config.security.egress_allow_private,
        };
        let gateway = Gateway::new(gateway_config, api_key, accounting)?;
        let workspaces = WorkspaceService::new(config.clone(), store.clone(), runtime, gateway.clone());
        if let Err(err) = workspaces.adopt().await {
            warn!(error = %err, "cannot adopt existing containers");
        }

        let limiter = LoginLimiter::new(
            Duration::from_secs(config.auth.login_window_secs),
            config.auth.login_max_failures_per_account,
            config.auth.login_max_failures_per_ip,
        );
        let auth = AuthService::new(keys, store.clone(), config.auth.access_token_ttl_secs, config.auth.refresh_token_ttl_secs, limiter);
        let state = AppState::new(AppInner {
            config,
            store,
            auth,
            workspaces,
            runs: RunRegistry::default(),
            gateway,
            secrets,
            model_key_source: std::sync::Mutex::new(key_source),
        });
        Ok(Self { state })
    }

    /// Pauses and stops idle workspaces now and then, for as long as the returned task
    /// lives; `None` when no tier ever pauses or stops.
    fn spawn_idle_reaper(&self) -> Option<tokio::task::JoinHandle<()>> {
        let shortest = self.state.config.resources.tiers.values().flat_map(|t| [t.idle_pause_secs, t.idle_stop_secs]).flatten().min()?;
        let state = self.state.clone();
        let period = (Duration::from_secs(shortest) / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let runs = state.runs.clone();
                state.workspaces.sweep_idle(|user_id| runs.active_count(user_id)).await;
            }
        }))
    }

    /// Follows the engine's events and checks pids and disk use now and then, for as long
    /// as the returned tasks live.
    fn spawn_monitors(&self) -> [tokio::task::JoinHandle<()>; 5] {
        let state = self.state.clone();
        let events = tokio::spawn(async move { state.workspaces.watch_events().await });
        let state = self.state.clone();
        let resources = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(RESOURCE_CHECK_PERIOD);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                state.workspaces.check_resources().await;
            }
        });
        let state = self.state.clone();
        let retention = tokio::spawn(async move {
            let Some(days) = state.config.audit_retention_days else { return };
            let mut ticker = tokio::time::interval(AUDIT_PURGE_PERIOD);
            loop {
                ticker.tick().await;
                let before = cchub_store::now_ms() - (days as i64) * 86_400_000;
                match state.store.purge_audit_before(before).await {
                    Ok(0) => {}
                    Ok(removed) => info!(removed, retention_days = days, "removed audit rows past their retention"),
                    Err(err) => warn!(error = %err, "cannot remove old audit rows"),
                }
            }
        });
        let state = self.state.clone();
        let collector = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(GC_PERIOD);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(err) = crate::gc::collect(&state.config, &state.store, state.workspaces.runtime(), false).await {
                    warn!(error = %err, "garbage collection failed");
                }
            }
        });
        let state = self.state.clone();
        let backups = tokio::spawn(async move {
            let Some(hours) = state.config.backup_interval_hours else { return };
            let interval = Duration::from_secs(hours * 3600);
            // The schedule continues from the newest backup, so a hub restarted more often
            // than the interval still backs up on time.
            let newest = crate::backup::list(&state.config).ok().and_then(|list| list.first().map(|m| m.created_at));
            let first = crate::backup::first_delay(newest, cchub_store::now_ms(), interval);
            info!(in_secs = first.as_secs(), "next scheduled backup");
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
            loop {
                ticker.tick().await;
                let log = |line: &str| info!(step = line, "scheduled backup");
                if let Err(err) = crate::backup::create(&state.config, &state.store, state.workspaces.runtime(), state.config.backup_keep, &log).await {
                    warn!(error = %err, "scheduled backup failed");
                }
            }
        });
        [events, resources, retention, collector, backups]
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> Router {
        crate::routes::router(self.state.clone())
            .layer(axum::middleware::from_fn(log_request))
            .layer(CatchPanicLayer::custom(|_| {
                ApiError::internal("the request", "a handler panicked").into_response()
            }))
    }

    /// Serves until `shutdown` completes, then closes the store.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let router = self.router();
        let reaper = self.spawn_idle_reaper();
        let monitors = self.spawn_monitors();
        info!(address = %listener.local_addr()?, "cchub listening");
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        if let Some(reaper) = reaper {
            reaper.abort();
        }
        monitors.iter().for_each(tokio::task::JoinHandle::abort);
        self.state.store.close().await;
        Ok(())
    }
}

/// Writes every seccomp profile to `containers/seccomp/<name>.json`, for inspection.
fn write_seccomp_profiles(config: &Config) -> Result<(), StartupError> {
    let dir = config.layout().seccomp_dir();
    for (name, profile) in &config.security.seccomp_profiles {
        let path = dir.join(format!("{name}.json"));
        let temp = dir.join(format!(".{name}.json.tmp"));
        let io_error = |source| StartupError::DataDir {
            path: path.display().to_string(),
            source,
        };
        std::fs::write(&temp, &profile.json).map_err(io_error)?;
        std::fs::rename(&temp, &path).map_err(io_error)?;
    }
    Ok(())
}

async fn log_request(request: Request<Body>, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // The route's template keeps the metric's labels few; other paths are the web UI's
    // files or unknown routes.
    let route = match request.extensions().get::<axum::extract::MatchedPath>() {
        Some(matched) => matched.as_str().to_string(),
        None if path.starts_with("/api/") || path.starts_with("/ws/") => "unmatched".to_string(),
        None => "web".to_string(),
    };
    let started = Instant::now();
    // Every log line of the request carries its id, and the user's id once known.
    let request_id = format!("{:016x}", rand::random::<u64>());
    let span = tracing::info_span!("request", request_id = %request_id, user_id = tracing::field::Empty);
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    if let Ok(value) = axum::http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let _entered = span.enter();
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    crate::metrics::metrics().http_request(method.as_str(), &route, status, started.elapsed());
    // The handler chose and already logged a 503 (a queue, an engine that is down).
    if status >= 500 && status != 503 {
        warn!(%method, %path, status, elapsed_ms, "request failed");
    } else {
        info!(%method, %path, status, elapsed_ms, "request");
    }
    response
}
