//! The build context: the files of `runtime/` plus the claude executable, streamed to
//! the engine as a tar archive without holding it in memory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::{DOCKERFILE, ENTRYPOINT, PACKAGES};
use crate::RuntimeError;

pub struct BuildContext {
    dir: tempfile::TempDir,
    tar: Option<Child>,
}

impl BuildContext {
    /// Writes the context next to the cached executable so it can be hard-linked.
    pub fn prepare(claude: &Path) -> Result<Self, RuntimeError> {
        let parent = claude.parent().unwrap_or(Path::new("/tmp"));
        let dir = tempfile::Builder::new().prefix("build-context-").tempdir_in(parent)?;
        std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE)?;
        std::fs::write(dir.path().join("packages.txt"), PACKAGES)?;
        let entrypoint = dir.path().join("cchub-entrypoint");
        std::fs::write(&entrypoint, ENTRYPOINT)?;
        std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755))?;
        let target = dir.path().join("claude");
        if std::fs::hard_link(claude, &target).is_err() {
            std::fs::copy(claude, &target)?;
        }
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { dir, tar: None })
    }

    pub fn tar_stream(&mut self) -> Result<impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static, RuntimeError> {
        let (stream, child) = tar_directory(self.dir.path())?;
        self.tar = Some(child);
        Ok(stream)
    }

    /// Waits for the archiver and removes the context.
    pub async fn finish(mut self) -> Result<(), RuntimeError> {
        if let Some(mut child) = self.tar.take() {
            wait_tar(&mut child).await?;
        }
        Ok(())
    }
}

/// Streams `dir` as an uncompressed tar archive produced by the system's `tar`.
pub fn tar_directory(dir: &Path) -> Result<(impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static, Child), RuntimeError> {
    let mut child = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["--numeric-owner", "-cf", "-", "."])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RuntimeError::Build(format!("cannot run tar: {e}")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stream = futures_util::stream::unfold(stdout, |mut stdout| async move {
        let mut buffer = vec![0u8; 256 * 1024];
        match stdout.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buffer)), stdout))
            }
            Err(err) => Some((Err(err), stdout)),
        }
    });
    Ok((stream, child))
}

pub async fn wait_tar(child: &mut Child) -> Result<(), RuntimeError> {
    let status = child.wait().await?;
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr).await;
    }
    Err(RuntimeError::Build(format!("tar failed ({status}): {}", stderr.trim())))
}
