//! The deployment bundle under deploy/. The Compose file validates, and Prometheus's
//! configuration and alert rules pass promtool. The Grafana dashboard and the rules use
//! only metrics the hub exports. The log shipping files parse, the systemd units verify,
//! and the hub's image builds from a locally built base.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use cchub_e2e::{cchub_binary, repo_root, HubOptions, TestHub};
use serde_json::Value;

fn deploy(path: &str) -> PathBuf {
    repo_root().join("deploy").join(path)
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn promtool() -> PathBuf {
    let path = std::env::var("CCHUB_TEST_PROMTOOL").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("/var/cache/cchub-test-tools/prometheus/usr/bin/promtool"));
    assert!(path.is_file(), "promtool is missing at {}; scripts/test.sh unpacks it from Debian's prometheus package", path.display());
    path
}

/// `docker-compose` (Debian's 1.29) or, where only the plugin exists, `docker compose`.
fn compose() -> Command {
    if Command::new("docker-compose").arg("version").output().is_ok_and(|o| o.status.success()) {
        Command::new("docker-compose")
    } else {
        let mut command = Command::new("docker");
        command.arg("compose");
        command
    }
}

#[test]
fn compose_bundle_validates() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(deploy(".env.example")).unwrap();
    let env_file = dir.path().join("test.env");
    std::fs::write(&env_file, format!("{example}\nCCHUB_HOST_DATA_DIR=/opt/cchub/workspace\n")).unwrap();

    for profile in [None, Some("containerised-hub")] {
        let mut command = compose();
        command.arg("--project-directory").arg(deploy("")).arg("-f").arg(deploy("docker-compose.yml")).arg("--env-file").arg(&env_file);
        if let Some(profile) = profile {
            command.args(["--profile", profile]);
        }
        let output = run(command.arg("config"));
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let services: BTreeSet<String> = config["services"].as_mapping().unwrap().keys().filter_map(|k| k.as_str().map(String::from)).collect();
        for wanted in ["postgres", "nginx", "prometheus", "grafana", "loki", "promtail"] {
            assert!(services.contains(wanted), "{wanted} is missing from {services:?}");
        }
        // docker-compose 1.29 lists a profile's services in `config` even without the
        // profile, so the profile itself is checked.
        let hub_profiles = serde_yaml::to_string(&config["services"]["hub"]["profiles"]).unwrap();
        assert!(hub_profiles.contains("containerised-hub"), "the hub service belongs to the containerised-hub profile only: {hub_profiles}");

        // Only the hub gets the Docker socket.
        for (name, service) in config["services"].as_mapping().unwrap() {
            let volumes = serde_yaml::to_string(&service["volumes"]).unwrap();
            let name = name.as_str().unwrap();
            assert_eq!(volumes.contains("docker.sock"), name == "hub", "{name}: {volumes}");
            assert!(!service["restart"].is_null(), "{name} has no restart policy");
        }
        // No service publishes a port on every address except nginx (80 and 443).
        assert!(!text.contains("published"), "services use the host network and bind to loopback:\n{text}");
    }
}

#[test]
fn prometheus_config_and_rules_pass_promtool() {
    let promtool = promtool();
    // The configuration names the token file as mounted in the container; promtool
    // checks that it exists, so a copy points at a scratch token.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("metrics_token");
    std::fs::write(&token, "0123456789abcdef0123").unwrap();
    let config: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(deploy("prometheus/prometheus.yml")).unwrap()).unwrap();
    let credentials = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| job["job_name"] == "cchub")
        .and_then(|job| job["authorization"]["credentials_file"].as_str())
        .expect("the cchub job sends the metrics token from a file")
        .to_string();
    let text = std::fs::read_to_string(deploy("prometheus/prometheus.yml")).unwrap().replace(&credentials, &token.display().to_string());
    std::fs::write(dir.path().join("prometheus.yml"), text).unwrap();
    std::fs::copy(deploy("prometheus/alerts.yml"), dir.path().join("alerts.yml")).unwrap();

    run(Command::new(&promtool).args(["check", "config"]).arg(dir.path().join("prometheus.yml")));
    run(Command::new(&promtool).args(["check", "rules"]).arg(deploy("prometheus/alerts.yml")));
    run(Command::new(&promtool).args(["test", "rules"]).arg(deploy("prometheus/alerts.test.yml")).current_dir(deploy("prometheus")));
}

