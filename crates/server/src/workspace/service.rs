use std::sync::Arc;

use cchub_config::{Config, DataLayout, UserDirs};
use cchub_gateway::{Gateway, SocketOwner};
use cchub_policy::{container_name, ByteSize, ContainerSpec, NetworkMode, TierName, CONTAINER_GID, CONTAINER_UID};

use super::disk::{DiskMode, MountOutcome};
use cchub_runtime::{ContainerInfo, ContainerRuntime, ContainerState, DockerRuntime, EnsureAction, EnsureOutcome, RuntimeError, Workspaces};
use cchub_store::{AuditEvent, Store, User};
use tracing::{error, info, warn};

use super::dirs;
use crate::error::ApiError;

/// Seconds a container gets to stop before the engine kills it.
const STOP_TIMEOUT_SECS: i32 = 5;
/// Seconds a queued client waits before asking again.
const QUEUE_RETRY_SECS: u64 = 3;

pub struct WorkspaceService {
    config: Arc<Config>,
    layout: DataLayout,
    store: Store,
    workspaces: Workspaces<DockerRuntime>,
    gateway: Gateway,
    as_root: bool,
    activity: super::Activity,
    disk_mode: DiskMode,
    notices: super::Notices,
    admission: super::admission::Admission,
    /// Per-user flags of the resource monitor, so each limit hit is reported once.
    pub(super) resource_flags: std::sync::Mutex<std::collections::HashMap<i64, super::monitor::ResourceFlags>>,
    /// One lock per user around creating and mounting the user's folders.
    prepare_locks: std::sync::Mutex<std::collections::HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

/// Maps an engine failure to the error the user receives. The cause goes to the log.
pub fn runtime_error(err: RuntimeError) -> ApiError {
    match err {
        RuntimeError::ImageMissing { image } => ApiError::unavailable(
            "image_missing",
            format!("the workspace image {image} is missing; an administrator must run `cchub image build`"),
        ),
        RuntimeError::NotFound { container } => {
            ApiError::not_found("container_not_found", format!("container {container} does not exist; start the workspace again"))
        }
        RuntimeError::SubnetOverlap { .. } | RuntimeError::Firewall { .. } => {
            error!(error = %err, "cannot set up a user's internal network");
            ApiError::unavailable(
                "network_unavailable",
                "the network of your workspace could not be set up; an administrator must check the hub's log",
            )
        }
        RuntimeError::Connect { .. } => {
            warn!(error = %err, "Docker Engine unreachable");
            ApiError::unavailable("engine_unavailable", "the container engine is not reachable; try again later or ask an administrator")
        }
        other => {
            warn!(error = %other, "container engine call failed");
            ApiError::unavailable("engine_error", "the container engine could not complete the request; try again in a moment")
        }
    }
}

impl WorkspaceService {
    pub fn new(config: Arc<Config>, store: Store, runtime: Arc<DockerRuntime>, gateway: Gateway) -> Self {
        let as_root = rustix::process::geteuid().is_root();
        if !as_root {
            warn!("the hub is not running as root: user folders keep the hub's owner, so the container's user may be unable to write them");
        }
        let disk_mode = super::disk::detect_mode(config.containers.disk_images, as_root);
        Self {
            layout: config.layout(),
            config,
            store,
            workspaces: Workspaces::new(runtime),
            gateway,
            as_root,
            activity: super::Activity::default(),
            disk_mode,
            notices: super::Notices::default(),
            admission: super::admission::Admission::default(),
            resource_flags: std::sync::Mutex::new(std::collections::HashMap::new()),
            prepare_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Notes that the user did something, which postpones the idle stop.
    pub fn touch(&self, user_id: i64) {
        self.activity.touch(user_id);
    }

    /// Counts an open terminal or file transfer until the guard is dropped; the container
    /// is neither paused nor stopped for idleness meanwhile.
    pub fn busy(&self, user_id: i64) -> super::BusyGuard {
        self.activity.busy(user_id)
    }

    /// Pauses running containers idle for their tier's pause time and stops containers
    /// idle for its stop time. A user with an agent run, a terminal or a file transfer
    /// counts as active. Returns how many containers were paused and stopped.
    pub async fn sweep_idle(&self, active_runs: impl Fn(i64) -> usize) -> (usize, usize) {
        let containers = match self.runtime().list_managed(&self.config.containers.instance).await {
            Ok(containers) => containers,
            Err(err) => {
                warn!(error = %err, "cannot list containers for the idle check");
                return (0, 0);
            }
        };
        let (mut paused, mut stopped) = (0, 0);
        for container in containers.into_iter().filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Paused)) {
            let Some(user_id) = container.user_id() else { continue };
            if active_runs(user_id) > 0 || self.activity.busy_count(user_id) > 0 {
                continue;
            }
            let Ok(Some(user)) = self.store.user_by_id(user_id).await else { continue };
            let Some(tier) = TierName::parse(&user.tier).ok().and_then(|t| self.config.resources.tier(&t).cloned()) else { continue };
            let idle = self.activity.idle_for(user_id);
            let past = |secs: Option<u64>| secs.is_some_and(|secs| idle >= std::time::Duration::from_secs(secs));
            let (action, result) = if past(tier.idle_stop_secs) {
                info!(user_id, container = %container.name, idle_secs = idle.as_secs(), "stopping an idle workspace");
                ("container.idle_stop", self.workspaces.stop(&container.name, STOP_TIMEOUT_SECS).await.map(|_| true))
            } else if container.state == ContainerState::Running && past(tier.idle_pause_secs) {
                info!(user_id, container = %container.name, idle_secs = idle.as_secs(), "pausing an idle workspace");
                ("container.idle_pause", self.workspaces.pause(&container.name).await)
            } else {
                continue;
            };
            match result {
                Ok(true) => {
                    let state = if action == "container.idle_stop" { "exited" } else { "paused" };
                    if action == "container.idle_stop" { stopped += 1 } else { paused += 1 }
                    let _ = self.store.set_container_state(user_id, state).await;
                    self.record(AuditEvent {
                        actor_id: Some(user.id),
                        actor: Some(user.username.to_string()),
                        action,
                        target: Some(container.name.clone()),
                        outcome: "success",
                        detail: Some(serde_json::json!({"idle_secs": idle.as_secs()})),
                        ..AuditEvent::default()
                    })
                    .await;
                }
                Ok(false) => {}
                Err(err) => warn!(user_id, action, error = %err, "cannot pause or stop an idle workspace"),
            }
        }
        (paused, stopped)
    }

