use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cchub_policy::{check_egress_entry, default_tiers, ByteSize, NetworkMode, SecuritySettings, SubnetPool, Tier, TierName};

use crate::env::expand_references;
use crate::raw::{RawConfig, RawDatabase, RawTier};
use crate::{ConfigError, DataLayout, Secret, TrustedProxies};

/// The validated configuration of a hub.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub docker: DockerConfig,
    pub containers: ContainersConfig,
    pub resources: ResourcesConfig,
    pub security: SecuritySettings,
    pub auth: AuthConfig,
    pub model: ModelConfig,
    pub logging: LoggingConfig,
    pub admission: AdmissionConfig,
    /// The bearer token `/metrics` requires; `None` turns the endpoint off.
    pub metrics_token: Option<Secret>,
    /// Days audit rows are kept; `None` keeps them forever.
    pub audit_retention_days: Option<u64>,
    /// Hours between scheduled backups; `None` schedules none.
    pub backup_interval_hours: Option<u64>,
    /// Complete backups kept.
    pub backup_keep: usize,
}

/// A host-wide budget for running (not paused) workspaces; `None` is no limit.
#[derive(Debug, Clone, Default)]
pub struct AdmissionConfig {
    pub max_running: Option<u32>,
    /// Sum of the memory reservations of the running containers.
    pub max_memory_reservation: Option<ByteSize>,
}

impl AdmissionConfig {
    pub fn is_limited(&self) -> bool {
        self.max_running.is_some() || self.max_memory_reservation.is_some()
    }
}

/// The configuration file of a hub installed as the deployment guide describes.
pub const SYSTEM_CONFIG: &str = "/etc/cchub/cchub.yml";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where users reach the hub, when a reverse proxy is in front.
    pub public_url: Option<String>,
    /// Largest JSON request body the API accepts.
    pub max_json_body: ByteSize,
    /// Largest file the files API reads or writes in one request.
    pub max_file_size: ByteSize,
    /// Largest single file accepted by an upload (streamed to disk).
    pub max_upload_size: ByteSize,
    /// Absolute path of the built web UI, served at `/`.
    pub web_dir: PathBuf,
    /// Reverse proxies believed about the client's address.
    pub trusted_proxies: TrustedProxies,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// A `sqlite://` or `postgres://` URL. It may carry a password: never log it.
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub socket_path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ContainersConfig {
    pub image: String,
    /// Name of this hub on the engine: container names start with it and a label contains it.
    pub instance: String,
    /// Absolute path of the data directory.
    pub data_dir: PathBuf,
    /// A container without a terminal, agent run or request for this long is stopped;
    /// `None` keeps containers running.
    pub idle_timeout: Option<std::time::Duration>,
    /// Enforce the tier's disk size with per-user disk images where the host allows it.
    pub disk_images: bool,
    /// A stopped container is removed by garbage collection after this long; `None` never.
    pub remove_after: Option<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub struct ResourcesConfig {
    pub default_tier: TierName,
    pub tiers: BTreeMap<TierName, Tier>,
}

impl ResourcesConfig {
    pub fn tier(&self, name: &TierName) -> Option<&Tier> {
        self.tiers.get(name)
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Path of the JWT signing key, generated on first start when missing.
    pub jwt_key_file: PathBuf,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_secs: u64,
}

/// A Claude Code permission mode the hub lets clients choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    Plan,
    BypassPermissions,
}

impl PermissionMode {
    pub const ALL: [PermissionMode; 4] = [
        PermissionMode::Default,
        PermissionMode::AcceptEdits,
        PermissionMode::Plan,
        PermissionMode::BypassPermissions,
    ];

    /// Returns the value of `claude --permission-mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Base URL of the Messages API, without a trailing slash.
    pub upstream: String,
    /// The organisation's key; `None` when unset (the gateway then forwards without one).
    pub api_key: Option<Secret>,
    pub allowed_models: Vec<String>,
    pub default_permission_mode: PermissionMode,
    pub allowed_permission_modes: Vec<PermissionMode>,
    /// `CLAUDE_CODE_MAX_RETRIES` for agent runs.
    pub max_retries: u32,
    /// The agent executable inside the container.
    pub agent_command: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
    /// Text when stdout is a terminal, JSON lines otherwise.
    Auto,
}

#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// A tracing filter such as `info` or `cchub=debug,info`.
    pub level: String,
    pub format: LogFormat,
    /// A file that receives the logs as JSON lines too, rotated by size.
    pub file: Option<LogFile>,
}

