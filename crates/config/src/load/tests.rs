use std::io::Write;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load_yaml(yaml: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(yaml.as_bytes()).unwrap();
    Config::load(Some(file.path()), env)
}

#[test]
fn defaults_without_a_file() {
    let config = Config::load(None, &no_env).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:3001");
    assert!(config.containers.data_dir.is_absolute());
    assert!(config.containers.data_dir.ends_with("workspace"));
    assert!(config.database.url.expose().starts_with("sqlite://"));
    assert!(config.database.url.expose().ends_with("database/cchub.db?mode=rwc"));
    assert_eq!(config.resources.default_tier.as_str(), "free");
    assert_eq!(config.resources.tiers.len(), 3);
    assert_eq!(config.auth.access_token_ttl_secs, 900);
    assert_eq!(config.model.upstream, "https://api.anthropic.com");
    assert!(config.model.api_key.is_none());
    assert_eq!(config.containers.image, "cchub-runtime:latest");
}

#[test]
fn seed_shaped_file_is_accepted() {
    let yaml = r#"
database:
  type: postgresql
  host: localhost
  port: 5432
  name: claude_code
  user: claude
  password: ${DB_PASSWORD}
  ssl: true
docker:
  socketPath: /var/run/docker.sock
  apiVersion: 1.43
containers:
  image: claude-code-runtime:latest
  dataDir: ./workspace
  logLevel: info
resources:
  defaultTier: free
  tiers:
    free: { cpu: 0.5, memory: 1G, disk: 5G }
    pro: { cpu: 2, memory: 4G, disk: 20G }
    enterprise: { cpu: 4, memory: 8G, disk: 50G }
security:
  apparmorProfile: docker-default
  enableNetworkIsolation: true
  allowPrivileged: false
monitoring:
  enabled: true
  prometheusUrl: http://localhost:9090
logging:
  level: info
  format: json
"#;
    let env = |name: &str| (name == "DB_PASSWORD").then(|| "pw".to_string());
    let config = load_yaml(yaml, &env).unwrap();
    assert_eq!(config.database.url.expose(), "postgres://claude:pw@localhost:5432/claude_code?sslmode=require");
    assert_eq!(config.containers.image, "claude-code-runtime:latest");
    let free = &config.resources.tiers[&TierName::parse("free").unwrap()];
    assert_eq!(free.pids, 100);
    assert_eq!(free.memory_swap, ByteSize::gib(2));
    assert_eq!(config.security.apparmor_profile.as_deref(), Some("docker-default"));
}

#[test]
fn environment_overrides_the_file() {
    let env = |name: &str| match name {
        "CCHUB_LISTEN" => Some("127.0.0.1:4000".to_string()),
        "CCHUB_DATA_DIR" => Some("/srv/cchub".to_string()),
        "CCHUB_DATABASE_URL" => Some("sqlite:///tmp/x.db".to_string()),
        "CCHUB_MODEL_UPSTREAM" => Some("http://127.0.0.1:8787/".to_string()),
        "ANTHROPIC_API_KEY" => Some("sk-test".to_string()),
        _ => None,
    };
    let config = load_yaml("server:\n  listen: 0.0.0.0:9999\n", &env).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:4000");
    assert_eq!(config.containers.data_dir, PathBuf::from("/srv/cchub"));
    assert_eq!(config.database.url.expose(), "sqlite:///tmp/x.db");
    assert_eq!(config.model.upstream, "http://127.0.0.1:8787");
    assert_eq!(config.model.api_key.as_ref().unwrap().expose(), "sk-test");
    assert_eq!(config.auth.jwt_key_file, PathBuf::from("/srv/cchub/secrets/jwt.key"));
}

fn error_of(yaml: &str) -> String {
    load_yaml(yaml, &no_env).unwrap_err().to_string()
}

