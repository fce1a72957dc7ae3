use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// The hub's record of a user's container, kept in step with the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRecord {
    pub user_id: i64,
    pub container_id: String,
    pub name: String,
    pub spec_hash: String,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<ContainerRecord, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("containers row: {e}"));
    Ok(ContainerRecord {
        user_id: row.try_get("user_id").map_err(corrupt)?,
        container_id: row.try_get("container_id").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        spec_hash: row.try_get("spec_hash").map_err(corrupt)?,
        state: row.try_get("state").map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
        updated_at: row.try_get("updated_at").map_err(corrupt)?,
    })
}

impl Store {
    /// Records (or replaces) the container of a user.
    pub async fn upsert_container(&self, user_id: i64, container_id: &str, name: &str, spec_hash: &str, state: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO containers (user_id, container_id, name, spec_hash, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (user_id) DO UPDATE SET container_id = excluded.container_id, name = excluded.name, \
             spec_hash = excluded.spec_hash, state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(container_id)
        .bind(name)
        .bind(spec_hash)
        .bind(state)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::query("upsert_container", e))?;
        Ok(())
    }

    pub async fn set_container_state(&self, user_id: i64, state: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE containers SET state = $2, updated_at = $3 WHERE user_id = $1")
            .bind(user_id)
            .bind(state)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("set_container_state", e))?;
        Ok(())
    }

    pub async fn container_for(&self, user_id: i64) -> Result<Option<ContainerRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM containers WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("container_for", e))?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_containers(&self) -> Result<Vec<ContainerRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM containers ORDER BY user_id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::query("list_containers", e))?;
        rows.iter().map(from_row).collect()
    }

    pub async fn delete_container(&self, user_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM containers WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("delete_container", e))?;
        Ok(())
    }
}
