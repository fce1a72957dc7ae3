use thiserror::Error;

use crate::Backend;

/// A failed store operation.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot connect to the {backend:?} database: {source}")]
    Connect {
        backend: Backend,
        source: sqlx::Error,
    },

    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),

    #[error("{what} already exists")]
    Conflict { what: String },

    #[error("{what} not found")]
    NotFound { what: String },

    #[error("database query {operation} failed: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },

    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn connect(backend: Backend, source: sqlx::Error) -> Self {
        Self::Connect { backend, source }
    }

    pub(crate) fn query(operation: &'static str, source: sqlx::Error) -> Self {
        Self::Query { operation, source }
    }

    /// Maps a unique-constraint violation to [`StoreError::Conflict`].
    pub(crate) fn from_insert(operation: &'static str, what: String, source: sqlx::Error) -> Self {
        let unique = source
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation());
        if unique {
            Self::Conflict { what }
        } else {
            Self::query(operation, source)
        }
    }
}
