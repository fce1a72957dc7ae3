//! Checking a backup and putting it back.

use std::path::Path;

use cchub_config::Config;
use cchub_runtime::{ContainerRuntime, DockerRuntime};
use serde::Serialize;
use tracing::info;

use super::{archive, folder, io, postgres, BackupError, Manifest, DATABASE_FILE, MANIFEST};

/// The outcome of [`verify`]: the files checked and every problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub name: String,
    pub files_checked: usize,
    pub problems: Vec<String>,
}

/// A folder removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn manifest_of(dir: &Path) -> Result<Manifest, BackupError> {
    let text = std::fs::read(dir.join(MANIFEST)).map_err(io("reading the manifest"))?;
    serde_json::from_slice(&text).map_err(|e| BackupError::Invalid(format!("the manifest is not valid: {e}")))
}

/// Checks every file's size and SHA-256, extracts every archive into a temporary folder
/// and checks the database copy: SQLite's integrity check, or `pg_restore --list` for a
/// PostgreSQL dump.
pub async fn verify(config: &Config, name: &str, progress: &(dyn Fn(&str) + Sync)) -> Result<Verification, BackupError> {
    let dir = folder(config, name)?;
    let manifest = manifest_of(&dir)?;
    let mut problems = Vec::new();
    let mut files = vec![&manifest.database];
    files.extend(manifest.users.iter().map(|u| &u.archive));
    for expected in &files {
        progress(&format!("checking {}", expected.file));
        match archive::describe(&dir.join(&expected.file), &expected.file) {
            Ok(actual) if actual == **expected => {}
            Ok(actual) => problems.push(format!("{}: SHA-256 {} and {} bytes, the manifest says {} and {} bytes", expected.file, actual.sha256, actual.bytes, expected.sha256, expected.bytes)),
            Err(err) => problems.push(format!("{}: {err}", expected.file)),
        }
    }
    let scratch = Scratch(config.layout().backups_dir().join(format!(".verify-{}", cchub_store::now_ms())));
    std::fs::create_dir_all(scratch.path()).map_err(io("creating a scratch folder"))?;
    for user in &manifest.users {
        progress(&format!("extracting the files of {}", user.username));
        let target = scratch.path().join(user.user_id.to_string());
        std::fs::create_dir_all(&target).map_err(io("creating a scratch folder"))?;
        let source = dir.join(&user.archive.file);
        if let Err(err) = tokio::task::spawn_blocking(move || archive::unpack(&source, &target)).await.map_err(|e| BackupError::Invalid(e.to_string()))? {
            problems.push(format!("{}: {err}", user.archive.file));
        }
    }
    progress("checking the database copy");
    if manifest.database.file == postgres::DUMP_FILE {
        if let Err(err) = postgres::check(&dir.join(postgres::DUMP_FILE)).await {
            problems.push(format!("{}: {err}", postgres::DUMP_FILE));
        }
    } else {
        check_sqlite_copy(&dir, scratch.path(), &mut problems).await?;
    }
    Ok(Verification {
        name: manifest.name,
        files_checked: files.len(),
        problems,
    })
}

/// Opens a scratch copy of `database.sqlite` and runs SQLite's integrity check on it.
async fn check_sqlite_copy(dir: &Path, scratch: &Path, problems: &mut Vec<String>) -> Result<(), BackupError> {
    let copy = scratch.join(DATABASE_FILE);
    std::fs::copy(dir.join(DATABASE_FILE), &copy).map_err(io("copying the database"))?;
    // The copy is scratch, so opening it read-write (WAL, migrations) changes nothing kept.
    match cchub_store::Store::open(&format!("sqlite://{}?mode=rw", copy.display()), 1).await {
        Ok(store) => {
            match store.integrity_check().await {
                Ok(result) if result == "ok" => {}
                Ok(result) => problems.push(format!("{DATABASE_FILE}: integrity check says {result}")),
                Err(err) => problems.push(format!("{DATABASE_FILE}: {err}")),
            }
            store.close().await;
        }
        Err(err) => problems.push(format!("{DATABASE_FILE}: {err}")),
    }
    Ok(())
}

/// Puts the files of one user (`only`) or of every user back from backup `name`. The
/// user's container is stopped first; the current files are kept aside until the
/// archive is in place and removed afterwards. The database is not touched: restoring it
/// means, with the hub stopped, copying `database.sqlite` over the hub's database, or
/// `pg_restore --clean` of `database.pgdump` into the PostgreSQL database.
pub async fn restore(config: &Config, runtime: &DockerRuntime, name: &str, only: Option<&str>, progress: &(dyn Fn(&str) + Sync)) -> Result<usize, BackupError> {
    let dir = folder(config, name)?;
    let manifest = manifest_of(&dir)?;
    let users: Vec<_> = manifest.users.iter().filter(|u| only.is_none_or(|name| u.username == name)).collect();
    if let (Some(name), true) = (only, users.is_empty()) {
        return Err(BackupError::Invalid(format!("backup {} contains no files of user {name:?}", manifest.name)));
    }
    for user in &users {
        progress(&format!("restoring the files of {}", user.username));
        let container = cchub_policy::container_name(&config.containers.instance, user.user_id);
        if let Ok(Some(info)) = runtime.inspect(&container).await {
            runtime.stop(&info.id, 5).await.map_err(|e| BackupError::Invalid(format!("cannot stop {container}: {e}")))?;
        }
        let dirs = config.layout().user(user.user_id);
        // Files put under an unmounted image's mount point would be hidden once it mounts.
        crate::workspace::disk::mount_existing(&dirs).map_err(io(format!("mounting the disk image of {}", user.username)))?;
        let mnt = dirs.mnt;
        std::fs::create_dir_all(&mnt).map_err(io("creating the user's folder"))?;
        let aside = mnt.join(format!(".before-restore-{}", cchub_store::now_ms()));
        std::fs::create_dir(&aside).map_err(io("making room for the restore"))?;
        let entries: Vec<_> = std::fs::read_dir(&mnt).map_err(io("reading the user's folder"))?.flatten().map(|e| e.path()).filter(|p| *p != aside).collect();
        for entry in &entries {
            let moved = aside.join(entry.file_name().unwrap_or_default());
            std::fs::rename(entry, &moved).map_err(io(format!("moving {} aside", entry.display())))?;
        }
        let (source, target) = (dir.join(&user.archive.file), mnt.clone());
        let unpacked = tokio::task::spawn_blocking(move || archive::unpack(&source, &target)).await.map_err(|e| BackupError::Invalid(e.to_string()))?;
        if let Err(err) = unpacked {
            // Put the files back as they were.
            for entry in &entries {
                let _ = std::fs::remove_dir_all(entry);
                let _ = std::fs::rename(aside.join(entry.file_name().unwrap_or_default()), entry);
            }
            let _ = std::fs::remove_dir_all(&aside);
            return Err(err);
        }
        std::fs::remove_dir_all(&aside).map_err(io("removing the files moved aside"))?;
        info!(backup = %manifest.name, user = %user.username, "restored a user's files");
    }
    Ok(users.len())
}
