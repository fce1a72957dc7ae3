//! Ending an agent run or a terminal: every process that inherited the session's marker
//! variable is stopped and then killed, including processes that left the process tree.

use std::time::Duration;

use cchub_policy::{CONTAINER_GID, CONTAINER_UID};
use cchub_runtime::{ContainerRuntime, ExecRequest};
use futures_util::StreamExt;
use tracing::warn;

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
/// (`NAME=value`, set on the session's exec); waits at most a few seconds.
pub async fn kill_marked<R: ContainerRuntime>(runtime: &R, container_id: &str, marker: &str) {
    let request = ExecRequest {
        cmd: vec!["sh".into(), "-c".into(), KILL_SCRIPT.into(), "cchub-kill".into(), marker.into()],
        user: Some(format!("{CONTAINER_UID}:{CONTAINER_GID}")),
        ..ExecRequest::default()
    };
    let session = match runtime.exec(container_id, request).await {
        Ok(session) => session,
        Err(err) => {
            warn!(container = container_id, marker, error = %err, "cannot start the kill command");
            return;
        }
    };
    let mut output = session.output;
    let drained = tokio::time::timeout(Duration::from_secs(5), async { while output.next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(container = container_id, marker, "kill command did not finish within 5 s");
    }
    if let Ok(Some(code)) = runtime.exec_exit_code(&session.exec_id).await {
        if code != 0 {
            warn!(container = container_id, marker, exit_code = code, "some processes survived the kill command");
        }
    }
}
