//! Sync history: one row per sync attempt.

use chrono::{DateTime, Utc};
use keva_core::{SyncDirection, Trigger};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::db::parse;
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `HistoryRow`.
macro_rules! history_columns {
    () => {
        "id, workspace_id, connector_id, customer_id, hubspot_id, trigger, direction, fields, \
         result, error, correlation_id, created_at"
    };
}

pub(crate) const INSERT_HISTORY: &str = concat!(
    "INSERT INTO sync_history (",
    history_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    history_columns!()
);

pub(crate) const CUSTOMER_HISTORY: &str = concat!(
    "SELECT ",
    history_columns!(),
    " FROM sync_history WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id DESC LIMIT $3"
);

pub(crate) const HISTORY_PAGE: &str = concat!(
    "SELECT ",
    history_columns!(),
    " FROM sync_history WHERE workspace_id = $1 AND connector_id = $2 \
     AND ($3 IS NULL OR result = $3) AND ($4 IS NULL OR id < $4) \
     AND ($6 IS NULL OR customer_id = $6) ORDER BY id DESC LIMIT $5"
);

// --- records -----------------------------------------------------------------

/// How a sync attempt ended, as the history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryResult {
    Synced,
    Failed,
    Conflict,
    /// Nothing was attempted (e.g. an echo of our own write, an unlinked contact).
    Skipped,
}

impl HistoryResult {
    pub const ALL: [HistoryResult; 4] = [
        HistoryResult::Synced,
        HistoryResult::Failed,
        HistoryResult::Conflict,
        HistoryResult::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryResult::Synced => "synced",
            HistoryResult::Failed => "failed",
            HistoryResult::Conflict => "conflict",
            HistoryResult::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Which attempts a history page holds; `Default` is every attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub result: Option<HistoryResult>,
    pub customer_id: Option<Uuid>,
}

/// A history row to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHistory {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub hubspot_id: Option<String>,
    pub trigger: Trigger,
    pub direction: SyncDirection,
    /// Fields changed, conflicts and warnings, as the engine builds them.
    pub fields: serde_json::Value,
    pub result: HistoryResult,
    pub error: Option<String>,
    /// HubSpot's correlationId of the failing call, for support.
    pub correlation_id: Option<String>,
}

/// One sync attempt. Ids are uuid v7, so id order is time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub hubspot_id: Option<String>,
    pub trigger: Trigger,
    pub direction: SyncDirection,
    pub fields: serde_json::Value,
    pub result: HistoryResult,
    pub error: Option<String>,
    pub correlation_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub id: DbId,
    pub workspace_id: DbId,
    pub connector_id: DbId,
    pub customer_id: Option<DbId>,
    pub hubspot_id: Option<String>,
    pub trigger: String,
    pub direction: String,
    pub fields: Json<serde_json::Value>,
    pub result: String,
    pub error: Option<String>,
    pub correlation_id: Option<String>,
    pub created_at: DbTime,
}

impl TryFrom<HistoryRow> for HistoryEntry {
    type Error = sqlx::Error;

    fn try_from(r: HistoryRow) -> Result<Self, Self::Error> {
        Ok(HistoryEntry {
            id: r.id.0,
            workspace_id: r.workspace_id.0,
            connector_id: r.connector_id.0,
            customer_id: r.customer_id.map(|c| c.0),
            hubspot_id: r.hubspot_id,
            trigger: parse("trigger", &r.trigger, Trigger::parse)?,
            direction: parse("direction", &r.direction, SyncDirection::parse)?,
            fields: r.fields.0,
            result: parse("history result", &r.result, HistoryResult::parse)?,
            error: r.error,
            correlation_id: r.correlation_id,
            created_at: r.created_at.0,
        })
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn insert_history(
                &self,
                h: &$crate::NewHistory,
            ) -> Result<$crate::HistoryEntry, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::insert_history_on(&mut conn, h).await
            }

            pub async fn insert_history_fenced(
                &self,
                h: &$crate::NewHistory,
                lease: &$crate::JobLease,
            ) -> Result<$crate::HistoryEntry, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                Self::check_job_fence(&mut tx, lease).await?;
                let entry = Self::insert_history_on(&mut tx, h).await?;
                tx.commit().await?;
                Ok(entry)
            }

            async fn insert_history_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                h: &$crate::NewHistory,
            ) -> Result<$crate::HistoryEntry, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::history::HistoryRow>(
                    $crate::history::INSERT_HISTORY,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbId(h.workspace_id))
                .bind($crate::codec::DbId(h.connector_id))
                .bind(h.customer_id.map($crate::codec::DbId))
                .bind(h.hubspot_id.as_deref())
                .bind(h.trigger.as_str())
                .bind(h.direction.as_str())
                .bind(sqlx::types::Json(&h.fields))
                .bind(h.result.as_str())
                .bind(h.error.as_deref())
                .bind(h.correlation_id.as_deref())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(row.try_into()?)
            }

            pub async fn customer_history(
                &self,
                workspace_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                limit: u32,
            ) -> Result<Vec<$crate::HistoryEntry>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::history::HistoryRow>(
                    $crate::history::CUSTOMER_HISTORY,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(customer_id))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn history(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                filter: $crate::HistoryFilter,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::HistoryEntry>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::history::HistoryRow>($crate::history::HISTORY_PAGE)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind(filter.result.map(|r| r.as_str()))
                    .bind(before.map($crate::codec::DbId))
                    .bind(i64::from(limit))
                    .bind(filter.customer_id.map($crate::codec::DbId))
                    .fetch_all(self.reader())
                    .await?
                    .decode()
            }
        }
    };
}

pub(crate) use queries;

// --- facade ------------------------------------------------------------------

impl crate::Store {
    #[tracing::instrument(skip(self, h))]
    pub async fn insert_history(&self, h: &NewHistory) -> Result<HistoryEntry, StoreError> {
        dispatch!(self.insert_history(h))
    }

    /// `insert_history` by a job handler: `LeaseLost` (nothing written) unless
    /// `lease` is still the job's current, unexpired claim.
    #[tracing::instrument(skip(self, h, lease), fields(job_id = %lease.job_id))]
    pub async fn insert_history_fenced(
        &self,
        h: &NewHistory,
        lease: &crate::JobLease,
    ) -> Result<HistoryEntry, StoreError> {
        dispatch!(self.insert_history_fenced(h, lease))
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
        let filter = HistoryFilter {
            result,
            customer_id: None,
        };
        dispatch!(self.history(workspace_id, connector_id, filter, before, limit))
    }

    /// [`history`](Self::history) narrowed by `filter` (a result, a customer, or
    /// both); a customer of another workspace matches nothing.
    #[tracing::instrument(skip(self))]
    pub async fn history_filtered(
        &self,
        workspace_id: Uuid,
        connector_id: Uuid,
        filter: HistoryFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(self.history(workspace_id, connector_id, filter, before, limit))
    }
}