    /// Messages for users' open chat and terminal sockets.
    pub fn notices(&self) -> &super::Notices {
        &self.notices
    }

    pub(super) fn workspaces(&self) -> &Workspaces<DockerRuntime> {
        &self.workspaces
    }

    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub fn runtime(&self) -> &Arc<DockerRuntime> {
        self.workspaces.runtime()
    }

    pub fn user_dirs(&self, user_id: i64) -> UserDirs {
        self.layout.user(user_id)
    }

    pub fn disk_mode(&self) -> DiskMode {
        self.disk_mode
    }

    /// Creates the user's folders when missing, on the user's disk image where images are
    /// used, and returns them.
    pub async fn prepare_dirs(&self, user: &User) -> Result<UserDirs, ApiError> {
        self.prepare_dirs_with_outcome(user).await.map(|(dirs, _)| dirs)
    }

    async fn prepare_dirs_with_outcome(&self, user: &User) -> Result<(UserDirs, MountOutcome), ApiError> {
        let lock = {
            let mut locks = self.prepare_locks.lock().expect("prepare lock map poisoned");
            locks.entry(user.id).or_default().clone()
        };
        let _guard = lock.lock().await;

        let dirs = self.user_dirs(user.id);
        self.claim_dirs(user, &dirs).await?;
        // A tier removed from the configuration falls back to the default tier's size.
        let size = TierName::parse(&user.tier)
            .ok()
            .and_then(|t| self.config.resources.tier(&t))
            .or_else(|| self.config.resources.tier(&self.config.resources.default_tier))
            .map(|t| t.disk)
            .unwrap_or(ByteSize::gib(1));
        let (mode, as_root, work_dirs) = (self.disk_mode, self.as_root, dirs.clone());
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<MountOutcome> {
            std::fs::create_dir_all(&work_dirs.root)?;
            let outcome = super::disk::ensure_mounted(&work_dirs, size, mode)?;
            dirs::prepare(&work_dirs, as_root)?;
            Ok(outcome)
        })
        .await
        .map_err(|e| ApiError::internal("preparing the user's folders", e))?;
        match result {
            Ok(outcome) => Ok((dirs, outcome)),
            Err(err) => {
                warn!(user_id = user.id, path = %dirs.root.display(), error = %err, "cannot prepare the user's folders");
                Err(ApiError::unavailable("storage_unavailable", "your files cannot be reached right now; try again or ask an administrator"))
            }
        }
    }

