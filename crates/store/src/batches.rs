//! Batch runs: lifecycle, counters, checkpointed chunk commits and the customer pages they read.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keva_core::{Bases, Customer, KevaField, SyncStatus};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::customers::CustomerRow;
use crate::db::{decode_error, parse};
use crate::links::{CrmLink, SyncCommit};
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `BatchRow`.
macro_rules! batch_columns {
    () => {
        "id, workspace_id, connector_id, state, counters, checkpoint, pause_reason, resume_at, \
         error, started_at, updated_at, finished_at, owner, lease_epoch, lease_until"
    };
}

pub(crate) use batch_columns;

/// A customer (all columns, as `CustomerRow`) and the connector's link, if any
/// (`l_*`, as `CustomerLinkRow`).
macro_rules! customer_with_link {
    () => {
        "SELECT cu.*, l.hubspot_id AS l_hubspot_id, l.bases AS l_bases, l.status AS l_status, \
         l.status_reason AS l_status_reason, l.last_synced_at AS l_last_synced_at, \
         l.updated_at AS l_updated_at \
         FROM customers cu LEFT JOIN crm_links l ON l.customer_id = cu.id AND l.connector_id = $2 \
         WHERE cu.workspace_id = $1"
    };
}

pub(crate) const INSERT_BATCH: &str = concat!(
    "INSERT INTO batch_runs (id, workspace_id, connector_id, state, counters, started_at, \
     updated_at) SELECT $1, c.workspace_id, c.id, 'running', $4, $5, $5 \
     FROM hubspot_connectors c WHERE c.workspace_id = $2 AND c.id = $3 RETURNING ",
    batch_columns!()
);

pub(crate) const GET_BATCH: &str = concat!(
    "SELECT ",
    batch_columns!(),
    " FROM batch_runs WHERE workspace_id = $1 AND id = $2"
);

pub(crate) const BATCH_BY_ID: &str = concat!(
    "SELECT ",
    batch_columns!(),
    " FROM batch_runs WHERE id = $1"
);

pub(crate) const ACTIVE_BATCH: &str = concat!(
    "SELECT ",
    batch_columns!(),
    " FROM batch_runs WHERE connector_id = $1 AND state IN ('running', 'paused')"
);

pub(crate) const ALL_ACTIVE_BATCHES: &str = concat!(
    "SELECT ",
    batch_columns!(),
    " FROM batch_runs WHERE state IN ('running', 'paused') ORDER BY id"
);

pub(crate) const LIST_BATCHES: &str = concat!(
    "SELECT ",
    batch_columns!(),
    " FROM batch_runs WHERE workspace_id = $1 AND connector_id = $2 ORDER BY id DESC LIMIT $3"
);

/// Only an active run changes state; `$7` sets `finished_at` (terminal states);
/// `$8` the owner's fencing token (NULL: anyone, e.g. a cancel from the API).
pub(crate) const SET_BATCH_STATE: &str = concat!(
    "UPDATE batch_runs SET state = $2, pause_reason = $3, resume_at = $4, error = $5, \
     updated_at = $6, finished_at = $7 WHERE id = $1 AND state IN ('running', 'paused') \
     AND ($8 IS NULL OR lease_epoch = $8) RETURNING ",
    batch_columns!()
);

/// Takes an active run by compare-and-set on its owner: only while nobody holds
/// an unexpired lease on it (`$2` owner, `$3` lease end, `$4` now; `$5` true
/// takes it whatever its lease).
pub(crate) const CLAIM_BATCH: &str =
    "UPDATE batch_runs SET owner = $2, lease_epoch = lease_epoch + 1, \
     lease_until = $3 WHERE id = $1 AND state IN ('running', 'paused') \
     AND ($5 OR owner IS NULL OR lease_until IS NULL OR lease_until <= $4) RETURNING lease_epoch";

pub(crate) const HEARTBEAT_BATCH: &str = "UPDATE batch_runs SET lease_until = $4 \
     WHERE id = $1 AND owner = $2 AND lease_epoch = $3 AND lease_until > $5 \
     AND state IN ('running', 'paused')";

