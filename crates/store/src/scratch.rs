//! Throw-away PostgreSQL databases for tests: the store's own and the end-to-end suite's.

use sqlx::{Connection, Executor};

use crate::{Backend, StoreError};

/// The environment variable with the URL of a PostgreSQL role that may create databases.
pub const POSTGRES_TEST_URL_VAR: &str = "CCHUB_TEST_POSTGRES_URL";

/// Creates an empty database named `cchub_test_<suffix>` on the server of `server_url`
/// and returns its URL. `suffix` must be lower-case letters, digits and underscores.
pub async fn create_test_database(server_url: &str, suffix: &str) -> Result<String, StoreError> {
    if suffix.is_empty() || !suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(StoreError::Corrupt(format!("test database suffix {suffix:?} must be lower-case letters, digits and underscores")));
    }
    let name = format!("cchub_test_{suffix}");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(server_url).await.map_err(|e| StoreError::connect(Backend::Postgres, e))?;
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .map_err(|e| StoreError::query("create_test_database", e))?;
    let _ = conn.close().await;
    Ok(database_url(server_url, &name))
}

/// Replaces the database name, the last path segment, of a PostgreSQL URL.
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(database_url("postgres://u:p@h:5/postgres", "x"), "postgres://u:p@h:5/x");
        assert_eq!(database_url("postgres://u:p@h:5", "x"), "postgres://u:p@h:5/x");
        assert_eq!(database_url("postgres://h/db?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