/// A log file and its rotation.
#[derive(Debug, Clone)]
pub struct LogFile {
    pub path: PathBuf,
    pub max_size: ByteSize,
    /// Rotated files kept: `PATH.1` (newest) to `PATH.N`.
    pub keep: u32,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:3001";
const DEFAULT_UPSTREAM: &str = "https://api.anthropic.com";

impl Config {
    /// Loads the configuration from `path` (or only defaults when `None`) and the
    /// environment given by `env`, which is `std::env::var` outside tests.
    pub fn load(path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = match path {
            Some(path) => read_file(path, env)?,
            None => RawConfig::default(),
        };
        let base_dir = match path.and_then(Path::parent) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        resolve(raw, path.map(Path::to_path_buf), &base_dir, env)
    }

    /// Loads the file given with `--config`, else `CCHUB_CONFIG`, else [`SYSTEM_CONFIG`]
    /// when it exists, and the process environment. Without any file, the defaults apply.
    /// The system file lets `cchub user add` in any folder of a production host reach the
    /// hub's database.
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let path = explicit
            .map(Path::to_path_buf)
            .or_else(|| env("CCHUB_CONFIG").map(PathBuf::from))
            .or_else(|| Path::new(SYSTEM_CONFIG).is_file().then(|| PathBuf::from(SYSTEM_CONFIG)));
        Self::load(path.as_deref(), &env)
    }

    pub fn layout(&self) -> DataLayout {
        DataLayout::new(&self.containers.data_dir)
    }
}

fn read_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let mut document: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| parse_error(e.to_string()))?;
    if document.is_null() {
        return Ok(RawConfig::default());
    }
    expand_references(&mut document, "", env)?;
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            parse_error(inner.to_string())
        } else {
            parse_error(format!("{path}: {inner}"))
        }
    })
}

