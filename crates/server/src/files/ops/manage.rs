//! Folder creation, rename, delete, and the file handles behind upload and download.
//! Every path resolves beneath the workspace root like the reads and writes do.

use std::path::Path;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use cchub_policy::{CONTAINER_GID, CONTAINER_UID};
use rand::Rng;

use super::{open_root, FileError};
use crate::files::WorkspacePath;

fn chown_path(dir: &Dir, name: &str) -> std::io::Result<()> {
    let uid = rustix::fs::Uid::from_raw(CONTAINER_UID);
    let gid = rustix::fs::Gid::from_raw(CONTAINER_GID);
    rustix::fs::chownat(dir, name, Some(uid), Some(gid), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Creates a folder; with `parents`, missing parents too (like `mkdir -p`).
pub fn make_dir(root: &Path, path: &WorkspacePath, parents: bool, chown: bool) -> Result<(), FileError> {
    let Some((parent, name)) = path.split() else {
        return Err(FileError::Exists("/".into()));
    };
    let root_dir = open_root(root)?;
    if parents && !parent.is_root() {
        let mut current = WorkspacePath::root();
        for component in parent.as_path().components() {
            let name = component.as_os_str().to_string_lossy().to_string();
            let dir = root_dir.open_dir(current.for_dir()).map_err(|e| FileError::from_io(&current, e))?;
            match dir.create_dir(&name) {
                Ok(()) if chown => chown_path(&dir, &name).map_err(|e| FileError::from_io(&current, e))?,
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(FileError::from_io(&current.join(&name), err)),
            }
            current = current.join(&name);
        }
    }
    let dir = root_dir.open_dir(parent.for_dir()).map_err(|e| FileError::from_io(&parent, e))?;
    match dir.create_dir(&name) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Err(FileError::Exists(path.display())),
        Err(err) => return Err(FileError::from_io(path, err)),
    }
    if chown {
        chown_path(&dir, &name).map_err(|e| FileError::from_io(path, e))?;
    }
    Ok(())
}

/// Renames `from` to `to`; a link is renamed itself. An existing target is replaced only
/// with `overwrite`, and never when it is a folder.
pub fn rename_entry(root: &Path, from: &WorkspacePath, to: &WorkspacePath, overwrite: bool) -> Result<(), FileError> {
    let (Some((from_parent, from_name)), Some((to_parent, to_name))) = (from.split(), to.split()) else {
        return Err(FileError::IsRoot);
    };
    let root_dir = open_root(root)?;
    let from_dir = root_dir.open_dir(from_parent.for_dir()).map_err(|e| FileError::from_io(&from_parent, e))?;
    let to_dir = root_dir.open_dir(to_parent.for_dir()).map_err(|e| FileError::from_io(&to_parent, e))?;
    from_dir.symlink_metadata(&from_name).map_err(|e| FileError::from_io(from, e))?;
    match to_dir.symlink_metadata(&to_name) {
        Ok(meta) if meta.is_dir() || !overwrite => return Err(FileError::Exists(to.display())),
        _ => {}
    }
    from_dir.rename(&from_name, &to_dir, &to_name).map_err(|e| FileError::from_io(to, e))
}

/// Deletes a file or link (never what a link points to), or a folder: an empty one, or
/// with `recursive` a full one.
pub fn delete_entry(root: &Path, path: &WorkspacePath, recursive: bool) -> Result<(), FileError> {
    let Some((parent, name)) = path.split() else {
        return Err(FileError::IsRoot);
    };
    let root_dir = open_root(root)?;
    let dir = root_dir.open_dir(parent.for_dir()).map_err(|e| FileError::from_io(&parent, e))?;
    let meta = dir.symlink_metadata(&name).map_err(|e| FileError::from_io(path, e))?;
    if !meta.is_dir() {
        return dir.remove_file(&name).map_err(|e| FileError::from_io(path, e));
    }
    if recursive {
        // cap-std removes the tree without following the links inside it.
        dir.remove_dir_all(&name).map_err(|e| FileError::from_io(path, e))
    } else {
        dir.remove_dir(&name).map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::NOTEMPTY.raw_os_error() => FileError::NotEmpty(path.display()),
            _ => FileError::from_io(path, e),
        })
    }
}

/// Opens a regular file for download; returns the handle and its size.
pub fn open_for_download(root: &Path, path: &WorkspacePath) -> Result<(std::fs::File, u64), FileError> {
    if path.is_root() {
        return Err(FileError::IsDirectory("/".into()));
    }
    let root_dir = open_root(root)?;
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOCTTY.bits() as i32);
    let file = root_dir.open_with(path.as_path(), &options).map_err(|e| FileError::from_io(path, e))?;
    let meta = file.metadata().map_err(|e| FileError::from_io(path, e))?;
    if meta.is_dir() {
        return Err(FileError::IsDirectory(path.display()));
    }
    if !meta.is_file() {
        return Err(FileError::NotRegular(path.display()));
    }
    let std_file = file.into_std();
    // Reads block normally from here on; the O_NONBLOCK only guarded the open.
    let flags = rustix::fs::fcntl_getfl(&std_file).map_err(|e| FileError::from_io(path, e.into()))?;
    rustix::fs::fcntl_setfl(&std_file, flags - rustix::fs::OFlags::NONBLOCK).map_err(|e| FileError::from_io(path, e.into()))?;
    Ok((std_file, meta.len()))
}

/// A file being uploaded: written to a temporary name in the target folder, then renamed.
pub struct Upload {
    dir: Dir,
    temp_name: String,
    name: String,
    pub path: WorkspacePath,
    pub file: std::fs::File,
}

/// Starts an upload of `name` into `folder`; the folder must exist.
pub fn begin_upload(root: &Path, folder: &WorkspacePath, name: &str) -> Result<Upload, FileError> {
    let path = WorkspacePath::parse(name)
        .ok()
        .filter(|p| p.as_path().components().count() == 1)
        .map(|_| folder.join(name))
        .ok_or_else(|| FileError::InvalidName(name.to_string()))?;
    let root_dir = open_root(root)?;
    let dir = root_dir.open_dir(folder.for_dir()).map_err(|e| FileError::from_io(folder, e))?;
    if dir.symlink_metadata(name).is_ok_and(|m| m.is_dir()) {
        return Err(FileError::IsDirectory(path.display()));
    }
    let temp_name = format!(".{name}.cchub-upload-{:08x}.tmp", rand::thread_rng().gen::<u32>());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o644);
    let file = dir.open_with(&temp_name, &options).map_err(|e| FileError::from_io(&path, e))?;
    Ok(Upload {
        dir,
        temp_name,
        name: name.to_string(),
        path,
        file: file.into_std(),
    })
}

impl Upload {
    /// Syncs the data and moves the file into place.
    pub fn commit(self, chown: bool) -> Result<WorkspacePath, FileError> {
        let result = (|| {
            self.file.sync_all()?;
            if chown {
                rustix::fs::fchown(&self.file, Some(rustix::fs::Uid::from_raw(CONTAINER_UID)), Some(rustix::fs::Gid::from_raw(CONTAINER_GID)))?;
            }
            self.dir.rename(&self.temp_name, &self.dir, &self.name)
        })();
        if let Err(err) = result {
            let _ = self.dir.remove_file(&self.temp_name);
            return Err(FileError::from_io(&self.path, err));
        }
        Ok(self.path)
    }

    /// Removes the partial file.
    pub fn abandon(self) {
        let _ = self.dir.remove_file(&self.temp_name);
    }
}