pub(crate) const RELEASE_BATCH: &str = "UPDATE batch_runs SET owner = NULL, lease_until = NULL \
     WHERE id = $1 AND owner = $2 AND lease_epoch = $3";

pub(crate) const SAVE_BATCH_PROGRESS: &str = concat!(
    "UPDATE batch_runs SET counters = $2, checkpoint = $3, updated_at = $4 WHERE id = $1 RETURNING ",
    batch_columns!()
);

pub(crate) const CUSTOMERS_FOR_BATCH_FIRST: &str =
    concat!(customer_with_link!(), " ORDER BY cu.id LIMIT $3");

pub(crate) const CUSTOMERS_FOR_BATCH_AFTER: &str = concat!(
    customer_with_link!(),
    " AND cu.id > $3 ORDER BY cu.id LIMIT $4"
);

// --- records -----------------------------------------------------------------

/// A batch run's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    Running,
    /// Waiting (e.g. for the daily rate limit to reset at `resume_at`).
    Paused,
    Done,
    Cancelled,
    Failed,
}

impl BatchState {
    pub const ALL: [BatchState; 5] = [
        BatchState::Running,
        BatchState::Paused,
        BatchState::Done,
        BatchState::Cancelled,
        BatchState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Running => "running",
            BatchState::Paused => "paused",
            BatchState::Done => "done",
            BatchState::Cancelled => "cancelled",
            BatchState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Running or paused: counts against "one batch per connector".
    pub fn is_active(self) -> bool {
        matches!(self, BatchState::Running | BatchState::Paused)
    }
}

/// A batch run's tally. Missing keys read as 0, so counters can be added later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchCounters {
    pub total: u64,
    pub processed: u64,
    pub created: u64,
    pub linked: u64,
    pub updated_to_crm: u64,
    pub updated_from_crm: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub conflicts: u64,
}

impl BatchCounters {
    /// Adds `delta` field by field (`total` included, saturating).
    pub fn add(&mut self, delta: &BatchCounters) {
        self.total = self.total.saturating_add(delta.total);
        self.processed = self.processed.saturating_add(delta.processed);
        self.created = self.created.saturating_add(delta.created);
        self.linked = self.linked.saturating_add(delta.linked);
        self.updated_to_crm = self.updated_to_crm.saturating_add(delta.updated_to_crm);
        self.updated_from_crm = self.updated_from_crm.saturating_add(delta.updated_from_crm);
        self.unchanged = self.unchanged.saturating_add(delta.unchanged);
        self.failed = self.failed.saturating_add(delta.failed);
        self.conflicts = self.conflicts.saturating_add(delta.conflicts);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRun {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub state: BatchState,
    pub counters: BatchCounters,
    /// The last customer id fully committed; the run resumes after it.
    pub checkpoint: Option<Uuid>,
    pub pause_reason: Option<String>,
    pub resume_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The process working the run, while its lease (`lease_until`) runs.
    pub owner: Option<String>,
    /// The fencing token of the latest claim (0: never claimed).
    pub lease_epoch: i64,
    pub lease_until: Option<DateTime<Utc>>,
}

/// One claim of a batch run: its owner and fencing token. Heartbeats, state
/// changes and chunk commits made with it are refused once another claim
/// superseded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLease {
    pub run_id: Uuid,
    pub owner: String,
    pub epoch: i64,
}

/// One chunk of a batch, committed in one transaction with its checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchChunk {
    pub run_id: Uuid,
    pub checkpoint: Uuid,
    /// Added to the run's counters. For every commit the store turns into a failure
    /// (see `commit_batch_chunk`) it adds 1 to `failed` on top; the caller's delta
    /// still counts that customer under its planned outcome.
    pub counters_delta: BatchCounters,
    pub commits: Vec<SyncCommit>,
    /// The claim the chunk was worked under; `None` commits unconditionally
    /// (single-process tools).
    pub lease: Option<BatchLease>,
}

