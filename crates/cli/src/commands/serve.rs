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
    info!(
        config = ?config.source,
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
