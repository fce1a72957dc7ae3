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