#[test]
fn errors_name_the_key() {
    let cases = [
        ("server:\n  listen: nowhere\n", "server.listen"),
        ("resources:\n  tiers:\n    free:\n      memory: lots\n", "memory"),
        ("resources:\n  tiers:\n    free:\n      memory_reservation: 2G\n", "memory_reservation"),
        ("resources:\n  tiers:\n    free:\n      pids: 0\n", "pids"),
        ("resources:\n  tiers:\n    Big: { cpu: 1, memory: 1G, disk: 1G, pids: 100 }\n", "resources.tiers.Big"),
        ("resources:\n  tiers:\n    team: { cpu: 1, memory: 1G }\n", "resources.tiers.team.disk"),
        ("resources:\n  default_tier: gold\n", "resources.default_tier"),
        ("security:\n  allow_privileged: true\n", "security.allow_privileged"),
        ("security:\n  seccomp_profile: unconfined\n", "security.seccomp_profile"),
        ("security:\n  network_mode: host\n", "security.network_mode"),
        ("model:\n  upstream: ftp://x\n", "model.upstream"),
        ("model:\n  default_permission_mode: yolo\n", "model.default_permission_mode"),
        ("server:\n  listne: 1\n", "listne"),
        ("databse: {}\n", "databse"),
        ("auth:\n  access_token_ttl_secs: 5\n", "auth.access_token_ttl_secs"),
    ];
    for (yaml, key) in cases {
        let message = error_of(yaml);
        assert!(message.contains(key), "error for {yaml:?} should name {key}: {message}");
    }
}

#[test]
fn custom_tier_gets_derived_fields() {
    let config = load_yaml("resources:\n  tiers:\n    team: { cpu: 1, memory: 2G, disk: 10G, pids: 200 }\n", &no_env).unwrap();
    let team = &config.resources.tiers[&TierName::parse("team").unwrap()];
    assert_eq!(team.memory_swap, ByteSize::gib(2));
    assert_eq!(team.memory_reservation, ByteSize::gib(1));
    assert_eq!(team.cpu_shares, 1024);
}

#[test]
fn overriding_memory_keeps_limits_consistent() {
    let config = load_yaml("resources:\n  tiers:\n    free: { memory: 256M }\n", &no_env).unwrap();
    let free = &config.resources.tiers[&TierName::parse("free").unwrap()];
    assert_eq!(free.memory, ByteSize::mib(256));
    assert_eq!(free.memory_swap, ByteSize::mib(512));
    assert_eq!(free.memory_reservation, ByteSize::mib(128));
}

#[test]
fn missing_file_is_reported_with_its_path() {
    let err = Config::load(Some(Path::new("/nonexistent/cchub.yml")), &no_env).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cchub.yml"), "{err}");
}

#[test]
fn empty_file_means_defaults() {
    let config = load_yaml("", &no_env).unwrap();
    assert_eq!(config.resources.default_tier.as_str(), "free");
}

#[test]
fn token_budgets_parse() {
    let config = load_yaml("resources:\n  tiers:\n    free: { monthly_tokens: 1000 }\n    pro: { monthly_tokens: unlimited }\n", &no_env).unwrap();
    let tier = |name: &str| config.resources.tiers[&TierName::parse(name).unwrap()].clone();
    assert_eq!(tier("free").monthly_tokens, Some(1000));
    assert_eq!(tier("pro").monthly_tokens, None);
    assert_eq!(tier("enterprise").monthly_tokens, None);
    assert!(error_of("resources:\n  tiers:\n    free: { monthly_tokens: lots }\n").contains("monthly_tokens"));
}

#[test]
fn seccomp_profiles_are_chosen_per_tier() {
    let dir = tempfile::tempdir().unwrap();
    let custom = dir.path().join("strict.yaml");
    std::fs::write(&custom, "groups:\n  - name: cache\n    reason: test\n    syscalls: [read, cachestat]\nremove: [sendfile, splice]\n").unwrap();
    let yaml = format!(
        "security:\n  seccomp_profile: enterprise\n  custom_seccomp_profiles:\n    strict: {{ file: {} }}\nresources:\n  tiers:\n    pro: {{ seccomp_profile: strict }}\n",
        custom.display()
    );
    let config = load_yaml(&yaml, &no_env).unwrap();
    assert_eq!(config.security.seccomp_profile, "enterprise");
    let builtin = config.security.seccomp_profiles["enterprise"].allowed;
    assert_eq!(config.security.seccomp_profiles["strict"].allowed, builtin + 1 - 2, "cachestat added, two removed, read kept once");
    let json = &config.security.seccomp_profiles["strict"].json;
    assert!(json.contains("\"cachestat\""), "{json}");
    assert!(!json.contains("\"sendfile\""), "{json}");
    let pro = &config.resources.tiers[&TierName::parse("pro").unwrap()];
    assert_eq!(config.security.profile_for(pro).unwrap().name, "strict");
    let free = &config.resources.tiers[&TierName::parse("free").unwrap()];
    assert_eq!(config.security.profile_for(free).unwrap().name, "enterprise");
}

