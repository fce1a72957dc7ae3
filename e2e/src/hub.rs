use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use cchub_config::Config;
use cchub_runtime::{ContainerRuntime, DockerRuntime, ExecChunk, ExecRequest};
use cchub_server::App;
use cchub_store::{NewUser, Role, Username};
use cchub_testkit::mock_model::MockModel;
use futures_util::StreamExt;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The organisation key the tests give the hub; the mock model accepts only this key.
pub const TEST_KEY: &str = "sk-ant-e2e-organisation-key-4f1c2a9b7d";
pub const ADMIN_PASSWORD: &str = "admin-password-e2e";

#[derive(Default)]
pub struct HubOptions {
    /// Upstream URL; a fresh mock model when `None`.
    pub upstream: Option<String>,
    /// Reuse a data directory and instance (for restart tests).
    pub reuse: Option<(PathBuf, String)>,
    /// Extra configuration YAML.
    pub config_yaml: Option<String>,
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub name: String,
    pub access: String,
    pub refresh: String,
}

pub struct TestHub {
    pub url: String,
    pub ws_url: String,
    pub data_dir: PathBuf,
    pub instance: String,
    pub mock: Option<Arc<MockModel>>,
    pub admin: Session,
    pub client: reqwest::Client,
    pub runtime: Arc<DockerRuntime>,
    pub state: cchub_server::AppState,
    _tempdir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    remove_containers_on_drop: bool,
}

fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("CCHUB_TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// Returns whether test hubs use PostgreSQL. With `CCHUB_TEST_BACKEND=postgres` each gets a
/// new database of the server in `CCHUB_TEST_POSTGRES_URL`, otherwise SQLite in its data
/// directory.
pub fn postgres_backend() -> bool {
    std::env::var("CCHUB_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// Returns the database URL for a test hub on PostgreSQL, named after the instance, or
/// `None` on SQLite.
async fn test_database_url(instance: &str, reuse: bool) -> anyhow::Result<Option<String>> {
    if !postgres_backend() {
        return Ok(None);
    }
    let server = std::env::var(cchub_store::scratch::POSTGRES_TEST_URL_VAR)
        .context("CCHUB_TEST_BACKEND=postgres needs CCHUB_TEST_POSTGRES_URL, the URL of a role that may create databases")?;
    let suffix = instance.to_ascii_lowercase();
    if reuse {
        let url = cchub_store::scratch::database_url(&server, &format!("cchub_test_{suffix}"));
        return Ok(Some(url));
    }
    Ok(Some(cchub_store::scratch::create_test_database(&server, &suffix).await?))
}

impl TestHub {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(HubOptions::default()).await
    }

    pub async fn start_with(options: HubOptions) -> anyhow::Result<Self> {
        init_logging();
        let (tempdir, data_dir, instance) = match options.reuse {
            Some((dir, instance)) => (None, dir, instance),
            None => {
                let tempdir = tempfile::Builder::new().prefix("cchub-e2e-").tempdir()?;
                let dir = tempdir.path().join("workspace");
                let instance = format!("e2e{:08x}", rand::thread_rng().gen::<u32>());
                (Some(tempdir), dir, instance)
            }
        };
        let mock = match &options.upstream {
            Some(_) => None,
            None => Some(Arc::new(MockModel::start("127.0.0.1:0".parse()?, Some(TEST_KEY.into())).await?)),
        };
        let upstream = options.upstream.clone().unwrap_or_else(|| mock.as_ref().expect("mock").url());

        // A restarted hub (no new tempdir) finds the database of its first start.
        let database_url = test_database_url(&instance, tempdir.is_none()).await?;

        let config_path = data_dir.with_file_name(format!("{instance}.yml"));
        std::fs::create_dir_all(data_dir.parent().expect("data dir has a parent"))?;
        std::fs::write(&config_path, options.config_yaml.unwrap_or_default())?;
        let env = {
            let data_dir = data_dir.display().to_string();
            let instance = instance.clone();
            move |name: &str| match name {
                "CCHUB_DATA_DIR" => Some(data_dir.clone()),
                "CCHUB_INSTANCE" => Some(instance.clone()),
                "CCHUB_MODEL_UPSTREAM" => Some(upstream.clone()),
                "ANTHROPIC_API_KEY" => Some(TEST_KEY.to_string()),
                "CCHUB_LOG_FORMAT" => Some("text".to_string()),
                "CCHUB_DATABASE_URL" => database_url.clone(),
                _ => None,
            }
        };
        let config = Config::load(Some(&config_path), &env).context("test configuration")?;
        let app = App::build(config).await.context("hub start")?;

        let store = &app.state().store;
        if store.user_by_name("admin").await?.is_none() {
            let hash = cchub_server::auth::password::hash(ADMIN_PASSWORD.into()).await.map_err(anyhow::Error::msg)?;
            store
                .create_user(&NewUser {
                    username: Username::parse("admin").map_err(anyhow::Error::msg)?,
                    password_hash: hash,
                    role: Role::Admin,
                    tier: "free".into(),
                })
                .await?;
        }
        let runtime = app.state().workspaces.runtime().clone();
        let state = app.state().clone();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = app.serve(listener, async { let _ = signal.await; }).await;
        });

        let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let mut hub = Self {
            url: format!("http://{addr}"),
            ws_url: format!("ws://{addr}"),
            data_dir,
            instance,
            mock,
            admin: Session { user_id: 0, name: "admin".into(), access: String::new(), refresh: String::new() },
            client,
            runtime,
            state,
            _tempdir: tempdir,
            shutdown: Some(shutdown),
            server: Some(server),
            remove_containers_on_drop: true,
        };
        hub.admin = hub.login("admin", ADMIN_PASSWORD).await?;
        Ok(hub)
    }

    /// Stops the server but keeps its containers and data, for a restart in the same test.
    pub async fn stop_keeping_state(mut self) -> (PathBuf, String, Option<tempfile::TempDir>) {
        self.remove_containers_on_drop = false;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        (self.data_dir.clone(), self.instance.clone(), self._tempdir.take())
    }

    pub fn container_name(&self, user_id: i64) -> String {
        cchub_policy::container_name(&self.instance, user_id)
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).with_context(|| format!("non-JSON body for {path}: {text}"))? };
        Ok((status, value))
    }

    /// Sends raw bytes with a content type; for malformed-input tests.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> anyhow::Result<(StatusCode, String)> {
        let mut request = self.client.request(method, format!("{}{path}", self.url)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        Ok((response.status(), response.text().await?))
    }

    pub async fn login(&self, name: &str, password: &str) -> anyhow::Result<Session> {
        let (status, body) = self.request(Method::POST, "/api/auth/login", None, Some(json!({"username": name, "password": password}))).await?;
        if status != StatusCode::OK {
            bail!("login of {name} failed: {status} {body}");
        }
        Ok(Session {
            user_id: body["user"]["id"].as_i64().unwrap_or_default(),
            name: name.into(),
            access: body["access_token"].as_str().unwrap_or_default().into(),
            refresh: body["refresh_token"].as_str().unwrap_or_default().into(),
        })
    }

    /// Creates a user through the admin API and signs it in.
    pub async fn create_user(&self, name: &str) -> anyhow::Result<Session> {
        let password = format!("{name}-password-1");
        let (status, body) = self
            .request(Method::POST, "/api/admin/users", Some(&self.admin.access), Some(json!({"username": name, "password": password})))
            .await?;
        if status != StatusCode::CREATED {
            bail!("creating {name} failed: {status} {body}");
        }
        self.login(name, &password).await
    }

    /// Starts the user's workspace and returns the container id.
    pub async fn start_workspace(&self, session: &Session) -> anyhow::Result<String> {
        let (status, body) = self.request(Method::POST, "/api/workspace/start", Some(&session.access), None).await?;
        if status != StatusCode::OK {
            bail!("workspace start failed: {status} {body}");
        }
        Ok(body["container"]["id"].as_str().unwrap_or_default().to_string())
    }

    /// Stops the user's workspace through the API.
    pub async fn stop_workspace(&self, session: &Session) -> anyhow::Result<()> {
        let (status, body) = self.request(Method::POST, "/api/workspace/stop", Some(&session.access), None).await?;
        if status != StatusCode::OK {
            bail!("workspace stop failed: {status} {body}");
        }
        Ok(())
    }

    /// Runs a shell command in the user's container as the container's user.
    pub async fn exec(&self, session: &Session, script: &str) -> anyhow::Result<(i64, String)> {
        exec_in_container(&self.runtime, &self.container_name(session.user_id), script).await
    }

    /// Runs a bash script (for bash features such as /dev/tcp) in the user's container.
    pub async fn exec_bash(&self, session: &Session, script: &str) -> anyhow::Result<(i64, String)> {
        let path = format!("/tmp/cchub-test-{:08x}.sh", rand::thread_rng().gen::<u32>());
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, script);
        let wrapper = format!("echo {encoded} | base64 -d > {path} && bash {path}; code=$?; rm -f {path}; exit $code");
        self.exec(session, &wrapper).await
    }

    /// Returns the container spec the hub's policy decides for a user now.
    pub async fn workspace_spec(&self, session: &Session) -> anyhow::Result<cchub_policy::ContainerSpec> {
        let user = self.state.store.user_by_id(session.user_id).await?.context("user not found")?;
        self.state.workspaces.spec_for(&user).map_err(|e| anyhow::anyhow!("{}", e.message))
    }

    /// Ids of every container of this hub instance.
    pub async fn container_ids(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.runtime.list_managed(&self.instance).await?.into_iter().map(|c| c.id).collect())
    }
}

