use std::collections::HashMap;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum};
use cchub_policy::{ResourceLimits, LABEL_SPEC_HASH, LABEL_USER_ID};
use serde::Serialize;

/// The lifecycle state of a container as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Unknown => "unknown",
        }
    }
}

/// What the hub needs to know about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub state: ContainerState,
    pub image_id: String,
    pub labels: HashMap<String, String>,
    /// Set when the engine reports that the kernel killed the main process for memory.
    pub oom_killed: bool,
    /// The limits the engine applies now; `None` when listed rather than inspected.
    pub limits: Option<ResourceLimits>,
    /// The host pid of the container's first process while it runs; `None` when listed.
    pub pid: Option<i64>,
}

impl ContainerInfo {
    pub fn spec_hash(&self) -> Option<&str> {
        self.labels.get(LABEL_SPEC_HASH).map(String::as_str)
    }

    pub fn user_id(&self) -> Option<i64> {
        self.labels.get(LABEL_USER_ID).and_then(|v| v.parse().ok())
    }

    pub(crate) fn from_inspect(response: ContainerInspectResponse) -> Self {
        let state = response.state.as_ref();
        let status = state.and_then(|s| s.status);
        let limits = response.host_config.as_ref().map(|host| ResourceLimits {
            memory: host.memory.unwrap_or_default(),
            memory_swap: host.memory_swap.unwrap_or_default(),
            memory_reservation: host.memory_reservation.unwrap_or_default(),
            cpu_quota: host.cpu_quota.unwrap_or_default(),
            cpu_period: host.cpu_period.unwrap_or_default(),
            cpu_shares: host.cpu_shares.unwrap_or_default(),
            pids_limit: host.pids_limit.unwrap_or_default(),
        });
        ContainerInfo {
            limits,
            pid: state.and_then(|s| s.pid).filter(|pid| *pid > 0),
            id: response.id.unwrap_or_default(),
            name: response.name.unwrap_or_default().trim_start_matches('/').to_string(),
            state: match status {
                Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
                Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
                Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
                Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
                Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
                Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
                Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
                _ => ContainerState::Unknown,
            },
            oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
            image_id: response.image.unwrap_or_default(),
            labels: response.config.and_then(|c| c.labels).unwrap_or_default(),
        }
    }

    pub(crate) fn from_summary(summary: ContainerSummary) -> Self {
        ContainerInfo {
            id: summary.id.unwrap_or_default(),
            name: summary
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            state: match summary.state {
                Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
                Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
                Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
                Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
                Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
                Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
                Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
                _ => ContainerState::Unknown,
            },
            oom_killed: false,
            limits: None,
            pid: None,
            image_id: summary.image_id.unwrap_or_default(),
            labels: summary.labels.unwrap_or_default(),
        }
    }
}
