use std::path::Path;

use base64::Engine;
use cchub_policy::{TierName, LABEL_USER_ID};
use cchub_runtime::ContainerRuntime;

use super::{file_mode, Check, DoctorContext, Status};
use crate::usage::{SecretBox, MODEL_KEY_SETTING};

fn check(id: &'static str, title: &'static str, status: Status, evidence: impl Into<String>) -> Check {
    Check {
        id,
        title,
        status,
        evidence: evidence.into(),
    }
}

/// The container checks: seccomp, privileges, mounts, limits and network, per running
/// container of this hub.
pub async fn containers(context: &DoctorContext<'_>) -> Vec<Check> {
    let config = context.config;
    let listed = match context.runtime.list_managed(&config.containers.instance).await {
        Ok(listed) => listed,
        Err(err) => return vec![check("engine", "Container engine reachable", Status::Fail, format!("cannot list containers: {err}"))],
    };
    let users_dir = config.layout().users_dir();
    let mut seccomp_problems = Vec::new();
    let mut privileged = Vec::new();
    let mut foreign_mounts = Vec::new();
    let mut limit_mismatches = Vec::new();
    let mut network_problems = Vec::new();
    // Containers that still run the settings of a tier the user has left.
    let mut pending = Vec::new();
    let mut inspected = 0;
    // Containers made before the last `cchub image build` keep the old image until
    // their next start.
    let current_image = context.runtime.image_id(&config.containers.image).await.ok().flatten();

    for container in listed.iter().filter(|c| c.state == cchub_runtime::ContainerState::Running) {
        let inspect = match context.runtime.client().inspect_container(&container.id, None::<bollard::query_parameters::InspectContainerOptions>).await {
            Ok(inspect) => inspect,
            Err(err) => {
                seccomp_problems.push(format!("{}: cannot inspect ({err})", container.name));
                continue;
            }
        };
        inspected += 1;
        let host = inspect.host_config.clone().unwrap_or_default();
        let name = &container.name;

        let options = host.security_opt.clone().unwrap_or_default();
        let seccomp = options.iter().find(|o| o.starts_with("seccomp="));
        let user = match container.labels.get(LABEL_USER_ID).and_then(|v| v.parse::<i64>().ok()) {
            Some(id) => context.store.user_by_id(id).await.ok().flatten(),
            None => None,
        };
        let tier = user.as_ref().and_then(|u| TierName::parse(&u.tier).ok()).and_then(|t| config.resources.tier(&t).cloned());
        let wanted = user.as_ref().and_then(|u| crate::workspace::spec_for(config, u).ok());
        let restart_pending = wanted.as_ref().is_some_and(|spec| container.spec_hash() != Some(spec.fingerprint().as_str()));
        if restart_pending {
            pending.push(format!("{name}: the user's tier or the security settings changed; the next workspace start applies them"));
        } else if current_image.as_ref().is_some_and(|image| *image != container.image_id) {
            pending.push(format!("{name}: runs an older build of {}; the next workspace start uses the current one", config.containers.image));
        }
        match seccomp {
            None => seccomp_problems.push(format!("{name}: no seccomp profile (the engine default or unconfined)")),
            Some(option) if option.contains("unconfined") => seccomp_problems.push(format!("{name}: seccomp unconfined")),
            Some(option) => {
                if let Some(tier) = &tier {
                    if let Ok(expected) = config.security.profile_for(tier) {
                        if option.trim_start_matches("seccomp=") != expected.json && !restart_pending {
                            seccomp_problems.push(format!("{name}: runs another profile than {} (restart pending?)", expected.name));
                        }
                    }
                }
            }
        }
        if host.privileged == Some(true) || !host.cap_add.clone().unwrap_or_default().is_empty() {
            privileged.push(name.clone());
        }
        for mount in inspect.mounts.clone().unwrap_or_default() {
            let source = mount.source.unwrap_or_default();
            let inside = user.as_ref().is_some_and(|u| Path::new(&source).starts_with(users_dir.join(u.id.to_string())));
            if source.contains("docker.sock") || !inside {
                foreign_mounts.push(format!("{name}: {source} at {}", mount.destination.unwrap_or_default()));
            }
        }
        if let Some(tier) = &tier {
            let wanted = (tier.memory.as_i64(), tier.cpu_quota_us(), i64::from(tier.pids));
            let actual = (host.memory.unwrap_or(0), host.cpu_quota.unwrap_or(0), host.pids_limit.unwrap_or(0));
            if wanted != actual {
                limit_mismatches.push(format!("{name}: memory/cpu quota/pids {actual:?}, tier wants {wanted:?}"));
            }
        }
        let mode = host.network_mode.clone().unwrap_or_default();
        if let (Some(tier), Some(user)) = (&tier, &user) {
            let expected = match config.security.network_for(tier) {
                cchub_policy::NetworkMode::Internal => config
                    .security
                    .internal_subnet_pool
                    .network_for(&config.containers.instance, user.id)
                    .map(|n| n.name)
                    .unwrap_or_default(),
                cchub_policy::NetworkMode::Bridge => "bridge".to_string(),
                _ => "none".to_string(),
            };
            if mode != expected && !restart_pending {
                network_problems.push(format!("{name}: network {mode}, tier wants {expected}"));
            }
            if mode == expected && config.security.network_for(tier) == cchub_policy::NetworkMode::Internal {
                if let Some(problem) = bridge_problem(context, &expected).await {
                    network_problems.push(format!("{name}: {problem}"));
                }
            }
        } else if mode != "none" {
            network_problems.push(format!("{name}: network {mode} for a container of no known user"));
        }
    }

    let summary = |problems: &[String], ok: String| if problems.is_empty() { ok } else { problems.join("; ") };
    vec![
        check(
            "seccomp",
            "Seccomp applied to every running container",
            if seccomp_problems.is_empty() { Status::Pass } else { Status::Fail },
            summary(
                &seccomp_problems,
                if inspected == 0 { "no running container to check".into() } else { format!("{inspected} running container(s) each run their tier's profile") },
            ),
        ),
        check(
            "restarts",
            "Containers run their user's current tier",
            if pending.is_empty() { Status::Pass } else { Status::Warn },
            summary(&pending, format!("{inspected} checked")),
        ),
        check(
            "privileged",
            "No privileged container, no added capability",
            if privileged.is_empty() { Status::Pass } else { Status::Fail },
            summary(&privileged, format!("{inspected} checked; all capabilities dropped")),
        ),
        check(
            "mounts",
            "No Docker socket or foreign host path mounted",
            if foreign_mounts.is_empty() { Status::Pass } else { Status::Fail },
            summary(&foreign_mounts, "only the users' own folders are mounted".into()),
        ),
        check(
            "limits",
            "Limits match each user's tier",
            if limit_mismatches.is_empty() { Status::Pass } else { Status::Warn },
            summary(&limit_mismatches, format!("{inspected} checked")),
        ),
        network_check(config, &network_problems),
    ]
}

