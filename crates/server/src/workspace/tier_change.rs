//! Moving a user to another tier while the workspace runs: the engine's update call sets
//! CPU, memory and pids limits in place, and the disk image grows online. Shared by the
//! admin API and the `cchub user set` command.

use cchub_config::Config;
use cchub_policy::{build_container_spec, ByteSize, ContainerSpec, TierName, UserPaths};
use cchub_runtime::{DockerRuntime, Workspaces};
use cchub_store::User;
use serde::Serialize;
use tracing::{info, warn};

use super::disk::{self, DiskChange, DiskMode};
use super::runtime_error;
use crate::error::ApiError;

/// Measurements of a user's disk before a downgrade is refused.
const FIT_CHECKS: u32 = 5;

/// The result of applying a tier to a user's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierChange {
    pub limits: &'static str,
    pub disk: DiskChange,
}

/// Builds the container spec the policy decides for `user` now.
pub fn spec_for(config: &Config, user: &User) -> Result<ContainerSpec, ApiError> {
    let tier_name = TierName::parse(&user.tier).map_err(|e| ApiError::internal("reading the user's tier", e))?;
    let tier = config.resources.tier(&tier_name).ok_or_else(|| {
        ApiError::conflict("unknown_tier", format!("tier {tier_name} is no longer configured; an administrator must move this user to another tier"))
    })?;
    let dirs = config.layout().user(user.id);
    let paths = UserPaths {
        root: dirs.root,
        workspace: dirs.workspace,
        home: dirs.home,
        run: dirs.run,
    };
    build_container_spec(&cchub_policy::SpecInput {
        instance: &config.containers.instance,
        user_id: user.id,
        user_name: user.username.as_str(),
        tier_name: &tier_name,
        tier,
        security: &config.security,
        image: &config.containers.image,
        paths: &paths,
    })
    .map_err(|e| ApiError::internal("building the container spec", e))
}

/// Rejects a move of `user` to `tier` when the user's files take more than its disk size,
/// because no file system can shrink below its data.
pub async fn check_disk_fits(config: &Config, user: &User, tier: &TierName) -> Result<(), ApiError> {
    let Some(limit) = config.resources.tier(tier).map(|t| t.disk) else {
        return Ok(());
    };
    let dirs = config.layout().user(user.id);
    let mut used = 0;
    // XFS frees the blocks of files deleted a moment ago in the background, so a disk that
    // looks too full is measured again a few times before the change is refused.
    for attempt in 0..FIT_CHECKS {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let dirs = dirs.clone();
        used = tokio::task::spawn_blocking(move || disk::used_bytes(&dirs))
            .await
            .map_err(|e| ApiError::internal("measuring the user's disk", e))?
            .unwrap_or(0);
        if used <= disk::usable_bytes(limit) {
            return Ok(());
        }
    }
    Err(ApiError::conflict(
        "disk_too_small",
        format!(
            "{} uses {} on disk, more than tier {tier}'s {limit} disk holds (about {}); delete files first or choose a larger tier",
            user.username,
            ByteSize::bytes(used).approx(),
            ByteSize::bytes(disk::usable_bytes(limit)).approx()
        ),
    ))
}

/// Applies `user`'s tier to the running container and the disk image.
pub async fn apply(config: &Config, workspaces: &Workspaces<DockerRuntime>, user: &User, disk_mode: DiskMode) -> Result<TierChange, ApiError> {
    let spec = spec_for(config, user)?;
    let limits = workspaces.apply_limits(&spec).await.map_err(runtime_error)?;
    let size = TierName::parse(&user.tier).ok().and_then(|t| config.resources.tier(&t)).map(|t| t.disk);
    let dirs = config.layout().user(user.id);
    let disk = match size {
        Some(size) => match tokio::task::spawn_blocking(move || disk::resize(&dirs, size, disk_mode)).await {
            Ok(Ok(change)) => change,
            Ok(Err(err)) => {
                warn!(user_id = user.id, error = %err, "cannot resize the user's disk image");
                return Err(ApiError::unavailable("disk_resize_failed", "the disk could not be resized; the new limits apply, the disk keeps its old size; see the hub's log"));
            }
            Err(err) => return Err(ApiError::internal("resizing the user's disk", err)),
        },
        None => DiskChange::Unchanged,
    };
    info!(user_id = user.id, tier = %user.tier, limits = limits.as_str(), disk = ?disk, "applied a tier change");
    Ok(TierChange {
        limits: limits.as_str(),
        disk,
    })
}
