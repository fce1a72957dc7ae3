//! Ending an agent run or a terminal: every process that inherited the session's marker
//! variable is stopped and then killed, including processes that left the process tree.

use std::time::Duration;

use cchub_policy::{CONTAINER_GID, CONTAINER_UID};
use cchub_runtime::{ContainerRuntime, ExecRequest};
use futures_util::StreamExt;
use tracing::{info, warn};

/// Finds the session's processes by their environment (one `grep` over /proc, so a busy
/// container's pids limit is barely touched), stops them all so none can fork, then
/// kills them; repeats until none is left. Runs as the container's user, who owns every
/// process it may signal.
const KILL_SCRIPT: &str = r#"
marker="$1"
round=0
while [ $round -lt 20 ]; do
  pids=""
  for file in $(grep -lzx -- "$marker" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${file#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] || pids="$pids $pid"
  done
  [ -z "$pids" ] && exit 0
  kill -STOP $pids 2>/dev/null
  kill -KILL $pids 2>/dev/null
  round=$((round + 1))
  sleep 0.05
done
exit 1
"#;

/// Kills every process in the container whose environment contains `marker`
/// (`NAME=value`, set on the session's exec); waits at most a few seconds. When no command
/// can run in the container, because a fork bomb uses every pid of its limit, the hub
/// kills the processes from the host instead.
pub async fn kill_marked<R: ContainerRuntime>(runtime: &R, container_id: &str, marker: &str) {
    if kill_inside(runtime, container_id, marker).await {
        return;
    }
    let Ok(Some(info)) = runtime.inspect(container_id).await else { return };
    let Some(pid) = info.pid else { return };
    let marker_owned = marker.to_string();
    match tokio::task::spawn_blocking(move || kill_from_host(pid, &marker_owned)).await {
        Ok(Ok(true)) => info!(container = container_id, marker, "killed the session's processes from the host"),
        Ok(Ok(false)) => warn!(container = container_id, marker, "some processes survived the kill from the host"),
        Ok(Err(err)) => warn!(container = container_id, marker, error = %err, "cannot kill the session's processes from the host"),
        Err(err) => warn!(container = container_id, marker, error = %err, "host kill task failed"),
    }
}

/// Stops, then kills, every process of the container's cgroup (found through its first
/// process `main_pid`) whose environment contains `marker`; repeats until none is left.
/// Needs root on the host. Returns whether none was left.
///
/// Each process is held by a pidfd opened before its environment is read. A PID reused
/// between the check and the signal therefore gets no signal, because the pidfd still
/// names the process that was checked, and signalling it after its exit fails harmlessly.
fn kill_from_host(main_pid: i64, marker: &str) -> std::io::Result<bool> {
    use rustix::process::{kill_process, pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

    /// A process to signal: through its pidfd, or by PID on kernels before 5.3.
    enum Target {
        Fd(rustix::fd::OwnedFd),
        Pid(Pid),
    }
    let open = |raw: i32| -> Option<Target> {
        let pid = Pid::from_raw(raw)?;
        match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(Target::Fd(fd)),
            Err(rustix::io::Errno::NOSYS) => Some(Target::Pid(pid)),
            Err(_) => None,
        }
    };
    let signal = |target: &Target, sig: Signal| {
        let _ = match target {
            Target::Fd(fd) => pidfd_send_signal(fd, sig),
            Target::Pid(pid) => kill_process(*pid, sig),
        };
    };

    let table = match std::fs::read_to_string(format!("/proc/{main_pid}/cgroup")) {
        Ok(table) => table,
        // The container is gone, and its processes with it.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(err) => return Err(err),
    };
    let dir = super::monitor::pids_cgroup_dir(&table).ok_or_else(|| std::io::Error::other("no pids cgroup for the container"))?;
    let expected = marker.as_bytes();
    for _ in 0..HOST_KILL_ROUNDS {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs"))?;
        let marked: Vec<_> = procs
            .lines()
            .filter_map(|line| line.trim().parse::<i32>().ok())
            .filter_map(|raw| Some((raw, open(raw)?)))
            .filter(|(raw, _)| std::fs::read(format!("/proc/{raw}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|entry| entry == expected)))
            .map(|(_, target)| target)
            .collect();
        if marked.is_empty() {
            return Ok(true);
        }
        for target in &marked {
            signal(target, Signal::STOP);
        }
        for target in &marked {
            signal(target, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}

/// Rounds of the host kill before it gives up.
const HOST_KILL_ROUNDS: u32 = 40;

/// Runs the kill script in the container; returns whether every marked process is gone.
async fn kill_inside<R: ContainerRuntime>(runtime: &R, container_id: &str, marker: &str) -> bool {
    let request = ExecRequest {
        cmd: vec!["sh".into(), "-c".into(), KILL_SCRIPT.into(), "cchub-kill".into(), marker.into()],
        user: Some(format!("{CONTAINER_UID}:{CONTAINER_GID}")),
        ..ExecRequest::default()
    };
    let session = match runtime.exec(container_id, request).await {
        Ok(session) => session,
        Err(err) => {
            warn!(container = container_id, marker, error = %err, "cannot start the kill command");
            return false;
        }
    };
    let mut output = session.output;
    let drained = tokio::time::timeout(Duration::from_secs(5), async { while output.next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(container = container_id, marker, "kill command did not finish within 5 s");
    }
    match runtime.exec_exit_code(&session.exec_id).await {
        Ok(Some(0)) => true,
        Ok(Some(code)) => {
            warn!(container = container_id, marker, exit_code = code, "some processes survived the kill command");
            false
        }
        _ => false,
    }
}