/// Returns what is wrong with the host side of internal network `network`, if anything.
async fn bridge_problem(context: &DoctorContext<'_>, network: &str) -> Option<String> {
    let inspect = match context.runtime.client().inspect_network(network, None::<bollard::query_parameters::InspectNetworkOptions>).await {
        Ok(inspect) => inspect,
        Err(err) => return Some(format!("cannot inspect network {network}: {err}")),
    };
    let bridge = cchub_runtime::bridge_of(&inspect);
    match cchub_runtime::firewall::rule_present(&bridge).await {
        Ok(true) => None,
        Ok(false) => Some(format!("the host accepts traffic from bridge {bridge}; restart the workspace to restore the firewall rule")),
        Err(err) => Some(err.to_string()),
    }
}

/// Fails on a container whose network differs from its tier's. Warns while any tier uses
/// `bridge`, because in that mode containers reach the internet and each other.
fn network_check(config: &cchub_config::Config, problems: &[String]) -> Check {
    let title = "Network mode as configured";
    if !problems.is_empty() {
        return check("network", title, Status::Fail, problems.join("; "));
    }
    let bridged: Vec<&str> = config
        .resources
        .tiers
        .iter()
        .filter(|(_, tier)| config.security.network_for(tier) == cchub_policy::NetworkMode::Bridge)
        .map(|(name, _)| name.as_str())
        .collect();
    if bridged.is_empty() {
        let evidence = format!("every container uses its tier's network mode (default {})", config.security.network.as_str());
        return check("network", title, Status::Pass, evidence);
    }
    let evidence = format!(
        "tier(s) {} use bridge: their containers reach the internet, the host's published ports and each other; prefer proxy or internal",
        bridged.join(", ")
    );
    check("network", title, Status::Warn, evidence)
}

