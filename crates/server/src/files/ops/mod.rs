use std::io::{Read, Write};
use std::path::Path;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};
use cchub_policy::{CONTAINER_GID, CONTAINER_UID};
use rand::Rng;
use serde::Serialize;
use thiserror::Error;

use super::WorkspacePath;

/// Most entries read from one folder; a larger folder is cut and marked `truncated`.
const MAX_FOLDER_ENTRIES: usize = 100_000;

/// A page of a folder listing.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub entries: Vec<DirEntryInfo>,
    /// Entries in the folder (up to the read limit), for paging.
    pub total: usize,
    /// The folder contains more entries than are read at all.
    pub truncated: bool,
}

/// A failed file operation, in terms the API maps to a status.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} leads outside the workspace (through a symbolic link); the hub does not follow it")]
    Escapes(String),
    #[error("{0} is a folder")]
    IsDirectory(String),
    #[error("{0} is not a folder")]
    NotDirectory(String),
    #[error("{0} is not a regular file (a pipe, socket or device); the hub only reads regular files")]
    NotRegular(String),
    #[error("{path} is {size} bytes; the limit for one request is {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("the workspace folder is missing")]
    NoWorkspace,
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} is not empty; delete it with recursive=true")]
    NotEmpty(String),
    #[error("the workspace root itself cannot be renamed or deleted")]
    IsRoot,
    #[error("{0:?} is not a file name; use a name without '/', '..' or control characters")]
    InvalidName(String),
    #[error("file system error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl FileError {
    pub(crate) fn from_io(path: &WorkspacePath, err: std::io::Error) -> Self {
        let shown = if path.is_root() { "/".to_string() } else { path.display() };
        match err.kind() {
            std::io::ErrorKind::NotFound => FileError::NotFound(shown),
            // cap-std reports a resolution that would leave the root as PermissionDenied;
            // the hub runs as root, so that is the only way to get it here.
            std::io::ErrorKind::PermissionDenied => FileError::Escapes(shown),
            std::io::ErrorKind::IsADirectory => FileError::IsDirectory(shown),
            std::io::ErrorKind::NotADirectory => FileError::NotDirectory(shown),
            _ => match err.raw_os_error() {
                Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => FileError::Escapes(shown),
                Some(code) if code == rustix::io::Errno::XDEV.raw_os_error() => FileError::Escapes(shown),
                Some(code) if code == rustix::io::Errno::NOTDIR.raw_os_error() => FileError::NotDirectory(shown),
                Some(code) if code == rustix::io::Errno::ISDIR.raw_os_error() => FileError::IsDirectory(shown),
                _ => FileError::Io { path: shown, source: err },
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirEntryInfo {
    pub name: String,
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Last modification, Unix milliseconds.
    pub modified: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FileContent {
    pub bytes: Vec<u8>,
    pub modified: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    pub path: String,
    pub size: u64,
    pub modified: Option<i64>,
}

pub(crate) fn open_root(root: &Path) -> Result<Dir, FileError> {
    Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(|_| FileError::NoWorkspace)
}

fn millis(metadata: &cap_std::fs::Metadata) -> Option<i64> {
    let modified = metadata.modified().ok()?.into_std();
    modified.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as i64)
}

/// Lists one folder, without following symbolic links inside it: folders first, then by
/// name, entries `offset..offset + limit`.
pub fn list_dir(root: &Path, path: &WorkspacePath, offset: usize, limit: usize) -> Result<Listing, FileError> {
    let root_dir = open_root(root)?;
    let dir = root_dir.open_dir(path.for_dir()).map_err(|e| FileError::from_io(path, e))?;
    let mut entries = Vec::new();
    let mut truncated = false;
    for entry in dir.entries().map_err(|e| FileError::from_io(path, e))? {
        let entry = entry.map_err(|e| FileError::from_io(path, e))?;
        if entries.len() >= MAX_FOLDER_ENTRIES {
            truncated = true;
            break;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        let metadata = entry.metadata().ok();
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => EntryKind::Symlink,
            Ok(t) if t.is_dir() => EntryKind::Dir,
            Ok(t) if t.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        };
        entries.push(DirEntryInfo {
            path: path.join(&name).display(),
            name,
            kind,
            size: metadata.as_ref().map(|m| m.len()).unwrap_or(0),
            modified: metadata.as_ref().and_then(millis),
        });
    }
    entries.sort_by(|a, b| (a.kind != EntryKind::Dir, &a.name).cmp(&(b.kind != EntryKind::Dir, &b.name)));
    let total = entries.len();
    let page = entries.into_iter().skip(offset).take(limit).collect();
    Ok(Listing { entries: page, total, truncated })
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_file(root: &Path, path: &WorkspacePath, limit: u64) -> Result<FileContent, FileError> {
    if path.is_root() {
        return Err(FileError::IsDirectory("/".into()));
    }
    let root_dir = open_root(root)?;
    let mut options = OpenOptions::new();
    // O_NONBLOCK: opening a FIFO the user planted must not hang the hub.
    options.read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOCTTY.bits() as i32);
    let mut file = root_dir.open_with(path.as_path(), &options).map_err(|e| FileError::from_io(path, e))?;
    let metadata = file.metadata().map_err(|e| FileError::from_io(path, e))?;
    if metadata.is_dir() {
        return Err(FileError::IsDirectory(path.display()));
    }
    if !metadata.is_file() {
        return Err(FileError::NotRegular(path.display()));
    }
    if metadata.len() > limit {
        return Err(FileError::TooLarge {
            path: path.display(),
            size: metadata.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // `take` guards against a file that grows while it is read.
    (&mut file).take(limit + 1).read_to_end(&mut bytes).map_err(|e| FileError::from_io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.display(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(FileContent {
        bytes,
        modified: millis(&metadata),
    })
}

/// Replaces (or creates) a file atomically: the bytes go to a temporary file in the same
/// folder, which is synced and then renamed over the target. A reader never sees a half
/// written file, and a symbolic link at the target is replaced, never written through.
pub fn write_file(root: &Path, path: &WorkspacePath, bytes: &[u8], chown: bool) -> Result<WrittenFile, FileError> {
    let Some((parent, name)) = path.split() else {
        return Err(FileError::IsDirectory("/".into()));
    };
    let root_dir = open_root(root)?;
    let dir = root_dir.open_dir(parent.for_dir()).map_err(|e| FileError::from_io(&parent, e))?;

    let existing_mode = match dir.symlink_metadata(&name) {
        Ok(meta) if meta.is_dir() => return Err(FileError::IsDirectory(path.display())),
        Ok(meta) if meta.is_file() => Some(meta.permissions().mode() & 0o7777),
        _ => None,
    };

    let temp_name = format!(".{name}.cchub-{:08x}.tmp", rand::thread_rng().gen::<u32>());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o644);
    let result = (|| {
        let mut file = dir.open_with(&temp_name, &options)?;
        file.write_all(bytes)?;
        if let Some(mode) = existing_mode {
            file.set_permissions(Permissions::from_mode(mode))?;
        }
        if chown {
            rustix::fs::fchown(&file, Some(rustix::fs::Uid::from_raw(CONTAINER_UID)), Some(rustix::fs::Gid::from_raw(CONTAINER_GID)))?;
        }
        file.sync_all()?;
        dir.rename(&temp_name, &dir, &name)
    })();
    if let Err(err) = result {
        let _ = dir.remove_file(&temp_name);
        return Err(FileError::from_io(path, err));
    }

    let metadata = dir.symlink_metadata(&name).map_err(|e| FileError::from_io(path, e))?;
    Ok(WrittenFile {
        path: path.display(),
        size: metadata.len(),
        modified: millis(&metadata),
    })
}

mod manage;

pub use manage::{begin_upload, delete_entry, make_dir, open_for_download, rename_entry, Upload};

#[cfg(test)]
mod tests;
