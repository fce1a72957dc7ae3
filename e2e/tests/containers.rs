//! One hardened container per user, checked on the real engine.

use bollard::query_parameters::InspectContainerOptions;
use cchub_e2e::{HubOptions, TestHub};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_make_one_container() {
    let hub = TestHub::start().await.unwrap();
    let carol = hub.create_user("carol").await.unwrap();

    let starts = (0..10).map(|_| hub.request(Method::POST, "/api/workspace/start", Some(&carol.access), None));
    let results = futures_util::future::join_all(starts).await;
    let mut ids = Vec::new();
    for result in results {
        let (status, body) = result.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["container"]["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every start must return the same container: {ids:?}");
    assert_eq!(hub.container_ids().await.unwrap(), ids, "exactly one container exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_is_hardened_as_the_policy_says() {
    let hub = TestHub::start().await.unwrap();
    let dave = hub.create_user("dave").await.unwrap();
    let id = hub.start_workspace(&dave).await.unwrap();

    let inspect = hub.runtime.client().inspect_container(&id, None::<InspectContainerOptions>).await.unwrap();
    let host = inspect.host_config.clone().unwrap();
    let config = inspect.config.clone().unwrap();

    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert!(host.cap_add.clone().unwrap_or_default().is_empty());
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.ipc_mode.as_deref(), Some("private"));
    let security = host.security_opt.clone().unwrap();
    assert!(security.iter().any(|o| o == "no-new-privileges:true"), "{security:?}");
    let seccomp = security.iter().find(|o| o.starts_with("seccomp=")).expect("inline seccomp profile");
    assert!(!seccomp.contains("unconfined"));
    assert!(seccomp.contains("SCMP_ACT_ERRNO"));
    let tmpfs = host.tmpfs.clone().unwrap();
    assert!(tmpfs["/tmp"].contains("size="), "{tmpfs:?}");
    assert!(tmpfs["/tmp"].contains("noexec"), "{tmpfs:?}");
    assert_eq!(config.user.as_deref(), Some("1000:1000"));

    // The free tier's limits.
    assert_eq!(host.memory, Some(1 << 30));
    assert_eq!(host.memory_swap, Some(2 << 30));
    assert_eq!(host.memory_reservation, Some(512 << 20));
    assert_eq!(host.cpu_quota, Some(50_000));
    assert_eq!(host.cpu_period, Some(100_000));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.pids_limit, Some(100));

    // Only the user's own folders are mounted, the gateway folder read-only.
    let mounts = inspect.mounts.clone().unwrap();
    let user_root = hub.data_dir.join("users").join(dave.user_id.to_string());
    assert_eq!(mounts.len(), 3, "{mounts:?}");
    for mount in &mounts {
        let source = mount.source.clone().unwrap();
        assert!(std::path::Path::new(&source).starts_with(&user_root), "{source} is outside {}", user_root.display());
        assert!(!source.contains("docker.sock"));
        if mount.destination.as_deref() == Some("/run/cchub") {
            assert_eq!(mount.rw, Some(false));
        }
    }

    // A program written to /tmp does not run; the same one in /workspace does.
    let script = "printf '#!/bin/sh\\necho ran\\n' > /tmp/x.sh && chmod +x /tmp/x.sh && cp /tmp/x.sh /workspace/x.sh; /tmp/x.sh; /workspace/x.sh";
    let (_, out) = hub.exec(&dave, script).await.unwrap();
    assert!(out.contains("/tmp/x.sh: Permission denied"), "{out}");
    assert_eq!(out.matches("ran").count(), 1, "only the copy in /workspace runs: {out}");

    // From inside: the user is 1000, no capabilities, no Docker socket, no network.
    let (code, out) = hub
        .exec(&dave, "id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; ls /var/run/docker.sock /run/docker.sock 2>&1; ls /sys/class/net; touch /etc/x 2>&1; touch /usr/x 2>&1")
        .await
        .unwrap();
    assert_ne!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000", "{out}");
    for cap in ["CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"] {
        assert!(out.contains(cap), "{cap} missing in {out}");
    }
    assert!(out.contains("cannot access '/var/run/docker.sock': No such file"), "{out}");
    assert!(out.contains("cannot access '/run/docker.sock': No such file"), "{out}");
    assert!(out.lines().any(|l| l.trim() == "lo"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangerous_syscalls_are_denied_inside() {
    let hub = TestHub::start().await.unwrap();
    let erin = hub.create_user("erin").await.unwrap();
    hub.start_workspace(&erin).await.unwrap();

    // util-linux's unshare and mount try the real syscalls; each must fail.
    let probes = [
        ("unshare -U true", "unshare"),
        ("unshare -m true", "unshare"),
        ("unshare -n true", "unshare"),
        ("mount -t tmpfs none /tmp", "mount"),
        ("umount /workspace", "umount"),
        ("nsenter -t 1 -m true", "setns"),
    ];
    for (command, name) in probes {
        let (code, out) = hub.exec(&erin, command).await.unwrap();
        assert_ne!(code, 0, "{name} must be denied: {command} -> {out}");
    }
    // Threads still work (clone without namespace flags, clone3 falling back).
    let (code, out) = hub.exec(&erin, "git init -q /tmp/repo && cd /tmp/repo && git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m x && git log --oneline | wc -l").await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_upgrade_applies_without_restart() {
    // Free's 400 MiB disk is large enough for XFS, which grows while mounted.
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    free: { disk: 400M }\n    pro: { disk: 800M }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let frank = hub.create_user("frank").await.unwrap();
    let first = hub.start_workspace(&frank).await.unwrap();
    hub.exec(&frank, "echo keep > /workspace/kept.txt").await.unwrap();
    let started_at = |inspect: &bollard::models::ContainerInspectResponse| inspect.state.as_ref().unwrap().started_at.clone().unwrap();
    let before = hub.runtime.client().inspect_container(&first, None::<InspectContainerOptions>).await.unwrap();
    let (_, out) = hub.exec(&frank, "df -k /workspace | tail -1").await.unwrap();
    let size_before: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();

    let path = format!("/api/admin/users/{}", frank.user_id);
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "pro"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tier"], "pro");
    assert_eq!(body["tier_change"]["limits"], "applied", "{body}");
    assert_eq!(body["tier_change"]["disk"], "grown", "{body}");

    // The same container, never restarted, now runs with pro's limits.
    assert_eq!(hub.container_ids().await.unwrap(), vec![first.clone()]);
    let after = hub.runtime.client().inspect_container(&first, None::<InspectContainerOptions>).await.unwrap();
    assert_eq!(started_at(&after), started_at(&before), "the container was not restarted");
    let host = after.host_config.unwrap();
    assert_eq!(host.pids_limit, Some(500));
    assert_eq!(host.memory, Some(4 << 30));
    assert_eq!(host.cpu_quota, Some(200_000));

    let (_, status_body) = hub.request(Method::GET, "/api/workspace", Some(&frank.access), None).await.unwrap();
    assert_eq!(status_body["restart_required"], false, "{status_body}");
    assert_eq!(status_body["container"]["tier"], "pro", "{status_body}");
    assert_eq!(status_body["container"]["limits"]["pids"], 500, "{status_body}");
    assert_eq!(status_body["limits"]["pids"], 500, "{status_body}");

    let (_, out) = hub.exec(&frank, "df -k /workspace | tail -1; cat /workspace/kept.txt").await.unwrap();
    let size_after: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(size_after > size_before + 300 * 1024, "the disk grew online: {size_before} KiB -> {out}");
    assert!(out.contains("keep"), "files are intact: {out}");

    // Back to free is refused while the files would not fit in its disk.
    let (code, out) = hub.exec(&frank, "head -c 450M /dev/zero > /workspace/big && echo written").await.unwrap();
    assert_eq!(code, 0, "{out}");
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "free"}))).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "disk_too_small", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("delete files"), "{body}");
    let (_, user) = hub.request(Method::GET, "/api/workspace", Some(&frank.access), None).await.unwrap();
    assert_eq!(user["tier"], "pro", "the refused change left the tier alone");

    // Once the files fit, the downgrade is taken; the disk shrinks at the next start.
    let (code, out) = hub.exec(&frank, "rm /workspace/big").await.unwrap();
    assert_eq!(code, 0, "{out}");
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "free"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tier_change"]["disk"], "shrink_pending", "{body}");
    hub.stop_workspace(&frank).await.unwrap();
    hub.start_workspace(&frank).await.unwrap();
    let (_, out) = hub.exec(&frank, "df -k /workspace | tail -1; cat /workspace/kept.txt").await.unwrap();
    let size_shrunk: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(size_shrunk < 410 * 1024, "the disk is back to 400 MiB: {out}");
    assert!(out.contains("keep"), "files survive the shrink: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_start_again() {
    let hub = TestHub::start().await.unwrap();
    let gina = hub.create_user("gina").await.unwrap();
    hub.start_workspace(&gina).await.unwrap();
    let (status, body) = hub.request(Method::POST, "/api/workspace/stop", Some(&gina.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "exited");
    let (_, body) = hub.request(Method::GET, "/api/workspace", Some(&gina.access), None).await.unwrap();
    assert_eq!(body["state"], "exited");
    let (_, body) = hub.request(Method::POST, "/api/workspace/start", Some(&gina.access), None).await.unwrap();
    assert_eq!(body["action"], "started");
    assert_eq!(body["state"], "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_containers() {
    let hub = TestHub::start().await.unwrap();
    let kim = hub.create_user("kim").await.unwrap();
    hub.start_workspace(&kim).await.unwrap();
    hub.exec(&kim, "echo kept > /workspace/kept.txt").await.unwrap();

    let (status, body) = hub.request(Method::GET, "/api/admin/containers?stats=true", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = body["containers"].as_array().unwrap().iter().find(|c| c["username"] == "kim").cloned().unwrap();
    assert_eq!(row["state"], "running", "{row}");
    assert!(row["usage"]["memory_bytes"].as_u64().unwrap() > 0, "{row}");
    let (status, _) = hub.request(Method::GET, "/api/admin/containers", Some(&kim.access), None).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);

    let base = format!("/api/admin/containers/{}", kim.user_id);
    let (status, body) = hub.request(Method::POST, &format!("{base}/stop"), Some(&hub.admin.access), None).await.unwrap();
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("exited")), "{body}");
    let (status, body) = hub.request(Method::POST, &format!("{base}/restart"), Some(&hub.admin.access), None).await.unwrap();
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("running")), "{body}");
    let (status, body) = hub.request(Method::DELETE, &base, Some(&hub.admin.access), None).await.unwrap();
    assert_eq!((status, body["removed"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    assert!(hub.container_ids().await.unwrap().is_empty(), "the container is gone");

    // The files stay: the next start makes a new container over them.
    hub.start_workspace(&kim).await.unwrap();
    let (_, out) = hub.exec(&kim, "cat /workspace/kept.txt").await.unwrap();
    assert_eq!(out.trim(), "kept");
    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=admin.container.remove", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit[0]["target"], "kim", "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_spec_waits_for_the_next_start() {
    // Pro names another seccomp profile, a setting only a new container can take.
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    pro: { seccomp_profile: enterprise }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let gina = hub.create_user("gina").await.unwrap();
    let first = hub.start_workspace(&gina).await.unwrap();
    let mut shell = cchub_e2e::ShellSocket::connect(&hub, &gina).await.unwrap();

    let path = format!("/api/admin/users/{}", gina.user_id);
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "pro"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tier_change"]["limits"], "restart_required", "{body}");

    // Using the workspace keeps the running container, and the open terminal with it.
    let messages = cchub_e2e::chat(&hub, &gina, "[[bash: echo still-here]]").await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0, "{messages:?}");
    assert_eq!(hub.start_workspace(&gina).await.unwrap(), first, "a start while running keeps the container");
    shell.type_text("echo terminal-$((20+1))\n").await.unwrap();
    shell.wait_for_text("terminal-21", std::time::Duration::from_secs(20)).await.unwrap();
    let (_, status_body) = hub.request(Method::GET, "/api/workspace", Some(&gina.access), None).await.unwrap();
    assert_eq!(status_body["restart_required"], true, "{status_body}");

    // After a stop, the next start makes the container from the new spec.
    hub.stop_workspace(&gina).await.unwrap();
    let second = hub.start_workspace(&gina).await.unwrap();
    assert_ne!(second, first, "the stopped container was replaced");
    let (_, status_body) = hub.request(Method::GET, "/api/workspace", Some(&gina.access), None).await.unwrap();
    assert_eq!(status_body["restart_required"], false, "{status_body}");
}
