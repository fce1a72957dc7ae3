use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// An audit event to record. `action` is a stable dotted name such as `auth.login`.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor_id: Option<i64>,
    pub actor: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: &'static str,
    pub ip: Option<String>,
    pub detail: Option<Value>,
}

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Unix milliseconds: rows at or after this time.
    pub since: Option<i64>,
    /// Unix milliseconds: rows before this time.
    pub until: Option<i64>,
    pub limit: i64,
}

/// Most rows one audit query returns.
pub const MAX_AUDIT_ROWS: i64 = 100_000;

impl Store {
    /// Deletes audit rows older than `before` (Unix milliseconds); returns how many.
    pub async fn purge_audit_before(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("purge_audit_before", e))?;
        Ok(done.rows_affected())
    }

    pub async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let detail = event.detail.as_ref().map(Value::to_string);
        sqlx::query(
            "INSERT INTO audit_events (at, actor_id, actor, action, target, outcome, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_ms())
        .bind(event.actor_id)
        .bind(event.actor.as_deref())
        .bind(event.action)
        .bind(event.target.as_deref())
        .bind(event.outcome)
        .bind(event.ip.as_deref())
        .bind(detail)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::query("record_audit", e))?;
        Ok(())
    }

    /// The newest events first, filtered by action and actor name.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor, action, target, outcome, ip, detail FROM audit_events \
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor = $2) \
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(filter.action.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.limit.clamp(1, MAX_AUDIT_ROWS))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::query("list_audit", e))?;
        rows.iter()
            .map(|row| {
                let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("audit row: {e}"));
                let detail: Option<String> = row.try_get("detail").map_err(corrupt)?;
                Ok(AuditRecord {
                    id: row.try_get("id").map_err(corrupt)?,
                    at: row.try_get("at").map_err(corrupt)?,
                    actor_id: row.try_get("actor_id").map_err(corrupt)?,
                    actor: row.try_get("actor").map_err(corrupt)?,
                    action: row.try_get("action").map_err(corrupt)?,
                    target: row.try_get("target").map_err(corrupt)?,
                    outcome: row.try_get("outcome").map_err(corrupt)?,
                    ip: row.try_get("ip").map_err(corrupt)?,
                    detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
            })
            .collect()
    }
}