/// What `commit_batch_chunk` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub run: BatchRun,
    /// Customers whose commit was refused (email taken, contact linked elsewhere)
    /// and recorded as a failed history row instead, with the reason.
    pub failed: Vec<(Uuid, String)>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct BatchRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub connector_id: DbId,
    pub state: String,
    pub counters: Json<BatchCounters>,
    pub checkpoint: Option<String>,
    pub pause_reason: Option<String>,
    pub resume_at: Option<DbTime>,
    pub error: Option<String>,
    pub started_at: DbTime,
    pub updated_at: DbTime,
    pub finished_at: Option<DbTime>,
    pub owner: Option<String>,
    pub lease_epoch: i64,
    pub lease_until: Option<DbTime>,
}

impl TryFrom<BatchRow> for BatchRun {
    type Error = sqlx::Error;

    fn try_from(r: BatchRow) -> Result<Self, Self::Error> {
        let checkpoint = r
            .checkpoint
            .as_deref()
            .map(|c| Uuid::parse_str(c).map_err(|_| decode_error(format!("bad checkpoint {c:?}"))))
            .transpose()?;
        Ok(BatchRun {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            connector_id: r.connector_id.0,
            state: parse("batch state", &r.state, BatchState::parse)?,
            counters: r.counters.0,
            checkpoint,
            pause_reason: r.pause_reason,
            resume_at: r.resume_at.map(|t| t.0),
            error: r.error,
            started_at: r.started_at.0,
            updated_at: r.updated_at.0,
            finished_at: r.finished_at.map(|t| t.0),
            owner: r.owner,
            lease_epoch: r.lease_epoch,
            lease_until: r.lease_until.map(|t| t.0),
        })
    }
}

/// A customer with its link for one connector (LEFT JOIN: `l_status` is NULL
/// when there is no link).
#[derive(sqlx::FromRow)]
pub(crate) struct CustomerLinkRow {
    #[sqlx(flatten)]
    pub customer: CustomerRow,
    pub l_hubspot_id: Option<String>,
    pub l_bases: Option<Json<Bases>>,
    pub l_status: Option<String>,
    pub l_status_reason: Option<String>,
    pub l_last_synced_at: Option<DbTime>,
    pub l_updated_at: Option<DbTime>,
}

/// A customer as the batch sees it: the record, its link and its field times.
pub type CustomerForSync = (
    Customer,
    Option<CrmLink>,
    BTreeMap<KevaField, DateTime<Utc>>,
);