pub fn apparmor(config: &cchub_config::Config) -> Check {
    let enabled = crate::workspace::apparmor::host_supports_apparmor();
    // The hub applies its generated profile when none is configured.
    let effective = config
        .security
        .apparmor_profile
        .clone()
        .or_else(|| enabled.then(|| cchub_policy::apparmor::PROFILE_NAME.to_string()));
    match (enabled, &effective) {
        (true, Some(profile)) if !crate::workspace::apparmor::profile_loaded(profile) => {
            check("apparmor", "AppArmor loaded and applied", Status::Fail, format!("{profile} is not loaded in the kernel; containers will not start"))
        }
        (true, Some(profile)) => check("apparmor", "AppArmor loaded and applied", Status::Pass, format!("the host enforces AppArmor; containers get {profile}")),
        (true, None) => check("apparmor", "AppArmor loaded and applied", Status::Warn, "the host supports AppArmor but security.apparmor_profile is not set; containers get the engine's default profile"),
        (false, Some(profile)) => check(
            "apparmor",
            "AppArmor loaded and applied",
            Status::Warn,
            format!("security.apparmor_profile is {profile} but this kernel has no AppArmor, so nothing enforces it"),
        ),
        (false, None) => check("apparmor", "AppArmor loaded and applied", Status::Warn, "this kernel has no AppArmor; seccomp, capabilities and no-new-privileges are the confinement"),
    }
}

pub fn seccomp_profiles(config: &cchub_config::Config) -> Check {
    let listing: Vec<String> = config.security.seccomp_profiles.values().map(|p| format!("{} ({} calls allowed)", p.name, p.allowed)).collect();
    check("seccomp_profiles", "Seccomp profiles compile and deny the dangerous calls", Status::Pass, listing.join(", "))
}