fn resolve(
    raw: RawConfig,
    source: Option<PathBuf>,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let listen_text = env("CCHUB_LISTEN").or(raw.server.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = listen_text.parse().map_err(|_| {
        ConfigError::invalid("server.listen", format!("{listen_text:?} is not an address such as 127.0.0.1:3001"))
    })?;

    let trusted_proxies = match env("CCHUB_TRUSTED_PROXIES") {
        Some(text) => TrustedProxies::parse(text.split(',')),
        None => TrustedProxies::parse(raw.server.trusted_proxies.iter().flatten().map(String::as_str)),
    }
    .map_err(|e| ConfigError::invalid("server.trusted_proxies", e))?;

    // The UI is built in the repository, so without a setting it is looked up from the
    // current folder, where the README's commands run.
    let web_dir = match env("CCHUB_WEB_DIR").or(raw.server.web_dir.clone()) {
        Some(text) => absolute(Path::new(&text), base_dir).map_err(|e| ConfigError::invalid("server.web_dir", format!("{text:?}: {e}")))?,
        None => absolute(Path::new("web/dist"), &std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")))
            .map_err(|e| ConfigError::invalid("server.web_dir", e.to_string()))?,
    };

    let data_dir_text = env("CCHUB_DATA_DIR").or(raw.containers.data_dir).unwrap_or_else(|| "./workspace".into());
    let data_dir = absolute(Path::new(&data_dir_text), base_dir)
        .map_err(|e| ConfigError::invalid("containers.data_dir", format!("{data_dir_text:?}: {e}")))?;

    let database = resolve_database(&raw.database, env("CCHUB_DATABASE_URL"), &data_dir)?;

    let idle = IdleDefaults {
        pause: raw.containers.idle_pause_secs,
        stop: raw.containers.idle_timeout_secs.unwrap_or(1800),
    };
    // The containers section's own times are checked first, so a mistake there is
    // reported under its own keys and not under a tier that inherits them.
    if let Some(pause) = idle.pause.filter(|p| *p > 0) {
        if pause < 5 {
            return Err(ConfigError::invalid("containers.idle_pause_secs", format!("must be 0 (never) or at least 5, got {pause}")));
        }
        if idle.stop > 0 && pause >= idle.stop {
            return Err(ConfigError::invalid(
                "containers.idle_pause_secs",
                format!("({pause}) must be less than containers.idle_timeout_secs ({}), or 0 to never pause", idle.stop),
            ));
        }
    }
    let (default_tier, tiers) = resolve_tiers(&raw.resources.tiers, env("CCHUB_DEFAULT_TIER").or(raw.resources.default_tier), idle)?;
    if raw.admission.max_running == Some(0) {
        return Err(ConfigError::invalid("admission.max_running", "must be at least 1; leave it out for no limit"));
    }
    let admission = AdmissionConfig {
        max_running: raw.admission.max_running,
        max_memory_reservation: raw.admission.max_memory_reservation,
    };
    if let Some(budget) = admission.max_memory_reservation {
        if let Some((name, tier)) = tiers.iter().find(|(_, t)| t.memory_reservation > budget) {
            return Err(ConfigError::invalid(
                "admission.max_memory_reservation",
                format!("({budget}) is below tier {name}'s memory_reservation ({}), so its users could never start", tier.memory_reservation),
            ));
        }
    }

    let security = resolve_security(&raw.security, raw.containers.tmp_size, base_dir)?;
    for (name, tier) in &tiers {
        if let Some(profile) = &tier.seccomp_profile {
            if !security.seccomp_profiles.contains_key(profile) {
                let known: Vec<&str> = security.seccomp_profiles.keys().map(String::as_str).collect();
                return Err(ConfigError::invalid(format!("resources.tiers.{name}.seccomp_profile"), format!("{profile:?} is not a seccomp profile; use one of {}", known.join(", "))));
            }
        }
    }

    let image = env("CCHUB_IMAGE").or(raw.containers.image).unwrap_or_else(|| "cchub-runtime:latest".into());
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(ConfigError::invalid("containers.image", format!("{image:?} is not an image reference")));
    }

    let instance = env("CCHUB_INSTANCE").or(raw.containers.instance).unwrap_or_else(|| "cchub".into());
    let instance_ok = instance.len() <= 32
        && instance.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && instance.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !instance_ok {
        return Err(ConfigError::invalid("containers.instance", format!("{instance:?} must be 1 to 32 characters from a-z, 0-9 and '-', starting with a letter")));
    }

    let socket_path = env("CCHUB_DOCKER_SOCKET").or(raw.docker.socket_path).unwrap_or_else(|| "/var/run/docker.sock".into());

    let metrics_token = match (env("CCHUB_METRICS_TOKEN"), &raw.monitoring.metrics_token_file) {
        (Some(token), _) => Some(token),
        (None, Some(file)) => {
            let path = absolute(Path::new(file), base_dir).map_err(|e| ConfigError::invalid("monitoring.metrics_token_file", e.to_string()))?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::invalid("monitoring.metrics_token_file", format!("cannot read {}: {e}", path.display())))?;
            Some(text.trim().to_string())
        }
        (None, None) => None,
    };
    if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
        return Err(ConfigError::invalid("monitoring.metrics_token_file", "the metrics token must be at least 16 characters (CCHUB_METRICS_TOKEN or the file)"));
    }
    let metrics_token = metrics_token.map(Secret::new);

    let auth = resolve_auth(&raw.auth, &data_dir, base_dir)?;
    let model = resolve_model(&raw.model, env, base_dir)?;
    let mut logging = resolve_logging(env("CCHUB_LOG_LEVEL").or(raw.logging.level.clone()), env("CCHUB_LOG_FORMAT").or(raw.logging.format.clone()))?;
    if let Some(file) = env("CCHUB_LOG_FILE").or(raw.logging.file.clone()) {
        let path = absolute(Path::new(&file), base_dir).map_err(|e| ConfigError::invalid("logging.file", format!("{file:?}: {e}")))?;
        let max_size = raw.logging.max_file_size.unwrap_or(ByteSize::mib(50));
        if max_size < ByteSize::mib(1) {
            return Err(ConfigError::invalid("logging.max_file_size", format!("must be at least 1M, got {max_size}")));
        }
        let keep = raw.logging.keep_files.unwrap_or(5);
        if !(1..=100).contains(&keep) {
            return Err(ConfigError::invalid("logging.keep_files", format!("must be between 1 and 100, got {keep}")));
        }
        logging.file = Some(LogFile { path, max_size, keep });
    }

    Ok(Config {
        source,
        server: ServerConfig {
            listen,
            public_url: raw.server.public_url.clone().map(|u| u.trim_end_matches('/').to_string()),
            max_json_body: raw.server.max_json_body.unwrap_or(ByteSize::mib(1)),
            max_file_size: raw.server.max_file_size.unwrap_or(ByteSize::mib(16)),
            max_upload_size: raw.server.max_upload_size.unwrap_or(ByteSize::gib(1)),
            web_dir,
            trusted_proxies,
        },
        database,
        docker: DockerConfig {
            socket_path: PathBuf::from(socket_path),
        },
        containers: ContainersConfig {
            image,
            instance,
            data_dir,
            disk_images: raw.containers.disk_images.unwrap_or(true),
            remove_after: match raw.containers.remove_after_secs.unwrap_or(7 * 86_400) {
                0 => None,
                secs => Some(std::time::Duration::from_secs(secs)),
            },
            idle_timeout: match raw.containers.idle_timeout_secs.unwrap_or(1800) {
                0 => None,
                secs if secs < 5 => return Err(ConfigError::invalid("containers.idle_timeout_secs", format!("must be 0 (never) or at least 5, got {secs}"))),
                secs => Some(std::time::Duration::from_secs(secs)),
            },
        },
        resources: ResourcesConfig { default_tier, tiers },
        security,
        auth,
        model,
        logging,
        admission,
        metrics_token,
        backup_interval_hours: match raw.backup.interval_hours.unwrap_or(24) {
            0 => None,
            hours => Some(hours),
        },
        backup_keep: match raw.backup.keep.unwrap_or(7) {
            0 => return Err(ConfigError::invalid("backup.keep", "must be at least 1")),
            keep => keep,
        },
        audit_retention_days: match raw.audit.retention_days.unwrap_or(365) {
            0 => None,
            days => Some(days),
        },
    })
}

