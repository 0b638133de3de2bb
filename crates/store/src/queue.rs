//! The durable sync job queue: its records, SQL and operations (written once for
//! both backends), and its semantics (see also `docs/sync-contract.md`).
//!
//! Semantics, which the contract tests check on SQLite and PostgreSQL:
//! - **Durable, at-least-once.** A job is a row; it survives restarts and kill -9.
//!   A job can run more than once (a worker dies after HubSpot accepted a write but
//!   before `finish`), so job handlers must be idempotent — the reconcile is.
//! - **Coalescing.** A job has a key (`customer:<connector>:<customer>`, `contact:<connector>:<contact>`, `merge:<connector>:<portal>:<event>`),
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
//!   ends `succeeded` with `coalesced_into` = the twin's id (and a `last_error` saying
//!   so in words: "coalesced into <twin id>") and the twin
//!   keeps its payload; its `run_at` becomes the earlier of the two.
//! - **Dead jobs** stay until `retry_dead` puts them back to queued with
//!   `attempts = 0` (`Conflict` if the key is already queued again).

use std::time::Duration;

use chrono::{DateTime, Utc};
use keva_core::{JobState, Trigger};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::db::{count, parse};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `JobRow`.
macro_rules! job_columns {
    () => {
        "id, workspace_id, connector_id, kind, coalesce_key, payload, trigger, state, attempts, \
         max_attempts, run_at, lease_owner, lease_until, last_error, coalesced_into, created_at, \
         updated_at, finished_at, lease_epoch"
    };
}

/// The claiming statement, `$1` worker, `$2` lease end, `$3` now, `$4` limit,
/// `$5` the portal-lease owner whose portals' jobs it may take (NULL: any portal).
/// Each claim bumps `lease_epoch`, the job's fencing token.
/// Candidates are due queued jobs whose key has no running job with an unexpired
/// lease, oldest `run_at` first. `$open`/`$close` wrap the candidate query: on
/// PostgreSQL it must run exactly once (`= ANY(ARRAY(…))`, an init plan), since a
/// re-scanned `IN (… LIMIT n FOR UPDATE SKIP LOCKED)` skips the rows this very
/// statement just updated and hands out more than `n`.
macro_rules! claim_jobs_sql {
    ($open:literal, $close:literal) => {
        concat!(
            "UPDATE sync_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, lease_epoch = lease_epoch + 1, updated_at = $3 \
             WHERE state = 'queued' AND id",
            $open,
            "SELECT q.id FROM sync_jobs q \
             WHERE q.state = 'queued' AND q.run_at <= $3 AND NOT EXISTS (SELECT 1 FROM sync_jobs r \
             WHERE r.connector_id = q.connector_id AND r.coalesce_key = q.coalesce_key \
             AND r.state = 'running' AND r.lease_until > $3) \
             AND ($5 IS NULL OR q.connector_id IN (SELECT c.id FROM hubspot_connectors c \
             JOIN portal_leases p ON p.portal_id = c.portal_id WHERE p.owner = $5 AND p.lease_until > $3)) \
             ORDER BY q.run_at, q.id LIMIT $4",
            $close,
            " RETURNING ",
            $crate::queue::job_columns!()
        )
    };
}

pub(crate) use {claim_jobs_sql, job_columns};

/// Inserts, or coalesces into the queued job with the same key: that job keeps its
/// id and payload, and runs at the earlier of the two times. The caller compares
/// the returned id with the one it proposed.
pub(crate) const ENQUEUE_JOB: &str =
    "INSERT INTO sync_jobs (id, workspace_id, connector_id, kind, coalesce_key, payload, trigger, \
     state, attempts, max_attempts, run_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $10, $10) \
     ON CONFLICT (connector_id, coalesce_key) WHERE state = 'queued' DO UPDATE SET \
     run_at = CASE WHEN excluded.run_at < sync_jobs.run_at THEN excluded.run_at ELSE sync_jobs.run_at END, \
     updated_at = excluded.updated_at \
     RETURNING id";

/// `$5` the fencing token (`lease_epoch`) the caller claimed with; NULL checks the
/// owner only.
pub(crate) const HEARTBEAT_JOB: &str = "UPDATE sync_jobs SET lease_until = $3, updated_at = $4 \
     WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND lease_until > $4 \
     AND ($5 IS NULL OR lease_epoch = $5)";