/// Returns every `cchub_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = text[i..].find("cchub_") {
        let start = i + offset;
        let preceded = start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(|e| start + e).unwrap_or(text.len());
        if !preceded {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

#[tokio::test]
async fn dashboard_and_rules_use_exported_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics.token");
    std::fs::write(&token_file, "deploy-bundle-metrics-token").unwrap();
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!("monitoring:\n  metrics_token_file: {}\n", token_file.display())),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let scrape = hub.client.get(format!("{}/metrics", hub.url)).bearer_auth("deploy-bundle-metrics-token").send().await.unwrap().text().await.unwrap();
    let mut exported = BTreeSet::new();
    for line in scrape.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut parts = line.split(' ');
        let (name, kind) = (parts.next().unwrap().to_string(), parts.next().unwrap_or_default());
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                exported.insert(format!("{name}{suffix}"));
            }
        }
        exported.insert(name);
    }
    assert!(exported.contains("cchub_users"), "{exported:?}");

    let dashboard_text = std::fs::read_to_string(deploy("grafana/dashboards/cchub.json")).unwrap();
    let rules_text = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    for (file, text) in [("cchub.json", &dashboard_text), ("alerts.yml", &rules_text)] {
        let used = metric_names(text);
        assert!(!used.is_empty(), "{file} uses no cchub metric");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "{file} uses metrics the hub does not export: {unknown:?}");
    }

    // The dashboard parses, and each panel queries one of the provisioned data sources.
    let dashboard: Value = serde_json::from_str(&dashboard_text).unwrap();
    assert_eq!(dashboard["uid"], "cchub");
    let datasources: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(deploy("grafana/provisioning/datasources/datasources.yml")).unwrap()).unwrap();
    let uids: BTreeSet<String> = datasources["datasources"].as_sequence().unwrap().iter().filter_map(|d| d["uid"].as_str().map(String::from)).collect();
    let panels = dashboard["panels"].as_array().unwrap();
    let queried: Vec<&Value> = panels.iter().filter(|p| p["targets"].is_array()).collect();
    assert!(queried.len() >= 10, "the dashboard has {} panels with queries", queried.len());
    for panel in queried {
        let uid = panel["datasource"]["uid"].as_str().unwrap_or_default();
        assert!(uids.contains(uid), "panel {:?} uses data source {uid:?}, provisioned are {uids:?}", panel["title"]);
    }
    let rules: serde_yaml::Value = serde_yaml::from_str(&rules_text).unwrap();
    let alerts: Vec<&str> = rules["groups"].as_sequence().unwrap().iter().flat_map(|g| g["rules"].as_sequence().unwrap()).filter_map(|r| r["alert"].as_str()).collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
}

#[test]
fn log_shipping_and_grafana_files_parse() {
    for file in ["loki/loki.yml", "promtail/promtail.yml", "grafana/provisioning/dashboards/dashboards.yml", "grafana/provisioning/datasources/datasources.yml"] {
        let text = std::fs::read_to_string(deploy(file)).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(value.is_mapping(), "{file} is not a mapping");
    }
    // promtail reads the hub's log file; user ids and request ids never become labels,
    // which would give Loki a stream per user and request.
    let promtail = std::fs::read_to_string(deploy("promtail/promtail.yml")).unwrap();
    assert!(promtail.contains("cchub.log"), "{promtail}");
    let config: serde_yaml::Value = serde_yaml::from_str(&promtail).unwrap();
    let mut labels = BTreeSet::new();
    collect_label_names(&config, &mut labels);
    assert!(labels.contains("level"), "promtail labels: {labels:?}");
    for forbidden in ["user_id", "request_id"] {
        assert!(!labels.contains(forbidden), "{forbidden} is a label in promtail.yml: {labels:?}");
    }
}