/// The idle times of `containers`, used by tiers that set none of their own; 0 is never.
#[derive(Debug, Clone, Copy)]
struct IdleDefaults {
    /// `None` when not configured: then [`DEFAULT_IDLE_PAUSE_SECS`], unless that is not
    /// shorter than the stop time.
    pause: Option<u64>,
    stop: u64,
}

const DEFAULT_IDLE_PAUSE_SECS: u64 = 600;

impl IdleDefaults {
    /// Returns the (pause, stop) seconds of a tier that may set `pause` and `stop`;
    /// `None` is never.
    fn for_tier(self, pause: Option<u64>, stop: Option<u64>) -> (Option<u64>, Option<u64>) {
        let stop = stop.unwrap_or(self.stop);
        let pause = match pause.or(self.pause) {
            Some(explicit) => explicit,
            None if stop > 0 && DEFAULT_IDLE_PAUSE_SECS >= stop => 0,
            None => DEFAULT_IDLE_PAUSE_SECS,
        };
        ((pause > 0).then_some(pause), (stop > 0).then_some(stop))
    }
}

fn absolute(path: &Path, base_dir: &Path) -> std::io::Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(base_dir).join(path)
    };
    // Normalise `.` and `..` without touching the file system: the folder may not exist yet.
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    Ok(clean)
}

