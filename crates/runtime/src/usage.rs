//! A container's live resource use, from the engine's stats.

use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;
use serde::Serialize;

use crate::{DockerRuntime, RuntimeError};

/// CPU, memory and process use of a running container.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ContainerUsage {
    /// Cores used over the engine's last sampling second.
    pub cpu_cores: f64,
    /// Memory in use, without the reclaimable page cache.
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub pids: u64,
}

impl DockerRuntime {
    /// Reads one stats sample of container `id`; the engine takes about a second to
    /// measure CPU over.
    pub async fn usage(&self, id: &str) -> Result<ContainerUsage, RuntimeError> {
        let options = StatsOptions { stream: false, one_shot: false };
        let mut stream = self.client().stats(id, Some(options));
        let sample = stream
            .next()
            .await
            .ok_or_else(|| RuntimeError::NotFound { container: id.to_string() })?
            .map_err(|e| RuntimeError::engine("stats", id, e))?;
        let cpu = sample.cpu_stats.unwrap_or_default();
        let previous = sample.precpu_stats.unwrap_or_default();
        let used = cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0).saturating_sub(previous.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0));
        let system = cpu.system_cpu_usage.unwrap_or(0).saturating_sub(previous.system_cpu_usage.unwrap_or(0));
        let cores = f64::from(cpu.online_cpus.unwrap_or(1));
        let memory = sample.memory_stats.unwrap_or_default();
        // cgroup v1 reports the page cache as "cache", v2 as "inactive_file".
        let cache = memory.stats.as_ref().and_then(|s| s.get("cache").or_else(|| s.get("inactive_file")).copied()).unwrap_or(0);
        Ok(ContainerUsage {
            cpu_cores: if system > 0 { used as f64 / system as f64 * cores } else { 0.0 },
            memory_bytes: memory.usage.unwrap_or(0).saturating_sub(cache),
            memory_limit_bytes: memory.limit.unwrap_or(0),
            pids: sample.pids_stats.and_then(|p| p.current).unwrap_or(0),
        })
    }
}