impl CustomerLinkRow {
    pub fn into_parts(self, connector_id: Uuid) -> Result<CustomerForSync, sqlx::Error> {
        let (customer, times) = self.customer.into_parts();
        let link = match (self.l_status, self.l_updated_at) {
            (Some(status), Some(updated_at)) => Some(CrmLink {
                connector_id,
                workspace_id: customer.workspace_id,
                customer_id: customer.id,
                hubspot_id: self.l_hubspot_id,
                bases: self.l_bases.map(|b| b.0),
                status: parse("sync status", &status, SyncStatus::parse)?,
                status_reason: self.l_status_reason,
                last_synced_at: self.l_last_synced_at.map(|t| t.0),
                updated_at: updated_at.0,
            }),
            _ => None,
        };
        Ok((
            customer,
            link,
            crate::customers::field_times_to_dates(&times),
        ))
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn start_batch(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                total: u64,
            ) -> Result<$crate::BatchRun, $crate::StoreError> {
                let counters = $crate::BatchCounters {
                    total,
                    ..$crate::BatchCounters::default()
                };
                let row =
                    sqlx::query_as::<$db, $crate::batches::BatchRow>($crate::batches::INSERT_BATCH)
                        .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                        .bind($crate::codec::DbId(workspace_id))
                        .bind($crate::codec::DbId(connector_id))
                        .bind(sqlx::types::Json(counters))
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .fetch_optional(self.writer())
                        .await
                        .map_err(|e| {
                            $crate::error::conflict_or_db(e, || {
                                "a batch sync is already running or paused for this connector"
                                    .into()
                            })
                        })?
                        .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn get_batch(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::BatchRun>, $crate::StoreError> {
                self.fetch_scoped::<$crate::batches::BatchRow, _>(
                    $crate::batches::GET_BATCH,
                    workspace_id,
                    id,
                )
                .await
            }

            pub async fn active_batch(
                &self,
                connector_id: uuid::Uuid,
            ) -> Result<Option<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::batches::BatchRow>($crate::batches::ACTIVE_BATCH)
                    .bind($crate::codec::DbId(connector_id))
                    .fetch_optional(self.reader())
                    .await?
                    .decode()
            }

            pub async fn list_active_batches(
                &self,
            ) -> Result<Vec<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::batches::BatchRow>(
                    $crate::batches::ALL_ACTIVE_BATCHES,
                )
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn list_batches(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                limit: u32,
            ) -> Result<Vec<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::batches::BatchRow>($crate::batches::LIST_BATCHES)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }

            pub async fn set_batch_state(
                &self,
                id: uuid::Uuid,
                state: $crate::BatchState,
                reason: Option<&str>,
                resume_at: Option<chrono::DateTime<chrono::Utc>>,
                epoch: Option<i64>,
            ) -> Result<$crate::BatchRun, $crate::StoreError> {
                let now = $crate::codec::now();
                let (pause_reason, error) = match state {
                    $crate::BatchState::Paused => (reason, None),
                    $crate::BatchState::Failed | $crate::BatchState::Cancelled => (None, reason),
                    $crate::BatchState::Running | $crate::BatchState::Done => (None, None),
                };
                let resume_at = resume_at.filter(|_| state == $crate::BatchState::Paused);
                let finished_at = (!state.is_active()).then_some($crate::codec::DbTime(now));
                let row = sqlx::query_as::<$db, $crate::batches::BatchRow>(
                    $crate::batches::SET_BATCH_STATE,
                )
                .bind($crate::codec::DbId(id))
                .bind(state.as_str())
                .bind(pause_reason)
                .bind(resume_at.map($crate::codec::DbTime::from))
                .bind(error)
                .bind($crate::codec::DbTime(now))
                .bind(finished_at)
                .bind(epoch)
                .fetch_optional(self.writer())
                .await?;
                match row {
                    Some(row) => Ok(row.try_into()?),
                    None => {
                        let exists = sqlx::query_as::<$db, $crate::batches::BatchRow>(
                            $crate::batches::BATCH_BY_ID,
                        )
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.writer())
                        .await?;
                        Err(match exists {
                            Some(r)
                                if epoch.is_some_and(|e| e != r.lease_epoch)
                                    && $crate::BatchState::parse(&r.state)
                                        .is_some_and(|s| s.is_active()) =>
                            {
                                $crate::StoreError::LeaseLost
                            }
                            Some(r) => $crate::StoreError::Conflict(format!(
                                "the batch sync has already ended ({})",
                                r.state
                            )),
                            None => $crate::StoreError::NotFound,
                        })
                    }
                }
            }