#[test]
fn bad_seccomp_settings_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, "groups:\n  - name: g\n    reason: r\n    syscalls: [read, mountt]\n").unwrap();
    let denied = dir.path().join("denied.yaml");
    std::fs::write(&denied, "groups:\n  - name: g\n    reason: r\n    syscalls: [read, ptrace]\n").unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "groups: [").unwrap();
    let essential = dir.path().join("essential.yaml");
    std::fs::write(&essential, "remove: [execve]\n").unwrap();
    let absent = dir.path().join("absent.yaml");
    std::fs::write(&absent, "remove: [vhangup]\n").unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "groups: []\n").unwrap();
    let cases = [
        ("security:\n  seccomp_profile: unconfined\n".to_string(), "unconfined"),
        ("resources:\n  tiers:\n    free: { seccomp_profile: nope }\n".to_string(), "resources.tiers.free.seccomp_profile"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", typo.display()), "mountt"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", denied.display()), "ptrace"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", broken.display()), "security.custom_seccomp_profiles.t"),
        ("security:\n  custom_seccomp_profiles:\n    t: { file: /nonexistent.yaml }\n".to_string(), "/nonexistent.yaml"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", essential.display()), "every program in the image needs"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", absent.display()), "does not allow"),
        (format!("security:\n  custom_seccomp_profiles:\n    t: {{ file: {} }}\n", empty.display()), "neither groups"),
        ("security:\n  custom_seccomp_profiles:\n    default: { file: /x.yaml }\n".to_string(), "built in"),
    ];
    for (yaml, needle) in cases {
        let message = error_of(&yaml);
        assert!(message.contains(needle), "{yaml}: {message}");
    }
}

#[test]
fn network_modes_per_tier() {
    let yaml = "security:\n  network_mode: proxy\n  internal_subnet_pool: 172.30.0.0/16\nresources:\n  tiers:\n    free: { egress_allowlist: [pypi.org, '*.npmjs.org'] }\n    pro: { network_mode: internal }\n";
    let config = load_yaml(yaml, &no_env).unwrap();
    let tier = |name: &str| config.resources.tiers[&TierName::parse(name).unwrap()].clone();
    assert_eq!(config.security.network_for(&tier("free")), NetworkMode::Proxy);
    assert_eq!(tier("free").egress_allowlist, ["pypi.org", "*.npmjs.org"]);
    assert_eq!(config.security.network_for(&tier("pro")), NetworkMode::Internal);
    assert_eq!(config.security.internal_subnet_pool.capacity(), 8192);
    for (yaml, key) in [
        ("security:\n  network_mode: host\n", "security.network_mode"),
        ("resources:\n  tiers:\n    free: { network_mode: open }\n", "resources.tiers.free.network_mode"),
        ("resources:\n  tiers:\n    free: { egress_allowlist: ['http://x'] }\n", "resources.tiers.free.egress_allowlist"),
        ("security:\n  internal_subnet_pool: 10.0.0.1/8\n", "security.internal_subnet_pool"),
    ] {
        assert!(error_of(yaml).contains(key), "{yaml}");
    }
}

#[test]
fn shipped_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cchub.example.yml");
    let config = Config::load(Some(&path), &no_env).unwrap();
    let free = &config.resources.tiers[&TierName::parse("free").unwrap()];
    assert_eq!(config.security.network_for(free), NetworkMode::None);
    assert_eq!(config.resources.tiers.len(), 3);
    assert_eq!(config.security.internal_subnet_pool.capacity(), 1 << 20);
}

