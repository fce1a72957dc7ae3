//! Watches the hub's containers for limits being hit. The engine's events report OOM
//! kills and unexpected exits, and a periodic check reads each container's pids counter
//! and disk use. Each hit becomes an audit event, a log line and a notice on the user's
//! open sockets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cchub_policy::TierName;
use cchub_runtime::{ContainerEvent, ContainerEventKind, ContainerRuntime, ContainerState};
use cchub_store::AuditEvent;
use futures_util::StreamExt;
use tracing::{info, warn};

use super::{Notice, WorkspaceService};

/// Checks whether a disk counts as full: less space left for the user than 1 % of its
/// size, or 2 MiB. ext4 keeps a few hundred KiB back even when writes already fail.
fn disk_is_full(free: u64, total: u64) -> bool {
    free < (total / 100).max(2 << 20)
}

/// Checks whether a full disk counts as freed again: above 5 % of its size, or 4 MiB.
fn disk_is_freed(free: u64, total: u64) -> bool {
    free > (total / 20).max(4 << 20)
}

/// Per-user state of the periodic check, from its last pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceFlags {
    /// The cgroup's count of refused forks, from `pids.events`.
    pids_max_events: Option<u64>,
    disk_full: bool,
    /// The last OOM event reported; the engine may send several for one kill.
    last_oom: Option<std::time::Instant>,
}

/// OOM events of one container this close together are one kill.
const OOM_REPEAT: Duration = Duration::from_secs(2);

impl WorkspaceService {
    /// Follows the engine's events for as long as the hub runs, reconnecting after a
    /// failure.
    pub async fn watch_events(&self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let mut events = std::pin::pin!(self.runtime().container_events(&self.config().containers.instance));
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        backoff = Duration::from_secs(1);
                        self.handle_event(event).await;
                    }
                    Err(err) => {
                        warn!(error = %err, "container event stream failed");
                        break;
                    }
                }
            }
            // NOTE: events during the reconnect pause are lost. The periodic check still
            // reports pids and disk limits, but not OOM kills.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    async fn handle_event(&self, event: ContainerEvent) {
        let Some(user_id) = event.user_id else { return };
        let user = match self.store().user_by_id(user_id).await {
            Ok(Some(user)) => user,
            _ => return,
        };
        let tier = TierName::parse(&user.tier).ok().and_then(|t| self.config().resources.tier(&t).cloned());
        let (action, kind, message, detail) = match event.kind {
            ContainerEventKind::Oom => {
                let repeated = {
                    let mut flags = self.resource_flags.lock().expect("resource flags poisoned");
                    let entry = flags.entry(user_id).or_default();
                    let repeated = entry.last_oom.is_some_and(|at| at.elapsed() < OOM_REPEAT);
                    entry.last_oom = Some(std::time::Instant::now());
                    repeated
                };
                if repeated {
                    return;
                }
                crate::metrics::metrics().oom_kill();
                let limit = tier.map(|t| t.memory.approx()).unwrap_or_else(|| "unknown".into());
                (
                    "container.oom",
                    "oom",
                    format!("Your workspace ran out of memory (limit {limit}). The kernel stopped the process using the most memory; your files are intact."),
                    serde_json::json!({"memory_limit": limit}),
                )
            }
            ContainerEventKind::Died { exit_code } => {
                // A disabled user's container is stopped on purpose, also by `cchub user set`.
                if self.workspaces().take_expected_stop(&event.container) || user.disabled {
                    return;
                }
                crate::metrics::metrics().container_failure();
                let code = exit_code.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into());
                (
                    "container.exit",
                    "exited",
                    format!("Your workspace stopped unexpectedly (exit code {code}). It restarts by itself; your files are intact."),
                    serde_json::json!({"exit_code": exit_code}),
                )
            }
            ContainerEventKind::Started => return,
        };
        self.report(&user, action, kind, message, detail, &event.container).await;
    }

    async fn report(&self, user: &cchub_store::User, action: &'static str, kind: &'static str, message: String, detail: serde_json::Value, container: &str) {
        let delivered = self.notices().send(user.id, Notice { kind, message });
        info!(user_id = user.id, container, action, delivered, "workspace limit event");
        self.record(AuditEvent {
            actor_id: Some(user.id),
            actor: Some(user.username.to_string()),
            action,
            target: Some(container.to_string()),
            outcome: "failure",
            detail: Some(detail),
            ..AuditEvent::default()
        })
        .await;
    }

    /// Checks every running container's pids counter and disk once.
    pub async fn check_resources(&self) {
        let containers = match self.runtime().list_managed(&self.config().containers.instance).await {
            Ok(containers) => containers,
            Err(err) => {
                warn!(error = %err, "cannot list containers for the resource check");
                return;
            }
        };
        for listed in containers.into_iter().filter(|c| c.state == ContainerState::Running) {
            let Some(user_id) = listed.user_id() else { continue };
            let Ok(Some(user)) = self.store().user_by_id(user_id).await else { continue };
            let tier = TierName::parse(&user.tier).ok().and_then(|t| self.config().resources.tier(&t).cloned());
            let pid = match self.runtime().inspect(&listed.name).await {
                Ok(Some(info)) => info.pid,
                _ => None,
            };
            let mnt = self.user_dirs(user_id).mnt;
            let read = tokio::task::spawn_blocking(move || (pid.and_then(pids_max_events), disk_free(&mnt))).await;
            let Ok((refused_forks, disk)) = read else { continue };

            let (pids_hit, disk_hit) = {
                let mut flags = self.resource_flags.lock().expect("resource flags poisoned");
                let entry = flags.entry(user_id).or_default();
                let pids_hit = matches!((entry.pids_max_events, refused_forks), (Some(before), Some(now)) if now > before);
                if refused_forks.is_some() {
                    entry.pids_max_events = refused_forks;
                }
                let mut disk_hit = false;
                if let Some((free, total)) = disk {
                    if !entry.disk_full && disk_is_full(free, total) {
                        entry.disk_full = true;
                        disk_hit = true;
                    } else if entry.disk_full && disk_is_freed(free, total) {
                        entry.disk_full = false;
                    }
                }
                (pids_hit, disk_hit)
            };
            if pids_hit {
                crate::metrics::metrics().quota_hit("pids");
                let limit = tier.as_ref().map(|t| t.pids.to_string()).unwrap_or_else(|| "unknown".into());
                let message = format!("Your workspace reached its process limit ({limit}); new processes fail until some end.");
                self.report(&user, "container.pids_limit", "pids_limit", message, serde_json::json!({"pids_limit": limit}), &listed.name).await;
            }
            if disk_hit {
                crate::metrics::metrics().quota_hit("disk");
                let size = tier.as_ref().map(|t| t.disk.approx()).unwrap_or_else(|| "unknown".into());
                let message = format!("Your workspace disk is full (tier disk {size}, file system overhead included); delete files to write again.");
                self.report(&user, "container.disk_full", "disk_full", message, serde_json::json!({"disk": size}), &listed.name).await;
            }
        }
    }
}

