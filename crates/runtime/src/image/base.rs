//! The Debian base image: `debian:bookworm-slim` from a registry when one answers,
//! otherwise a root file system made with debootstrap and imported into the engine.

use std::time::Duration;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::process::Command;

use super::context::{tar_directory, wait_tar};
use super::packages;
use crate::{ContainerRuntime, DockerRuntime, RuntimeError};

const REGISTRY_BASE: &str = "debian:bookworm-slim";
/// How long a registry pull may take before the build switches to debootstrap.
const PULL_TIMEOUT: Duration = Duration::from_secs(45);
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

pub async fn ensure_base(runtime: &DockerRuntime, offline: bool, progress: &(dyn Fn(&str) + Sync)) -> Result<String, RuntimeError> {
    if !offline {
        if runtime.image_id(REGISTRY_BASE).await?.is_some() {
            return Ok(REGISTRY_BASE.to_string());
        }
        progress(&format!("pulling {REGISTRY_BASE}"));
        match tokio::time::timeout(PULL_TIMEOUT, pull(runtime)).await {
            Ok(Ok(())) => return Ok(REGISTRY_BASE.to_string()),
            Ok(Err(err)) => progress(&format!("no registry answered ({err}); building the base with debootstrap")),
            Err(_) => progress(&format!(
                "pulling {REGISTRY_BASE} took over {} s; building the base with debootstrap",
                PULL_TIMEOUT.as_secs()
            )),
        }
    }
    debootstrap_base(runtime, progress).await
}

async fn pull(runtime: &DockerRuntime) -> Result<(), RuntimeError> {
    let options = CreateImageOptionsBuilder::default().from_image("debian").tag("bookworm-slim").build();
    let mut stream = runtime.client().create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| RuntimeError::Build(e.to_string()))?;
    }
    Ok(())
}

async fn debootstrap_base(runtime: &DockerRuntime, progress: &(dyn Fn(&str) + Sync)) -> Result<String, RuntimeError> {
    let packages = packages();
    let tag = format!("bookworm-{}", &hex::encode(Sha256::digest(packages.join(",").as_bytes()))[..12]);
    let reference = format!("cchub-runtime-base:{tag}");
    if runtime.image_id(&reference).await?.is_some() {
        progress(&format!("using base image {reference}"));
        return Ok(reference);
    }

    let mirror = std::env::var("CCHUB_DEBIAN_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    let root = tempfile::Builder::new().prefix("cchub-rootfs-").tempdir()?;
    progress(&format!("running debootstrap bookworm from {mirror} (about 30 s to a few minutes)"));
    let output = Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", packages.join(",")))
        .arg("bookworm")
        .arg(root.path())
        .arg(&mirror)
        .output()
        .await
        .map_err(|e| RuntimeError::Build(format!("cannot run debootstrap (apt-get install debootstrap; it needs root): {e}")))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stdout);
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        return Err(RuntimeError::Build(format!(
            "debootstrap failed ({}): {}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }

    // Package caches only make the image larger.
    for cache in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.path().join(cache);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    progress(&format!("importing the root file system as {reference}"));
    let (body, mut tar) = tar_directory(root.path())?;
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo("cchub-runtime-base")
        .tag(&tag)
        .build();
    let mut stream = runtime.client().create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| RuntimeError::Build(format!("import of the base failed: {e}")))?;
    }
    wait_tar(&mut tar).await?;
    Ok(reference)
}