#[test]
fn production_example_loads() {
    // The secret files it names are made in a scratch folder.
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cchub.production.yml")).unwrap();
    let mut text = shipped.clone();
    for (secret, content) in [("/opt/cchub/secrets/metrics_token", "0123456789abcdef0123"), ("/etc/cchub/anthropic.key", "sk-ant-test")] {
        assert!(shipped.contains(secret), "{secret}");
        let file = dir.path().join(secret.rsplit('/').next().unwrap());
        std::fs::write(&file, content).unwrap();
        text = text.replace(secret, &file.display().to_string());
    }
    let path = dir.path().join("cchub.yml");
    std::fs::write(&path, text).unwrap();
    let env = |name: &str| (name == "POSTGRES_PASSWORD").then(|| "0123abcd".to_string());
    let config = Config::load(Some(&path), &env).unwrap();
    assert_eq!(config.database.url.expose(), "postgres://cchub:0123abcd@127.0.0.1:5432/cchub");
    assert!(config.server.trusted_proxies.trusts("127.0.0.1".parse().unwrap()));
    assert!(!config.server.trusted_proxies.trusts("192.0.2.1".parse().unwrap()));
    let enterprise = &config.resources.tiers[&TierName::parse("enterprise").unwrap()];
    assert_eq!(enterprise.pids, 1000);
}

#[test]
fn idle_times_per_tier() {
    let config = load_yaml("containers:\n  idle_timeout_secs: 60\nresources:\n  tiers:\n    pro: { idle_pause_secs: 20, idle_stop_secs: 0 }\n", &no_env).unwrap();
    let tier = |name: &str| config.resources.tier(&TierName::parse(name).unwrap()).unwrap().clone();
    assert_eq!((tier("free").idle_pause_secs, tier("free").idle_stop_secs), (None, Some(60)), "the default pause is dropped when not shorter than the stop");
    assert_eq!((tier("pro").idle_pause_secs, tier("pro").idle_stop_secs), (Some(20), None));

    let defaults = Config::load(None, &no_env).unwrap();
    let free = defaults.resources.tier(&TierName::parse("free").unwrap()).unwrap();
    assert_eq!((free.idle_pause_secs, free.idle_stop_secs), (Some(600), Some(1800)));
}

#[test]
fn pause_not_before_stop_names_the_tier() {
    let err = load_yaml("resources:\n  tiers:\n    free: { idle_pause_secs: 900, idle_stop_secs: 600 }\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("resources.tiers.free"), "{err}");
    assert!(err.contains("idle_pause_secs"), "{err}");
}

#[test]
fn admission_budget_is_checked() {
    let err = load_yaml("admission:\n  max_running: 0\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("admission.max_running"), "{err}");
    let err = load_yaml("admission:\n  max_memory_reservation: 256M\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("admission.max_memory_reservation"), "{err}");
    let config = load_yaml("admission:\n  max_running: 2\n  max_memory_reservation: 8G\n", &no_env).unwrap();
    assert_eq!(config.admission.max_running, Some(2));
    assert!(config.admission.is_limited());
}

#[test]
fn global_pause_after_stop_names_the_containers_key() {
    let err = load_yaml("containers:\n  idle_pause_secs: 900\n  idle_timeout_secs: 600\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("containers.idle_pause_secs"), "{err}");
    assert!(!err.contains("resources.tiers"), "{err}");
}

#[test]
fn log_file_settings_are_checked() {
    let config = load_yaml("logging:\n  file: logs/cchub.log\n  max_file_size: 10M\n  keep_files: 3\n", &no_env).unwrap();
    let file = config.logging.file.unwrap();
    assert!(file.path.is_absolute());
    assert!(file.path.ends_with("logs/cchub.log"));
    assert_eq!((file.max_size, file.keep), (ByteSize::mib(10), 3));
    let err = load_yaml("logging:\n  file: x.log\n  keep_files: 0\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("logging.keep_files"), "{err}");
    let err = load_yaml("logging:\n  file: x.log\n  max_file_size: 10K\n", &no_env).unwrap_err().to_string();
    assert!(err.contains("logging.max_file_size"), "{err}");
}

#[test]
fn empty_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("anthropic.key");
    std::fs::write(&key, "\n").unwrap();
    let yaml = format!("model:\n  api_key_file: {}\n", key.display());
    let message = load_yaml(&yaml, &no_env).unwrap_err().to_string();
    assert!(message.contains("model.api_key_file"), "{message}");
    assert!(message.contains("empty"), "{message}");
}
