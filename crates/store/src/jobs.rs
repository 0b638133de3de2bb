//! The durable sync job queue's records, and its semantics (DESIGN §5). The SQL
//! lives in `job_queries.rs`, written once for both backends.
//!
//! Semantics, which the contract tests check on SQLite and PostgreSQL:
//! - **Durable, at-least-once.** A job is a row; it survives restarts and kill -9.
//!   A job can run more than once (a worker dies after HubSpot accepted a write but
//!   before `finish`), so job handlers must be idempotent — the reconcile is.
//! - **Coalescing.** A job has a key (`customer:<id>`, `contact:<portal>:<id>`),
//!   scoped to its connector. At most one *queued* job exists per (connector, key),
//!   enforced by a partial unique index: `enqueue` of a key that is already queued
//!   inserts nothing, moves the queued job's `run_at` to the earlier of the two and
//!   keeps its payload (`coalesced = true`). A key whose job is *running* can get one
//!   queued job next to it (the change may have come after the run read its inputs).
//! - **Claiming.** `claim` takes due queued jobs (`run_at <= now`), oldest `run_at`
//!   first, skipping keys that have a running job with an unexpired lease, so two
//!   jobs with one key never run at once. It sets `running`, the owner, the lease
//!   and `attempts + 1` (attempts count claims). PostgreSQL: `FOR UPDATE SKIP
//!   LOCKED`, so several processes share the queue; SQLite: one `BEGIN IMMEDIATE`
//!   transaction. No job is handed to two claimers.
//! - **Leases and fencing.** A lease expires at `lease_until` (`lease_until <= now`
//!   is expired; a zero lease is expired at once). `heartbeat` extends it only while
//!   the caller still owns an unexpired lease; `finish` and `retry_later` act only
//!   while the caller still owns the running job. Both return `false` otherwise: the
//!   worker lost the job and must not write its outcome.
//! - **Reaper.** `reap_expired_leases` puts running jobs with an expired lease back
//!   to queued (run at once), or to `dead` when `attempts >= max_attempts`.
//! - **Requeue meets a queued twin.** When `retry_later` or the reaper would requeue
//!   a job whose key already has a queued job (enqueued while it ran), the twin
//!   already covers the work (reconcile reads fresh inputs), so the requeued job
//!   ends `succeeded` with `last_error = "coalesced into <twin id>"` and the twin
//!   keeps its payload; its `run_at` becomes the earlier of the two.
//! - **Dead jobs** stay until `retry_dead` puts them back to queued with
//!   `attempts = 0` (`Conflict` if the key is already queued again).

use chrono::{DateTime, Utc};
use keva_core::{JobState, Trigger};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Attempts before a job is dead when the caller does not say.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    /// What the worker does (`reconcile_customer`, `reconcile_contact`, …).
    pub kind: String,
    /// Jobs with one key (per connector) coalesce and never run at once.
    pub coalesce_key: String,
    pub payload: serde_json::Value,
    pub trigger: Trigger,
    /// When it may run first; `None` is now.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: u32,
}

impl NewJob {
    /// A job due now with the default attempt budget.
    pub fn new(
        workspace_id: Uuid,
        connector_id: Uuid,
        kind: impl Into<String>,
        coalesce_key: impl Into<String>,
        payload: serde_json::Value,
        trigger: Trigger,
    ) -> Self {
        Self {
            workspace_id,
            connector_id,
            kind: kind.into(),
            coalesce_key: coalesce_key.into(),
            payload,
            trigger,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// The job a call to `enqueue` ended up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueResult {
    pub job_id: Uuid,
    /// The key was already queued: no new job, the existing one covers it.
    pub coalesced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub kind: String,
    pub coalesce_key: String,
    pub payload: serde_json::Value,
    pub trigger: Trigger,
    pub state: JobState,
    /// Claims so far (the running attempt included).
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}