    /// Makes sure the user's folder is this account's. A folder left by another account
    /// with the same id (a database restored from an older backup reuses ids) is moved
    /// aside with its container removed, so the new account starts empty and cannot read
    /// those files.
    async fn claim_dirs(&self, user: &User, dirs: &UserDirs) -> Result<(), ApiError> {
        let owner = dirs::Owner { username: user.username.to_string(), created_at: user.created_at };
        let storage_error = |err: std::io::Error| {
            warn!(user_id = user.id, path = %dirs.root.display(), error = %err, "cannot check whose the user's folder is");
            ApiError::unavailable("storage_unavailable", "your files cannot be reached right now; try again or ask an administrator")
        };
        match dirs::check_claim(dirs, &owner).map_err(storage_error)? {
            dirs::Claim::Ours => return Ok(()),
            dirs::Claim::Missing | dirs::Claim::Unmarked => return dirs::mark_owner(dirs, &owner).map_err(storage_error),
            dirs::Claim::Foreign(previous) => {
                let name = cchub_policy::container_name(&self.config.containers.instance, user.id);
                if let Ok(Some(info)) = self.runtime().inspect(&name).await {
                    let _guard = self.workspaces.lock(&name).await;
                    self.workspaces.expect_stop(&name);
                    self.runtime().remove(&info.id).await.map_err(runtime_error)?;
                }
                let (work_dirs, user_id) = (dirs.clone(), user.id);
                let moved = tokio::task::spawn_blocking(move || dirs::move_aside(&work_dirs, user_id))
                    .await
                    .map_err(|e| ApiError::internal("moving a foreign folder aside", e))?
                    .map_err(storage_error)?;
                warn!(user_id = user.id, previous_owner = %previous.username, moved_to = %moved.display(),
                    "the user's folder belonged to another account with the same id; moved it aside");
                self.record(AuditEvent {
                    actor_id: Some(user.id),
                    actor: Some(user.username.to_string()),
                    action: "workspace.foreign_folder_moved",
                    target: Some(moved.display().to_string()),
                    outcome: "success",
                    detail: Some(serde_json::json!({"previous_owner": previous.username, "previous_created_at": previous.created_at})),
                    ..AuditEvent::default()
                })
                .await;
                dirs::mark_owner(dirs, &owner).map_err(storage_error)
            }
        }
    }

    /// Returns the container spec the policy decides for `user` now.
    pub fn spec_for(&self, user: &User) -> Result<ContainerSpec, ApiError> {
        super::tier_change::spec_for(&self.config, user)
    }

    /// Applies the user's current tier to the running container (CPU, memory, pids) and
    /// grows the disk image, without a restart.
    pub async fn apply_tier(&self, user: &User) -> Result<super::TierChange, ApiError> {
        super::tier_change::apply(&self.config, &self.workspaces, user, self.disk_mode).await
    }

    /// Rejects a move of `user` to `tier` when the user's files would not fit its disk.
    pub async fn check_disk_fits(&self, user: &User, tier: &TierName) -> Result<(), ApiError> {
        super::tier_change::check_disk_fits(&self.config, user, tier).await
    }

    fn socket_owner(&self) -> Option<SocketOwner> {
        self.as_root.then_some(SocketOwner {
            uid: CONTAINER_UID,
            gid: CONTAINER_GID,
        })
    }

