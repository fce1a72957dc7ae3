use sqlx::Row;

use crate::{now_ms, Role, Store, StoreError, User, Username};

const USER_COLUMNS: &str = "id, username, role, tier, disabled, token_version, created_at, updated_at";

/// The fields of an account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
    pub tier: String,
}

impl Store {
    pub async fn create_user(&self, new: &NewUser) -> Result<User, StoreError> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, password_hash, role, tier, disabled, token_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 0, $5, $5) RETURNING {USER_COLUMNS}"
        ))
        .bind(new.username.as_str())
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(&new.tier)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert("create_user", format!("user {}", new.username), e))?;
        User::from_row(&row)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("user_by_id", e))?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("user_by_name", e))?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// The account and its password hash, for checking a login.
    pub async fn credentials(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("credentials", e))?;
        match row {
            Some(row) => {
                let hash: String = row
                    .try_get("password_hash")
                    .map_err(|e| StoreError::Corrupt(format!("password_hash: {e}")))?;
                Ok(Some((User::from_row(&row)?, hash)))
            }
            None => Ok(None),
        }
    }

    /// The password hash of an account by id, for a password change.
    pub async fn password_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::query("password_hash", e))?;
        row.map(|r| r.try_get("password_hash").map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::query("list_users", e))?;
        rows.iter().map(User::from_row).collect()
    }

    pub async fn count_active_admins(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::query("count_active_admins", e))?;
        row.try_get("n").map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub async fn set_tier(&self, id: i64, tier: &str) -> Result<User, StoreError> {
        self.update_user(id, "tier = $2", tier.to_string(), "set_tier").await
    }

    /// Disables or enables an account; disabling also invalidates its access tokens.
    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<User, StoreError> {
        let sql = "disabled = $2, token_version = token_version + 1";
        self.update_user(id, sql, i64::from(disabled), "set_disabled").await
    }

    /// Replaces the password hash and invalidates every access token issued before.
    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<User, StoreError> {
        let sql = "password_hash = $2, token_version = token_version + 1";
        self.update_user(id, sql, hash.to_string(), "set_password_hash").await
    }

    /// Invalidates every access token issued so far.
    pub async fn bump_token_version(&self, id: i64) -> Result<User, StoreError> {
        self.update_user(id, "token_version = token_version + $2", 1_i64, "bump_token_version").await
    }

    pub async fn set_role(&self, id: i64, role: Role) -> Result<User, StoreError> {
        let sql = "role = $2, token_version = token_version + 1";
        self.update_user(id, sql, role.as_str().to_string(), "set_role").await
    }

    async fn update_user<T>(&self, id: i64, assignments: &str, value: T, operation: &'static str) -> Result<User, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let row = sqlx::query(&format!(
            "UPDATE users SET {assignments}, updated_at = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(id)
        .bind(value)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::query(operation, e))?;
        match row {
            Some(row) => User::from_row(&row),
            None => Err(StoreError::NotFound {
                what: format!("user {id}"),
            }),
        }
    }
}