fn resolve_database(raw: &RawDatabase, env_url: Option<String>, data_dir: &Path) -> Result<DatabaseConfig, ConfigError> {
    let url = match (env_url.or_else(|| raw.url.clone()), raw.kind.as_deref()) {
        (Some(url), _) => url,
        (None, None | Some("sqlite")) => format!("sqlite://{}?mode=rwc", data_dir.join("database").join("cchub.db").display()),
        (None, Some("postgresql" | "postgres")) => {
            let part = |value: &Option<String>, key: &str| {
                value.clone().ok_or_else(|| ConfigError::invalid(format!("database.{key}"), "required when database.type is postgresql and database.url is not set"))
            };
            let sslmode = if raw.ssl.unwrap_or(false) { "require" } else { "prefer" };
            format!(
                "postgres://{}:{}@{}:{}/{}?sslmode={sslmode}",
                part(&raw.user, "user")?,
                part(&raw.password, "password")?,
                part(&raw.host, "host")?,
                raw.port.unwrap_or(5432),
                part(&raw.name, "name")?,
            )
        }
        (None, Some(other)) => {
            return Err(ConfigError::invalid("database.type", format!("{other:?} is not supported; use sqlite or postgresql")));
        }
    };
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError::invalid("database.url", "must start with sqlite:, postgres:// or postgresql://"));
    }
    Ok(DatabaseConfig {
        url: Secret::new(url),
        max_connections: raw.max_connections.unwrap_or(8).max(1),
    })
}

fn resolve_tiers(raw: &BTreeMap<String, RawTier>, default_tier: Option<String>, idle: IdleDefaults) -> Result<(TierName, BTreeMap<TierName, Tier>), ConfigError> {
    let mut tiers = default_tiers();
    for tier in tiers.values_mut() {
        (tier.idle_pause_secs, tier.idle_stop_secs) = idle.for_tier(None, None);
    }
    for (name, raw_tier) in raw {
        let key = format!("resources.tiers.{name}");
        let tier_name = TierName::parse(name).map_err(|e| ConfigError::invalid(&key, e.to_string()))?;
        let mut tier = merge_tier(raw_tier, tiers.get(&tier_name), &key)?;
        (tier.idle_pause_secs, tier.idle_stop_secs) = idle.for_tier(raw_tier.idle_pause_secs, raw_tier.idle_stop_secs);
        tier.validate(name).map_err(|e| ConfigError::invalid(&key, e.to_string()))?;
        tiers.insert(tier_name, tier);
    }
    for (name, tier) in &tiers {
        tier.validate(name.as_str()).map_err(|e| ConfigError::invalid(format!("resources.tiers.{name}"), e.to_string()))?;
    }

    let default_text = default_tier.unwrap_or_else(|| "free".into());
    let default = TierName::parse(&default_text).map_err(|e| ConfigError::invalid("resources.default_tier", e.to_string()))?;
    if !tiers.contains_key(&default) {
        let known: Vec<&str> = tiers.keys().map(TierName::as_str).collect();
        return Err(ConfigError::invalid("resources.default_tier", format!("{default_text:?} is not a defined tier; defined: {}", known.join(", "))));
    }
    Ok((default, tiers))
}