pub(crate) const FINISH_JOB: &str =
    "UPDATE sync_jobs SET state = $3, last_error = $4, lease_owner = NULL, lease_until = NULL, \
     updated_at = $5, finished_at = $5 WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
     AND ($6 IS NULL OR lease_epoch = $6)";

pub(crate) const REQUEUE_OWNED_JOB: &str =
    "UPDATE sync_jobs SET state = 'queued', run_at = $3, last_error = $4, lease_owner = NULL, \
     lease_until = NULL, updated_at = $5 WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
     AND ($6 IS NULL OR lease_epoch = $6)";

/// The fencing check of a sync commit, `$1` job, `$2` owner, `$3` epoch, `$4` now:
/// a row only while the claim is still the current one and its lease runs.
macro_rules! job_fence_sql {
    ($lock:literal) => {
        concat!(
            "SELECT id FROM sync_jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
             AND lease_epoch = $3 AND lease_until > $4",
            $lock
        )
    };
}

pub(crate) use job_fence_sql;

/// Whether a key was enqueued since `$3` (a recent edit: debounce the next one).
pub(crate) const KEY_ENQUEUED_SINCE: &str = "SELECT COUNT(*) FROM sync_jobs \
     WHERE connector_id = $1 AND coalesce_key = $2 AND created_at > $3";

/// The queued twin of a job (same connector and key), if any.
pub(crate) const QUEUED_TWIN: &str = "SELECT q.id FROM sync_jobs j JOIN sync_jobs q \
     ON q.connector_id = j.connector_id AND q.coalesce_key = j.coalesce_key AND q.state = 'queued' \
     WHERE j.id = $1";

pub(crate) const PULL_RUN_AT: &str = "UPDATE sync_jobs SET run_at = $2, updated_at = $3 \
     WHERE id = $1 AND state = 'queued' AND run_at > $2";

/// Ends a running job that a queued twin covers: `$2` the message, `$3` the twin,
/// `$5` the owner the job must still have (NULL for the reaper, which owns none),
/// `$6` its fencing token (NULL: not checked).
pub(crate) const COALESCE_RUNNING_JOB: &str =
    "UPDATE sync_jobs SET state = 'succeeded', last_error = $2, coalesced_into = $3, \
     lease_owner = NULL, lease_until = NULL, updated_at = $4, finished_at = $4 \
     WHERE id = $1 AND state = 'running' AND ($5 IS NULL OR lease_owner = $5) \
     AND ($6 IS NULL OR lease_epoch = $6)";

pub(crate) const EXPIRED_LEASES: &str =
    "SELECT id, attempts, max_attempts FROM sync_jobs WHERE state = 'running' AND lease_until <= $1 \
     ORDER BY id";

pub(crate) const KILL_EXPIRED_JOB: &str = concat!(
    "UPDATE sync_jobs SET state = 'dead', last_error = $2, lease_owner = NULL, lease_until = NULL, \
     updated_at = $3, finished_at = $3 WHERE id = $1 AND state = 'running' AND lease_until <= $3 \
     RETURNING ",
    job_columns!()
);

pub(crate) const REQUEUE_EXPIRED_JOB: &str =
    "UPDATE sync_jobs SET state = 'queued', run_at = $3, last_error = $2, lease_owner = NULL, \
     lease_until = NULL, updated_at = $3 WHERE id = $1 AND state = 'running' AND lease_until <= $3";

pub(crate) const GET_JOB: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM sync_jobs WHERE workspace_id = $1 AND id = $2"
);

pub(crate) const LIST_JOBS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM sync_jobs WHERE workspace_id = $1 AND ($2 IS NULL OR state = $2) ORDER BY id DESC LIMIT $3"
);

pub(crate) const COUNT_JOBS: &str = "SELECT COUNT(*) FROM sync_jobs WHERE state = $1";

pub(crate) const RETRY_DEAD_JOB: &str = concat!(
    "UPDATE sync_jobs SET state = 'queued', attempts = 0, run_at = $3, last_error = NULL, \
     lease_owner = NULL, lease_until = NULL, finished_at = NULL, updated_at = $3 \
     WHERE workspace_id = $1 AND id = $2 AND state IN ('dead', 'failed') RETURNING ",
    job_columns!()
);

