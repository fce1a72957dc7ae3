//! The `claude` executable of the pinned Claude Code version, fetched once from the npm
//! registry and cached.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::RuntimeError;

/// The npm package that carries the native executable for this machine.
fn platform_package() -> Result<&'static str, RuntimeError> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("@anthropic-ai/claude-code-linux-x64"),
        "aarch64" => Ok("@anthropic-ai/claude-code-linux-arm64"),
        other => Err(RuntimeError::Build(format!("no Claude Code executable is published for {other}"))),
    }
}

/// Returns the path of the cached executable, downloading it with `npm pack` (which
/// checks the registry's integrity hash) when it is missing.
pub async fn ensure_executable(cache_dir: &Path, version: &str, progress: &(dyn Fn(&str) + Sync)) -> Result<PathBuf, RuntimeError> {
    let dir = cache_dir.join("claude-code").join(version);
    let target = dir.join("claude");
    if target.is_file() {
        progress(&format!("using cached Claude Code {version} at {}", target.display()));
        return Ok(target);
    }

    let package = format!("{}@{version}", platform_package()?);
    progress(&format!("downloading {package} from the npm registry"));
    std::fs::create_dir_all(&dir)?;
    let scratch = tempfile::tempdir_in(&dir)?;

    let pack = Command::new("npm")
        .args(["pack", "--silent", &package, "--pack-destination"])
        .arg(scratch.path())
        .output()
        .await
        .map_err(|e| RuntimeError::Build(format!("cannot run npm (install Node.js and npm): {e}")))?;
    if !pack.status.success() {
        return Err(RuntimeError::Build(format!(
            "npm pack {package} failed: {}",
            String::from_utf8_lossy(&pack.stderr).trim()
        )));
    }
    let tarball = String::from_utf8_lossy(&pack.stdout).trim().lines().last().unwrap_or_default().to_string();
    let tarball = scratch.path().join(tarball);

    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(scratch.path())
        .arg("package/claude")
        .output()
        .await?;
    if !untar.status.success() {
        return Err(RuntimeError::Build(format!(
            "cannot unpack {}: {}",
            tarball.display(),
            String::from_utf8_lossy(&untar.stderr).trim()
        )));
    }
    let unpacked = scratch.path().join("package").join("claude");
    let size = std::fs::metadata(&unpacked)?.len();
    if size < 1 << 20 {
        return Err(RuntimeError::Build(format!("{package} holds a claude executable of only {size} bytes")));
    }
    // Rename inside one folder: a crash leaves either no file or a whole one.
    std::fs::rename(&unpacked, &target)?;
    progress(&format!("cached Claude Code {version} ({} MB)", size >> 20));
    Ok(target)
}