    /// Starts the user's container (creating or replacing it when needed) with a live
    /// gateway socket, and records what happened.
    pub async fn ensure_running(&self, user: &User) -> Result<EnsureOutcome, ApiError> {
        let dirs = self.prepare_dirs(user).await?;
        self.shrink_disk_if_stopped(user).await;
        let home = dirs.home.clone();
        let chown = self.as_root;
        match tokio::task::spawn_blocking(move || super::agent_settings::seed(&home, chown)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => warn!(user_id = user.id, error = %err, "cannot prepare Claude Code's settings in the user's home"),
            Err(err) => warn!(user_id = user.id, error = %err, "settings task failed"),
        }
        self.gateway
            .ensure_socket(user.id, &dirs.run, self.socket_owner())
            .await
            .map_err(|e| ApiError::internal("creating the gateway socket", e))?;
        let spec = self.spec_for(user)?;
        self.sync_proxy(user, &spec, &dirs.run)?;
        if let Some(profile) = &spec.apparmor_profile {
            if super::apparmor::host_supports_apparmor() && !super::apparmor::profile_loaded(profile) {
                warn!(user_id = user.id, profile = %profile, "refusing to start a container whose AppArmor profile is not loaded");
                return Err(ApiError::unavailable("apparmor_profile_missing", format!("the AppArmor profile {profile} is not loaded; an administrator must load it (see cchub doctor)")));
            }
        }
        if self.config.admission.is_limited() {
            self.admit(user, &spec).await?;
        }
        let started = std::time::Instant::now();
        let outcome = self.workspaces.ensure_running(&spec).await.map_err(runtime_error);
        self.admission.settled(user.id);
        let outcome = outcome?;

        self.store
            .upsert_container(user.id, &outcome.info.id, &outcome.info.name, &spec.fingerprint(), outcome.info.state.as_str())
            .await?;
        if outcome.action != EnsureAction::AlreadyRunning {
            crate::metrics::metrics().container_start(outcome.action.as_str(), started.elapsed());
            info!(user_id = user.id, container = %outcome.info.name, action = outcome.action.as_str(), "workspace container ready");
            let event = AuditEvent {
                actor_id: Some(user.id),
                actor: Some(user.username.to_string()),
                action: match outcome.action {
                    EnsureAction::Created => "container.create",
                    EnsureAction::Recreated => "container.recreate",
                    _ => "container.start",
                },
                target: Some(outcome.info.name.clone()),
                outcome: "success",
                detail: Some(serde_json::json!({"container_id": outcome.info.id, "spec_hash": spec.fingerprint()})),
                ..AuditEvent::default()
            };
            self.record(event).await;
        }
        Ok(outcome)
    }

