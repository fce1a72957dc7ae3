//! Hub memory: the resident size of a real `cchub serve` process with 50 users' containers
//! running and idle, against the same process right after start.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cchub_e2e::TEST_KEY;
use cchub_testkit::mock_model::MockModel;
use serde_json::{json, Value};

const USERS: usize = 50;

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
}

pub async fn run() -> anyhow::Result<()> {
    let binary = std::env::current_exe()?.with_file_name("cchub");
    anyhow::ensure!(binary.is_file(), "build the cchub binary next to the benchmark ({})", binary.display());
    let mock = MockModel::start("127.0.0.1:0".parse()?, Some(TEST_KEY.into())).await?;
    let dir = tempfile::Builder::new().prefix("cchub-bench-memory-").tempdir()?;
    let data = dir.path().join("workspace");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let instance = format!("benchmem{}", std::process::id());
    let env = [
        ("CCHUB_DATA_DIR", data.display().to_string()),
        ("CCHUB_LISTEN", format!("127.0.0.1:{port}")),
        ("CCHUB_INSTANCE", instance.clone()),
        ("CCHUB_MODEL_UPSTREAM", mock.url()),
        ("ANTHROPIC_API_KEY", TEST_KEY.to_string()),
        ("CCHUB_LOG_LEVEL", "warn".to_string()),
    ];

    let mut add = Command::new(&binary).args(["user", "add", "admin", "--admin", "--password-stdin"]).envs(env.clone()).stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    std::io::Write::write_all(add.stdin.as_mut().context("stdin")?, b"bench-admin-password\n")?;
    anyhow::ensure!(add.wait()?.success(), "cannot create the admin");

    let mut hub = Command::new(&binary).arg("serve").envs(env).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let result = measure(hub.id(), port).await;
    let _ = hub.kill();
    let _ = hub.wait();
    cleanup(&instance, &data);
    result
}

async fn measure(pid: u32, port: u16) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("the hub did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = |name: String, password: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let body: Value = client.post(format!("{base}/api/auth/login")).json(&json!({"username": name, "password": password})).send().await?.json().await?;
            body["access_token"].as_str().map(str::to_string).context("login failed")
        }
    };
    let admin = login("admin".into(), "bench-admin-password".into()).await?;
    let idle_before = rss_kib(pid)?;

    for n in 0..USERS {
        let name = format!("user{n:02}");
        let password = format!("{name}-password");
        client
            .post(format!("{base}/api/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({"username": name, "password": password}))
            .send()
            .await?
            .error_for_status()?;
        let token = login(name, password).await?;
        client.post(format!("{base}/api/workspace/start")).bearer_auth(&token).send().await?.error_for_status()?;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let with_users = rss_kib(pid)?;
    println!(
        "  hub memory: {:.1} MiB resident with {USERS} containers running and idle; {:.1} MiB right after start (target <= 100 MiB)",
        with_users as f64 / 1024.0,
        idle_before as f64 / 1024.0
    );
    Ok(())
}

fn cleanup(instance: &str, data: &std::path::Path) {
    if let Ok(listed) = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label=cchub.instance={instance}")]).output() {
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout).split_whitespace().map(str::to_string).collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").arg("rm").arg("-f").args(&ids).output();
        }
    }
    if let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") {
        let prefix = data.to_string_lossy().to_string();
        for point in table.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&prefix)) {
            let _ = Command::new("umount").arg(point).output();
        }
    }
}
