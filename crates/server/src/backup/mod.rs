//! Backups: one folder per backup under `backups/`, holding a copy of the database, one
//! `tar` + `zstd` archive of each user's files (workspace and home) and a manifest with
//! every file's SHA-256. A folder is complete only once its manifest is in place: it is
//! written as `NAME.partial` and renamed at the end.
//!
//! A running workspace is paused while its archive is written, so the archive shows one
//! moment of its files; it resumes right after.
//!
//! The database copy is `database.sqlite` (SQLite's `VACUUM INTO`) or, on PostgreSQL,
//! `database.pgdump` (`pg_dump --format=custom`).

mod archive;
mod postgres;
mod restore;

use std::path::{Path, PathBuf};

use cchub_config::Config;
use cchub_runtime::{ContainerRuntime, ContainerState, DockerRuntime};
use cchub_store::{Backend, Store};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing::{info, warn};

pub use restore::{restore, verify, Verification};

const MANIFEST: &str = "manifest.json";
const DATABASE_FILE: &str = "database.sqlite";

#[derive(Debug, Error)]
pub enum BackupError {
    #[error("{operation}: {source}")]
    Io { operation: String, source: std::io::Error },
    #[error("database copy failed: {0}")]
    Database(#[from] cchub_store::StoreError),
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn io(operation: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let operation = operation.into();
    move |source| BackupError::Io { operation, source }
}

/// One file of a backup and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackedFile {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserArchive {
    pub user_id: i64,
    pub username: String,
    #[serde(flatten)]
    pub archive: BackedFile,
}

/// The contents of a backup; written last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub hub_version: String,
    pub database: BackedFile,
    pub users: Vec<UserArchive>,
}

/// Creates a backup now; `progress` receives one line per step. Keeps the newest
/// `keep` backups and removes older ones.
pub async fn create(config: &Config, store: &Store, runtime: &DockerRuntime, keep: usize, progress: &(dyn Fn(&str) + Sync)) -> Result<Manifest, BackupError> {
    let root = config.layout().backups_dir();
    let name = backup_name(cchub_store::now_ms());
    let partial = root.join(format!("{name}.partial"));
    std::fs::create_dir_all(partial.join("users")).map_err(io(format!("creating {}", partial.display())))?;
    let result = write_backup(config, store, runtime, &name, &partial, progress).await;
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&partial);
            crate::metrics::metrics().backup_result(false);
            return Err(err);
        }
    };
    std::fs::rename(&partial, root.join(&name)).map_err(io("completing the backup folder"))?;
    crate::metrics::metrics().backup_result(true);
    prune(&root, keep, progress);
    info!(backup = %name, users = manifest.users.len(), "backup created");
    Ok(manifest)
}

async fn write_backup(config: &Config, store: &Store, runtime: &DockerRuntime, name: &str, dir: &Path, progress: &(dyn Fn(&str) + Sync)) -> Result<Manifest, BackupError> {
    progress("copying the database");
    let database = match store.backend() {
        Backend::Sqlite => {
            store.backup_sqlite(&dir.join(DATABASE_FILE)).await?;
            archive::describe(&dir.join(DATABASE_FILE), DATABASE_FILE)?
        }
        Backend::Postgres => {
            postgres::dump(config.database.url.expose(), &dir.join(postgres::DUMP_FILE)).await?;
            archive::describe(&dir.join(postgres::DUMP_FILE), postgres::DUMP_FILE)?
        }
    };

    let users = store.list_users().await?;
    let layout = config.layout();
    let mut archives = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let dirs = layout.user(user.id);
        // After a reboot the images stay unmounted until the hub starts; archiving the
        // empty mount point would save nothing.
        crate::workspace::disk::mount_existing(&dirs).map_err(io(format!("mounting the disk image of {}", user.username)))?;
        if !dirs.mnt.exists() {
            continue;
        }
        progress(&format!("archiving the files of {} ({}/{})", user.username, index + 1, users.len()));
        let container = cchub_policy::container_name(&config.containers.instance, user.id);
        let paused = pause_if_running(runtime, &container).await;
        let file = format!("users/{}.tar.zst", user.id);
        let written = {
            let (source, target) = (dirs.mnt.clone(), dir.join(&file));
            tokio::task::spawn_blocking(move || archive::pack(&source, &target)).await.map_err(|e| BackupError::Invalid(e.to_string()))?
        };
        if paused {
            if let Err(err) = runtime.unpause(&container).await {
                warn!(container, error = %err, "cannot resume a workspace after its backup");
            }
        }
        written?;
        archives.push(UserArchive {
            user_id: user.id,
            username: user.username.to_string(),
            archive: archive::describe(&dir.join(&file), &file)?,
        });
    }
    let manifest = Manifest {
        name: name.to_string(),
        created_at: cchub_store::now_ms(),
        hub_version: env!("CARGO_PKG_VERSION").to_string(),
        database,
        users: archives,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Invalid(e.to_string()))?;
    std::fs::write(dir.join(MANIFEST), text).map_err(io("writing the manifest"))?;
    Ok(manifest)
}