// --- records -----------------------------------------------------------------

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
    /// Set when the job ended `succeeded` because a queued job with the same key
    /// (this id) covers its work; `last_error` then says so in words.
    pub coalesced_into: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The fencing token of the latest claim (0 before the first).
    pub lease_epoch: i64,
}

impl Job {
    /// The claim this record was handed out with, to heartbeat, finish, retry and
    /// commit under (each refused once another claim superseded it).
    pub fn lease(&self) -> JobLease {
        JobLease {
            job_id: self.id,
            owner: self.lease_owner.clone().unwrap_or_default(),
            epoch: self.lease_epoch,
        }
    }
}

/// One claim of a job: its owner and fencing token (`lease_epoch`, bumped by every
/// claim, so even a re-claim by the same worker supersedes an older one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLease {
    pub job_id: Uuid,
    pub owner: String,
    pub epoch: i64,
}

/// Who asks to act on a running job: a worker id alone (checks the owner), or a
/// [`JobLease`] (checks the owner and the fencing token).
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub owner: &'a str,
    pub epoch: Option<i64>,
}

impl<'a> From<&'a str> for Holder<'a> {
    fn from(owner: &'a str) -> Self {
        Holder { owner, epoch: None }
    }
}

impl<'a> From<&'a String> for Holder<'a> {
    fn from(owner: &'a String) -> Self {
        Holder { owner, epoch: None }
    }
}

impl<'a> From<&'a JobLease> for Holder<'a> {
    fn from(lease: &'a JobLease) -> Self {
        Holder {
            owner: &lease.owner,
            epoch: Some(lease.epoch),
        }
    }
}

/// What the reaper did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reaped {
    /// Jobs requeued, coalesced into a twin or killed.
    pub changed: u64,
    /// The jobs it ended `dead` (their last attempt's lease ran out), as they ended,
    /// so the caller records the failure.
    pub dead: Vec<Job>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub connector_id: DbId,
    pub kind: String,
    pub coalesce_key: String,
    pub payload: Json<serde_json::Value>,
    pub trigger: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: DbTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DbTime>,
    pub last_error: Option<String>,
    pub coalesced_into: Option<DbId>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub finished_at: Option<DbTime>,
    pub lease_epoch: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = sqlx::Error;

    fn try_from(r: JobRow) -> Result<Self, Self::Error> {
        Ok(Job {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            connector_id: r.connector_id.0,
            kind: r.kind,
            coalesce_key: r.coalesce_key,
            payload: r.payload.0,
            trigger: parse("trigger", &r.trigger, Trigger::parse)?,
            state: parse("job state", &r.state, JobState::parse)?,
            attempts: count(r.attempts),
            max_attempts: count(r.max_attempts),
            run_at: r.run_at.0,
            lease_owner: r.lease_owner,
            lease_until: r.lease_until.map(|t| t.0),
            last_error: r.last_error,
            coalesced_into: r.coalesced_into.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            finished_at: r.finished_at.map(|t| t.0),
            lease_epoch: r.lease_epoch,
        })
    }
}

