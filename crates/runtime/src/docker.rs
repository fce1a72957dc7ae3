use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use cchub_policy::{ContainerSpec, LABEL_INSTANCE, LABEL_MANAGED};
use futures_util::StreamExt;

use crate::create::create_body;
use crate::{ContainerInfo, ContainerRuntime, ExecChunk, ExecRequest, ExecSession, RuntimeError};

/// Seconds an engine call may take before it fails; image builds use their own stream.
const ENGINE_TIMEOUT_SECS: u64 = 120;

/// [`ContainerRuntime`] on a Docker Engine reached through its Unix socket.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    socket: std::path::PathBuf,
}

fn is_status(err: &BollardError, status: u16) -> bool {
    matches!(err, BollardError::DockerResponseServerError { status_code, .. } if *status_code == status)
}

impl DockerRuntime {
    /// Connects to the engine at `socket` and agrees on an API version both sides speak
    /// (Debian's engine 20.10 speaks 1.41; bollard defaults to a newer one).
    pub async fn connect(socket: &Path) -> Result<Self, RuntimeError> {
        let socket_text = socket.display().to_string();
        let connect_error = |source| RuntimeError::Connect {
            socket: socket_text.clone(),
            source,
        };
        let docker = Docker::connect_with_unix(&socket_text, ENGINE_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            .map_err(connect_error)?
            .negotiate_version()
            .await
            .map_err(connect_error)?;
        docker.ping().await.map_err(connect_error)?;
        Ok(Self {
            docker,
            socket: socket.to_path_buf(),
        })
    }

    /// Returns the bollard client, for the image builder and tests.
    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

impl DockerRuntime {
    async fn create_network(&self, network: &cchub_policy::InternalNetwork, instance: &str) -> Result<(), RuntimeError> {
        let request = bollard::models::NetworkCreateRequest {
            name: network.name.clone(),
            driver: Some("bridge".into()),
            internal: Some(true),
            ipam: Some(bollard::models::Ipam {
                config: Some(vec![bollard::models::IpamConfig {
                    subnet: Some(network.subnet.clone()),
                    gateway: Some(network.gateway.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(HashMap::from([
                (BRIDGE_NAME_OPTION.to_string(), network.bridge.clone()),
                ("com.docker.network.bridge.enable_icc".to_string(), "false".to_string()),
                ("com.docker.network.bridge.enable_ip_masquerade".to_string(), "false".to_string()),
            ])),
            labels: Some(HashMap::from([
                (LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_INSTANCE.to_string(), instance.to_string()),
            ])),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Another request created it meanwhile.
            Err(err) if is_status(&err, 409) => Ok(()),
            Err(err) if is_status(&err, 403) && err.to_string().contains("overlaps") => Err(RuntimeError::SubnetOverlap {
                network: network.name.clone(),
                subnet: network.subnet.clone(),
            }),
            Err(err) => Err(RuntimeError::engine("create network", &network.name, err)),
        }
    }
}

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// Returns the host interface of a bridge network: the name it was given, or the one
/// the engine derives from its id.
pub fn bridge_of(network: &bollard::models::NetworkInspect) -> String {
    let named = network.options.as_ref().and_then(|o| o.get(BRIDGE_NAME_OPTION)).cloned();
    named.unwrap_or_else(|| format!("br-{}", network.id.as_deref().unwrap_or_default().chars().take(12).collect::<String>()))
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(response) => Ok(Some(ContainerInfo::from_inspect(response))),
            Err(err) if is_status(&err, 404) => Ok(None),
            Err(err) => Err(RuntimeError::engine("inspect", name, err)),
        }
    }

    async fn list_managed(&self, instance: &str) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let labels = vec![format!("{LABEL_MANAGED}=true"), format!("{LABEL_INSTANCE}={instance}")];
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| RuntimeError::engine("list", "managed containers", e))?;
        Ok(summaries.into_iter().map(ContainerInfo::from_summary).collect())
    }

    async fn ensure_network(&self, network: &cchub_policy::InternalNetwork, instance: &str) -> Result<(), RuntimeError> {
        let existing = match self.docker.inspect_network(&network.name, None).await {
            Ok(existing) => Some(existing),
            Err(err) if is_status(&err, 404) => None,
            Err(err) => return Err(RuntimeError::engine("inspect network", &network.name, err)),
        };
        let bridge = match existing {
            Some(existing) => bridge_of(&existing),
            None => {
                self.create_network(network, instance).await?;
                network.bridge.clone()
            }
        };
        crate::firewall::isolate_bridge(&bridge).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        let existing = match self.docker.inspect_network(name, None).await {
            Ok(existing) => existing,
            Err(err) if is_status(&err, 404) => return Ok(()),
            Err(err) => return Err(RuntimeError::engine("inspect network", name, err)),
        };
        let managed = existing.labels.as_ref().and_then(|l| l.get(LABEL_MANAGED)).is_some_and(|v| v == "true");
        if !managed {
            return Ok(());
        }
        match self.docker.remove_network(name).await {
            Ok(()) => {}
            Err(err) if is_status(&err, 404) => {}
            Err(err) => return Err(RuntimeError::engine("remove network", name, err)),
        }
        crate::firewall::release_bridge(&bridge_of(&existing)).await
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(err) if is_status(&err, 404) => Ok(None),
            Err(err) => Err(RuntimeError::engine("inspect image", image, err)),
        }
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let options = CreateContainerOptionsBuilder::default().name(&spec.name).build();
        match self.docker.create_container(Some(options), create_body(spec)).await {
            Ok(response) => Ok(response.id),
            Err(err) if is_status(&err, 409) => Err(RuntimeError::NameConflict { name: spec.name.clone() }),
            Err(err) if is_status(&err, 404) => Err(RuntimeError::ImageMissing { image: spec.image.clone() }),
            Err(err) => Err(RuntimeError::engine("create", &spec.name, err)),
        }
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        match self.docker.start_container(id, None).await {
            // 304: already running, which is what the caller wants.
            Ok(()) => Ok(()),
            Err(err) if is_status(&err, 304) => Ok(()),
            Err(err) => Err(RuntimeError::engine("start", id, err)),
        }
    }

    async fn unpause(&self, id: &str) -> Result<(), RuntimeError> {
        self.docker.unpause_container(id).await.map_err(|e| RuntimeError::engine("unpause", id, e))
    }

    async fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.docker.pause_container(id).await.map_err(|e| RuntimeError::engine("pause", id, e))
    }

    async fn update_limits(&self, id: &str, limits: &cchub_policy::ResourceLimits) -> Result<(), RuntimeError> {
        // The engine checks memory against memory_swap, so both are always sent together.
        let body = bollard::models::ContainerUpdateBody {
            memory: Some(limits.memory),
            memory_swap: Some(limits.memory_swap),
            memory_reservation: Some(limits.memory_reservation),
            cpu_quota: Some(limits.cpu_quota),
            cpu_period: Some(limits.cpu_period),
            cpu_shares: Some(limits.cpu_shares),
            pids_limit: Some(limits.pids_limit),
            ..Default::default()
        };
        self.docker.update_container(id, body).await.map_err(|e| RuntimeError::engine("update", id, e))
    }

    async fn stop(&self, id: &str, timeout_secs: i32) -> Result<(), RuntimeError> {
        let options = StopContainerOptionsBuilder::default().t(timeout_secs).build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if is_status(&err, 304) => Ok(()),
            Err(err) if is_status(&err, 404) => Err(RuntimeError::NotFound { container: id.to_string() }),
            Err(err) => Err(RuntimeError::engine("stop", id, err)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if is_status(&err, 404) => Ok(()),
            Err(err) => Err(RuntimeError::engine("remove", id, err)),
        }
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecSession, RuntimeError> {
        let options = CreateExecOptions {
            cmd: Some(request.cmd),
            env: Some(request.env),
            tty: Some(request.tty),
            attach_stdin: Some(request.attach_stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            working_dir: request.working_dir,
            user: request.user,
            ..Default::default()
        };
        let created = self.docker.create_exec(id, options).await.map_err(|e| match e {
            err if is_status(&err, 404) => RuntimeError::NotFound { container: id.to_string() },
            err => RuntimeError::engine("exec", id, err),
        })?;
        let start = StartExecOptions {
            detach: false,
            tty: request.tty,
            output_capacity: Some(64 * 1024),
        };
        let started = self
            .docker
            .start_exec(&created.id, Some(start))
            .await
            .map_err(|e| RuntimeError::engine("start exec", id, e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(RuntimeError::Build(format!("exec {} started detached", created.id)));
        };
        let exec_id = created.id.clone();
        let output = output.map(move |item| match item {
            Ok(LogOutput::StdErr { message }) => Ok(ExecChunk::Stderr(message)),
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message }) => {
                Ok(ExecChunk::Stdout(message))
            }
            Err(err) => Err(RuntimeError::engine("read exec output", exec_id.clone(), err)),
        });
        Ok(ExecSession {
            exec_id: created.id,
            output: Box::pin(output),
            input,
        })
    }

    async fn exec_tty(&self, id: &str, request: ExecRequest) -> Result<crate::TtySession, RuntimeError> {
        let options = CreateExecOptions {
            cmd: Some(request.cmd),
            env: Some(request.env),
            tty: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            working_dir: request.working_dir,
            user: request.user,
            ..Default::default()
        };
        let created = self.docker.create_exec(id, options).await.map_err(|e| match e {
            err if is_status(&err, 404) => RuntimeError::NotFound { container: id.to_string() },
            err => RuntimeError::engine("exec", id, err),
        })?;
        let version = self.docker.client_version().to_string();
        crate::tty::start_attached(&self.socket, &version, &created.id).await
    }

    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError> {
        let options = bollard::exec::ResizeExecOptions { height: rows, width: cols };
        self.docker
            .resize_exec(exec_id, options)
            .await
            .map_err(|e| RuntimeError::engine("resize exec", exec_id, e))
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError> {
        let inspect = self
            .docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| RuntimeError::engine("inspect exec", exec_id, e))?;
        if inspect.running.unwrap_or(false) {
            return Ok(None);
        }
        Ok(inspect.exit_code)
    }
}