/// Fills a tier's missing fields from the built-in tier of the same name. A new tier
/// must give cpu, memory, disk and pids; it gets no swap and half its memory reserved.
fn merge_tier(raw: &RawTier, base: Option<&Tier>, key: &str) -> Result<Tier, ConfigError> {
    let required = |field: &str| ConfigError::invalid(format!("{key}.{field}"), "required for a tier that is not built in");
    let memory = raw.memory.or(base.map(|b| b.memory)).ok_or_else(|| required("memory"))?;
    let memory_changed = raw.memory.is_some() && base.is_some_and(|b| Some(b.memory) != raw.memory);
    // When only `memory` is overridden, keep the built-in ratios rather than values that
    // would now contradict the new limit.
    let derived_swap = match base {
        Some(b) if !memory_changed => b.memory_swap,
        Some(b) => ByteSize::bytes(memory.as_u64().saturating_mul(b.memory_swap.as_u64()) / b.memory.as_u64().max(1)),
        None => memory,
    };
    let derived_reservation = match base {
        Some(b) if !memory_changed => b.memory_reservation,
        _ => ByteSize::bytes(memory.as_u64() / 2),
    };
    Ok(Tier {
        cpu: raw.cpu.or(base.map(|b| b.cpu)).ok_or_else(|| required("cpu"))?,
        cpu_shares: raw.cpu_shares.or(base.map(|b| b.cpu_shares)).unwrap_or(1024),
        memory,
        memory_swap: raw.memory_swap.unwrap_or(derived_swap),
        memory_reservation: raw.memory_reservation.unwrap_or(derived_reservation),
        disk: raw.disk.or(base.map(|b| b.disk)).ok_or_else(|| required("disk"))?,
        pids: raw.pids.or(base.map(|b| b.pids)).ok_or_else(|| required("pids"))?,
        max_runs: raw.max_runs.or(base.map(|b| b.max_runs)).unwrap_or(1),
        monthly_tokens: match raw.monthly_tokens {
            Some(crate::raw::TokenBudget::Limit(n)) => Some(n),
            Some(crate::raw::TokenBudget::Unlimited) => None,
            None => base.and_then(|b| b.monthly_tokens),
        },
        seccomp_profile: raw.seccomp_profile.clone().or(base.and_then(|b| b.seccomp_profile.clone())),
        network_mode: match &raw.network_mode {
            Some(text) => Some(NetworkMode::parse(text).ok_or_else(|| {
                ConfigError::invalid(format!("{key}.network_mode"), format!("{text:?} is not none, proxy, internal or bridge"))
            })?),
            None => base.and_then(|b| b.network_mode),
        },
        egress_allowlist: match &raw.egress_allowlist {
            Some(list) => {
                for entry in list {
                    check_egress_entry(entry).map_err(|m| ConfigError::invalid(format!("{key}.egress_allowlist"), m))?;
                }
                list.clone()
            }
            None => base.map(|b| b.egress_allowlist.clone()).unwrap_or_default(),
        },
        // Filled in by resolve_tiers from the tier and the containers section.
        idle_pause_secs: None,
        idle_stop_secs: None,
    })
}

