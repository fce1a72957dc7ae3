//! `cchub doctor` through `GET /api/admin/doctor`, against real containers.

use std::collections::BTreeMap;

use cchub_e2e::{HubOptions, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_hub_passes_and_a_rogue_container_fails() {
    // Pro runs another seccomp profile, so moving to pro needs a new container.
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    pro: { seccomp_profile: enterprise }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let uma = hub.create_user("uma").await.unwrap();
    hub.start_workspace(&uma).await.unwrap();

    let (status, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let checks = statuses(&report);
    for id in ["seccomp", "privileged", "mounts", "limits", "network", "jwt_key", "secrets", "data_dir", "image", "seccomp_profiles", "disk_quota"] {
        assert_eq!(checks[id], "PASS", "{id}: {report}");
    }
    // Loopback without TLS, no AppArmor in this kernel, no userns-remap: warnings, not failures.
    assert_eq!(checks["tls"], "WARN");
    assert_ne!(report["status"], "FAIL");
    for check in report["checks"].as_array().unwrap() {
        assert!(check["evidence"].as_str().is_some_and(|e| !e.is_empty()), "{check}");
    }

    // A privileged container with the hub's labels, made behind its back, mounting the
    // Docker socket: the doctor fails it.
    let rogue = format!("{}-rogue", hub.instance);
    let created = std::process::Command::new("docker")
        .args(["run", "-d", "--name", &rogue, "--privileged", "-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args(["--label", "cchub.managed=true", "--label", &format!("cchub.instance={}", hub.instance), "--label", &format!("cchub.user-id={}", uma.user_id)])
        .args(["--entrypoint", "sleep", "cchub-runtime:latest", "300"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let (_, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    let checks = statuses(&report);
    assert_eq!(report["status"], "FAIL", "{report}");
    assert_eq!(checks["privileged"], "FAIL");
    assert_eq!(checks["mounts"], "FAIL");
    assert_eq!(checks["seccomp"], "FAIL", "the rogue container runs without the hub's profile");
    let _ = std::process::Command::new("docker").args(["rm", "-f", &rogue]).output();

    let (status, _) = hub.request(Method::GET, "/api/admin/doctor", Some(&uma.access), None).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A tier change waiting for the next workspace start is a warning, not a failure;
    // its limits apply at once.
    let path = format!("/api/admin/users/{}", uma.user_id);
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "pro"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    let checks = statuses(&report);
    assert_eq!(checks["restarts"], "WARN", "{report}");
    assert_eq!(checks["limits"], "PASS", "{report}");
    assert_eq!(checks["network"], "PASS", "{report}");
    assert_ne!(report["status"], "FAIL", "{report}");
    // The running container is kept until a stop; the start after it applies the tier.
    hub.stop_workspace(&uma).await.unwrap();
    hub.start_workspace(&uma).await.unwrap();
    let (_, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    let checks = statuses(&report);
    assert_eq!(checks["restarts"], "PASS", "{report}");
    assert_eq!(checks["limits"], "PASS", "{report}");
}
