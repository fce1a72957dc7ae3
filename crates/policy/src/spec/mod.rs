use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::tier::CPU_PERIOD_US;
use crate::{ByteSize, InternalNetwork, NetworkMode, PolicyError, SecuritySettings, Tier, TierName};

/// uid and gid of the unprivileged `dev` user inside every workspace image.
pub const CONTAINER_UID: u32 = 1000;
pub const CONTAINER_GID: u32 = 1000;
pub const CONTAINER_HOME: &str = "/home/dev";
pub const CONTAINER_WORKSPACE: &str = "/workspace";
/// Where the user's gateway socket directory appears inside the container (read-only).
pub const GATEWAY_MOUNT: &str = "/run/cchub";
pub const GATEWAY_SOCKET_NAME: &str = "model.sock";
/// Loopback port inside the container where the entrypoint relays to the gateway socket.
pub const GATEWAY_RELAY_PORT: u16 = 4141;
/// Socket of the egress proxy (network mode `proxy`), next to the gateway socket.
pub const PROXY_SOCKET_NAME: &str = "proxy.sock";
/// Loopback port inside the container where the entrypoint relays to the proxy socket.
pub const PROXY_RELAY_PORT: u16 = 4142;

pub const LABEL_MANAGED: &str = "cchub.managed";
/// Which hub owns the container, so that several hubs can share one engine.
pub const LABEL_INSTANCE: &str = "cchub.instance";
pub const LABEL_USER_ID: &str = "cchub.user-id";
pub const LABEL_USER_NAME: &str = "cchub.user-name";
pub const LABEL_TIER: &str = "cchub.tier";
pub const LABEL_SPEC_HASH: &str = "cchub.spec-hash";

/// A value the agent sees as its API key. It is not a key: the gateway drops it and
/// sends the organisation's key upstream, so nothing secret exists in the container.
pub const PLACEHOLDER_API_KEY: &str = "cchub-gateway-adds-the-real-key";

/// Host directories that belong to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserPaths {
    /// `users/<id>/` in the data directory; every mount source must be inside it.
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub home: PathBuf,
    /// Directory holding the gateway socket.
    pub run: PathBuf,
}

/// Everything the policy needs to decide one user's container.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    /// The hub's instance name; it prefixes container names.
    pub instance: &'a str,
    pub user_id: i64,
    pub user_name: &'a str,
    pub tier_name: &'a TierName,
    pub tier: &'a Tier,
    pub security: &'a SecuritySettings,
    pub image: &'a str,
    pub paths: &'a UserPaths,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindMount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// Resource limits in the units of the Docker Engine API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResourceLimits {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpu_shares: i64,
    pub pids_limit: i64,
}

/// The complete, engine-neutral description of a user's container.
///
/// Fields that are fixed for every container (privileged off, all capabilities dropped)
/// are still spelled out so that tests and `doctor` can check them in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub hostname: String,
    pub user: String,
    pub working_dir: String,
    pub entrypoint: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub privileged: bool,
    pub read_only_root: bool,
    pub init: bool,
    pub no_new_privileges: bool,
    pub cap_drop: Vec<String>,
    /// Name of the seccomp profile, and the profile itself.
    pub seccomp_profile: String,
    pub seccomp_profile_json: String,
    pub apparmor_profile: Option<String>,
    pub network: NetworkMode,
    /// The engine's network mode value: `none`, `bridge` or the user's network name.
    pub network_name: String,
    /// The user's own network, for mode `internal`.
    pub internal_network: Option<InternalNetwork>,
    pub ipc_mode: String,
    pub tmpfs: BTreeMap<String, String>,
    pub mounts: Vec<BindMount>,
    pub limits: ResourceLimits,
    pub restart_policy: String,
    pub log_max_size: String,
}