fn resolve_security(raw: &crate::raw::RawSecurity, tmp_size: Option<ByteSize>, base_dir: &Path) -> Result<SecuritySettings, ConfigError> {
    let mut settings = SecuritySettings::default();
    for (name, custom) in &raw.custom_seccomp_profiles {
        let key = format!("security.custom_seccomp_profiles.{name}");
        let valid_name = !name.is_empty() && name.len() <= 32 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name || settings.seccomp_profiles.contains_key(name) {
            return Err(ConfigError::invalid(&key, format!("{name:?} must be a new name of a-z, 0-9 and '-' (default and enterprise are built in)")));
        }
        let flavor = cchub_policy::seccomp::Flavor::parse(custom.base.as_deref().unwrap_or("default"))
            .ok_or_else(|| ConfigError::invalid(format!("{key}.base"), "must be default or enterprise"))?;
        let path = absolute(Path::new(&custom.file), base_dir).map_err(|e| ConfigError::invalid(format!("{key}.file"), e.to_string()))?;
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::invalid(format!("{key}.file"), format!("cannot read {}: {e}", path.display())))?;
        let profile = cchub_policy::seccomp::AllowlistChanges::parse(&text)
            .and_then(|changes| cchub_policy::seccomp::Allowlist::builtin()?.with_changes(&changes))
            .and_then(|list| cchub_policy::seccomp::compile_named(name, &list, flavor))
            .map_err(|e| ConfigError::invalid(&key, format!("{}: {e}", path.display())))?;
        settings.seccomp_profiles.insert(name.clone(), profile);
    }
    if let Some(profile) = &raw.seccomp_profile {
        if !settings.seccomp_profiles.contains_key(profile) {
            let known: Vec<&str> = settings.seccomp_profiles.keys().map(String::as_str).collect();
            return Err(ConfigError::invalid("security.seccomp_profile", format!("{profile:?} is not a seccomp profile; use one of {}", known.join(", "))));
        }
        settings.seccomp_profile = profile.clone();
    }
    if let Some(text) = &raw.network_mode {
        settings.network = NetworkMode::parse(text)
            .ok_or_else(|| ConfigError::invalid("security.network_mode", format!("{text:?} is not none, proxy, internal or bridge")))?;
    }
    if let Some(pool) = &raw.internal_subnet_pool {
        settings.internal_subnet_pool = SubnetPool::parse(pool).map_err(|e| ConfigError::invalid("security.internal_subnet_pool", e))?;
    }
    if let Some(allow) = raw.egress_allow_private {
        settings.egress_allow_private = allow;
    }
    if raw.enable_network_isolation == Some(false) {
        return Err(ConfigError::invalid("security.enable_network_isolation", "network isolation cannot be turned off; remove the key"));
    }
    settings.apparmor_profile = raw.apparmor_profile.clone().filter(|p| !p.is_empty());
    if let Some(size) = tmp_size {
        if size < ByteSize::mib(16) {
            return Err(ConfigError::invalid("containers.tmp_size", format!("must be at least 16M, got {size}")));
        }
        settings.tmp_size = size;
    }
    settings.validate(raw.allow_privileged.unwrap_or(false)).map_err(|e| {
        let key = match &e {
            cchub_policy::PolicyError::RejectedSetting { setting, .. } => setting.to_string(),
            _ => "security".to_string(),
        };
        ConfigError::invalid(key, e.to_string())
    })?;
    Ok(settings)
}

fn resolve_auth(raw: &crate::raw::RawAuth, data_dir: &Path, base_dir: &Path) -> Result<AuthConfig, ConfigError> {
    let access = raw.access_token_ttl_secs.unwrap_or(15 * 60);
    if !(60..=24 * 3600).contains(&access) {
        return Err(ConfigError::invalid("auth.access_token_ttl_secs", format!("must be between 60 and 86400 seconds, got {access}")));
    }
    let refresh = raw.refresh_token_ttl_secs.unwrap_or(30 * 24 * 3600);
    if refresh <= access {
        return Err(ConfigError::invalid("auth.refresh_token_ttl_secs", format!("must be longer than the access token lifetime ({access} s), got {refresh}")));
    }
    let jwt_key_file = match &raw.jwt_key_file {
        Some(path) => absolute(Path::new(path), base_dir).map_err(|e| ConfigError::invalid("auth.jwt_key_file", e.to_string()))?,
        None => data_dir.join("secrets").join("jwt.key"),
    };
    let positive = |value: Option<u32>, default: u32, key: &str| match value.unwrap_or(default) {
        0 => Err(ConfigError::invalid(key, "must be at least 1")),
        n => Ok(n),
    };
    Ok(AuthConfig {
        access_token_ttl_secs: access,
        refresh_token_ttl_secs: refresh,
        jwt_key_file,
        login_max_failures_per_account: positive(raw.login_max_failures_per_account, 5, "auth.login_max_failures_per_account")?,
        login_max_failures_per_ip: positive(raw.login_max_failures_per_ip, 20, "auth.login_max_failures_per_ip")?,
        login_window_secs: raw.login_window_secs.unwrap_or(300).max(1),
    })
}

