//! The store's one error type, and the mapping of unique-constraint violations to
//! `Conflict` so callers can answer 409 without inspecting database error codes.

/// Everything a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the message is safe to show to API clients.
    #[error("{0}")]
    Conflict(String),
    /// The caller's lease (a job's or a batch run's fencing token) is no longer
    /// current: another worker took over, so nothing was written.
    #[error("the lease was lost; another worker owns the work now")]
    LeaseLost,
    #[error("crypto: {0}")]
    Crypto(String),
    /// `set_connector_status` was asked for a status that only follows from other
    /// columns (`disconnected` is derived from `disconnected_at`, and the table's
    /// CHECK refuses it as a stored status); nothing was written.
    #[error("a connector's status cannot be set to `{}` directly: use disconnect_connector", .0.as_str())]
    StatusNotSettable(crate::ConnectorStatus),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Turns a unique violation into `Conflict(message())`, a foreign-key violation into
/// `NotFound`, anything else into `Database`.
pub(crate) fn conflict_or_db(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match err.as_database_error() {
        Some(d) if d.is_unique_violation() => StoreError::Conflict(message()),
        // Inserts reference their workspace; a missing one is reported like any
        // other unknown id.
        Some(d) if d.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Database(err),
    }
}

/// Whether `err` is a unique-constraint violation (the caller has a fallback).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Rows whose decoding cannot fail go through the same `DecodeRows` as the others.
impl From<std::convert::Infallible> for StoreError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
