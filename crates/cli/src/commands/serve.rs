use std::path::Path;

use anyhow::Context;
use cchub_server::App;
use tokio::net::TcpListener;
use tracing::info;

use super::load_config;

pub async fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    crate::logging::init(&config.logging);
    let listen = config.server.listen;
    let _lock = lock_data_dir(&config.containers.data_dir)?;
    let source = config.source.as_ref().map(|path| path.display().to_string()).unwrap_or_else(|| "none (defaults and environment)".into());
    info!(
        config = %source,
        data_dir = %config.containers.data_dir.display(),
        upstream = %config.model.upstream,
        image = %config.containers.image,
        "starting cchub"
    );

    let app = App::build(config).await.context("cchub could not start")?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    app.serve(listener, shutdown_signal()).await.context("server failed")?;
    info!("cchub stopped");
    Ok(())
}

/// Takes an exclusive lock on `<data_dir>/.serve.lock` for the life of the process. Two
/// hubs on one data directory would mount the same disk images and fight over the same
/// containers, so the second one stops here with the first one's process id.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};

    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join(".serve.lock");
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    if let Err(err) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        anyhow::bail!(
            "another cchub serve (pid {}) already uses the data directory {} ({err}); stop it first, or give this one another data directory",
            holder.trim(),
            data_dir.display()
        );
    }
    file.set_len(0)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    info!("shutdown requested");
}