fn resolve_model(raw: &crate::raw::RawModel, env: &dyn Fn(&str) -> Option<String>, base_dir: &Path) -> Result<ModelConfig, ConfigError> {
    let upstream = env("CCHUB_MODEL_UPSTREAM").or(raw.upstream.clone()).unwrap_or_else(|| DEFAULT_UPSTREAM.into());
    let upstream = upstream.trim_end_matches('/').to_string();
    let scheme_ok = upstream.starts_with("http://") || upstream.starts_with("https://");
    if !scheme_ok || upstream.len() <= "https://".len() || upstream.contains(char::is_whitespace) {
        return Err(ConfigError::invalid("model.upstream", format!("{upstream:?} is not an http:// or https:// URL")));
    }

    let api_key = match (&raw.api_key_file, env("ANTHROPIC_API_KEY")) {
        (_, Some(key)) => Some(Secret::new(key.trim())),
        (Some(file), None) => {
            let path = absolute(Path::new(file), base_dir).map_err(|e| ConfigError::invalid("model.api_key_file", e.to_string()))?;
            let key = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::invalid("model.api_key_file", format!("cannot read {}: {e}", path.display())))?;
            Some(Secret::new(key.trim()))
        }
        (None, None) => None,
    };
    if api_key.as_ref().is_some_and(|k| k.expose().is_empty() || k.expose().chars().any(|c| c.is_control())) {
        let source = if env("ANTHROPIC_API_KEY").is_some() { "ANTHROPIC_API_KEY" } else { "model.api_key_file" };
        return Err(ConfigError::invalid(source, "the key is empty or contains control characters"));
    }

    let allowed_models = raw.allowed_models.clone().unwrap_or_else(|| vec!["sonnet".into(), "opus".into(), "haiku".into()]);
    for model in &allowed_models {
        let valid = !model.is_empty() && model.len() <= 100 && model.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '[' | ']'));
        if !valid {
            return Err(ConfigError::invalid("model.allowed_models", format!("{model:?} is not a model name")));
        }
    }

    let parse_mode = |text: &str, key: &str| {
        PermissionMode::parse(text).ok_or_else(|| {
            let known: Vec<&str> = PermissionMode::ALL.iter().map(|m| m.as_str()).collect();
            ConfigError::invalid(key, format!("{text:?} is not a permission mode; use one of {}", known.join(", ")))
        })
    };
    let allowed_permission_modes = match &raw.allowed_permission_modes {
        Some(list) => list.iter().map(|m| parse_mode(m, "model.allowed_permission_modes")).collect::<Result<Vec<_>, _>>()?,
        None => PermissionMode::ALL.to_vec(),
    };
    let default_permission_mode = parse_mode(raw.default_permission_mode.as_deref().unwrap_or("bypassPermissions"), "model.default_permission_mode")?;
    if !allowed_permission_modes.contains(&default_permission_mode) {
        return Err(ConfigError::invalid("model.default_permission_mode", "must be one of model.allowed_permission_modes"));
    }

    let agent_command = raw.agent_command.clone().unwrap_or_else(|| "claude".into());
    let command_ok = !agent_command.is_empty() && agent_command.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if !command_ok {
        return Err(ConfigError::invalid("model.agent_command", format!("{agent_command:?} must be a program name or path without spaces")));
    }

    Ok(ModelConfig {
        upstream,
        api_key,
        allowed_models,
        default_permission_mode,
        allowed_permission_modes,
        max_retries: raw.max_retries.unwrap_or(2).min(10),
        agent_command,
    })
}

fn resolve_logging(level: Option<String>, format: Option<String>) -> Result<LoggingConfig, ConfigError> {
    let format = match format.as_deref() {
        None | Some("auto") => LogFormat::Auto,
        Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some(other) => return Err(ConfigError::invalid("logging.format", format!("{other:?} is not json, text or auto"))),
    };
    Ok(LoggingConfig {
        level: level.unwrap_or_else(|| "info".into()),
        format,
        file: None,
    })
}

#[cfg(test)]
mod tests;
