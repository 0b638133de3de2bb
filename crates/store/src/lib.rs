//! Keva Sync's persistence: one `Store` over two real backends, SQLite (the embedded
//! default) and PostgreSQL (several instances on one database), with embedded
//! migrations for both and sealed (encrypted) HubSpot token columns.
//!
//! This crate owns SQL and nothing else: no HTTP, no HubSpot calls, no sync
//! decisions (those live in keva-core). It never sees plaintext API keys (only
//! their SHA-256 hashes) and never stores plaintext HubSpot tokens.
//!
//! Layout: one module per table or aggregate, each holding its column list, its
//! SQL, its row types and their decoding, its public records, its slice of the
//! per-backend query macro (`queries!`) and its slice of the `Store` facade:
//! `workspaces`, `api_keys`, `customers` (with the database-free rules in
//! `customers/rules.rs`), `tickets`, `connectors` (records, settings, sealed
//! tokens), `webhook_settings`, `mappings` (and the property cache), `links` (and
//! the one-transaction sync commit), `history`, `webhooks` (intake), `batches`,
//! `queue` (the durable job queue and its semantics), `portal_leases`, `retention`
//! (pruning what only grows) and `rotation` (re-sealing secrets under a new master key);
//! `users` and `sessions` are the admin console's people and sign-ins.
//! `db.rs` has the shared decode and fetch helpers and instantiates every
//! `queries!` for a backend; `sqlite.rs` and `postgres.rs` are the backends (pools,
//! migrations and the few statements whose dialects differ); `codec.rs` encodes ids
//! and times per backend; `sealing.rs` holds the master key and seals secrets. The
//! same contract tests (tests/contract.rs, tests/contract_sync.rs) run against both
//! backends.

/// Calls the same method on whichever backend this store is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            $crate::Store::Sqlite(s) => s.$method($($arg),*).await,
            $crate::Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

mod api_keys;
mod batches;
mod codec;
mod connectors;
mod crm_context;
mod customer_attributes;
mod customers;
mod db;
mod error;
mod history;
mod links;
mod mappings;
mod oauth_states;
mod portal_leases;
pub mod postgres;
mod queue;
mod retention;
mod rotation;
pub mod sealing;
mod sessions;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod tickets;
mod users;
mod webhook_settings;
mod webhooks;
mod workspaces;

/// The master key under its former path (`sealing` is the module's name now).
pub mod crypto {
    pub use crate::sealing::MasterKey;
}

/// The queue's records under their former path (`queue` is the module's name now).
pub mod jobs {
    pub use crate::queue::{EnqueueResult, Job, NewJob, DEFAULT_MAX_ATTEMPTS};
}

pub use api_keys::ApiKey;
pub use batches::{
    BatchChunk, BatchCounters, BatchLease, BatchRun, BatchState, ChunkOutcome, CustomerForSync,
};
pub use connectors::{
    AuthKind, Connector, ConnectorSettings, ConnectorStatus, ConnectorTokens, NewConnector,
};
pub use crm_context::{CrmContextSettings, CrmObject, CrmRecord, NewCrmContext, StoredCrmContext};
pub use customer_attributes::{AttributeDefinition, AttributeUpdate, NewAttribute};
pub use customers::NewCustomer;
pub use error::StoreError;
pub use history::{HistoryEntry, HistoryFilter, HistoryResult, NewHistory};
pub use keva_core::{Customer, CustomerPatch, JobState, KevaField};
pub use links::{CrmLink, LinkUpdate, SyncCommit, MAX_WRITE_INTENTS};
pub use mappings::{CachedProperties, StoredMappings};
pub use oauth_states::OAuthState;
pub use postgres::PgStore;
pub use queue::{EnqueueResult, Holder, Job, JobLease, NewJob, Reaped, DEFAULT_MAX_ATTEMPTS};
pub use retention::Retained;
pub use rotation::Resealed;
pub use sealing::MasterKey;
pub use sessions::SessionKind;
pub use sqlite::SqliteStore;
pub use tickets::Ticket;
pub use users::{normalize_email, User, UserRole};
pub use webhook_settings::WebhookSettings;
pub use webhooks::{
    IngestResult, NewWebhookEvent, NewWebhookRequest, WebhookEvent, WebhookIngest, WebhookRequest,
};
pub use workspaces::Workspace;

/// Which database a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

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
            $crate::Store::Sqlite(s) => s.$method($($arg),*).await,
            $crate::Store::Postgres(s) => s.$method($($arg),*).await,
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

    /// Applies the migrations up to `version` only: a test's database as an older
    /// release left it, to check what a later migration does to existing rows.
    #[cfg(feature = "testing")]
    pub(crate) async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        dispatch!(self.migrate_to(version))
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
