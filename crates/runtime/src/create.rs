//! Turns a policy [`ContainerSpec`] into the engine's create request.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountBindOptions, MountBindOptionsPropagationEnum,
    MountType, RestartPolicy, RestartPolicyNameEnum,
};
use cchub_policy::ContainerSpec;

pub(crate) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mounts = spec
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(m.target.clone()),
            source: Some(m.source.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(m.read_only),
            bind_options: Some(MountBindOptions {
                propagation: Some(MountBindOptionsPropagationEnum::RPRIVATE),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();

    let restart = match spec.restart_policy.as_str() {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        "no" => RestartPolicyNameEnum::NO,
        _ => RestartPolicyNameEnum::UNLESS_STOPPED,
    };

    let host_config = HostConfig {
        privileged: Some(spec.privileged),
        readonly_rootfs: Some(spec.read_only_root),
        init: Some(spec.init),
        cap_drop: Some(spec.cap_drop.clone()),
        cap_add: Some(Vec::new()),
        security_opt: Some(spec.security_opt()),
        network_mode: Some(spec.network_name.clone()),
        ipc_mode: Some(spec.ipc_mode.clone()),
        tmpfs: Some(spec.tmpfs.clone().into_iter().collect()),
        mounts: Some(mounts),
        memory: Some(spec.limits.memory),
        memory_swap: Some(spec.limits.memory_swap),
        memory_reservation: Some(spec.limits.memory_reservation),
        cpu_quota: Some(spec.limits.cpu_quota),
        cpu_period: Some(spec.limits.cpu_period),
        cpu_shares: Some(spec.limits.cpu_shares),
        pids_limit: Some(spec.limits.pids_limit),
        restart_policy: Some(RestartPolicy {
            name: Some(restart),
            maximum_retry_count: None,
        }),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_string()),
            config: Some(HashMap::from([
                ("max-size".to_string(), spec.log_max_size.to_lowercase()),
                ("max-file".to_string(), "1".to_string()),
            ])),
        }),
        ..Default::default()
    };

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        hostname: Some(spec.hostname.clone()),
        user: Some(spec.user.clone()),
        working_dir: Some(spec.working_dir.clone()),
        entrypoint: Some(spec.entrypoint.clone()),
        cmd: Some(Vec::new()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        host_config: Some(host_config),
        ..Default::default()
    }
}
