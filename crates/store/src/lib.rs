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
//! `crypto.rs` the master key. The sync engine's operations follow the same pattern:
//! `sync_queries.rs` (settings, mappings, links, commits, history, webhooks, batches)
//! and `job_queries.rs` (the durable queue, semantics in `jobs.rs`) over
//! `sync_sql.rs` and `sync_rows.rs`. The same contract tests (tests/contract.rs,
//! tests/contract_sync.rs) run against both backends.

mod codec;
mod connectors;
pub mod crypto;
mod customers;
mod error;
mod job_queries;
pub mod jobs;
mod model;
pub mod postgres;
mod queries;
mod rows;
mod sql;
pub mod sqlite;
mod sync_model;
mod sync_queries;
mod sync_rows;
mod sync_sql;
#[cfg(feature = "testing")]
pub mod testing;
mod webhook_secret;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keva_core::{FieldMapping, ObjectKind, PropertyInfo, SyncStatus};
use secrecy::SecretString;
use uuid::Uuid;

pub use crypto::MasterKey;
pub use error::StoreError;
pub use jobs::{EnqueueResult, Job, NewJob, DEFAULT_MAX_ATTEMPTS};
pub use keva_core::{Customer, CustomerPatch, JobState, KevaField};
pub use model::{
    ApiKey, AuthKind, Backend, Connector, ConnectorStatus, ConnectorTokens, NewConnector,
    NewCustomer, Ticket, Workspace,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use sync_model::{
    BatchChunk, BatchCounters, BatchRun, BatchState, CachedProperties, ChunkOutcome,
    ConnectorSettings, CrmLink, HistoryEntry, HistoryResult, IngestResult, LinkUpdate, NewHistory,
    NewWebhookEvent, NewWebhookRequest, StoredMappings, SyncCommit, WebhookEvent, WebhookIngest,
    WebhookRequest, WebhookSettings,
};
pub use sync_rows::CustomerForSync;

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

    /// Connectors of every workspace on one HubSpot portal (for the webhook receiver).
    #[tracing::instrument(skip(self))]
    pub async fn connectors_by_portal(&self, portal_id: i64) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.connectors_by_portal(portal_id))
    }

    /// Every connector of every workspace (for schedulers).
    #[tracing::instrument(skip(self))]
    pub async fn list_all_connectors(&self) -> Result<Vec<Connector>, StoreError> {
        dispatch!(self.list_all_connectors())
    }

    /// `NotFound` unless the connector is in `workspace_id`.
    #[tracing::instrument(skip(self))]
    pub async fn update_connector_settings(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        settings: &ConnectorSettings,
    ) -> Result<Connector, StoreError> {
        dispatch!(self.update_connector_settings(workspace_id, id, settings))
    }

    // --- webhook settings ---------------------------------------------------

    /// Creates or replaces the workspace's webhook app; the client secret is
    /// sealed with the master key. `NotFound` for an unknown workspace.
    #[tracing::instrument(skip(self, client_secret))]
    pub async fn set_webhook_settings(
        &self,
        workspace_id: Uuid,
        app_id: &str,
        client_secret: &SecretString,
    ) -> Result<WebhookSettings, StoreError> {
        dispatch!(self.set_webhook_settings(workspace_id, app_id, client_secret))
    }

    #[tracing::instrument(skip(self))]
    pub async fn webhook_settings(
        &self,
        workspace_id: Uuid,
    ) -> Result<Option<WebhookSettings>, StoreError> {
        dispatch!(self.webhook_settings(workspace_id))
    }

    /// The decrypted client secret; `Crypto` if it cannot be opened.
    #[tracing::instrument(skip(self))]
    pub async fn webhook_secret(
        &self,
        workspace_id: Uuid,
    ) -> Result<Option<SecretString>, StoreError> {
        dispatch!(self.webhook_secret(workspace_id))
    }

    // --- mappings and property cache -----------------------------------------

    #[tracing::instrument(skip(self))]
    pub async fn mappings(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
    ) -> Result<Option<StoredMappings>, StoreError> {
        dispatch!(self.mappings(connector_id, object))
    }

    /// Replaces the connector's mappings for `object`. `NotFound` for an unknown
    /// connector.
    #[tracing::instrument(skip(self, mappings, issues))]
    pub async fn save_mappings(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
        mappings: &[FieldMapping],
        issues: &serde_json::Value,
    ) -> Result<(), StoreError> {
        dispatch!(self.save_mappings(connector_id, object, mappings, issues))
    }

    /// The cached property list and when it was fetched.
    #[tracing::instrument(skip(self))]
    pub async fn property_cache(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
    ) -> Result<Option<CachedProperties>, StoreError> {
        dispatch!(self.property_cache(connector_id, object))
    }

    #[tracing::instrument(skip(self, properties))]
    pub async fn save_property_cache(
        &self,
        connector_id: Uuid,
        object: ObjectKind,
        properties: &[PropertyInfo],
    ) -> Result<(), StoreError> {
        dispatch!(self.save_property_cache(connector_id, object, properties))
    }

    // --- links ----------------------------------------------------------------

    #[tracing::instrument(skip(self))]
    pub async fn get_link(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.get_link(connector_id, customer_id))
    }

    #[tracing::instrument(skip(self))]
    pub async fn link_by_hubspot_id(
        &self,
        connector_id: Uuid,
        hubspot_id: &str,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.link_by_hubspot_id(connector_id, hubspot_id))
    }

    /// The connector's links to any of `hubspot_ids` (one query, for checking a
    /// webhook batch's echoes), in contact id order.
    #[tracing::instrument(skip(self, hubspot_ids), fields(n = hubspot_ids.len()))]
    pub async fn links_by_hubspot_ids(
        &self,
        connector_id: Uuid,
        hubspot_ids: &[String],
    ) -> Result<Vec<CrmLink>, StoreError> {
        dispatch!(self.links_by_hubspot_ids(connector_id, hubspot_ids))
    }

    /// Sets the link's status, creating the link (no contact yet) if absent.
    /// `NotFound` unless connector and customer exist in the same workspace.
    #[tracing::instrument(skip(self))]
    pub async fn set_link_status(
        &self,
        connector_id: Uuid,
        customer_id: Uuid,
        status: SyncStatus,
        reason: Option<&str>,
    ) -> Result<CrmLink, StoreError> {
        dispatch!(self.set_link_status(connector_id, customer_id, status, reason))
    }

    /// The contact was deleted in HubSpot: its link loses the contact id and the
    /// bases and takes `status` (normally `not_linked`) and `reason`; the customer
    /// stays. `None` if no customer was linked to it.
    #[tracing::instrument(skip(self))]
    pub async fn unlink_hubspot(
        &self,
        connector_id: Uuid,
        hubspot_id: &str,
        status: SyncStatus,
        reason: Option<&str>,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.unlink_hubspot(connector_id, hubspot_id, status, reason))
    }

    /// A merge: the link to `from` moves to `to` (bases kept, so the next
    /// reconcile sees the survivor's differing values as HubSpot changes). If
    /// another customer is already linked to `to`, that link stays and the merged
    /// one is unlinked (`not_linked`, with the reason). Returns the changed link,
    /// `None` if nobody was linked to `from`.
    #[tracing::instrument(skip(self))]
    pub async fn relink(
        &self,
        connector_id: Uuid,
        from_hubspot_id: &str,
        to_hubspot_id: &str,
    ) -> Result<Option<CrmLink>, StoreError> {
        dispatch!(self.relink(connector_id, from_hubspot_id, to_hubspot_id))
    }

    // --- sync commits and history ---------------------------------------------

    /// In one transaction: applies the Keva side of a plan (same rules and field
    /// times as `update_customer`), upserts the link and inserts the history row.
    /// `Conflict` and nothing written if the new email is taken or the contact is
    /// linked to another customer. `None` (nothing written) if the customer does
    /// not exist in the workspace; otherwise the customer after the patch.
    #[tracing::instrument(skip(self, commit), fields(customer_id = %commit.customer_id))]
    pub async fn commit_sync(&self, commit: &SyncCommit) -> Result<Option<Customer>, StoreError> {
        dispatch!(self.commit_sync(commit))
    }

    #[tracing::instrument(skip(self, h))]
    pub async fn insert_history(&self, h: &NewHistory) -> Result<HistoryEntry, StoreError> {
        dispatch!(self.insert_history(h))
    }

    /// The customer's sync attempts, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn customer_history(
        &self,
        workspace_id: Uuid,
        customer_id: Uuid,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(self.customer_history(workspace_id, customer_id, limit))
    }

    /// A connector's attempts, newest first, optionally of one result; pass the
    /// last id of a page as `before` for the next one.
    #[tracing::instrument(skip(self))]
    pub async fn history(
        &self,
        workspace_id: Uuid,
        connector_id: Uuid,
        result: Option<HistoryResult>,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(self.history(workspace_id, connector_id, result, before, limit))
    }

    // --- job queue (semantics in `jobs.rs`) ------------------------------------

    /// Adds a job, or coalesces into the queued job with the same key.
    #[tracing::instrument(skip(self, job), fields(key = %job.coalesce_key))]
    pub async fn enqueue(&self, job: &NewJob) -> Result<EnqueueResult, StoreError> {
        dispatch!(self.enqueue(job))
    }

    /// Up to `limit` due jobs, leased to `worker_id` for `lease`.
    #[tracing::instrument(skip(self))]
    pub async fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        dispatch!(self.claim(worker_id, lease, limit))
    }

    /// Extends the lease; `false` if the worker no longer holds it.
    #[tracing::instrument(skip(self))]
    pub async fn heartbeat(
        &self,
        job_id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self.heartbeat(job_id, worker_id, lease))
    }

    /// Ends a job in a terminal state; `false` if the worker no longer owns it.
    /// `Conflict` for a non-terminal `state`.
    #[tracing::instrument(skip(self, error))]
    pub async fn finish(
        &self,
        job_id: Uuid,
        worker_id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.finish(job_id, worker_id, state, error))
    }

    /// Back to queued until `run_at` (or coalesced into a queued twin, see
    /// `jobs.rs`); `false` if the worker no longer owns the job.
    #[tracing::instrument(skip(self, error))]
    pub async fn retry_later(
        &self,
        job_id: Uuid,
        worker_id: &str,
        run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.retry_later(job_id, worker_id, run_at, error))
    }

    /// Requeues (or kills, after the last attempt) running jobs whose lease
    /// expired; returns how many it changed.
    #[tracing::instrument(skip(self))]
    pub async fn reap_expired_leases(&self) -> Result<u64, StoreError> {
        dispatch!(self.reap_expired_leases())
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_job(&self, workspace_id: Uuid, id: Uuid) -> Result<Option<Job>, StoreError> {
        dispatch!(self.get_job(workspace_id, id))
    }

    /// Newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list_jobs(
        &self,
        workspace_id: Uuid,
        state: Option<JobState>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        dispatch!(self.list_jobs(workspace_id, state, limit))
    }

    /// Jobs in `state` across all workspaces (metrics).
    #[tracing::instrument(skip(self))]
    pub async fn count_jobs(&self, state: JobState) -> Result<u64, StoreError> {
        dispatch!(self.count_jobs(state))
    }

    /// A dead or failed job back to queued with a fresh attempt budget. `None` if
    /// there is no such job in that state; `Conflict` if its key is queued again.
    #[tracing::instrument(skip(self))]
    pub async fn retry_dead(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self.retry_dead(workspace_id, id))
    }

    // --- webhook intake ---------------------------------------------------------

    /// Logs a request on its own (e.g. a rejected one).
    #[tracing::instrument(skip(self, r))]
    pub async fn log_webhook_request(
        &self,
        r: &NewWebhookRequest,
    ) -> Result<WebhookRequest, StoreError> {
        dispatch!(self.log_webhook_request(r))
    }

    /// The workspace's received requests, newest first, before `before`.
    #[tracing::instrument(skip(self))]
    pub async fn webhook_log(
        &self,
        workspace_id: Uuid,
        limit: u32,
        before: Option<Uuid>,
    ) -> Result<Vec<WebhookRequest>, StoreError> {
        dispatch!(self.webhook_log(workspace_id, limit, before))
    }

    /// In one transaction: the log row, the new events (duplicates by
    /// `(portal_id, event_id)` skipped and counted) and, if any event was new, the
    /// jobs (coalesced). All or nothing.
    #[tracing::instrument(skip(self, ingest), fields(events = ingest.events.len()))]
    pub async fn ingest_webhook(&self, ingest: &WebhookIngest) -> Result<IngestResult, StoreError> {
        dispatch!(self.ingest_webhook(ingest))
    }

    /// A contact's stored events that occurred after `after_occurred_at`, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn contact_events_since(
        &self,
        connector_id: Uuid,
        object_id: &str,
        after_occurred_at: DateTime<Utc>,
    ) -> Result<Vec<WebhookEvent>, StoreError> {
        dispatch!(self.contact_events_since(connector_id, object_id, after_occurred_at))
    }

    // --- portal leases -----------------------------------------------------------

    /// Holds portal `portal_id`'s HubSpot rate budget for `owner` (a worker process
    /// id) until `lease` from now: `true` if it was free, expired or already
    /// `owner`'s (then extended), `false` while another owner's lease runs. Call
    /// again before it runs out to keep it.
    #[tracing::instrument(skip(self))]
    pub async fn acquire_portal_lease(
        &self,
        portal_id: i64,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self.acquire_portal_lease(portal_id, owner, lease))
    }

    /// Gives the portal up; `false` if `owner` did not hold it.
    #[tracing::instrument(skip(self))]
    pub async fn release_portal_lease(
        &self,
        portal_id: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self.release_portal_lease(portal_id, owner))
    }

    // --- batch runs -------------------------------------------------------------

    /// A running batch. `Conflict` if the connector has a running or paused one;
    /// `NotFound` unless the connector is in `workspace_id`.
    #[tracing::instrument(skip(self))]
    pub async fn start_batch(
        &self,
        workspace_id: Uuid,
        connector_id: Uuid,
        total: u64,
    ) -> Result<BatchRun, StoreError> {
        dispatch!(self.start_batch(workspace_id, connector_id, total))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_batch(
        &self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<BatchRun>, StoreError> {
        dispatch!(self.get_batch(workspace_id, id))
    }

    /// The connector's running or paused batch.
    #[tracing::instrument(skip(self))]
    pub async fn active_batch(&self, connector_id: Uuid) -> Result<Option<BatchRun>, StoreError> {
        dispatch!(self.active_batch(connector_id))
    }

    /// Every running or paused batch (to resume after a restart).
    #[tracing::instrument(skip(self))]
    pub async fn list_active_batches(&self) -> Result<Vec<BatchRun>, StoreError> {
        dispatch!(self.list_active_batches())
    }

    /// The connector's batches, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list_batches(
        &self,
        workspace_id: Uuid,
        connector_id: Uuid,
        limit: u32,
    ) -> Result<Vec<BatchRun>, StoreError> {
        dispatch!(self.list_batches(workspace_id, connector_id, limit))
    }

    /// Moves an active batch to `state`. `reason` becomes `pause_reason` (paused)
    /// or `error` (failed, cancelled); `resume_at` is kept only for paused; ended
    /// states set `finished_at`. `Conflict` if the batch has already ended,
    /// `NotFound` for an unknown id.
    #[tracing::instrument(skip(self))]
    pub async fn set_batch_state(
        &self,
        id: Uuid,
        state: BatchState,
        reason: Option<&str>,
        resume_at: Option<DateTime<Utc>>,
    ) -> Result<BatchRun, StoreError> {
        dispatch!(self.set_batch_state(id, state, reason, resume_at))
    }

    /// In one transaction: every commit (as `commit_sync`), the counters and the
    /// checkpoint. A commit refused with `Conflict` (email taken, contact linked
    /// to another customer) does not fail the chunk: it is rolled back to a
    /// savepoint and recorded instead as a failed link (contact id kept, bases
    /// unchanged) and a failed history row with the reason, and counted in
    /// `failed`. The counters are saved whatever the run's state (the HubSpot side
    /// of the chunk is already written), so a cancelled run still records it.
    #[tracing::instrument(skip(self, chunk), fields(run_id = %chunk.run_id, commits = chunk.commits.len()))]
    pub async fn commit_batch_chunk(&self, chunk: &BatchChunk) -> Result<ChunkOutcome, StoreError> {
        dispatch!(self.commit_batch_chunk(chunk))
    }

    /// Up to `limit` customers after `after` in id order, each with its link for
    /// the connector and its field times, in one query.
    #[tracing::instrument(skip(self))]
    pub async fn customers_for_batch(
        &self,
        workspace_id: Uuid,
        connector_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<CustomerForSync>, StoreError> {
        dispatch!(self.customers_for_batch(workspace_id, connector_id, after, limit))
    }

    /// The workspace's customers among `ids`, in id order (unknown ids skipped).
    #[tracing::instrument(skip(self, ids), fields(n = ids.len()))]
    pub async fn customers_by_ids(
        &self,
        workspace_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<Customer>, StoreError> {
        dispatch!(self.customers_by_ids(workspace_id, ids))
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
