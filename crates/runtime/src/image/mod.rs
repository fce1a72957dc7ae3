//! `cchub image build`: the workspace image from the definition in `runtime/`.
//!
//! The build is skipped when an image with the same inputs (Dockerfile, entrypoint,
//! package list and Claude Code version) already exists, so a rebuild with unchanged
//! inputs takes well under a second.

mod base;
mod claude;
mod context;

use std::path::PathBuf;
use std::time::Instant;

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::{ContainerRuntime, DockerRuntime, RuntimeError};

pub const DOCKERFILE: &str = include_str!("../../../../runtime/Dockerfile");
pub const ENTRYPOINT: &str = include_str!("../../../../runtime/cchub-entrypoint");
pub const PACKAGES: &str = include_str!("../../../../runtime/packages.txt");
pub const CLAUDE_CODE_VERSION: &str = include_str!("../../../../runtime/claude-code.version");

/// Image label holding the digest of the build inputs.
pub const LABEL_INPUTS: &str = "cchub.runtime.inputs";
pub const LABEL_CLAUDE_VERSION: &str = "cchub.claude-code.version";

/// How to build the image.
pub struct BuildOptions<'a> {
    /// Tag of the result, normally `cchub-runtime:latest`.
    pub image: String,
    /// Where downloads (the claude executable) are kept between builds.
    pub cache_dir: PathBuf,
    /// Build even when an image with the same inputs exists.
    pub force: bool,
    /// Skip the registry and build the base with debootstrap.
    pub offline: bool,
    /// Receives one line per step for the user.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub image: String,
    pub image_id: String,
    pub base: String,
    pub claude_code_version: String,
    pub up_to_date: bool,
    pub seconds: f64,
}

pub fn packages() -> Vec<&'static str> {
    PACKAGES.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

pub fn claude_code_version() -> &'static str {
    CLAUDE_CODE_VERSION.trim()
}

/// Digest of everything that goes into the image.
pub fn inputs_digest() -> String {
    let mut hasher = Sha256::new();
    for part in [DOCKERFILE, ENTRYPOINT, PACKAGES, CLAUDE_CODE_VERSION] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..12])
}

/// Builds the workspace image, or reports that an identical one exists.
pub async fn build(runtime: &DockerRuntime, options: &BuildOptions<'_>) -> Result<BuildReport, RuntimeError> {
    let started = Instant::now();
    let digest = inputs_digest();
    let version = claude_code_version();
    let progress = options.progress;

    if !options.force {
        if let Some((id, labels)) = image_labels(runtime, &options.image).await? {
            if labels.get(LABEL_INPUTS).map(String::as_str) == Some(digest.as_str()) {
                progress(&format!("{} is up to date (inputs {digest})", options.image));
                return Ok(BuildReport {
                    image: options.image.clone(),
                    image_id: id,
                    base: "unchanged".into(),
                    claude_code_version: version.to_string(),
                    up_to_date: true,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
        }
    }

    let claude = claude::ensure_executable(&options.cache_dir, version, progress).await?;
    let base = base::ensure_base(runtime, options.offline, progress).await?;

    progress(&format!("building {} from {base} with Claude Code {version}", options.image));
    let mut context = context::BuildContext::prepare(&claude)?;
    let labels = std::collections::HashMap::from([
        (LABEL_INPUTS.to_string(), digest.clone()),
        (LABEL_CLAUDE_VERSION.to_string(), version.to_string()),
    ]);
    let build_args = std::collections::HashMap::from([("BASE".to_string(), base.clone())]);
    let build_options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&options.image)
        .rm(true)
        .forcerm(true)
        .buildargs(&build_args)
        .labels(&labels)
        .build();

    let body = context.tar_stream()?;
    let mut stream = runtime.client().build_image(build_options, None, Some(bollard::body_try_stream(body)));
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| RuntimeError::Build(e.to_string()))?;
        if let Some(detail) = info.error_detail {
            return Err(RuntimeError::Build(detail.message.unwrap_or_else(|| "unknown build error".into())));
        }
        if let Some(line) = info.stream {
            let line = line.trim_end();
            if !line.is_empty() {
                progress(line);
            }
        }
    }
    context.finish().await?;

    let image_id = runtime
        .image_id(&options.image)
        .await?
        .ok_or_else(|| RuntimeError::Build(format!("the build finished but {} does not exist", options.image)))?;
    Ok(BuildReport {
        image: options.image.clone(),
        image_id,
        base,
        claude_code_version: version.to_string(),
        up_to_date: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn image_labels(
    runtime: &DockerRuntime,
    image: &str,
) -> Result<Option<(String, std::collections::HashMap<String, String>)>, RuntimeError> {
    match runtime.client().inspect_image(image).await {
        Ok(inspect) => {
            let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
            Ok(Some((inspect.id.unwrap_or_default(), labels)))
        }
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(err) => Err(RuntimeError::engine("inspect image", image, err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_include_the_required_tools() {
        let packages = packages();
        for tool in ["bash", "git", "ripgrep", "procps", "socat", "ca-certificates", "tini"] {
            assert!(packages.contains(&tool), "{tool} missing from runtime/packages.txt");
        }
    }

    #[test]
    fn version_is_pinned() {
        let version = claude_code_version();
        assert!(version.split('.').count() == 3 && version.chars().all(|c| c.is_ascii_digit() || c == '.'), "{version}");
    }

    #[test]
    fn digest_is_stable() {
        assert_eq!(inputs_digest(), inputs_digest());
        assert_eq!(inputs_digest().len(), 24);
    }
}
