//! The seccomp profiles on the real engine: everyday work keeps working under both, and
//! an escape probe built from `e2e/probe/escape_probe.c` is denied every dangerous call.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cchub_e2e::{chat, HubOptions, ShellSocket, TestHub};

/// Compiles the probe once per test process.
fn probe_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/escape_probe.c");
            let output = std::env::temp_dir().join(format!("cchub-escape-probe-{}", std::process::id()));
            let built = std::process::Command::new("gcc").args(["-static", "-O2", "-o"]).arg(&output).arg(&source).output().expect("gcc runs");
            assert!(built.status.success(), "gcc failed: {}", String::from_utf8_lossy(&built.stderr));
            output
        })
        .clone()
}

async fn hub_with(profile: &str) -> TestHub {
    TestHub::start_with(HubOptions {
        config_yaml: Some(format!("security:\n  seccomp_profile: {profile}\n")),
        ..HubOptions::default()
    })
    .await
    .unwrap()
}

/// Runs the probe in a user's container; returns call name -> result.
async fn run_probe(hub: &TestHub, session: &cchub_e2e::Session) -> BTreeMap<String, String> {
    let workspace = hub.data_dir.join("users").join(session.user_id.to_string()).join("mnt/workspace");
    let target = workspace.join("escape-probe");
    std::fs::copy(probe_binary(), &target).unwrap();
    let (code, out) = hub.exec(session, "/workspace/escape-probe").await.unwrap();
    assert_eq!(code, 0, "{out}");
    println!("{out}");
    out.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

async fn probe_is_denied(profile: &str) {
    let hub = hub_with(profile).await;
    let user = hub.create_user("probe").await.unwrap();
    let id = hub.start_workspace(&user).await.unwrap();
    let inspect = hub.runtime.client().inspect_container(&id, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap();
    let seccomp = inspect.host_config.unwrap().security_opt.unwrap().into_iter().find(|o| o.starts_with("seccomp=")).unwrap();
    let expected = hub.state.config.security.seccomp_profiles[profile].json.clone();
    assert_eq!(seccomp, format!("seccomp={expected}"), "the container runs the {profile} profile");

    let results = run_probe(&hub, &user).await;
    assert!(results.len() >= 44, "{results:?}");
    for (call, result) in &results {
        if let Some(control) = call.strip_prefix("control:") {
            assert_eq!(result, "allowed", "{control} must keep working under {profile}");
        } else if call == "socket(AF_NETLINK)" {
            let wanted = if profile == "enterprise" { "denied" } else { "allowed" };
            assert_eq!(result, wanted, "netlink under {profile}");
        } else {
            assert_eq!(result, "denied", "{call} under {profile}");
        }
    }
}

async fn workloads_keep_working(profile: &str) {
    let hub = hub_with(profile).await;
    let user = hub.create_user("worker").await.unwrap();

    // A claude run with a tool call.
    let messages = chat(&hub, &user, "[[bash: echo tool-ran > tool.txt && cat tool.txt]] [[text: ok]]").await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0, "{profile}: {messages:?}");
    assert!(serde_json::to_string(&messages).unwrap().contains("tool-ran"));

    let script = r#"set -e
cd /workspace
git init -q origin && cd origin && git config user.email t@example.com && git config user.name t
echo one > a.txt && git add a.txt && git commit -qm first && git log --oneline | wc -l
cd /workspace && git clone -q origin copy && cat copy/a.txt
mkdir -p data && for i in $(seq 200); do echo "line $i root" > data/f$i.txt; done
rg -j 4 -c root data | wc -l
seq 100000 | sort --parallel=4 -rn | head -1
tar czf /tmp/data.tgz data && tar tzf /tmp/data.tgz | wc -l && gzip -t /tmp/data.tgz && echo archives-ok"#;
    let (code, out) = hub.exec(&user, script).await.unwrap();
    assert_eq!(code, 0, "{profile}: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["1", "one", "200", "100000", "201", "archives-ok"], "{profile}: {out}");

    // Job control and a full-screen program need a terminal.
    let mut shell = ShellSocket::connect(&hub, &user).await.unwrap();
    shell.type_text("sleep 300 &\njobs\n").await.unwrap();
    shell.wait_for("Running", Duration::from_secs(20)).await.unwrap();
    shell.type_text("kill %1; wait; echo JOBS-$((2+3))\n").await.unwrap();
    shell.wait_for("JOBS-5", Duration::from_secs(20)).await.unwrap();
    shell.type_text("less /etc/os-release\n").await.unwrap();
    shell.wait_for_text("PRETTY_NAME", Duration::from_secs(20)).await.unwrap();
    shell.type_text("q").await.unwrap();
    shell.type_text("echo LESS-$((4+4))\n").await.unwrap();
    shell.wait_for("LESS-8", Duration::from_secs(20)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_profile_denies_the_probe() {
    probe_is_denied("default").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_profile_denies_the_probe() {
    probe_is_denied("enterprise").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_profile_runs_everyday_work() {
    workloads_keep_working("default").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_profile_runs_everyday_work() {
    workloads_keep_working("enterprise").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_profile_removes_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let changes = dir.path().join("no-flock.yaml");
    std::fs::write(&changes, "remove: [flock]\n").unwrap();
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!(
            "security:\n  custom_seccomp_profiles:\n    no-flock: {{ file: {}, base: enterprise }}\nresources:\n  tiers:\n    free: {{ seccomp_profile: no-flock }}\n",
            changes.display()
        )),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let user = hub.create_user("locker").await.unwrap();
    hub.start_workspace(&user).await.unwrap();
    let (code, out) = hub.exec(&user, "echo started; flock /tmp/lock true 2>&1; echo rc=$?").await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("started"), "the container starts under the custom profile: {out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("rc=0"), "{out}");
}