/// Runs `sh -c script` in a container as uid 1000; returns the exit code and stdout+stderr.
pub async fn exec_in_container(runtime: &DockerRuntime, container: &str, script: &str) -> anyhow::Result<(i64, String)> {
    let session = runtime
        .exec(
            container,
            ExecRequest {
                cmd: vec!["sh".into(), "-c".into(), script.into()],
                user: Some("1000:1000".into()),
                ..ExecRequest::default()
            },
        )
        .await?;
    let mut output = String::new();
    let mut stream = session.output;
    let collected = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(chunk) = stream.next().await {
            match chunk? {
                ExecChunk::Stdout(bytes) | ExecChunk::Stderr(bytes) => output.push_str(&String::from_utf8_lossy(&bytes)),
            }
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    collected.context("exec timed out")??;
    for _ in 0..40 {
        if let Some(code) = runtime.exec_exit_code(&session.exec_id).await? {
            return Ok((code, output));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("exec in {container} did not report an exit code")
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if self.remove_containers_on_drop {
            remove_instance_containers(&self.instance);
            unmount_disk_images(&self.data_dir);
        }
    }
}

/// Removes the containers and networks of a test instance with the docker CLI; Drop
/// cannot await.
fn remove_instance_containers(instance: &str) {
    let listed = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=cchub.instance={instance}")])
        .output();
    if let Ok(listed) = listed {
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout).split_whitespace().map(str::to_string).collect();
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker").arg("rm").arg("-f").args(&ids).output();
        }
    }
    let networks = std::process::Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &format!("label=cchub.instance={instance}")])
        .output();
    if let Ok(networks) = networks {
        let ids: Vec<String> = String::from_utf8_lossy(&networks.stdout).split_whitespace().map(str::to_string).collect();
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker").args(["network", "rm"]).args(&ids).output();
        }
    }
    // The firewall rules of the instance's bridges, which the hub would remove with them.
    let prefix = cchub_policy::bridge_prefix(instance);
    if let Ok(rules) = std::process::Command::new("iptables").args(["-w", "-S", "INPUT"]).output() {
        for rule in String::from_utf8_lossy(&rules.stdout).lines() {
            let words: Vec<&str> = rule.split_whitespace().collect();
            if let ["-A", "INPUT", "-i", bridge, "-j", "DROP"] = words.as_slice() {
                if bridge.starts_with(&prefix) {
                    let _ = std::process::Command::new("iptables").args(["-w", "-D", "INPUT", "-i", bridge, "-j", "DROP"]).output();
                }
            }
        }
    }
}

/// Unmounts the per-user disk images under a test's data directory, so that its
/// temporary folder can be removed and the loop devices are freed.
fn unmount_disk_images(data_dir: &std::path::Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
    let prefix = data_dir.to_string_lossy().to_string();
    let points: Vec<String> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    for point in points {
        let unmounted = std::process::Command::new("umount").arg(&point).output().map(|o| o.status.success()).unwrap_or(false);
        if !unmounted {
            let _ = std::process::Command::new("umount").arg("-l").arg(&point).output();
        }
    }
}
