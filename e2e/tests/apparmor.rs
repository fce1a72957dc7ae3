//! The generated AppArmor profile parses with Debian's apparmor_parser, and a kernel
//! without AppArmor is reported, never silently "configured".

use cchub_e2e::{HubOptions, TestHub};
use reqwest::Method;

fn parse(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new("apparmor_parser")
        .args(["-Q", "-K", "-T"])
        .arg(path)
        .output()
        .expect("apparmor_parser runs (Debian package apparmor)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_profile_parses_and_absence_is_reported() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("security:\n  apparmor_profile: docker-default\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let profile = hub.data_dir.join("containers/apparmor/cchub-workspace");
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("profile cchub-workspace"));
    let parsed = parse(&profile);
    assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));

    // The deployment plan's profile includes an abstraction AppArmor does not have.
    let broken = hub.data_dir.join("containers/apparmor/with-nodejs");
    std::fs::write(&broken, "#include <tunables/global>\nprofile p {\n  #include <abstractions/base>\n  #include <abstractions/nodejs>\n}\n").unwrap();
    assert!(!parse(&broken).status.success(), "a profile naming abstractions/nodejs must not parse");

    let (_, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    let apparmor = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "apparmor").unwrap().clone();
    let enforced = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").map(|v| v.trim() == "Y").unwrap_or(false);
    if enforced {
        assert_ne!(apparmor["status"], "WARN", "{apparmor}");
    } else {
        assert_eq!(apparmor["status"], "WARN", "{apparmor}");
        assert!(apparmor["evidence"].as_str().unwrap().contains("no AppArmor"), "{apparmor}");
        // Containers still start, without a profile the kernel would ignore.
        let vic = hub.create_user("vic").await.unwrap();
        let id = hub.start_workspace(&vic).await.unwrap();
        let inspect = hub.runtime.client().inspect_container(&id, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap();
        let options = inspect.host_config.unwrap().security_opt.unwrap();
        assert!(!options.iter().any(|o| o.starts_with("apparmor=")), "{options:?}");
    }
}