impl ContainerSpec {
    /// The engine's `SecurityOpt` list: no-new-privileges, the inline seccomp profile and
    /// the AppArmor profile when one is configured.
    pub fn security_opt(&self) -> Vec<String> {
        let mut options = Vec::new();
        if self.no_new_privileges {
            options.push("no-new-privileges:true".to_string());
        }
        options.push(format!("seccomp={}", self.seccomp_profile_json));
        if let Some(profile) = &self.apparmor_profile {
            options.push(format!("apparmor={profile}"));
        }
        options
    }

    /// Returns a short digest of everything the engine cannot change on a live container.
    /// A container whose label differs was created from an older spec and is recreated.
    /// Limits and the tier label are left out, because the running container takes those.
    pub fn fingerprint(&self) -> String {
        let mut fixed = self.clone();
        fixed.labels.remove(LABEL_SPEC_HASH);
        fixed.labels.remove(LABEL_TIER);
        fixed.limits = ResourceLimits::default();
        let json = serde_json::to_vec(&fixed).expect("a ContainerSpec always serializes");
        hex::encode(&Sha256::digest(&json)[..8])
    }
}

/// The container name for a user; one name per user lets the engine itself refuse a
/// second container.
pub fn container_name(instance: &str, user_id: i64) -> String {
    format!("{instance}-user-{user_id}")
}

/// Decides the complete container specification for one user.
pub fn build_container_spec(input: &SpecInput<'_>) -> Result<ContainerSpec, PolicyError> {
    input.tier.validate(input.tier_name.as_str())?;
    input.security.validate(false)?;
    check_user_root(&input.paths.root)?;
    let seccomp = input.security.profile_for(input.tier)?;
    let network = input.security.network_for(input.tier);
    let internal_network = match network {
        NetworkMode::Internal => Some(input.security.internal_subnet_pool.network_for(input.instance, input.user_id)?),
        _ => None,
    };

    let mounts = vec![
        BindMount {
            source: input.paths.workspace.clone(),
            target: CONTAINER_WORKSPACE.to_string(),
            read_only: false,
        },
        BindMount {
            source: input.paths.home.clone(),
            target: CONTAINER_HOME.to_string(),
            read_only: false,
        },
        BindMount {
            source: input.paths.run.clone(),
            target: GATEWAY_MOUNT.to_string(),
            read_only: true,
        },
    ];
    for mount in &mounts {
        check_mount_source(&mount.source, &input.paths.root, &mount.target)?;
    }

    let mut labels = BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_INSTANCE.to_string(), input.instance.to_string()),
        (LABEL_USER_ID.to_string(), input.user_id.to_string()),
        (LABEL_USER_NAME.to_string(), input.user_name.to_string()),
        (LABEL_TIER.to_string(), input.tier_name.to_string()),
    ]);

    let mut spec = ContainerSpec {
        name: container_name(input.instance, input.user_id),
        image: input.image.to_string(),
        hostname: "workspace".to_string(),
        user: format!("{CONTAINER_UID}:{CONTAINER_GID}"),
        working_dir: CONTAINER_WORKSPACE.to_string(),
        entrypoint: vec!["/usr/local/bin/cchub-entrypoint".to_string()],
        env: container_env(network),
        labels: labels.clone(),
        privileged: false,
        read_only_root: true,
        init: true,
        no_new_privileges: true,
        cap_drop: vec!["ALL".to_string()],
        seccomp_profile: seccomp.name.clone(),
        seccomp_profile_json: seccomp.json.clone(),
        apparmor_profile: input.security.apparmor_profile.clone(),
        network,
        network_name: match (&internal_network, network) {
            (Some(own), _) => own.name.clone(),
            (None, NetworkMode::Bridge) => "bridge".to_string(),
            (None, _) => "none".to_string(),
        },
        internal_network,
        ipc_mode: "private".to_string(),
        tmpfs: BTreeMap::from([(
            "/tmp".to_string(),
            // noexec is Docker's default for tmpfs too. It is written out so that the policy
            // states it: programs run from /workspace or the home folder, not from /tmp.
            format!("rw,nosuid,nodev,noexec,size={},mode=1777", input.security.tmp_size.as_u64()),
        )]),
        mounts,
        limits: limits(input.tier),
        restart_policy: "unless-stopped".to_string(),
        log_max_size: ByteSize::mib(1).to_string(),
    };

    labels.insert(LABEL_SPEC_HASH.to_string(), spec.fingerprint());
    spec.labels = labels;
    Ok(spec)
}

