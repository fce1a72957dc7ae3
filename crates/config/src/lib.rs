//! cchub configuration: a YAML file shaped like the deployment plan's
//! `production-config.yml`, overridden by `CCHUB_*` environment variables, validated once
//! at start-up into a [`Config`] whose values are already parsed.

mod env;
mod error;
mod layout;
mod load;
mod proxies;
mod raw;
mod secret;

pub use error::ConfigError;
pub use layout::{DataLayout, UserDirs};
pub use load::{
    AdmissionConfig, AuthConfig, Config, ContainersConfig, LogFile, DatabaseConfig, DockerConfig, LogFormat, LoggingConfig, SYSTEM_CONFIG,
    ModelConfig, PermissionMode, ResourcesConfig, ServerConfig,
};
pub use proxies::{IpRange, TrustedProxies};
pub use secret::Secret;

/// Environment variables cchub reads, in one place for `--help` and the docs.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("CCHUB_CONFIG", "path of the YAML configuration file"),
    ("CCHUB_LISTEN", "address the hub listens on (server.listen)"),
    ("CCHUB_DATA_DIR", "data directory (containers.data_dir)"),
    ("CCHUB_DATABASE_URL", "sqlite:// or postgres:// URL (database.url)"),
    ("CCHUB_MODEL_UPSTREAM", "base URL of the Messages API (model.upstream)"),
    ("CCHUB_IMAGE", "workspace image (containers.image)"),
    ("CCHUB_INSTANCE", "name of this hub on the engine, prefix of container names (containers.instance)"),
    ("CCHUB_DOCKER_SOCKET", "Docker Engine socket (docker.socket_path)"),
    ("CCHUB_DEFAULT_TIER", "tier of new users (resources.default_tier)"),
    ("CCHUB_LOG_LEVEL", "log level or filter, e.g. info or cchub=debug (logging.level)"),
    ("CCHUB_LOG_FORMAT", "json or text (logging.format)"),
    ("CCHUB_TRUSTED_PROXIES", "comma-separated addresses or ranges of reverse proxies (server.trusted_proxies)"),
    ("ANTHROPIC_API_KEY", "the organisation's model key; it never enters a container"),
];