/// What the reaper needs of a job whose lease ran out.
#[derive(sqlx::FromRow)]
pub(crate) struct ExpiredJobRow {
    pub id: DbId,
    pub attempts: i64,
    pub max_attempts: i64,
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn enqueue(
                &self,
                job: &$crate::NewJob,
            ) -> Result<$crate::EnqueueResult, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::enqueue_on(&mut conn, job).await
            }

            async fn enqueue_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                job: &$crate::NewJob,
            ) -> Result<$crate::EnqueueResult, $crate::StoreError> {
                let id = uuid::Uuid::now_v7();
                let now = Self::db_now_on(&mut *conn).await?;
                let run_at = job.run_at.map($crate::codec::to_millis).unwrap_or(now);
                let got =
                    sqlx::query_scalar::<$db, $crate::codec::DbId>($crate::queue::ENQUEUE_JOB)
                        .bind($crate::codec::DbId(id))
                        .bind($crate::codec::DbId(job.workspace_id))
                        .bind($crate::codec::DbId(job.connector_id))
                        .bind(job.kind.as_str())
                        .bind(job.coalesce_key.as_str())
                        .bind(sqlx::types::Json(&job.payload))
                        .bind(job.trigger.as_str())
                        .bind(i64::from(job.max_attempts.max(1)))
                        .bind($crate::codec::DbTime(run_at))
                        .bind($crate::codec::DbTime(now))
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok($crate::EnqueueResult {
                    job_id: got.0,
                    coalesced: got.0 != id,
                })
            }

            pub async fn claim(
                &self,
                worker_id: &str,
                lease: std::time::Duration,
                limit: u32,
                portal_owner: Option<&str>,
            ) -> Result<Vec<$crate::Job>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let now = Self::db_now_on(&mut *tx).await?;
                let until = $crate::codec::plus(now, lease);
                let rows = sqlx::query_as::<$db, $crate::queue::JobRow>(Self::CLAIM_JOBS)
                    .bind(worker_id)
                    .bind($crate::codec::DbTime(until))
                    .bind($crate::codec::DbTime(now))
                    .bind(i64::from(limit))
                    .bind(portal_owner)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut jobs = rows
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect::<Result<Vec<$crate::Job>, _>>()?;
                // RETURNING has no order; hand jobs out oldest first.
                jobs.sort_by_key(|j| (j.run_at, j.id));
                Ok(jobs)
            }

            pub async fn heartbeat(
                &self,
                job_id: uuid::Uuid,
                holder: $crate::Holder<'_>,
                lease: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = self.db_now().await?;
                let done = sqlx::query::<$db>($crate::queue::HEARTBEAT_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(holder.owner)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .bind(holder.epoch)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn finish(
                &self,
                job_id: uuid::Uuid,
                holder: $crate::Holder<'_>,
                state: keva_core::JobState,
                error: Option<&str>,
            ) -> Result<bool, $crate::StoreError> {
                if !state.is_terminal() {
                    return Err($crate::StoreError::Conflict(format!(
                        "a job cannot finish as {state}"
                    )));
                }
                let now = self.db_now().await?;
                let done = sqlx::query::<$db>($crate::queue::FINISH_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(holder.owner)
                    .bind(state.as_str())
                    .bind(error)
                    .bind($crate::codec::DbTime(now))
                    .bind(holder.epoch)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn retry_later(
                &self,
                job_id: uuid::Uuid,
                holder: $crate::Holder<'_>,
                run_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
            ) -> Result<bool, $crate::StoreError> {
                let now = self.db_now().await?;
                let requeued = sqlx::query::<$db>($crate::queue::REQUEUE_OWNED_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(holder.owner)
                    .bind($crate::codec::DbTime::from(run_at))
                    .bind(error)
                    .bind($crate::codec::DbTime(now))
                    .bind(holder.epoch)
                    .execute(self.writer())
                    .await;
                match requeued {
                    Ok(done) => Ok(done.rows_affected() == 1),
                    Err(e) if $crate::error::is_unique_violation(&e) => {
                        let Some(twin) = self.queued_twin(job_id, run_at).await? else {
                            return Ok(false);
                        };
                        let done = self
                            .coalesce_running(job_id, Some(holder), twin, "coalesced into", now)
                            .await?;
                        Ok(done == 1)
                    }
                    Err(e) => Err(e.into()),
                }
            }

            /// The queued job with the same key as `job_id`, whose `run_at` is
            /// pulled forward to `run_at` if that is earlier.
            async fn queued_twin(
                &self,
                job_id: uuid::Uuid,
                run_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                let twin =
                    sqlx::query_scalar::<$db, $crate::codec::DbId>($crate::queue::QUEUED_TWIN)
                        .bind($crate::codec::DbId(job_id))
                        .fetch_optional(self.writer())
                        .await?;
                if let Some(twin) = twin {
                    sqlx::query::<$db>($crate::queue::PULL_RUN_AT)
                        .bind(twin)
                        .bind($crate::codec::DbTime::from(run_at))
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .execute(self.writer())
                        .await?;
                }
                Ok(twin.map(|t| t.0))
            }

            /// Ends a running job as covered by its queued `twin`, with a message
            /// (`"<what> <twin id>"`) and the twin's id in `coalesced_into`.
            async fn coalesce_running(
                &self,
                job_id: uuid::Uuid,
                owner: Option<$crate::Holder<'_>>,
                twin: uuid::Uuid,
                what: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Ok(sqlx::query::<$db>($crate::queue::COALESCE_RUNNING_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(format!("{what} {twin}"))
                    .bind($crate::codec::DbId(twin))
                    .bind($crate::codec::DbTime(now))
                    .bind(owner.map(|h| h.owner))
                    .bind(owner.and_then(|h| h.epoch))
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }

            pub async fn reap_expired_jobs(&self) -> Result<$crate::Reaped, $crate::StoreError> {
                let now = self.db_now().await?;
                let expired = sqlx::query_as::<$db, $crate::queue::ExpiredJobRow>(
                    $crate::queue::EXPIRED_LEASES,
                )
                .bind($crate::codec::DbTime(now))
                .fetch_all(self.writer())
                .await?;
                let mut reaped = $crate::Reaped::default();
                for job in expired {
                    let done = if job.attempts >= job.max_attempts {
                        let killed = sqlx::query_as::<$db, $crate::queue::JobRow>(
                            $crate::queue::KILL_EXPIRED_JOB,
                        )
                        .bind(job.id)
                        .bind(format!(
                            "lease expired on attempt {} of {}",
                            job.attempts, job.max_attempts
                        ))
                        .bind($crate::codec::DbTime(now))
                        .fetch_optional(self.writer())
                        .await?;
                        match killed {
                            Some(row) => {
                                reaped.dead.push(row.try_into()?);
                                1
                            }
                            None => 0,
                        }
                    } else {
                        let requeued = sqlx::query::<$db>($crate::queue::REQUEUE_EXPIRED_JOB)
                            .bind(job.id)
                            .bind("lease expired")
                            .bind($crate::codec::DbTime(now))
                            .execute(self.writer())
                            .await;
                        match requeued {
                            Ok(done) => done.rows_affected(),
                            Err(e) if $crate::error::is_unique_violation(&e) => {
                                match self.queued_twin(job.id.0, now).await? {
                                    Some(twin) => {
                                        self.coalesce_running(
                                            job.id.0,
                                            None,
                                            twin,
                                            "lease expired; coalesced into",
                                            now,
                                        )
                                        .await?
                                    }
                                    None => 0,
                                }
                            }
                            Err(e) => return Err(e.into()),
                        }
                    };
                    reaped.changed += done;
                }
                Ok(reaped)
            }

            /// Whether `key` was enqueued on the connector within `window`.
            pub async fn key_enqueued_within(
                &self,
                connector_id: uuid::Uuid,
                key: &str,
                window: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = self.db_now().await?;
                let since =
                    now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::queue::KEY_ENQUEUED_SINCE)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(key)
                    .bind($crate::codec::DbTime::from(since))
                    .fetch_one(self.reader())
                    .await?;
                Ok(n > 0)
            }

            /// `commit_sync` under a job's lease: the fencing check and the commit
            /// in one transaction (the job row locked on PostgreSQL, the write lock
            /// held on SQLite), so a superseded claim writes nothing.
            pub async fn commit_sync_fenced(
                &self,
                commit: &$crate::SyncCommit,
                lease: &$crate::JobLease,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                Self::check_job_fence(&mut tx, lease).await?;
                let customer = Self::apply_commit(&mut tx, commit).await?;
                if customer.is_some() {
                    tx.commit().await?;
                }
                Ok(customer)
            }

            /// `LeaseLost` unless `lease` is its job's current claim and unexpired
            /// (database clock). Run first in a write transaction (which then
            /// holds the job row on PostgreSQL, the write lock on SQLite), it
            /// fences whatever the transaction writes next.
            async fn check_job_fence(
                conn: &mut <$db as sqlx::Database>::Connection,
                lease: &$crate::JobLease,
            ) -> Result<(), $crate::StoreError> {
                let now = Self::db_now_on(&mut *conn).await?;
                let current = sqlx::query_scalar::<$db, $crate::codec::DbId>(Self::JOB_FENCE)
                    .bind($crate::codec::DbId(lease.job_id))
                    .bind(lease.owner.as_str())
                    .bind(lease.epoch)
                    .bind($crate::codec::DbTime(now))
                    .fetch_optional(&mut *conn)
                    .await?;
                match current {
                    Some(_) => Ok(()),
                    None => Err($crate::StoreError::LeaseLost),
                }
            }

            pub async fn get_job(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Job>, $crate::StoreError> {
                self.fetch_scoped::<$crate::queue::JobRow, _>(
                    $crate::queue::GET_JOB,
                    workspace_id,
                    id,
                )
                .await
            }

            pub async fn list_jobs(
                &self,
                workspace_id: uuid::Uuid,
                state: Option<keva_core::JobState>,
                limit: u32,
            ) -> Result<Vec<$crate::Job>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::queue::JobRow>($crate::queue::LIST_JOBS)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(state.map(|s| s.as_str()))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn count_jobs(
                &self,
                state: keva_core::JobState,
            ) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::queue::COUNT_JOBS)
                    .bind(state.as_str())
                    .fetch_one(self.reader())
                    .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            }

            pub async fn retry_dead(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Job>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::queue::JobRow>($crate::queue::RETRY_DEAD_JOB)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            "a job for the same key is already queued".into()
                        })
                    })?
                    .decode()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
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
        dispatch!(self.claim(worker_id, lease, limit, None))
    }

    /// Like `claim`, but only jobs of connectors whose HubSpot portal `portal_owner`
    /// holds an unexpired portal lease for (several instances on one database).
    #[tracing::instrument(skip(self))]
    pub async fn claim_owned(
        &self,
        worker_id: &str,
        lease: Duration,
        limit: u32,
        portal_owner: &str,
    ) -> Result<Vec<Job>, StoreError> {
        dispatch!(self.claim(worker_id, lease, limit, Some(portal_owner)))
    }

    /// Extends the lease (from the database clock); `false` if the worker no
    /// longer holds it (with a [`JobLease`]: or another claim superseded it).
    #[tracing::instrument(skip(self, holder))]
    pub async fn heartbeat<'a>(
        &self,
        job_id: Uuid,
        holder: impl Into<Holder<'a>>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let holder = holder.into();
        dispatch!(self.heartbeat(job_id, holder, lease))
    }

    /// Ends a job in a terminal state; `false` if the worker no longer owns it.
    /// `Conflict` for a non-terminal `state`.
    #[tracing::instrument(skip(self, holder, error))]
    pub async fn finish<'a>(
        &self,
        job_id: Uuid,
        holder: impl Into<Holder<'a>>,
        state: JobState,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let holder = holder.into();
        dispatch!(self.finish(job_id, holder, state, error))
    }

    /// Back to queued until `run_at` (or coalesced into a queued twin, see
    /// the `queue` module); `false` if the worker no longer owns the job.
    #[tracing::instrument(skip(self, holder, error))]
    pub async fn retry_later<'a>(
        &self,
        job_id: Uuid,
        holder: impl Into<Holder<'a>>,
        run_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let holder = holder.into();
        dispatch!(self.retry_later(job_id, holder, run_at, error))
    }

    /// Requeues (or kills, after the last attempt) running jobs whose lease
    /// expired; returns how many it changed.
    #[tracing::instrument(skip(self))]
    pub async fn reap_expired_leases(&self) -> Result<u64, StoreError> {
        Ok(self.reap_expired_jobs().await?.changed)
    }

    /// `reap_expired_leases`, also handing back the jobs it ended `dead` so the
    /// caller records their failure (history row, link status).
    #[tracing::instrument(skip(self))]
    pub async fn reap_expired_jobs(&self) -> Result<Reaped, StoreError> {
        dispatch!(self.reap_expired_jobs())
    }

    /// Whether `key` was enqueued on the connector within `window` (database
    /// clock): a Keva edit after a recent one is debounced, an isolated one is not.
    #[tracing::instrument(skip(self))]
    pub async fn key_enqueued_within(
        &self,
        connector_id: Uuid,
        key: &str,
        window: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self.key_enqueued_within(connector_id, key, window))
    }

    /// `commit_sync` only while `lease` is the job's current claim and unexpired;
    /// `LeaseLost` (nothing written) otherwise.
    #[tracing::instrument(skip_all, fields(job_id = %lease.job_id))]
    pub async fn commit_sync_fenced(
        &self,
        commit: &crate::SyncCommit,
        lease: &JobLease,
    ) -> Result<Option<crate::Customer>, StoreError> {
        dispatch!(self.commit_sync_fenced(commit, lease))
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
}