            pub async fn commit_batch_chunk(
                &self,
                chunk: &$crate::BatchChunk,
            ) -> Result<$crate::ChunkOutcome, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let run: $crate::BatchRun =
                    sqlx::query_as::<$db, $crate::batches::BatchRow>(Self::BATCH_FOR_UPDATE)
                        .bind($crate::codec::DbId(chunk.run_id))
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or($crate::StoreError::NotFound)?
                        .try_into()?;
                if let Some(lease) = &chunk.lease {
                    let now = Self::db_now_on(&mut *tx).await?;
                    let current = run.lease_epoch == lease.epoch
                        && run.owner.as_deref() == Some(lease.owner.as_str())
                        && run.lease_until.is_some_and(|t| t > now);
                    if !current {
                        return Err($crate::StoreError::LeaseLost);
                    }
                }
                // Only forward: a chunk before the checkpoint was committed already
                // (the import pass commits several chunks at the last one).
                if run.checkpoint.is_some_and(|c| chunk.checkpoint < c) {
                    return Err($crate::StoreError::Conflict(format!(
                        "the batch sync's checkpoint is already past {}",
                        chunk.checkpoint
                    )));
                }
                let mut failed = Vec::new();
                for commit in &chunk.commits {
                    let mut sp = sqlx::Acquire::begin(&mut tx).await?;
                    match Self::apply_commit(&mut sp, commit).await {
                        Ok(_) => sp.commit().await?,
                        Err($crate::StoreError::Conflict(reason)) => {
                            sp.rollback().await?;
                            Self::fail_commit(&mut tx, commit, &reason).await?;
                            failed.push((commit.customer_id, reason));
                        }
                        Err(e) => return Err(e),
                    }
                }
                let mut counters = run.counters;
                counters.add(&chunk.counters_delta);
                counters.failed = counters.failed.saturating_add(failed.len() as u64);
                let run = sqlx::query_as::<$db, $crate::batches::BatchRow>(
                    $crate::batches::SAVE_BATCH_PROGRESS,
                )
                .bind($crate::codec::DbId(chunk.run_id))
                .bind(sqlx::types::Json(counters))
                .bind(chunk.checkpoint.hyphenated().to_string())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
                tx.commit().await?;
                Ok($crate::ChunkOutcome { run, failed })
            }

            /// Records a refused commit: the link keeps (or gets) the contact id so
            /// the contact is never created again, keeps its old bases, and shows
            /// the failure; the history row says why.
            async fn fail_commit(
                conn: &mut <$db as sqlx::Database>::Connection,
                c: &$crate::SyncCommit,
                reason: &str,
            ) -> Result<(), $crate::StoreError> {
                let now = $crate::codec::DbTime($crate::codec::now());
                let mut sp = sqlx::Connection::begin(&mut *conn).await?;
                let kept = sqlx::query::<$db>($crate::links::FAIL_LINK)
                    .bind($crate::codec::DbId(c.connector_id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind($crate::codec::DbId(c.customer_id))
                    .bind(c.link.hubspot_id.as_deref())
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *sp)
                    .await;
                if kept.is_ok() {
                    sp.commit().await?;
                } else {
                    // The contact id itself was the clash: record the failure without it.
                    sp.rollback().await?;
                    sqlx::query::<$db>($crate::links::FAIL_LINK)
                        .bind($crate::codec::DbId(c.connector_id))
                        .bind($crate::codec::DbId(c.workspace_id))
                        .bind($crate::codec::DbId(c.customer_id))
                        .bind(None::<&str>)
                        .bind(reason)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                let history = $crate::NewHistory {
                    result: $crate::HistoryResult::Failed,
                    error: Some(reason.to_string()),
                    ..c.history.clone()
                };
                Self::insert_history_on(conn, &history).await?;
                Ok(())
            }

            pub async fn claim_batch(
                &self,
                id: uuid::Uuid,
                owner: &str,
                lease: std::time::Duration,
                force: bool,
            ) -> Result<Option<$crate::BatchLease>, $crate::StoreError> {
                let now = self.db_now().await?;
                let epoch = sqlx::query_scalar::<$db, i64>($crate::batches::CLAIM_BATCH)
                    .bind($crate::codec::DbId(id))
                    .bind(owner)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .bind(force)
                    .fetch_optional(self.writer())
                    .await?;
                Ok(epoch.map(|epoch| $crate::BatchLease {
                    run_id: id,
                    owner: owner.to_string(),
                    epoch,
                }))
            }

            pub async fn heartbeat_batch(
                &self,
                lease: &$crate::BatchLease,
                duration: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = self.db_now().await?;
                let done = sqlx::query::<$db>($crate::batches::HEARTBEAT_BATCH)
                    .bind($crate::codec::DbId(lease.run_id))
                    .bind(lease.owner.as_str())
                    .bind(lease.epoch)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, duration)))
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn release_batch(
                &self,
                lease: &$crate::BatchLease,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::batches::RELEASE_BATCH)
                    .bind($crate::codec::DbId(lease.run_id))
                    .bind(lease.owner.as_str())
                    .bind(lease.epoch)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn customers_for_batch(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                after: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::CustomerForSync>, $crate::StoreError> {
                let query = match after {
                    None => sqlx::query_as::<$db, $crate::batches::CustomerLinkRow>(
                        $crate::batches::CUSTOMERS_FOR_BATCH_FIRST,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id)),
                    Some(after) => sqlx::query_as::<$db, $crate::batches::CustomerLinkRow>(
                        $crate::batches::CUSTOMERS_FOR_BATCH_AFTER,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind($crate::codec::DbId(after)),
                };
                query
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.into_parts(connector_id).map_err($crate::StoreError::from))
                    .collect()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
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
        dispatch!(self.set_batch_state(id, state, reason, resume_at, None))
    }

    /// `set_batch_state` by the run's owner: `LeaseLost` (nothing written) once
    /// another claim superseded `lease`.
    #[tracing::instrument(skip(self))]
    pub async fn set_batch_state_fenced(
        &self,
        lease: &BatchLease,
        state: BatchState,
        reason: Option<&str>,
        resume_at: Option<DateTime<Utc>>,
    ) -> Result<BatchRun, StoreError> {
        let epoch = Some(lease.epoch);
        dispatch!(self.set_batch_state(lease.run_id, state, reason, resume_at, epoch))
    }

    /// Takes the active run `id` for `owner` until `lease` from now (database
    /// clock), by compare-and-set: only if nobody holds an unexpired lease on it.
    /// `None` if someone does or the run is not active.
    #[tracing::instrument(skip(self))]
    pub async fn claim_batch(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<BatchLease>, StoreError> {
        dispatch!(self.claim_batch(id, owner, lease, false))
    }

    /// `claim_batch` whatever the run's lease says: for a process that knows no
    /// other can be working on it (start-up of a single process, tests).
    #[tracing::instrument(skip(self))]
    pub async fn take_over_batch(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<BatchLease>, StoreError> {
        dispatch!(self.claim_batch(id, owner, lease, true))
    }

    /// Extends the run's lease; `false` once the claim is no longer current (or
    /// its lease ran out, or the run ended).
    #[tracing::instrument(skip(self))]
    pub async fn heartbeat_batch(
        &self,
        lease: &BatchLease,
        duration: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self.heartbeat_batch(lease, duration))
    }

    /// Gives the run up so another process takes it at once (graceful shutdown).
    #[tracing::instrument(skip(self))]
    pub async fn release_batch(&self, lease: &BatchLease) -> Result<bool, StoreError> {
        dispatch!(self.release_batch(lease))
    }

    /// In one transaction: every commit (as `commit_sync`), the counters and the
    /// checkpoint. A commit refused with `Conflict` (email taken, contact linked
    /// to another customer) does not fail the chunk: it is rolled back to a
    /// savepoint and recorded instead as a failed link (contact id kept, bases
    /// unchanged) and a failed history row with the reason, and counted in
    /// `failed`. The counters are saved whatever the run's state (the HubSpot side
    /// of the chunk is already written), so a cancelled run still records it.
    /// With `chunk.lease`, `LeaseLost` (nothing written) unless that claim is the
    /// run's current one and unexpired; a checkpoint before the run's is refused
    /// with `Conflict` (checkpoints only move forward).
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HistoryResult;

    #[test]
    fn stored_names_round_trip_and_match_serde() {
        for r in HistoryResult::ALL {
            assert_eq!(HistoryResult::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_value(r).expect("serialize"),
                serde_json::Value::from(r.as_str())
            );
        }
        for s in BatchState::ALL {
            assert_eq!(BatchState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).expect("serialize"),
                serde_json::Value::from(s.as_str())
            );
        }
        assert_eq!(HistoryResult::parse("Synced"), None);
        assert!(BatchState::Paused.is_active() && !BatchState::Done.is_active());
    }

    #[test]
    fn counters_add_field_by_field_and_read_missing_keys_as_zero() {
        let mut c: BatchCounters =
            serde_json::from_value(serde_json::json!({"total": 10, "created": 2}))
                .expect("deserialize");
        c.add(&BatchCounters {
            processed: 3,
            created: 1,
            failed: u64::MAX,
            ..BatchCounters::default()
        });
        assert_eq!(c.total, 10);
        assert_eq!(c.processed, 3);
        assert_eq!(c.created, 3);
        assert_eq!(c.failed, u64::MAX);
        c.add(&BatchCounters {
            failed: 1,
            ..BatchCounters::default()
        });
        assert_eq!(c.failed, u64::MAX, "saturates");
    }
}
