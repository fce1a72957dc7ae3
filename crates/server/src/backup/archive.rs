//! Archives with GNU tar and zstd, and the checksums of backup files.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use super::{io, BackedFile, BackupError};

fn run_tar(args: &[&std::ffi::OsStr], operation: &str) -> Result<(), BackupError> {
    let output = Command::new("tar").args(args).output().map_err(io(format!("{operation}: starting tar")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(BackupError::Invalid(format!("{operation}: tar failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim())))
}

/// Writes the contents of `source` to the zstd-compressed tar `target`, keeping owners,
/// modes and links as they are.
pub fn pack(source: &Path, target: &Path) -> Result<(), BackupError> {
    run_tar(
        &["--zstd".as_ref(), "--numeric-owner".as_ref(), "-cf".as_ref(), target.as_os_str(), "-C".as_ref(), source.as_os_str(), ".".as_ref()],
        &format!("archiving {}", source.display()),
    )
}

/// Extracts `archive` into the existing folder `target`. GNU tar strips `..` and leading
/// `/` from names and sets symbolic links last, so nothing lands outside `target`.
pub fn unpack(archive: &Path, target: &Path) -> Result<(), BackupError> {
    run_tar(
        &["--zstd".as_ref(), "--numeric-owner".as_ref(), "-xpf".as_ref(), archive.as_os_str(), "-C".as_ref(), target.as_os_str()],
        &format!("extracting {}", archive.display()),
    )
}

/// Returns the size and SHA-256 of `path`, named `file` in the manifest.
pub fn describe(path: &Path, file: &str) -> Result<BackedFile, BackupError> {
    let mut reader = std::fs::File::open(path).map_err(io(format!("reading {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(io(format!("reading {}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok(BackedFile {
        file: file.to_string(),
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}
