use std::fmt;

use serde::Serialize;

use crate::StoreError;

/// A user name: 1 to 32 characters from a-z, 0-9, '.', '_' and '-', starting with a
/// letter or digit. It appears in container labels and audit events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid_start = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || name.len() > 32 || !valid_start || !valid_chars {
            return Err(format!(
                "invalid user name {name:?}: use 1 to 32 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
            ));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment, as in `{:<32}`.
        f.pad(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// An account as stored; the password hash is read only through the login query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub role: Role,
    pub tier: String,
    pub disabled: bool,
    /// Access tokens carry this number; bumping it rejects every token issued before.
    #[serde(skip)]
    pub token_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        use sqlx::Row;
        let get_err = |e: sqlx::Error| StoreError::Corrupt(format!("users row: {e}"));
        let username: String = row.try_get("username").map_err(get_err)?;
        let role: String = row.try_get("role").map_err(get_err)?;
        Ok(User {
            id: row.try_get("id").map_err(get_err)?,
            username: Username::parse(&username).map_err(StoreError::Corrupt)?,
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
            tier: row.try_get("tier").map_err(get_err)?,
            disabled: row.try_get::<i64, _>("disabled").map_err(get_err)? != 0,
            token_version: row.try_get("token_version").map_err(get_err)?,
            created_at: row.try_get("created_at").map_err(get_err)?,
            updated_at: row.try_get("updated_at").map_err(get_err)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        for good in ["alice", "bob.smith", "dev_2", "7up", "a-b"] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Alice", "-x", ".x", "a b", "a/b", "张三", &"a".repeat(33), "a\0b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
