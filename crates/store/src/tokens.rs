use sqlx::Row;

use crate::{now_ms, Store, StoreError};

/// What happened when a refresh token was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid and is now used up; issue a new one in the same family.
    Rotated { user_id: i64, family: String },
    /// The token was already used: it may have been stolen, so its family is revoked.
    Reused { user_id: i64 },
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    pub async fn insert_refresh_token(&self, user_id: i64, token_hash: &str, family: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (user_id, token_hash, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(family)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert("insert_refresh_token", "refresh token".into(), e))?;
        Ok(())
    }

    /// Marks the token used if it is still valid, in one statement so that two requests
    /// racing with the same token cannot both succeed.
    pub async fn use_refresh_token(&self, token_hash: &str) -> Result<RefreshOutcome, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
             RETURNING user_id, family",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::query("use_refresh_token", e))?;
        if let Some(row) = row {
            let corrupt = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
            return Ok(RefreshOutcome::Rotated {
                user_id: row.try_get("user_id").map_err(corrupt)?,
                family: row.try_get("family").map_err(corrupt)?,
            });
        }

        let row = sqlx::query("SELECT user_id, family, used_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("use_refresh_token", e))?;
        let Some(row) = row else { return Ok(RefreshOutcome::Invalid) };
        let used_at: Option<i64> = row.try_get("used_at").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if used_at.is_none() {
            return Ok(RefreshOutcome::Invalid);
        }
        let family: String = row.try_get("family").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let user_id: i64 = row.try_get("user_id").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.revoke_family(&family).await?;
        Ok(RefreshOutcome::Reused { user_id })
    }

    /// Revokes every token of one login (logout, or reuse of a rotated token).
    pub async fn revoke_family(&self, family: &str) -> Result<u64, StoreError> {
        let result = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
            .bind(family)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("revoke_family", e))?;
        Ok(result.rows_affected())
    }

    /// The family of a token, if it is known and not revoked (for logout).
    pub async fn refresh_token_family(&self, token_hash: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT user_id, family FROM refresh_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("refresh_token_family", e))?;
        row.map(|r| {
            let corrupt = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
            Ok((r.try_get("user_id").map_err(corrupt)?, r.try_get("family").map_err(corrupt)?))
        })
        .transpose()
    }

    /// Revokes every refresh token of a user (password change, disable).
    pub async fn revoke_user_tokens(&self, user_id: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::query("revoke_user_tokens", e))?;
        Ok(result.rows_affected())
    }
}
