use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cchub_policy::ContainerSpec;
use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

use crate::{ContainerInfo, ContainerRuntime, ContainerState, RuntimeError};

/// What [`Workspaces::ensure_running`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsureAction {
    AlreadyRunning,
    Started,
    Unpaused,
    Created,
    /// The old container came from another spec or image and was replaced.
    Recreated,
}

impl EnsureAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnsureAction::AlreadyRunning => "already_running",
            EnsureAction::Started => "started",
            EnsureAction::Unpaused => "unpaused",
            EnsureAction::Created => "created",
            EnsureAction::Recreated => "recreated",
        }
    }
}

/// The result of [`Workspaces::apply_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveUpdate {
    NoContainer,
    Unchanged,
    Applied,
    /// Limits applied, but other settings changed too; the next start recreates the
    /// container.
    RestartRequired,
}

impl LiveUpdate {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveUpdate::NoContainer => "no_container",
            LiveUpdate::Unchanged => "unchanged",
            LiveUpdate::Applied => "applied",
            LiveUpdate::RestartRequired => "restart_required",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnsureOutcome {
    pub info: ContainerInfo,
    pub action: EnsureAction,
}

/// Per-user containers on top of a [`ContainerRuntime`], one lock per container name so
/// that concurrent requests for one user never create two containers.
pub struct Workspaces<R: ContainerRuntime> {
    runtime: Arc<R>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Containers this process is stopping or removing, so that their `die` event is
    /// not taken for a crash.
    expected_stops: Mutex<HashMap<String, std::time::Instant>>,
}

/// How long a stop the hub asked for explains a `die` event.
const EXPECTED_STOP_WINDOW: Duration = Duration::from_secs(120);

/// How long to wait for a container the engine is restarting on its own.
const RESTART_WAIT: Duration = Duration::from_secs(10);

impl<R: ContainerRuntime> Workspaces<R> {
    pub fn new(runtime: Arc<R>) -> Self {
        Self {
            runtime,
            locks: Mutex::new(HashMap::new()),
            expected_stops: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that the hub is about to stop or remove container `name`.
    pub fn expect_stop(&self, name: &str) {
        let mut stops = self.expected_stops.lock().expect("expected stop map poisoned");
        stops.retain(|_, at| at.elapsed() < EXPECTED_STOP_WINDOW);
        stops.insert(name.to_string(), std::time::Instant::now());
    }

    /// Returns whether the hub itself stopped container `name` lately, and removes the
    /// entry.
    pub fn take_expected_stop(&self, name: &str) -> bool {
        let mut stops = self.expected_stops.lock().expect("expected stop map poisoned");
        stops.remove(name).is_some_and(|at| at.elapsed() < EXPECTED_STOP_WINDOW)
    }

    pub fn runtime(&self) -> &Arc<R> {
        &self.runtime
    }

    /// Takes the lock of one container name; hold it across any create, start or remove.
    pub async fn lock(&self, name: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().expect("workspace lock map poisoned");
            locks.entry(name.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Makes sure the container described by `spec` exists and runs, creating,
    /// starting or replacing it as needed. A running or paused container from an older
    /// spec or image is kept (with the new limits) until it is next stopped.
    pub async fn ensure_running(&self, spec: &ContainerSpec) -> Result<EnsureOutcome, RuntimeError> {
        let _guard = self.lock(&spec.name).await;
        let image_id = self
            .runtime
            .image_id(&spec.image)
            .await?
            .ok_or_else(|| RuntimeError::ImageMissing { image: spec.image.clone() })?;
        let wanted_hash = spec.fingerprint();
        if let Some(network) = &spec.internal_network {
            let instance = spec.labels.get(cchub_policy::LABEL_INSTANCE).map(String::as_str).unwrap_or("cchub");
            self.runtime.ensure_network(network, instance).await?;
        }

        let action = match self.runtime.inspect(&spec.name).await? {
            Some(current) if current.spec_hash() == Some(wanted_hash.as_str()) && current.image_id == image_id => {
                self.update_if_changed(&current, spec).await?;
                self.bring_up(&current).await?
            }
            // A container in use keeps running on its old spec or image: replacing it
            // would end the user's terminals and runs. The next start after a stop
            // recreates it, and the doctor lists it as waiting for a restart.
            Some(in_use) if matches!(in_use.state, ContainerState::Running | ContainerState::Paused) => {
                info!(container = %in_use.name, old_hash = ?in_use.spec_hash(), new_hash = %wanted_hash,
                    "container spec or image changed; it is replaced at its next start");
                self.update_if_changed(&in_use, spec).await?;
                self.bring_up(&in_use).await?
            }
            Some(stale) => {
                info!(container = %stale.name, old_hash = ?stale.spec_hash(), new_hash = %wanted_hash,
                    "container spec or image changed; recreating");
                self.expect_stop(&stale.name);
                self.runtime.remove(&stale.id).await?;
                let id = self.runtime.create(spec).await?;
                self.runtime.start(&id).await?;
                self.drop_unused_network(spec).await;
                EnsureAction::Recreated
            }
            None => {
                let id = match self.runtime.create(spec).await {
                    Ok(id) => id,
                    // Another hub process won the race for the name; use its container.
                    Err(RuntimeError::NameConflict { .. }) => match self.runtime.inspect(&spec.name).await? {
                        Some(info) => info.id,
                        None => self.runtime.create(spec).await?,
                    },
                    Err(err) => return Err(err),
                };
                self.runtime.start(&id).await?;
                EnsureAction::Created
            }
        };

        let info = self
            .runtime
            .inspect(&spec.name)
            .await?
            .ok_or_else(|| RuntimeError::NotFound { container: spec.name.clone() })?;
        Ok(EnsureOutcome { info, action })
    }

    /// Applies the spec's CPU, memory and pids limits to the user's container without
    /// restarting it. Settings that need a new container (another seccomp profile or
    /// network) wait for the next start, which recreates it.
    pub async fn apply_limits(&self, spec: &ContainerSpec) -> Result<LiveUpdate, RuntimeError> {
        let _guard = self.lock(&spec.name).await;
        let Some(current) = self.runtime.inspect(&spec.name).await? else {
            return Ok(LiveUpdate::NoContainer);
        };
        let updated = self.update_if_changed(&current, spec).await?;
        Ok(if current.spec_hash() != Some(spec.fingerprint().as_str()) {
            LiveUpdate::RestartRequired
        } else if updated {
            LiveUpdate::Applied
        } else {
            LiveUpdate::Unchanged
        })
    }

    /// Freezes the container named `name` when it runs; returns whether it was paused.
    pub async fn pause(&self, name: &str) -> Result<bool, RuntimeError> {
        let _guard = self.lock(name).await;
        match self.runtime.inspect(name).await? {
            Some(current) if current.state == ContainerState::Running => {
                self.runtime.pause(&current.id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Updates the container's limits when they differ from the spec's; returns whether
    /// it did.
    async fn update_if_changed(&self, current: &ContainerInfo, spec: &ContainerSpec) -> Result<bool, RuntimeError> {
        if current.limits.as_ref() == Some(&spec.limits) {
            return Ok(false);
        }
        self.runtime.update_limits(&current.id, &spec.limits).await?;
        info!(container = %current.name, memory = spec.limits.memory, cpu_quota = spec.limits.cpu_quota, pids = spec.limits.pids_limit,
            "applied new limits to the container");
        Ok(true)
    }

    /// Removes the user's internal network once the user's container has left it for
    /// another network mode. A failure only leaves an unused network behind.
    async fn drop_unused_network(&self, spec: &ContainerSpec) {
        if spec.internal_network.is_some() {
            return;
        }
        let instance = spec.labels.get(cchub_policy::LABEL_INSTANCE);
        let user_id = spec.labels.get(cchub_policy::LABEL_USER_ID).and_then(|id| id.parse::<i64>().ok());
        let (Some(instance), Some(user_id)) = (instance, user_id) else { return };
        let name = cchub_policy::internal_network_name(instance, user_id);
        if let Err(err) = self.runtime.remove_network(&name).await {
            warn!(network = %name, error = %err, "cannot remove the unused internal network");
        }
    }

    async fn bring_up(&self, current: &ContainerInfo) -> Result<EnsureAction, RuntimeError> {
        match current.state {
            ContainerState::Running => Ok(EnsureAction::AlreadyRunning),
            ContainerState::Paused => {
                self.runtime.unpause(&current.id).await?;
                Ok(EnsureAction::Unpaused)
            }
            ContainerState::Restarting => {
                let deadline = tokio::time::Instant::now() + RESTART_WAIT;
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let now = self.runtime.inspect(&current.name).await?;
                    if now.as_ref().is_some_and(|i| i.state == ContainerState::Running) {
                        return Ok(EnsureAction::AlreadyRunning);
                    }
                }
                self.runtime.start(&current.id).await?;
                Ok(EnsureAction::Started)
            }
            _ => {
                self.runtime.start(&current.id).await?;
                Ok(EnsureAction::Started)
            }
        }
    }

    /// Stops the container named `name` if it exists; returns its state afterwards.
    pub async fn stop(&self, name: &str, timeout_secs: i32) -> Result<Option<ContainerInfo>, RuntimeError> {
        let _guard = self.lock(name).await;
        let Some(current) = self.runtime.inspect(name).await? else {
            return Ok(None);
        };
        if matches!(current.state, ContainerState::Running | ContainerState::Paused | ContainerState::Restarting) {
            self.expect_stop(name);
            if current.state == ContainerState::Paused {
                self.runtime.unpause(&current.id).await?;
            }
            self.runtime.stop(&current.id, timeout_secs).await?;
        }
        self.runtime.inspect(name).await
    }
}