/// Collects every key of a mapping found under a `labels` key, at any depth.
fn collect_label_names(value: &serde_yaml::Value, names: &mut BTreeSet<String>) {
    match value {
        serde_yaml::Value::Mapping(mapping) => {
            for (key, child) in mapping {
                if key.as_str() == Some("labels") {
                    if let Some(labels) = child.as_mapping() {
                        names.extend(labels.keys().filter_map(|k| k.as_str().map(String::from)));
                    }
                }
                collect_label_names(child, names);
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|item| collect_label_names(item, names)),
        _ => {}
    }
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let binary = cchub_binary();
    let mut units = Vec::new();
    for unit in ["cchub.service", "cchub-backup.service", "cchub-backup.timer"] {
        let text = std::fs::read_to_string(deploy(&format!("systemd/{unit}"))).unwrap().replace("/usr/local/bin/cchub", &binary.display().to_string());
        let path = dir.path().join(unit);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    let output = Command::new("systemd-analyze").arg("verify").args(&units).output().expect("systemd-analyze is missing; scripts/test.sh installs systemd");
    let messages = String::from_utf8_lossy(&output.stderr);
    // Without systemd as PID 1 (as in CI containers) only the units' own problems count.
    let problems: Vec<&str> = messages.lines().filter(|l| l.contains("cchub")).collect();
    assert!(output.status.success(), "systemd-analyze verify: {messages}");
    assert!(problems.is_empty(), "systemd-analyze verify: {messages}");
}

/// Returns a Debian 12 image on this engine to build from: the base that
/// `cchub image build` made, or the registry's image where one was pulled.
fn local_base_image() -> String {
    let output = run(Command::new("docker").args(["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    let images = String::from_utf8_lossy(&output.stdout).to_string();
    images
        .lines()
        .find(|image| image.starts_with("cchub-runtime-base:"))
        .or_else(|| images.lines().find(|image| *image == "debian:bookworm-slim"))
        .unwrap_or_else(|| panic!("no Debian base image on the engine; run `cchub image build` first. Images: {images}"))
        .to_string()
}

#[test]
fn hub_image_builds_from_local_base() {
    // The build context holds only what the prebuilt target copies.
    let context = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(context.path().join("target/release")).unwrap();
    let binary = context.path().join("target/release/cchub");
    run(Command::new("strip").arg("-o").arg(&binary).arg(cchub_binary()));
    let dist = repo_root().join("web/dist");
    assert!(dist.join("index.html").is_file(), "{} is missing; build the web UI first", dist.display());
    std::fs::create_dir_all(context.path().join("web")).unwrap();
    run(Command::new("cp").arg("-r").arg(&dist).arg(context.path().join("web/dist")));

    let tag = format!("cchub-hub-e2e:{}", std::process::id());
    let base = local_base_image();
    run(Command::new("docker")
        .args(["build", "--quiet", "-f"])
        .arg(deploy("Dockerfile"))
        .args(["--target", "prebuilt", "--build-arg", &format!("BASE_IMAGE={base}"), "-t", &tag])
        .arg(context.path()));

    let version = run(Command::new("docker").args(["run", "--rm", &tag, "--version"]));
    let size = run(Command::new("docker").args(["image", "inspect", "--format", "{{.Size}}", &tag, &base]));
    let tools = Command::new("docker").args(["run", "--rm", "--entrypoint", "sh", &tag, "-c", "for tool in mkfs.xfs losetup iptables zstd pg_dump; do command -v $tool; done"]).output().unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();

    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("cchub {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(String::from_utf8_lossy(&tools.stdout).lines().count(), 5, "tools in the image: {}", String::from_utf8_lossy(&tools.stdout));
    let sizes: Vec<u64> = String::from_utf8_lossy(&size.stdout).lines().map(|l| l.trim().parse().unwrap()).collect();
    let added = sizes[0] - sizes[1];
    eprintln!("hub image: {} MB, of which {} MB on top of {base}", sizes[0] / 1_000_000, added / 1_000_000);
    // The tools and the stripped binary: about 225 MB on Debian 12, most of it Python
    // (for AppArmor's package) and libicu (for pg_dump's libpq).
    assert!(added < 260_000_000, "the hub adds {added} bytes to its base image");
}
