//! The configuration file as written: every key optional, seed spellings accepted as
//! aliases, unknown keys rejected so that a typo is reported instead of ignored.

use std::collections::BTreeMap;

use cchub_policy::ByteSize;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub database: RawDatabase,
    pub docker: RawDocker,
    pub containers: RawContainers,
    pub resources: RawResources,
    pub security: RawSecurity,
    pub auth: RawAuth,
    pub model: RawModel,
    pub monitoring: RawMonitoring,
    pub logging: RawLogging,
    pub admission: RawAdmission,
    pub audit: RawAudit,
    pub backup: RawBackup,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawBackup {
    /// Hours between the backups `serve` makes; 0 makes none.
    pub interval_hours: Option<u64>,
    /// Complete backups kept; older ones are removed after each new one.
    pub keep: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAudit {
    /// Days an audit row is kept; 0 keeps rows forever.
    pub retention_days: Option<u64>,
}

/// A host-wide budget for running workspaces; starts beyond it wait in a queue.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAdmission {
    pub max_running: Option<u32>,
    pub max_memory_reservation: Option<ByteSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    /// The address users reach the hub at, such as `https://cchub.example.com` behind a
    /// TLS reverse proxy.
    pub public_url: Option<String>,
    pub max_json_body: Option<ByteSize>,
    pub max_file_size: Option<ByteSize>,
    pub max_upload_size: Option<ByteSize>,
    /// Folder of the built web UI (`web/dist`).
    pub web_dir: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` header names the client.
    pub trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<String>,
    /// `sqlite` or `postgresql`; with `postgresql` the URL is built from the parts below.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ssl: Option<bool>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDocker {
    #[serde(alias = "socketPath")]
    pub socket_path: Option<String>,
    /// Accepted for compatibility; the API version is negotiated with the engine.
    #[serde(alias = "apiVersion")]
    pub api_version: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawContainers {
    pub image: Option<String>,
    pub instance: Option<String>,
    #[serde(alias = "dataDir")]
    pub data_dir: Option<String>,
    /// Seconds without activity after which a workspace container stops; 0 never.
    pub idle_timeout_secs: Option<u64>,
    /// Seconds without activity after which a workspace container is paused; 0 never.
    pub idle_pause_secs: Option<u64>,
    /// Seconds a stopped workspace container is kept before garbage collection removes it
    /// (the files stay); 0 never.
    pub remove_after_secs: Option<u64>,
    /// Put each user's files on a loop-mounted disk image sized to the tier (needs root).
    pub disk_images: Option<bool>,
    pub tmp_size: Option<ByteSize>,
    /// Accepted for compatibility; use `logging.level`.
    #[serde(alias = "logLevel")]
    pub log_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawResources {
    #[serde(alias = "defaultTier")]
    pub default_tier: Option<String>,
    pub tiers: BTreeMap<String, RawTier>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTier {
    pub cpu: Option<f64>,
    #[serde(alias = "cpuShares")]
    pub cpu_shares: Option<u32>,
    pub memory: Option<ByteSize>,
    #[serde(alias = "memorySwap")]
    pub memory_swap: Option<ByteSize>,
    #[serde(alias = "memoryReservation")]
    pub memory_reservation: Option<ByteSize>,
    pub disk: Option<ByteSize>,
    #[serde(alias = "pidsLimit")]
    pub pids: Option<u32>,
    #[serde(alias = "maxRuns")]
    pub max_runs: Option<u32>,
    /// A number of tokens, or `unlimited`.
    #[serde(alias = "monthlyTokens")]
    pub monthly_tokens: Option<TokenBudget>,
    #[serde(alias = "seccompProfile")]
    pub seccomp_profile: Option<String>,
    #[serde(alias = "networkMode")]
    pub network_mode: Option<String>,
    #[serde(alias = "egressAllowlist")]
    pub egress_allowlist: Option<Vec<String>>,
    /// Overrides `containers.idle_pause_secs` for this tier.
    pub idle_pause_secs: Option<u64>,
    /// Overrides `containers.idle_timeout_secs` for this tier.
    pub idle_stop_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomProfile {
    /// YAML allowlist: `groups: [{name, reason, syscalls: [...]}]`.
    pub file: String,
    /// The argument rules to add: `default` (the default) or `enterprise`.
    pub base: Option<String>,
}

/// A monthly token budget as written: a number or the word `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBudget {
    Limit(u64),
    Unlimited,
}

impl<'de> Deserialize<'de> for TokenBudget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(TokenBudget::Limit(n)),
            Raw::Text(text) if text == "unlimited" => Ok(TokenBudget::Unlimited),
            Raw::Text(text) => Err(serde::de::Error::custom(format!("{text:?} is not a number of tokens or `unlimited`"))),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSecurity {
    #[serde(alias = "seccompProfile")]
    pub seccomp_profile: Option<String>,
    /// Extra profiles by name: an allowlist file in the format of the built-in one.
    pub custom_seccomp_profiles: BTreeMap<String, RawCustomProfile>,
    #[serde(alias = "apparmorProfile")]
    pub apparmor_profile: Option<String>,
    #[serde(alias = "allowPrivileged")]
    pub allow_privileged: Option<bool>,
    pub network_mode: Option<String>,
    /// IPv4 block the per-user internal networks are carved from.
    pub internal_subnet_pool: Option<String>,
    /// Lets allowlisted names resolve to private addresses (internal mirrors).
    pub egress_allow_private: Option<bool>,
    /// Accepted for compatibility: `false` is rejected; use `network_mode: bridge`.
    #[serde(alias = "enableNetworkIsolation")]
    pub enable_network_isolation: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAuth {
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    pub jwt_key_file: Option<String>,
    pub login_max_failures_per_account: Option<u32>,
    pub login_max_failures_per_ip: Option<u32>,
    pub login_window_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawModel {
    pub upstream: Option<String>,
    pub api_key_file: Option<String>,
    pub allowed_models: Option<Vec<String>>,
    pub default_permission_mode: Option<String>,
    pub allowed_permission_modes: Option<Vec<String>>,
    pub max_retries: Option<u32>,
    pub agent_command: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMonitoring {
    pub enabled: Option<bool>,
    #[serde(alias = "prometheusUrl")]
    pub prometheus_url: Option<String>,
    #[serde(alias = "grafanaUrl")]
    pub grafana_url: Option<String>,
    /// A file holding the bearer token Prometheus sends to `/metrics`.
    pub metrics_token_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLogging {
    pub level: Option<String>,
    pub format: Option<String>,
    /// Accepted for compatibility; logs go to stdout.
    pub output: Option<serde_yaml::Value>,
    /// Also write the logs to this file, rotated by size.
    pub file: Option<String>,
    /// Size at which the log file is rotated.
    pub max_file_size: Option<ByteSize>,
    /// Rotated files kept beside the current one.
    pub keep_files: Option<u32>,
}
