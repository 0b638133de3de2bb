//! Keva Sync's persistence: one `Store` over two real backends, SQLite (the embedded
//! default) and PostgreSQL (several instances on one database), with embedded
//! migrations for both and sealed (encrypted) HubSpot token columns.
//!
//! This crate owns SQL and nothing else: no HTTP, no HubSpot calls, no sync
//! decisions (those live in keva-core). It never sees plaintext API keys (only
//! their SHA-256 hashes) and never stores plaintext HubSpot tokens.
//!
//! Layout: `queries.rs` holds every operation once, instantiated for both backends
//! (`sqlite.rs`, `postgres.rs`) over the shared SQL in `sql.rs`; `codec.rs` encodes
//! ids and times per backend; `customers.rs` has the database-free customer rules;
//! `crypto.rs` the master key. The same contract tests (tests/contract.rs) run
//! against both backends.

mod codec;
mod connectors;
pub mod crypto;
mod customers;
mod error;
mod model;
pub mod postgres;
mod queries;
mod rows;
mod sql;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crypto::MasterKey;
pub use error::StoreError;
pub use keva_core::{Customer, CustomerPatch, KevaField};
pub use model::{
    ApiKey, AuthKind, Backend, Connector, ConnectorStatus, ConnectorTokens, NewConnector,
    NewCustomer, Ticket, Workspace,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The store, on whichever backend the database URL names. Cloning is cheap (the
/// pools are shared).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever backend this store is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Connects to `sqlite://path` (the file is created if missing) or
    /// `postgres://…` / `postgresql://…`. Does not migrate; call `migrate`.
    #[tracing::instrument(skip_all)]
    pub async fn connect(url: &str, key: MasterKey) -> Result<Store, StoreError> {
        match backend_of(url) {
            Some(Backend::Sqlite) => Ok(Store::Sqlite(SqliteStore::connect(url, key).await?)),
            Some(Backend::Postgres) => Ok(Store::Postgres(PgStore::connect(url, key).await?)),
            None => Err(StoreError::Database(sqlx::Error::Configuration(
                "database URL must start with sqlite:, postgres:// or postgresql://".into(),
            ))),
        }
    }

    /// Applies the embedded migrations that are not applied yet (idempotent).
    #[tracing::instrument(skip(self))]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self.migrate())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    #[tracing::instrument(skip(self))]
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(self.close())
    }

    // --- workspaces ---------------------------------------------------------

    /// `Conflict` if a workspace with this name exists.
    #[tracing::instrument(skip(self))]
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace, StoreError> {
        dispatch!(self.create_workspace(name))
    }

    #[tracing::instrument(skip(self))]
    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        dispatch!(self.workspace_by_name(name))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_workspace(&self, id: Uuid) -> Result<Option<Workspace>, StoreError> {
        dispatch!(self.get_workspace(id))
    }

    /// The workspace with this name, created if missing; the flag says whether it
    /// was created by this call. Safe under concurrent calls with the same name.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_workspace(&self, name: &str) -> Result<(Workspace, bool), StoreError> {
        dispatch!(self.ensure_workspace(name))
    }

    // --- api keys -----------------------------------------------------------

    /// Stores a key by its SHA-256 hash; `prefix` is for display only.
    /// `NotFound` if the workspace does not exist.
    #[tracing::instrument(skip(self, hash))]
    pub async fn insert_api_key(
        &self,
        workspace_id: Uuid,
        prefix: &str,
        hash: &[u8; 32],
    ) -> Result<ApiKey, StoreError> {
        dispatch!(self.insert_api_key(workspace_id, prefix, hash))
    }

    /// The key with this hash, revoked or not (the caller checks `revoked_at`).
    #[tracing::instrument(skip_all)]
    pub async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        dispatch!(self.api_key_by_hash(hash))
    }

    /// Sets `last_used_at` to now. `NotFound` for an unknown id.
    #[tracing::instrument(skip(self))]
    pub async fn touch_api_key(&self, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.touch_api_key(id))
    }

    /// `NotFound` unless the key belongs to `workspace_id`. Revoking a revoked key
    /// keeps its first revocation time.
    #[tracing::instrument(skip(self))]
    pub async fn revoke_api_key(&self, workspace_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.revoke_api_key(workspace_id, id))
    }

    #[tracing::instrument(skip(self))]
    pub async fn list_api_keys(&self, workspace_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self.list_api_keys(workspace_id))
    }

    // --- customers ----------------------------------------------------------

    /// `Conflict` if the workspace has a customer with this email (compared trimmed
    /// and case-insensitively); `NotFound` if the workspace does not exist.
    #[tracing::instrument(skip(self, c))]
    pub async fn insert_customer(
        &self,
        workspace_id: Uuid,
        c: NewCustomer,
    ) -> Result<Customer, StoreError> {
        dispatch!(self.insert_customer(workspace_id, c))
    }

    /// `None` also for another workspace's customer id.
    #[tracing::instrument(skip(self))]
    pub async fn get_customer(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.get_customer(workspace_id, id))
    }

    /// Matches trimmed and case-insensitively.
    #[tracing::instrument(skip(self, email))]
    pub async fn customer_by_email(
        &self,
        workspace_id: Uuid,
        email: &str,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.customer_by_email(workspace_id, email))
    }

    /// Applies a patch: `None` fields stay, `Some("")` clears a field (stored as
    /// NULL; an empty email is ignored, emails cannot be cleared). Only fields whose
    /// value changes get a new field time, and `updated_at` moves only if something
    /// changed. `Conflict` (and nothing changed) if the new email is taken.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_customer(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        patch: &CustomerPatch,
    ) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.update_customer(workspace_id, id, patch))
    }

    /// Up to `limit` customers in id (= creation) order, starting after `after`.
    #[tracing::instrument(skip(self))]
    pub async fn list_customers(
        &self,
        workspace_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        dispatch!(self.list_customers(workspace_id, after, limit))
    }

    #[tracing::instrument(skip(self))]
    pub async fn count_customers(&self, workspace_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(self.count_customers(workspace_id))
    }

    /// When each field last changed value (fields never set are absent).
    /// `NotFound` for an unknown customer.
    #[tracing::instrument(skip(self))]
    pub async fn customer_field_times(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<BTreeMap<KevaField, DateTime<Utc>>, StoreError> {
        dispatch!(self.customer_field_times(workspace_id, id))
    }

    // --- tickets ------------------------------------------------------------

    /// In one transaction: finds the customer by email or creates it (with `name`),
    /// then the ticket. Concurrent calls with the same new email create exactly one
    /// customer; the flag says whether this call created it.
    #[tracing::instrument(skip(self, email, name, subject))]
    pub async fn create_ticket(
        &self,
        workspace_id: Uuid,
        email: &str,
        name: Option<&str>,
        subject: &str,
    ) -> Result<(Ticket, Customer, bool), StoreError> {
        dispatch!(self.create_ticket(workspace_id, email, name, subject))
    }

    // --- hubspot connectors -------------------------------------------------

    /// Stores a connector with status `connected`; its tokens are sealed with the
    /// master key. `Conflict` if the portal is already connected to the workspace.
    #[tracing::instrument(skip(self, c), fields(workspace_id = %c.workspace_id, portal_id = c.portal_id))]
    pub async fn insert_connector(&self, c: NewConnector) -> Result<Connector, StoreError> {
        dispatch!(self.insert_connector(c))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_connector(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Connector>, StoreError> {
        dispatch!(self.get_connector(workspace_id, id))
    }

    #[tracing::instrument(skip(self))]
    pub async fn list_connectors(&self, workspace_id: Uuid) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.list_connectors(workspace_id))
    }

    /// The decrypted tokens. `NotFound` unless the connector is in `workspace_id`;
    /// `Crypto` if they cannot be opened (e.g. another master key).
    #[tracing::instrument(skip(self))]
    pub async fn connector_tokens(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<ConnectorTokens, StoreError> {
        dispatch!(self.connector_tokens(workspace_id, id))
    }

    /// Replaces the tokens (after a refresh). `NotFound` for an unknown id.
    #[tracing::instrument(skip(self, tokens))]
    pub async fn update_connector_tokens(
        &self,
        id: Uuid,
        tokens: &ConnectorTokens,
    ) -> Result<(), StoreError> {
        dispatch!(self.update_connector_tokens(id, tokens))
    }

    #[tracing::instrument(skip(self))]
    pub async fn set_connector_status(
        &self,
        id: Uuid,
        status: ConnectorStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self.set_connector_status(id, status, reason))
    }

    /// Sets `last_sync_at` to now.
    #[tracing::instrument(skip(self))]
    pub async fn touch_connector_sync(&self, id: Uuid) -> Result<(), StoreError> {
        dispatch!(self.touch_connector_sync(id))
    }
}

/// Which backend a database URL names, if any.
pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_folders_are_in_step() {
        let versions = |m: &sqlx::migrate::Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        let sqlite = versions(&sqlite::MIGRATOR);
        let postgres = versions(&postgres::MIGRATOR);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(backend_of("sqlite://keva-sync.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite:data/k.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://u@h/db"), None);
    }
}
