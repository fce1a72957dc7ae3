use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::forward::handle;
use crate::{GatewayError, Inner, SocketOwner};

/// A listening socket of one user; dropping it stops the listener and removes the file.
pub(crate) struct Listener {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Listener {
    pub(crate) fn bind(inner: Arc<Inner>, user_id: i64, path: &Path, owner: Option<SocketOwner>) -> Result<Self, GatewayError> {
        let socket_error = |source| GatewayError::Socket {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(socket_error)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(socket_error)?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path).map_err(socket_error)?,
            Ok(_) => {
                return Err(socket_error(std::io::Error::other("a file that is not a socket is in the way")));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(socket_error(err)),
        }

        let listener = UnixListener::bind(path).map_err(socket_error)?;
        // Only the container's user (and the hub) may connect.
        if let Some(owner) = owner {
            std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid)).map_err(socket_error)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(socket_error)?;
        } else {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(socket_error)?;
        }

        let task = tokio::spawn(accept_loop(inner, user_id, listener));
        Ok(Self {
            path: path.to_path_buf(),
            task,
        })
    }

    pub(crate) fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(inner: Arc<Inner>, user_id: i64, listener: UnixListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                warn!(user_id, error = %err, "gateway accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(inner.clone(), user_id, request));
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                // A client may shut down its write side while it waits for the response.
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                debug!(user_id, error = %err, "gateway connection ended with an error");
            }
        });
    }
}