/// Pauses a running container so its files stand still; returns whether it did.
async fn pause_if_running(runtime: &DockerRuntime, name: &str) -> bool {
    match runtime.inspect(name).await {
        Ok(Some(info)) if info.state == ContainerState::Running => runtime.pause(&info.id).await.is_ok(),
        _ => false,
    }
}

/// Returns how long to wait for the first scheduled backup: the interval after the newest
/// backup, but at least a minute after start so the hub settles first. Without any backup
/// it is one interval, as for a new installation.
pub fn first_delay(newest_ms: Option<i64>, now_ms: i64, interval: std::time::Duration) -> std::time::Duration {
    const SETTLE: std::time::Duration = std::time::Duration::from_secs(60);
    let Some(newest) = newest_ms else { return interval };
    let due = newest.saturating_add(interval.as_millis() as i64);
    let wait = std::time::Duration::from_millis(due.saturating_sub(now_ms).max(0) as u64);
    wait.max(SETTLE)
}

/// Returns a sortable UTC name such as `20261204T235901Z`.
fn backup_name(now_ms: i64) -> String {
    let secs = now_ms / 1000;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let date = cchub_store::utc_day(days * 86_400_000).replace('-', "");
    format!("{date}T{:02}{:02}{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Lists every complete backup, newest first.
pub fn list(config: &Config) -> Result<Vec<Manifest>, BackupError> {
    let root = config.layout().backups_dir();
    let mut manifests = Vec::new();
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(manifests),
        Err(err) => return Err(io(format!("reading {}", root.display()))(err)),
    };
    for entry in entries.flatten() {
        if let Ok(text) = std::fs::read(entry.path().join(MANIFEST)) {
            if let Ok(manifest) = serde_json::from_slice::<Manifest>(&text) {
                manifests.push(manifest);
            }
        }
    }
    manifests.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(manifests)
}

/// Returns the folder of backup `name`, when it is complete.
pub fn folder(config: &Config, name: &str) -> Result<PathBuf, BackupError> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric());
    let dir = config.layout().backups_dir().join(name);
    if !valid || !dir.join(MANIFEST).is_file() {
        return Err(BackupError::Invalid(format!("no complete backup named {name:?}; `cchub backup list` shows them")));
    }
    Ok(dir)
}

fn prune(root: &Path, keep: usize, progress: &(dyn Fn(&str) + Sync)) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut complete: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.join(MANIFEST).is_file()).collect();
    complete.sort();
    let excess = complete.len().saturating_sub(keep.max(1));
    for old in complete.into_iter().take(excess) {
        progress(&format!("removing the old backup {}", old.display()));
        if let Err(err) = std::fs::remove_dir_all(&old) {
            warn!(path = %old.display(), error = %err, "cannot remove an old backup");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{backup_name, first_delay};
    use std::time::Duration;

    #[test]
    fn schedule_continues_from_the_newest_backup() {
        let day = Duration::from_secs(86_400);
        let now = 1_000_000_000_000;
        assert_eq!(first_delay(None, now, day), day, "no backup yet: one interval");
        assert_eq!(first_delay(Some(now - 3_600_000), now, day), Duration::from_secs(23 * 3600), "one taken an hour ago");
        assert_eq!(first_delay(Some(now - 2 * 86_400_000), now, day), Duration::from_secs(60), "overdue: soon");
        assert_eq!(first_delay(Some(now + 5_000), now, day), day + Duration::from_secs(5), "a clock step back waits one interval");
    }

    #[test]
    fn names_sort_by_time() {
        assert_eq!(backup_name(0), "19700101T000000Z");
        assert_eq!(backup_name(1_796_428_741_000), "20261204T235901Z");
        assert!(backup_name(1_000) < backup_name(60_000));
    }
}