pub fn jwt_key(config: &cchub_config::Config) -> Check {
    let path = &config.auth.jwt_key_file;
    let title = "JWT signing key strength and file mode";
    let Ok(text) = std::fs::read_to_string(path) else {
        return check("jwt_key", title, Status::Warn, format!("{} does not exist yet; the hub creates it on first start", path.display()));
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map(|b| b.len()).unwrap_or(0);
    let mode = file_mode(path).unwrap_or(0);
    if bytes < 32 {
        return check("jwt_key", title, Status::Fail, format!("{} holds {bytes} bytes; at least 32 are needed", path.display()));
    }
    if mode & 0o077 != 0 {
        return check("jwt_key", title, Status::Fail, format!("{} has mode {mode:o}; run chmod 600 on it", path.display()));
    }
    check("jwt_key", title, Status::Pass, format!("{bytes} random bytes, mode {mode:o}"))
}

pub async fn secrets_at_rest(context: &DoctorContext<'_>) -> Check {
    let title = "Secrets encrypted at rest";
    let key_path = context.config.layout().secrets_dir().join("data.key");
    let Some(mode) = file_mode(&key_path) else {
        return check("secrets", title, Status::Warn, "no data-encryption key yet; the hub creates it on first start");
    };
    if mode & 0o077 != 0 {
        return check("secrets", title, Status::Fail, format!("{} has mode {mode:o}; run chmod 600 on it", key_path.display()));
    }
    match context.store.setting(MODEL_KEY_SETTING).await {
        Ok(Some(sealed)) => match SecretBox::load_or_generate(&key_path).and_then(|secrets| secrets.open(&sealed)) {
            Ok(_) => check("secrets", title, Status::Pass, "the stored model key is sealed with XChaCha20-Poly1305 and opens with the key in secrets/"),
            Err(err) => check("secrets", title, Status::Fail, format!("the stored model key cannot be opened: {err}")),
        },
        Ok(None) => check("secrets", title, Status::Pass, "no secret is stored in the database; the model key, if any, comes from the environment"),
        Err(err) => check("secrets", title, Status::Fail, format!("cannot read settings: {err}")),
    }
}

pub fn data_dir(config: &cchub_config::Config) -> Check {
    let layout = config.layout();
    let loose: Vec<String> = [layout.users_dir(), layout.database_dir(), layout.secrets_dir(), layout.backups_dir()]
        .iter()
        .filter_map(|dir| file_mode(dir).filter(|mode| mode & 0o077 != 0).map(|mode| format!("{} is {mode:o}", dir.display())))
        .collect();
    if loose.is_empty() {
        check("data_dir", "Private folders of the data directory", Status::Pass, "users/, database/, secrets/ and backups/ are 0700")
    } else {
        check("data_dir", "Private folders of the data directory", Status::Fail, format!("{}; run chmod 700 on them", loose.join(", ")))
    }
}

pub fn transport(config: &cchub_config::Config) -> Check {
    let title = "TLS configured or a reverse proxy declared";
    match config.server.public_url.as_deref() {
        Some(url) if url.starts_with("https://") => check("tls", title, Status::Pass, format!("served to users at {url} through a TLS reverse proxy; the hub listens on {}", config.server.listen)),
        Some(url) => check("tls", title, Status::Fail, format!("server.public_url {url} is not https://; tokens and passwords would cross the network in clear")),
        None if config.server.listen.ip().is_loopback() => check(
            "tls",
            title,
            Status::Warn,
            format!("the hub listens on {} without TLS; put a TLS reverse proxy in front and set server.public_url to its https:// address", config.server.listen),
        ),
        None => check("tls", title, Status::Fail, format!("the hub listens on {} without TLS and no TLS proxy is declared (server.public_url)", config.server.listen)),
    }
}

pub async fn user_namespaces(context: &DoctorContext<'_>) -> Check {
    let title = "User namespace remapping";
    match context.runtime.client().info().await {
        Ok(info) => {
            let options = info.security_options.unwrap_or_default();
            if options.iter().any(|o| o.contains("name=userns")) {
                check("userns", title, Status::Pass, "the engine remaps container users (userns-remap)")
            } else {
                check("userns", title, Status::Warn, format!("off: uid 1000 in a container is uid 1000 on the host (engine security options: {})", options.join(", ")))
            }
        }
        Err(err) => check("userns", title, Status::Fail, format!("cannot ask the engine: {err}")),
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` prefix.
fn days_from_date(text: &str) -> Option<i64> {
    let year: i64 = text.get(0..4)?.parse().ok()?;
    let month: i64 = text.get(5..7)?.parse().ok()?;
    let day: i64 = text.get(8..10)?.parse().ok()?;
    // The inverse of the civil-date split in cchub_store::utc_day: years start in March.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

pub async fn image_age(context: &DoctorContext<'_>) -> Check {
    let image = &context.config.containers.image;
    let title = "Runtime image age";
    match context.runtime.client().inspect_image(image).await {
        Ok(inspect) => {
            let created = inspect.created.unwrap_or_default();
            let today = cchub_store::now_ms().div_euclid(86_400_000);
            match days_from_date(&created) {
                Some(day) if today - day > 30 => check("image", title, Status::Warn, format!("{image} was built on {}, {} days ago; rebuild it (cchub image build --force) to get security updates", &created[..10], today - day)),
                Some(day) => {
                    let age = match today - day {
                        0 => "today".to_string(),
                        1 => "1 day ago".to_string(),
                        days => format!("{days} days ago"),
                    };
                    check("image", title, Status::Pass, format!("{image} was built on {} ({age})", &created[..10]))
                }
                None => check("image", title, Status::Warn, format!("{image} has no readable creation date ({created:?})")),
            }
        }
        Err(_) => check("image", title, Status::Fail, format!("{image} is missing; run cchub image build")),
    }
}

pub fn disk_quota(config: &cchub_config::Config) -> Check {
    use crate::workspace::disk;
    let title = "Disk quota enforcement";
    let as_root = rustix::process::geteuid().is_root();
    let support = disk::growth_support(&config.containers.data_dir);
    // NOTE: project quotas are detected and reported only; images enforce the size.
    let quotas = if support.project_quotas { "; the data directory has project quotas turned on, which cchub does not use" } else { "" };
    match disk::detect_mode(config.containers.disk_images, as_root) {
        disk::DiskMode::Image if support.xfs => check(
            "disk_quota",
            title,
            Status::Pass,
            format!("per-user loop-mounted disk images sized to each tier; new images are XFS and grow online when a tier rises{quotas}"),
        ),
        disk::DiskMode::Image if support.ext4_online => check(
            "disk_quota",
            title,
            Status::Pass,
            format!("per-user loop-mounted ext4 images sized to each tier; they grow online when a tier rises{quotas}"),
        ),
        disk::DiskMode::Image => check(
            "disk_quota",
            title,
            Status::Warn,
            format!("per-user loop-mounted ext4 images sized to each tier, but they cannot grow while mounted (no CAP_SYS_RESOURCE); install xfsprogs so new images are XFS{quotas}"),
        ),
        disk::DiskMode::Plain => check("disk_quota", title, Status::Warn, "none: workspaces are plain folders (no root, no loop devices or mkfs.ext4, or containers.disk_images is false)"),
    }
}

#[cfg(test)]
mod tests {
    use super::days_from_date;

    #[test]
    fn dates_become_days() {
        assert_eq!(days_from_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(days_from_date("2000-03-01"), Some(11_017));
        assert_eq!(days_from_date("2026-12-04T19:40:00.1Z"), Some(1_796_415_428_084 / 86_400_000));
        assert_eq!(days_from_date("garbage"), None);
    }
}
