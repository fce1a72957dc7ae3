use std::ops::Deref;
use std::sync::Arc;

use cchub_config::Config;
use cchub_store::{AuditEvent, Store};
use tracing::{info, warn};

use crate::agent::RunRegistry;
use crate::auth::AuthService;
use crate::workspace::WorkspaceService;

/// Everything a request handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub config: Arc<Config>,
    pub store: Store,
    pub auth: AuthService,
    pub workspaces: WorkspaceService,
    pub runs: RunRegistry,
    pub gateway: cchub_gateway::Gateway,
    /// Encrypts secrets kept in the database.
    pub secrets: crate::usage::SecretBox,
    /// Source of the organisation key in use; `None` when there is none.
    pub model_key_source: std::sync::Mutex<Option<crate::usage::KeySource>>,
}

impl AppState {
    pub fn new(inner: AppInner) -> Self {
        Self(Arc::new(inner))
    }

    /// Records an audit event; a failure to record is logged, never shown to the user.
    pub async fn audit(&self, event: AuditEvent) {
        info!(
            action = event.action,
            outcome = event.outcome,
            actor = event.actor.as_deref().unwrap_or("-"),
            target = event.target.as_deref().unwrap_or("-"),
            "audit"
        );
        if let Err(err) = self.store.record_audit(&event).await {
            warn!(action = event.action, error = %err, "failed to record audit event");
        }
    }
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
