use super::*;
use crate::default_tiers;

fn paths() -> UserPaths {
    let root = PathBuf::from("/srv/cchub/users/7");
    UserPaths {
        workspace: root.join("mnt/workspace"),
        home: root.join("mnt/home"),
        run: root.join("run"),
        root,
    }
}

fn spec_for(tier: &str) -> ContainerSpec {
    let tiers = default_tiers();
    let name = TierName::parse(tier).unwrap();
    let security = SecuritySettings::default();
    let paths = paths();
    build_container_spec(&SpecInput {
        instance: "cchub",
        user_id: 7,
        user_name: "alice",
        tier_name: &name,
        tier: &tiers[&name],
        security: &security,
        image: "cchub-runtime:latest",
        paths: &paths,
    })
    .unwrap()
}

#[test]
fn spec_is_hardened() {
    let spec = spec_for("free");
    assert!(!spec.privileged);
    assert!(spec.read_only_root);
    assert!(spec.init);
    assert!(spec.no_new_privileges);
    assert_eq!(spec.cap_drop, vec!["ALL"]);
    assert_eq!(spec.user, "1000:1000");
    assert_eq!(spec.network, NetworkMode::None);
    assert_eq!(spec.ipc_mode, "private");
    assert!(spec.tmpfs["/tmp"].contains("size=268435456"));
    assert!(spec.tmpfs["/tmp"].contains("nosuid"));
    assert!(spec.tmpfs["/tmp"].contains("noexec"));
}

#[test]
fn security_opt_carries_inline_seccomp() {
    let options = spec_for("free").security_opt();
    assert_eq!(options[0], "no-new-privileges:true");
    let seccomp = options[1].strip_prefix("seccomp=").unwrap();
    let parsed: serde_json::Value = serde_json::from_str(seccomp).unwrap();
    assert_eq!(parsed["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(!options.iter().any(|o| o.contains("unconfined")));
}

#[test]
fn free_tier_limits_reach_the_spec() {
    let limits = spec_for("free").limits;
    assert_eq!(limits.memory, 1 << 30);
    assert_eq!(limits.memory_swap, 2 << 30);
    assert_eq!(limits.memory_reservation, 512 << 20);
    assert_eq!(limits.cpu_quota, 50_000);
    assert_eq!(limits.cpu_period, 100_000);
    assert_eq!(limits.cpu_shares, 512);
    assert_eq!(limits.pids_limit, 100);
}

#[test]
fn only_user_directories_are_mounted() {
    let spec = spec_for("pro");
    let targets: Vec<&str> = spec.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(targets, ["/workspace", "/home/dev", "/run/cchub"]);
    for mount in &spec.mounts {
        assert!(mount.source.starts_with("/srv/cchub/users/7"), "{mount:?}");
        assert!(!mount.source.to_string_lossy().contains("docker.sock"));
    }
    let gateway = spec.mounts.iter().find(|m| m.target == GATEWAY_MOUNT).unwrap();
    assert!(gateway.read_only);
}

#[test]
fn no_secret_in_the_environment() {
    let env = spec_for("free").env;
    assert_eq!(env["ANTHROPIC_BASE_URL"], format!("http://127.0.0.1:{GATEWAY_RELAY_PORT}"));
    assert_eq!(env["ANTHROPIC_API_KEY"], PLACEHOLDER_API_KEY);
    assert!(!env.values().any(|v| v.starts_with("sk-ant")));
}

#[test]
fn fingerprint_ignores_live_limits() {
    let free = spec_for("free");
    let pro = spec_for("pro");
    assert_eq!(free.labels[LABEL_SPEC_HASH], free.fingerprint());
    assert_ne!(free.limits, pro.limits);
    assert_eq!(free.fingerprint(), pro.fingerprint(), "a limits-only tier change keeps the container");
    assert_eq!(spec_for("free").fingerprint(), free.fingerprint());
}

#[test]
fn labels_identify_the_user() {
    let spec = spec_for("free");
    assert_eq!(spec.name, "cchub-user-7");
    assert_eq!(spec.labels[LABEL_MANAGED], "true");
    assert_eq!(spec.labels[LABEL_INSTANCE], "cchub");
    assert_eq!(spec.labels[LABEL_USER_ID], "7");
    assert_eq!(spec.labels[LABEL_USER_NAME], "alice");
    assert_eq!(spec.labels[LABEL_TIER], "free");
}

#[test]
fn mounts_outside_the_user_root_are_rejected() {
    let root = Path::new("/srv/cchub/users/7");
    for source in ["/var/run/docker.sock", "/srv/cchub/users/8/mnt", "/srv/cchub/users/7/../8", "/etc"] {
        assert!(
            check_mount_source(Path::new(source), root, "/x").is_err(),
            "{source} must be rejected"
        );
    }
    assert!(check_mount_source(Path::new("/srv/cchub/users/7/docker.sock"), root, "/x").is_err());
    assert!(check_mount_source(Path::new("/srv/cchub/users/7/mnt/workspace"), root, "/x").is_ok());
}

#[test]
fn system_directories_are_not_user_roots() {
    for root in ["/", "/etc", "/var/run", "relative/users/1", "/srv/../etc/x"] {
        assert!(check_user_root(Path::new(root)).is_err(), "{root} must be rejected");
    }
    assert!(check_user_root(Path::new("/srv/cchub/users/1")).is_ok());
}

fn spec_with(mutate: impl FnOnce(&mut SecuritySettings, &mut Tier)) -> ContainerSpec {
    let name = TierName::parse("free").unwrap();
    let mut tier = default_tiers()[&name].clone();
    let mut security = SecuritySettings::default();
    mutate(&mut security, &mut tier);
    let paths = paths();
    build_container_spec(&SpecInput {
        instance: "cchub",
        user_id: 7,
        user_name: "alice",
        tier_name: &name,
        tier: &tier,
        security: &security,
        image: "cchub-runtime:latest",
        paths: &paths,
    })
    .unwrap()
}

#[test]
fn network_modes_reach_the_spec() {
    let none = spec_with(|_, _| {});
    assert_eq!(none.network_name, "none");
    assert!(none.internal_network.is_none());
    assert!(!none.env.contains_key("HTTPS_PROXY"));

    let proxy = spec_with(|security, _| security.network = NetworkMode::Proxy);
    assert_eq!(proxy.network_name, "none", "the proxy mode keeps no interface but lo");
    assert_eq!(proxy.env["HTTPS_PROXY"], "http://127.0.0.1:4142");
    assert_eq!(proxy.env["CCHUB_PROXY_SOCKET"], "/run/cchub/proxy.sock");

    let internal = spec_with(|_, tier| tier.network_mode = Some(NetworkMode::Internal));
    let network = internal.internal_network.clone().unwrap();
    assert_eq!(internal.network_name, "cchub-user-7-net");
    assert_eq!(network.subnet, "10.128.0.56/29");

    let bridge = spec_with(|security, _| security.network = NetworkMode::Bridge);
    assert_eq!(bridge.network_name, "bridge");
    assert_ne!(bridge.fingerprint(), none.fingerprint());
}