/// Reads the number of forks the pids controller refused in the cgroup of process `pid`
/// from `pids.events`, under cgroup v1 or v2.
fn pids_max_events(pid: i64) -> Option<u64> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let file = pids_events_path(&table)?;
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| line.strip_prefix("max ")).and_then(|n| n.trim().parse().ok())
}

fn pids_events_path(cgroup_table: &str) -> Option<PathBuf> {
    pids_cgroup_dir(cgroup_table).map(|dir| dir.join("pids.events"))
}

/// Returns the host folder of the pids cgroup named in a `/proc/PID/cgroup` table, under
/// cgroup v1 or v2.
pub(super) fn pids_cgroup_dir(cgroup_table: &str) -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let v1 = cgroup_table.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "pids").then(|| root.join("pids").join(path.trim_start_matches('/')))
    });
    let v2 = || cgroup_table.lines().find_map(|line| line.strip_prefix("0::")).map(|path| root.join(path.trim_start_matches('/')));
    v1.or_else(v2)
}

/// Free and total bytes of the file system mounted at `mnt`, when it is a mount point.
fn disk_free(mnt: &Path) -> Option<(u64, u64)> {
    if !super::disk::is_mount_point(mnt) {
        return None;
    }
    let stats = rustix::fs::statvfs(mnt).ok()?;
    Some((stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_thresholds() {
        // The 64 MiB ext4 image of the tests had 440 KiB left after ENOSPC.
        assert!(disk_is_full(440 << 10, 56_037 << 10));
        assert!(!disk_is_full(1 << 30, 5 << 30));
        assert!(disk_is_full(40 << 20, 5 << 30));
        assert!(!disk_is_freed(3 << 20, 64 << 20));
        assert!(disk_is_freed(10 << 20, 64 << 20));
    }

    #[test]
    fn pids_events_path_for_v1_and_v2() {
        let v1 = "9:name=systemd:/docker/abc\n8:pids:/docker/abc\n0::/docker/abc\n";
        assert_eq!(pids_events_path(v1).unwrap(), Path::new("/sys/fs/cgroup/pids/docker/abc/pids.events"));
        let v2 = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(pids_events_path(v2).unwrap(), Path::new("/sys/fs/cgroup/system.slice/docker-abc.scope/pids.events"));
    }
}