fn container_env(network: NetworkMode) -> BTreeMap<String, String> {
    let relay = format!("http://127.0.0.1:{GATEWAY_RELAY_PORT}");
    let mut env: BTreeMap<String, String> = [
        ("HOME", CONTAINER_HOME),
        ("USER", "dev"),
        ("LOGNAME", "dev"),
        ("SHELL", "/bin/bash"),
        ("LANG", "C.UTF-8"),
        ("TERM", "xterm-256color"),
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("ANTHROPIC_BASE_URL", relay.as_str()),
        ("ANTHROPIC_API_KEY", PLACEHOLDER_API_KEY),
        ("CCHUB_GATEWAY_SOCKET", &format!("{GATEWAY_MOUNT}/{GATEWAY_SOCKET_NAME}")),
        ("CCHUB_RELAY_PORT", &GATEWAY_RELAY_PORT.to_string()),
        // The container has no network: skip update checks, telemetry and error reports
        // instead of letting each of them time out.
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if network == NetworkMode::Proxy {
        let proxy = format!("http://127.0.0.1:{PROXY_RELAY_PORT}");
        for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            env.insert(name.to_string(), proxy.clone());
        }
        // The model relay is local; everything else goes through the proxy.
        env.insert("NO_PROXY".into(), "127.0.0.1,localhost".into());
        env.insert("no_proxy".into(), "127.0.0.1,localhost".into());
        env.insert("CCHUB_PROXY_SOCKET".into(), format!("{GATEWAY_MOUNT}/{PROXY_SOCKET_NAME}"));
        env.insert("CCHUB_PROXY_PORT".into(), PROXY_RELAY_PORT.to_string());
    }
    env
}

fn limits(tier: &Tier) -> ResourceLimits {
    ResourceLimits {
        memory: tier.memory.as_i64(),
        memory_swap: tier.memory_swap.as_i64(),
        memory_reservation: tier.memory_reservation.as_i64(),
        cpu_quota: tier.cpu_quota_us(),
        cpu_period: CPU_PERIOD_US,
        cpu_shares: i64::from(tier.cpu_shares),
        pids_limit: i64::from(tier.pids),
    }
}

/// Host paths that must never be, or contain, a user's directory.
const FORBIDDEN_ROOTS: &[&str] = &["/", "/proc", "/sys", "/dev", "/etc", "/boot", "/root", "/var/run", "/run"];

fn check_user_root(root: &Path) -> Result<(), PolicyError> {
    let reject = |reason| PolicyError::ForbiddenMount {
        source_path: root.display().to_string(),
        target: "(user root)".to_string(),
        reason,
    };
    if !root.is_absolute() {
        return Err(reject("the user's directory must be an absolute path"));
    }
    if root.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(reject("the user's directory must not contain '.' or '..'"));
    }
    if root.components().count() < 3 {
        return Err(reject("the user's directory is too close to the file system root"));
    }
    if FORBIDDEN_ROOTS.iter().any(|f| Path::new(f) == root) {
        return Err(reject("the user's directory is a system directory"));
    }
    Ok(())
}

fn check_mount_source(source: &Path, user_root: &Path, target: &str) -> Result<(), PolicyError> {
    let reject = |reason| PolicyError::ForbiddenMount {
        source_path: source.display().to_string(),
        target: target.to_string(),
        reason,
    };
    if source.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(reject("mount sources must not contain '.' or '..'"));
    }
    if !source.starts_with(user_root) || source == user_root {
        return Err(reject("only directories inside the user's own directory may be mounted"));
    }
    if source.components().any(|c| c.as_os_str().to_string_lossy().contains("docker.sock")) {
        return Err(reject("the Docker socket is never mounted into a container"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