    /// Rebuilds the user's disk image at a lower tier's size while no container uses it;
    /// a failure keeps the larger image and is only logged.
    async fn shrink_disk_if_stopped(&self, user: &User) {
        let Some(size) = TierName::parse(&user.tier).ok().and_then(|t| self.config.resources.tier(&t)).map(|t| t.disk) else { return };
        let (dirs, mode) = (self.user_dirs(user.id), self.disk_mode);
        let image_larger = std::fs::metadata(super::disk::image_path(&dirs)).is_ok_and(|m| m.len() > size.as_u64());
        if mode == DiskMode::Plain || !image_larger {
            return;
        }
        match self.inspect(user).await {
            Ok(None) => {}
            Ok(Some(info)) if !matches!(info.state, ContainerState::Running | ContainerState::Paused | ContainerState::Restarting) => {}
            _ => return,
        }
        let lock = {
            let mut locks = self.prepare_locks.lock().expect("prepare lock map poisoned");
            locks.entry(user.id).or_default().clone()
        };
        let _guard = lock.lock().await;
        match tokio::task::spawn_blocking(move || super::disk::shrink_if_needed(&dirs, size, mode)).await {
            Ok(Ok(super::disk::Shrink::TooFull { used })) => {
                self.record(AuditEvent {
                    actor_id: Some(user.id),
                    actor: Some(user.username.to_string()),
                    action: "container.disk_shrink_skipped",
                    target: Some(container_name(&self.config.containers.instance, user.id)),
                    outcome: "failure",
                    detail: Some(serde_json::json!({"used_bytes": used, "tier_disk": size.to_string()})),
                    ..AuditEvent::default()
                })
                .await;
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => warn!(user_id = user.id, error = %err, "cannot shrink the user's disk image; it keeps its size"),
            Err(err) => warn!(user_id = user.id, error = %err, "disk shrink task failed"),
        }
    }

    /// Lets the user's container start (or resume) only within the host-wide budget;
    /// otherwise the user waits in the queue and the error gives their position.
    async fn admit(&self, user: &User, spec: &ContainerSpec) -> Result<(), ApiError> {
        let containers = self.runtime().list_managed(&self.config.containers.instance).await.map_err(runtime_error)?;
        if containers.iter().any(|c| c.user_id() == Some(user.id) && c.state == ContainerState::Running) {
            return Ok(());
        }
        let mut running = Vec::new();
        let mut remaining_idle = Vec::new();
        for container in containers.iter().filter(|c| c.state == ContainerState::Running) {
            let Some(user_id) = container.user_id() else { continue };
            let tier = match self.store.user_by_id(user_id).await {
                Ok(Some(owner)) => TierName::parse(&owner.tier).ok().and_then(|t| self.config.resources.tier(&t).cloned()),
                _ => None,
            };
            let memory_reservation = tier.as_ref().map(|t| t.memory_reservation.as_u64()).unwrap_or(0);
            running.push(super::admission::Share { user_id, memory_reservation });
            // The time until this container is paused or stopped for idleness, unless it is
            // used meanwhile.
            if let Some(secs) = tier.and_then(|t| t.idle_pause_secs.or(t.idle_stop_secs)) {
                if self.activity.busy_count(user_id) == 0 {
                    remaining_idle.push(std::time::Duration::from_secs(secs).saturating_sub(self.activity.idle_for(user_id)).as_secs());
                }
            }
        }
        let need = u64::try_from(spec.limits.memory_reservation).unwrap_or(0);
        match self.admission.decide(&self.config.admission, user.id, need, &running, std::time::Instant::now()) {
            super::admission::Decision::Admitted => Ok(()),
            super::admission::Decision::Queued { position } => {
                remaining_idle.sort_unstable();
                let estimate = remaining_idle.get(position - 1).copied();
                info!(user_id = user.id, position, estimate_secs = ?estimate, running = running.len(), "workspace start queued by admission control");
                let wait = match estimate {
                    Some(0) => " A place should free up any moment.".to_string(),
                    Some(secs) if secs < 120 => format!(" A place should free up in about {secs} s."),
                    Some(secs) => format!(" A place should free up in about {} min.", secs.div_ceil(60)),
                    None => String::new(),
                };
                let mut error = ApiError::unavailable(
                    "queued",
                    format!(
                        "The host is at capacity, so your workspace waits in a queue: you are number {position}.{wait} Ask again within {} s to keep your place; the web page does so by itself.",
                        super::admission::TICKET_TTL.as_secs()
                    ),
                );
                error.retry_after_secs = Some(QUEUE_RETRY_SECS);
                let mut detail = serde_json::Map::new();
                detail.insert("position".into(), position.into());
                detail.insert("estimate_secs".into(), estimate.into());
                error.detail = Some(detail);
                Err(error)
            }
        }
    }

    /// Gives the user an egress proxy socket when the container's network mode is
    /// `proxy`, with the tier's allowlist, and removes it otherwise.
    fn sync_proxy(&self, user: &User, spec: &ContainerSpec, run_dir: &std::path::Path) -> Result<(), ApiError> {
        if spec.network != NetworkMode::Proxy {
            self.gateway.close_proxy_socket(user.id);
            return Ok(());
        }
        let allowlist = TierName::parse(&user.tier)
            .ok()
            .and_then(|t| self.config.resources.tier(&t))
            .map(|t| t.egress_allowlist.clone())
            .unwrap_or_default();
        self.gateway
            .ensure_proxy_socket(user.id, run_dir, self.socket_owner(), allowlist)
            .map(|_| ())
            .map_err(|e| ApiError::internal("creating the egress proxy socket", e))
    }

    pub async fn stop(&self, user: &User) -> Result<Option<ContainerInfo>, ApiError> {
        self.admission.leave(user.id);
        let name = container_name(&self.config.containers.instance, user.id);
        let info = self.workspaces.stop(&name, STOP_TIMEOUT_SECS).await.map_err(runtime_error)?;
        if let Some(info) = &info {
            self.store.set_container_state(user.id, info.state.as_str()).await?;
            self.record(AuditEvent {
                actor_id: Some(user.id),
                actor: Some(user.username.to_string()),
                action: "container.stop",
                target: Some(name),
                outcome: "success",
                ..AuditEvent::default()
            })
            .await;
        }
        Ok(info)
    }

    /// Stops and removes the user's container; the files stay. Returns whether one existed.
    pub async fn remove(&self, user: &User) -> Result<bool, ApiError> {
        let Some(info) = self.stop(user).await? else {
            return Ok(false);
        };
        let name = container_name(&self.config.containers.instance, user.id);
        let _guard = self.workspaces.lock(&name).await;
        self.workspaces.expect_stop(&name);
        self.runtime().remove(&info.id).await.map_err(runtime_error)?;
        let _ = self.store.set_container_state(user.id, "removed").await;
        Ok(true)
    }

    /// Cuts a disabled user off: the gateway socket goes first, so nothing left running
    /// in the container can reach the model, then the container stops.
    pub async fn suspend(&self, user: &User) -> Result<Option<ContainerInfo>, ApiError> {
        self.gateway.close_socket(user.id);
        self.stop(user).await
    }

    pub async fn inspect(&self, user: &User) -> Result<Option<ContainerInfo>, ApiError> {
        self.runtime().inspect(&container_name(&self.config.containers.instance, user.id)).await.map_err(runtime_error)
    }

    /// Brings the hub in step with the engine after a (re)start: every managed container
    /// is recorded, and running ones get their gateway socket back so their agents can
    /// reach the model again.
    pub async fn adopt(&self) -> Result<usize, RuntimeError> {
        let containers = self.runtime().list_managed(&self.config.containers.instance).await?;
        let mut adopted = 0;
        for container in containers {
            let Some(user_id) = container.user_id() else {
                warn!(container = %container.name, "managed container without a user id label");
                continue;
            };
            let user = match self.store.user_by_id(user_id).await {
                Ok(Some(user)) => user,
                Ok(None) => {
                    warn!(container = %container.name, user_id, "container belongs to no known user; leaving it alone");
                    continue;
                }
                Err(err) => {
                    warn!(container = %container.name, error = %err, "cannot look up the container's user");
                    continue;
                }
            };
            let running = matches!(container.state, ContainerState::Running | ContainerState::Paused | ContainerState::Restarting);
            if let Ok((_, MountOutcome::Mounted | MountOutcome::Created)) = self.prepare_dirs_with_outcome(&user).await {
                // The engine started this container before its disk image was mounted, so
                // its /workspace shows the empty folder beneath; a restart binds the image.
                if running {
                    info!(container = %container.name, "restarting a container started before its disk image was mounted");
                    self.workspaces.expect_stop(&container.name);
                    let restarted = self.runtime().stop(&container.id, STOP_TIMEOUT_SECS).await.and(self.runtime().start(&container.id).await);
                    if let Err(err) = restarted {
                        warn!(container = %container.name, error = %err, "cannot restart the container onto its disk image");
                    }
                }
            }
            let hash = container.spec_hash().unwrap_or_default().to_string();
            if let Err(err) = self.store.upsert_container(user_id, &container.id, &container.name, &hash, container.state.as_str()).await {
                warn!(container = %container.name, error = %err, "cannot record adopted container");
            }
            if running {
                let dirs = self.user_dirs(user_id);
                if let Err(err) = self.gateway.ensure_socket(user_id, &dirs.run, self.socket_owner()).await {
                    warn!(container = %container.name, error = %err, "cannot restore the gateway socket");
                }
                if let Ok(spec) = self.spec_for(&user) {
                    if let Err(err) = self.sync_proxy(&user, &spec, &dirs.run) {
                        warn!(container = %container.name, code = err.code, "cannot restore the egress proxy socket");
                    }
                }
            }
            adopted += 1;
        }
        info!(adopted, "adopted existing workspace containers");
        Ok(adopted)
    }

    pub(super) async fn record(&self, event: AuditEvent) {
        if let Err(err) = self.store.record_audit(&event).await {
            warn!(action = event.action, error = %err, "failed to record audit event");
        }
    }
}
