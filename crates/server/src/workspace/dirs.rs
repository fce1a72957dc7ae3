use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cchub_config::UserDirs;
use cchub_policy::{CONTAINER_GID, CONTAINER_UID};

/// Creates a user's folders. The workspace and home belong to the container's user so
/// that it can write them; the run folder (gateway socket) stays the hub's.
pub fn prepare(dirs: &UserDirs, as_root: bool) -> std::io::Result<()> {
    for dir in [&dirs.root, &dirs.mnt, &dirs.run] {
        create(dir, 0o755)?;
    }
    for dir in [&dirs.workspace, &dirs.home] {
        let fresh = !dir.exists();
        create(dir, 0o755)?;
        if as_root && fresh {
            std::os::unix::fs::chown(dir, Some(CONTAINER_UID), Some(CONTAINER_GID))?;
        }
    }
    Ok(())
}

fn create(dir: &Path, mode: u32) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// File in a user's folder naming the account it belongs to.
const OWNER_FILE: &str = "owner.json";

/// The account a user folder belongs to: the id alone is not enough, because a database
/// restored from an older backup hands out ids again that later accounts had used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub username: String,
    /// The account's creation time, Unix milliseconds.
    pub created_at: i64,
}

/// Whose folder `dirs.root` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No folder yet.
    Missing,
    /// A folder already marked as this account's.
    Ours,
    /// A folder from before owner files existed; it is taken as this account's.
    Unmarked,
    /// The folder belongs to another account that had the same id.
    Foreign(Owner),
}

/// Reads the owner file of a user folder and compares it with `owner`.
pub fn check_claim(dirs: &UserDirs, owner: &Owner) -> std::io::Result<Claim> {
    if !dirs.root.exists() {
        return Ok(Claim::Missing);
    }
    match std::fs::read(dirs.root.join(OWNER_FILE)) {
        Ok(bytes) => match serde_json::from_slice::<Owner>(&bytes) {
            Ok(found) if found == *owner => Ok(Claim::Ours),
            Ok(found) => Ok(Claim::Foreign(found)),
            // An unreadable owner file is not proof of ownership.
            Err(_) => Ok(Claim::Foreign(Owner { username: "unknown".into(), created_at: 0 })),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Claim::Unmarked),
        Err(err) => Err(err),
    }
}

/// Writes the owner file, creating the folder when needed.
pub fn mark_owner(dirs: &UserDirs, owner: &Owner) -> std::io::Result<()> {
    std::fs::create_dir_all(&dirs.root)?;
    let text = serde_json::to_vec(owner).map_err(std::io::Error::other)?;
    let partial = dirs.root.join(format!("{OWNER_FILE}.partial"));
    std::fs::write(&partial, text)?;
    std::fs::rename(partial, dirs.root.join(OWNER_FILE))
}

/// Moves a folder that belongs to another account out of the way, to
/// `users/orphaned/<id>-<unix ms>`, unmounting its disk image first. Nothing is deleted:
/// an administrator decides what happens to those files. Returns the new path.
pub fn move_aside(dirs: &UserDirs, user_id: i64) -> std::io::Result<std::path::PathBuf> {
    if super::disk::is_mount_point(&dirs.mnt) {
        let output = std::process::Command::new("umount").arg(&dirs.mnt).output()?;
        if !output.status.success() {
            return Err(std::io::Error::other(format!("umount {} failed: {}", dirs.mnt.display(), String::from_utf8_lossy(&output.stderr).trim())));
        }
    }
    let parent = dirs.root.parent().ok_or_else(|| std::io::Error::other("a user folder has a parent"))?;
    let aside = parent.join("orphaned");
    create(&aside, 0o700)?;
    let target = aside.join(format!("{user_id}-{}", cchub_store::now_ms()));
    std::fs::rename(&dirs.root, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs_in(root: &Path) -> UserDirs {
        cchub_config::DataLayout::new(root).user(7)
    }

    #[test]
    fn owner_claims() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs_in(tmp.path());
        let ann = Owner { username: "ann".into(), created_at: 1 };
        let bob = Owner { username: "bob".into(), created_at: 2 };
        assert_eq!(check_claim(&dirs, &ann).unwrap(), Claim::Missing);
        std::fs::create_dir_all(&dirs.root).unwrap();
        assert_eq!(check_claim(&dirs, &ann).unwrap(), Claim::Unmarked);
        mark_owner(&dirs, &ann).unwrap();
        assert_eq!(check_claim(&dirs, &ann).unwrap(), Claim::Ours);
        assert_eq!(check_claim(&dirs, &bob).unwrap(), Claim::Foreign(ann.clone()));

        std::fs::create_dir_all(&dirs.workspace).unwrap();
        std::fs::write(dirs.workspace.join("secret.txt"), "ann's").unwrap();
        let moved = move_aside(&dirs, 7).unwrap();
        assert!(!dirs.root.exists());
        assert_eq!(std::fs::read_to_string(moved.join("mnt/workspace/secret.txt")).unwrap(), "ann's");
        assert_eq!(check_claim(&dirs, &bob).unwrap(), Claim::Missing);
    }
}
