//! A fork bomb and a CPU hog inside one container stay within the tier's limits, and the
//! hub and the other users' containers keep responding.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{InspectContainerOptions, StatsOptions};
use bollard::Docker;
use cchub_e2e::{exec_in_container, HubOptions, ShellSocket, TestHub};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};

/// Pids limit of the fork bomb test's tier, small so that the bomb reaches it at once.
const PIDS_LIMIT: u64 = 64;
/// Seconds the fork bomb runs before `timeout` kills its process group.
const BOMB_SECS: u64 = 10;
/// Maximum time for the neighbour's terminal to echo a line, and for each health request.
const RESPONSE_LIMIT: Duration = Duration::from_secs(1);

/// Serialises the tests of this file: each loads the host on purpose, and a CPU quota
/// measured beside a fork bomb would measure the contention instead.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts a hub whose users all get tier `free` with the given fields, such as
/// `pids: 64`; the other fields keep their built-in values.
async fn hub_with_free_tier(fields: &str) -> TestHub {
    let config = format!("resources:\n  default_tier: free\n  tiers:\n    free: {{ {fields} }}\n");
    TestHub::start_with(HubOptions {
        config_yaml: Some(config),
        ..HubOptions::default()
    })
    .await
    .unwrap()
}

/// Returns one sample of a container's stats from the engine, without the engine's
/// one-second wait for a second sample.
async fn engine_stats(docker: &Docker, container: &str) -> anyhow::Result<ContainerStatsResponse> {
    let options = StatsOptions { stream: false, one_shot: true };
    let mut stream = docker.stats(container, Some(options));
    let sample = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
    let sample = sample.map_err(|_| anyhow::anyhow!("stats of {container} timed out"))?;
    let sample = sample.ok_or_else(|| anyhow::anyhow!("the engine sent no stats for {container}"))?;
    Ok(sample?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_stops_at_pids_limit() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let hub = hub_with_free_tier(&format!("pids: {PIDS_LIMIT}")).await;
    let mallory = hub.create_user("mallory").await.unwrap();
    let nora = hub.create_user("nora").await.unwrap();
    let attacker = hub.start_workspace(&mallory).await.unwrap();
    hub.start_workspace(&nora).await.unwrap();

    let inspect = hub.runtime.client().inspect_container(&attacker, None::<InspectContainerOptions>).await.unwrap();
    assert_eq!(inspect.host_config.unwrap().pids_limit, Some(PIDS_LIMIT as i64));

    // Nora's terminal is open before the bomb, so only the echo itself is timed.
    let mut shell = ShellSocket::connect(&hub, &nora).await.unwrap();
    shell.type_text("echo warm-$((1+1))\n").await.unwrap();
    shell.wait_for("warm-2\r\n", Duration::from_secs(30)).await.unwrap();

    // Every call of f starts its pipeline in the background and returns, so bash would exit
    // at once and timeout would stop waiting. `exec sleep` keeps timeout's child alive and
    // needs no free pid. GNU timeout makes itself a process group leader and on expiry
    // sends SIGKILL to the whole group, which still contains every copy of the bomb.
    let bomb_script = format!("timeout -s KILL {BOMB_SECS} bash -c 'f(){{ f | f & }}; f; exec sleep 600' >/dev/null 2>&1; echo bomb-ended");
    let runtime = hub.runtime.clone();
    let attacker_name = hub.container_name(mallory.user_id);
    let bomb = tokio::spawn(async move { exec_in_container(&runtime, &attacker_name, &bomb_script).await });

    // Samples the attacker's process count until the bomb ends.
    let bomb_running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let docker = hub.runtime.client().clone();
        let attacker = attacker.clone();
        let bomb_running = bomb_running.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            for _ in 0..200 {
                if !bomb_running.load(Ordering::SeqCst) {
                    break;
                }
                let stats = engine_stats(&docker, &attacker).await?;
                let pids = stats.pids_stats.unwrap_or_default();
                samples.push((pids.current.unwrap_or_default(), pids.limit));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<_, anyhow::Error>(samples)
        })
    };

    // Let the bomb fill its container before the neighbour is measured.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut worst_echo = Duration::ZERO;
    for round in 0..5u32 {
        let started = Instant::now();

        // The shell computes the number, so the echoed command line cannot match it.
        let expected = format!("ok-{}\r\n", 1000 + round);
        shell.type_text(&format!("echo ok-$((1000+{round}))\n")).await.unwrap();
        let echoed = shell.wait_for(&expected, RESPONSE_LIMIT).await;
        let elapsed = started.elapsed();
        assert!(echoed.is_ok(), "round {round}: nora's terminal did not echo within {RESPONSE_LIMIT:?}: {echoed:?}");
        worst_echo = worst_echo.max(elapsed);

        let health = tokio::time::timeout(RESPONSE_LIMIT, hub.request(Method::GET, "/healthz", None, None)).await;
        let (status, body) = health.unwrap_or_else(|_| panic!("round {round}: /healthz timed out")).unwrap();
        assert_eq!(status, StatusCode::OK, "round {round}: /healthz returned {body}");

        let ready = tokio::time::timeout(RESPONSE_LIMIT, hub.request(Method::GET, "/readyz", None, None)).await;
        let (status, body) = ready.unwrap_or_else(|_| panic!("round {round}: /readyz timed out")).unwrap();
        assert_eq!(status, StatusCode::OK, "round {round}: /readyz returned {body}");

        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    assert!(!bomb.is_finished(), "the bomb ended before the checks did, so they did not run under load");
    println!("nora's worst terminal echo during the fork bomb: {worst_echo:?}");

    let bomb_result = tokio::time::timeout(Duration::from_secs(60), bomb).await.expect("the fork bomb exec timed out after 60 s");
    bomb_running.store(false, Ordering::SeqCst);
    let (_, bomb_output) = bomb_result.unwrap().unwrap();
    assert!(bomb_output.contains("bomb-ended"), "{bomb_output}");

    let samples = tokio::time::timeout(Duration::from_secs(30), sampler).await.expect("the pids sampler timed out after 30 s").unwrap().unwrap();
    let max_pids = samples.iter().map(|(current, _)| *current).max().unwrap_or_default();
    println!("max pids in mallory's container: {max_pids} of {PIDS_LIMIT}, over {} samples", samples.len());
    // NOTE: under the bomb one stats call took about 0.9 s on Docker 20.10 with cgroup v1
    // (20 ms when idle), so a 10-second bomb yields about ten samples.
    assert!(samples.len() >= 5, "too few stats samples: {samples:?}");
    assert!(samples.iter().all(|(_, limit)| *limit == Some(PIDS_LIMIT)), "the engine reports another pids limit: {samples:?}");
    assert!(max_pids <= PIDS_LIMIT, "{max_pids} processes exceed the limit of {PIDS_LIMIT}");
    assert!(max_pids >= PIDS_LIMIT * 3 / 4, "the bomb never came near the limit, so it proves nothing: {max_pids}");

    // The container works again once the bomb is gone; its leftovers may take a moment to be reaped.
    let attacker_name = hub.container_name(mallory.user_id);
    let events_script = "echo alive; cat /sys/fs/cgroup/pids/pids.events 2>/dev/null || cat /sys/fs/cgroup/pids.events";
    let mut last = String::new();
    let mut alive = false;
    for _ in 0..20 {
        match exec_in_container(&hub.runtime, &attacker_name, events_script).await {
            Ok((0, out)) if out.starts_with("alive\n") => {
                last = out;
                alive = true;
                break;
            }
            Ok((code, out)) => last = format!("exit {code}: {out}"),
            Err(error) => last = format!("{error:#}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(alive, "mallory's container did not run `echo alive` after the bomb: {last}");

    // pids.events counts the forks that the limit rejected.
    let rejected: u64 = last
        .lines()
        .find_map(|line| line.strip_prefix("max "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no max count in pids.events: {last}"));
    println!("forks rejected by the pids limit: {rejected}");
    assert!(rejected > 0, "the pids limit never rejected a fork: {last}");

    // The hub's resource check saw the limit being hit and recorded it.
    let recorded = wait_for_audit(&hub, "container.pids_limit", Duration::from_secs(15)).await;
    assert_eq!(recorded["actor"], "mallory", "{recorded}");

    shell.close().await.unwrap();
}

/// Waits for the newest audit row of `action`, polling the admin API for at most `limit`.
async fn wait_for_audit(hub: &TestHub, action: &str, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let path = format!("/api/admin/audit?action={action}&limit=1");
        let (status, body) = hub.request(Method::GET, &path, Some(&hub.admin.access), None).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(row) = body.as_array().and_then(|rows| rows.first()) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "no {action} audit row within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_is_killed_and_told() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // No swap, so the hog meets the limit at once.
    let hub = hub_with_free_tier("memory: 96M, memory_swap: 96M, memory_reservation: 64M").await;
    let hank = hub.create_user("hank").await.unwrap();
    let ivy = hub.create_user("ivy").await.unwrap();
    let container = hub.start_workspace(&hank).await.unwrap();
    hub.start_workspace(&ivy).await.unwrap();
    hub.exec(&hank, "echo before > /workspace/kept.txt").await.unwrap();

    // tail keeps a line without a newline in memory, so it grows until the kernel kills it.
    let mut shell = ShellSocket::connect(&hub, &hank).await.unwrap();
    shell.type_text("head -c 400M /dev/zero | tail > /dev/null; echo hog-$((6*7))\n").await.unwrap();
    let notice = shell.wait_for_message("notice", Duration::from_secs(60)).await.unwrap();
    assert_eq!(notice["kind"], "oom", "{notice}");
    assert!(notice["message"].as_str().unwrap().contains("ran out of memory (limit 96.0M)"), "{notice}");
    shell.wait_for("[cchub] Your workspace ran out of memory", Duration::from_secs(10)).await.unwrap();
    shell.wait_for("hog-42", Duration::from_secs(30)).await.unwrap();

    let recorded = wait_for_audit(&hub, "container.oom", Duration::from_secs(10)).await;
    assert_eq!(recorded["actor"], "hank", "{recorded}");

    // Only the hog died: the container, the files and the neighbour are fine.
    let inspect = hub.runtime.client().inspect_container(&container, None::<InspectContainerOptions>).await.unwrap();
    assert_eq!(inspect.state.unwrap().running, Some(true));
    let (_, out) = hub.exec(&hank, "cat /workspace/kept.txt").await.unwrap();
    assert_eq!(out.trim(), "before");
    let (code, out) = hub.exec(&ivy, "echo fine").await.unwrap();
    assert_eq!((code, out.trim()), (0, "fine"));
    shell.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_hog_gets_the_tier_quota() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let hub = hub_with_free_tier("cpu: 0.5").await;
    let oscar = hub.create_user("oscar").await.unwrap();
    let container = hub.start_workspace(&oscar).await.unwrap();

    let inspect = hub.runtime.client().inspect_container(&container, None::<InspectContainerOptions>).await.unwrap();
    let host = inspect.host_config.unwrap();
    assert_eq!(host.cpu_quota, Some(50_000));
    assert_eq!(host.cpu_period, Some(100_000));

    // Two busy loops could use both cores, but the quota allows half of one.
    let runtime = hub.runtime.clone();
    let name = hub.container_name(oscar.user_id);
    let hog = tokio::spawn(async move {
        exec_in_container(&runtime, &name, "timeout 12 sh -c 'yes > /dev/null & yes > /dev/null & wait'; echo hog-ended").await
    });

    // Skip the start-up, then measure over five seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let docker = hub.runtime.client();
    let first = engine_stats(docker, &container).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = engine_stats(docker, &container).await.unwrap();
    assert!(!hog.is_finished(), "the busy loops ended before the second sample");

    let first_cpu = first.cpu_stats.unwrap();
    let second_cpu = second.cpu_stats.unwrap();
    let container_ns = second_cpu.cpu_usage.unwrap().total_usage.unwrap() - first_cpu.cpu_usage.unwrap().total_usage.unwrap();
    // system_cpu_usage sums the time of every host CPU, so the ratio is scaled by their count.
    let system_ns = second_cpu.system_cpu_usage.unwrap() - first_cpu.system_cpu_usage.unwrap();
    let online_cpus = second_cpu.online_cpus.unwrap();
    let cores = container_ns as f64 / system_ns as f64 * f64::from(online_cpus);
    println!("cores used by two busy loops under a 0.5-core quota: {cores:.3} ({online_cpus} CPUs online)");

    let first_throttled = first_cpu.throttling_data.unwrap_or_default().throttled_periods.unwrap_or_default();
    let second_throttled = second_cpu.throttling_data.unwrap_or_default().throttled_periods.unwrap_or_default();
    println!("periods throttled between the samples: {}", second_throttled - first_throttled);

    assert!((0.4..=0.6).contains(&cores), "measured {cores:.3} cores, expected 0.5 within 20 %");
    assert!(second_throttled > first_throttled, "the engine reports no throttling of the busy loops");

    let (_, out) = tokio::time::timeout(Duration::from_secs(60), hog).await.expect("the busy loop exec timed out after 60 s").unwrap().unwrap();
    assert!(out.contains("hog-ended"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_oom_kill_restarts_container() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let hub = hub_with_free_tier("memory: 96M, memory_swap: 96M, memory_reservation: 64M").await;
    let jo = hub.create_user("jo").await.unwrap();
    let container = hub.start_workspace(&jo).await.unwrap();
    hub.exec(&jo, "echo before > /workspace/kept.txt").await.unwrap();
    let restarts = |inspect: &bollard::models::ContainerInspectResponse| inspect.restart_count.unwrap_or_default();
    let before = hub.runtime.client().inspect_container(&container, None::<InspectContainerOptions>).await.unwrap();

    // The init process runs as the container's user, so the user can make it the kernel's
    // first choice. Three hogs share the memory, so none of them outranks init, and the
    // kill of init takes the whole container down.
    let mut shell = ShellSocket::connect(&hub, &jo).await.unwrap();
    let hogs = "echo 1000 > /proc/1/oom_score_adj; for i in 1 2 3; do head -c 200M /dev/zero | tail > /dev/null & done; wait\n";
    shell.type_text(hogs).await.unwrap();
    let notice = shell.wait_for_message("notice", Duration::from_secs(60)).await.unwrap();
    assert!(["oom", "exited"].contains(&notice["kind"].as_str().unwrap()), "{notice}");

    // The engine restarts it by itself, and the files are intact. The first restart may
    // die again while the old instance's memory is still charged. The engine retries with a
    // growing delay, so the check waits until a command runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = hub.runtime.client().inspect_container(&container, None::<InspectContainerOptions>).await.unwrap();
        let restarted = restarts(&now) > restarts(&before) && now.state.as_ref().and_then(|s| s.running) == Some(true);
        if restarted {
            if let Ok((0, out)) = hub.exec(&jo, "cat /workspace/kept.txt").await {
                assert_eq!(out.trim(), "before");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the container did not restart by itself: {:?}", now.state);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let exit = wait_for_audit(&hub, "container.exit", Duration::from_secs(10)).await;
    assert_eq!(exit["detail"]["exit_code"], 137, "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_dies_with_its_terminal() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let hub = hub_with_free_tier(&format!("pids: {PIDS_LIMIT}")).await;
    let max = hub.create_user("max").await.unwrap();
    let container = hub.start_workspace(&max).await.unwrap();

    // The bomb fills the pids limit, so no command can start in the container to end it.
    let mut shell = ShellSocket::connect(&hub, &max).await.unwrap();
    shell.type_text("f(){ f | f & }; f\n").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = engine_stats(hub.runtime.client(), &container).await.unwrap().pids_stats.unwrap_or_default().current.unwrap_or_default();
    assert!(during >= PIDS_LIMIT * 3 / 4, "the bomb did not fill the container: {during}");
    shell.close().await.unwrap();

    // Closing the terminal ends every process it started.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = during;
    while Instant::now() < deadline {
        after = engine_stats(hub.runtime.client(), &container).await.unwrap().pids_stats.unwrap_or_default().current.unwrap_or_default();
        if after <= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("processes in max's container: {during} during the bomb, {after} after the terminal closed");
    assert!(after <= 4, "{after} processes remain after the terminal closed");
    let mut shell = ShellSocket::connect(&hub, &max).await.unwrap();
    shell.type_text("echo back-$((1+1))\n").await.unwrap();
    shell.wait_for("back-2\r\n", Duration::from_secs(10)).await.unwrap();
    shell.close().await.unwrap();
}
