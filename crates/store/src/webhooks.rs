//! Webhook intake: the request log, the deduplicated events and the one-transaction ingest.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::db::count;
use crate::queue::NewJob;
use crate::StoreError;

// --- SQL ----------------------------------------------------------------------

/// The columns of `WebhookRequestRow`.
macro_rules! request_columns {
    () => {
        "id, received_at, workspace_id, portal_id, event_count, valid, reject_reason, duplicates"
    };
}

/// The columns of `WebhookEventRow`.
macro_rules! event_columns {
    () => {
        "id, event_id, portal_id, connector_id, workspace_id, object_id, subscription_type, \
         occurred_at, payload, received_at"
    };
}

pub(crate) const INSERT_WEBHOOK_REQUEST: &str = concat!(
    "INSERT INTO webhook_requests (",
    request_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
    request_columns!()
);

pub(crate) const WEBHOOK_LOG: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM webhook_requests WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) \
     ORDER BY id DESC LIMIT $3"
);

pub(crate) const INSERT_WEBHOOK_EVENT: &str = concat!(
    "INSERT INTO webhook_events (",
    event_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (workspace_id, portal_id, event_id) DO NOTHING"
);

pub(crate) const CONTACT_EVENTS_SINCE: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM webhook_events WHERE connector_id = $1 AND object_id = $2 AND occurred_at > $3 \
     ORDER BY occurred_at, event_id"
);

// --- records -----------------------------------------------------------------

/// A received webhook request, valid or not, for `GET /api/crm/hubspot/webhooks/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewWebhookRequest {
    pub workspace_id: Option<Uuid>,
    pub portal_id: Option<i64>,
    pub event_count: u32,
    pub valid: bool,
    pub reject_reason: Option<String>,
    /// Ignored by `ingest_webhook`, which counts the duplicates itself.
    pub duplicates: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    pub workspace_id: Option<Uuid>,
    pub portal_id: Option<i64>,
    pub event_count: u32,
    pub valid: bool,
    pub reject_reason: Option<String>,
    pub duplicates: u32,
}

/// One event of a verified delivery, for one workspace. `(workspace_id, portal_id,
/// event_id)` identifies it: a second copy for the same workspace is a duplicate and
/// is not stored again. Another workspace (with its own app on the same portal)
/// cannot pre-empt it: its copy is its own row.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEvent {
    pub event_id: i64,
    pub portal_id: i64,
    /// `None` for a portal no connector knows (recorded and ignored).
    pub connector_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub object_id: String,
    pub subscription_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// A stored webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: Uuid,
    pub event_id: i64,
    pub portal_id: i64,
    pub connector_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub object_id: String,
    pub subscription_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// A verified delivery, stored in one transaction before the receiver answers.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookIngest {
    pub request: NewWebhookRequest,
    pub events: Vec<NewWebhookEvent>,
    /// A job is enqueued (with coalescing) only if its connector got at least one
    /// new event: a delivery made only of duplicates (HubSpot's retry) changes
    /// nothing but the log, and one workspace's duplicates decide nothing for another.
    pub jobs: Vec<NewJob>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResult {
    pub request_id: Uuid,
    pub inserted: u32,
    pub duplicates: u32,
    pub jobs_enqueued: u32,
    pub jobs_coalesced: u32,
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRequestRow {
    pub id: DbId,
    pub received_at: DbTime,
    pub workspace_id: Option<DbId>,
    pub portal_id: Option<i64>,
    pub event_count: i64,
    pub valid: bool,
    pub reject_reason: Option<String>,
    pub duplicates: i64,
}

impl From<WebhookRequestRow> for WebhookRequest {
    fn from(r: WebhookRequestRow) -> Self {
        WebhookRequest {
            id: r.id.0,
            received_at: r.received_at.0,
            workspace_id: r.workspace_id.map(|w| w.0),
            portal_id: r.portal_id,
            event_count: count(r.event_count),
            valid: r.valid,
            reject_reason: r.reject_reason,
            duplicates: count(r.duplicates),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookEventRow {
    pub id: DbId,
    pub event_id: i64,
    pub portal_id: i64,
    pub connector_id: Option<DbId>,
    pub workspace_id: Option<DbId>,
    pub object_id: String,
    pub subscription_type: String,
    pub occurred_at: DbTime,
    pub payload: Json<serde_json::Value>,
    pub received_at: DbTime,
}

impl From<WebhookEventRow> for WebhookEvent {
    fn from(r: WebhookEventRow) -> Self {
        WebhookEvent {
            id: r.id.0,
            event_id: r.event_id,
            portal_id: r.portal_id,
            connector_id: r.connector_id.map(|c| c.0),
            workspace_id: r.workspace_id.map(|w| w.0),
            object_id: r.object_id,
            subscription_type: r.subscription_type,
            occurred_at: r.occurred_at.0,
            payload: r.payload.0,
            received_at: r.received_at.0,
        }
    }
}

// --- queries (instantiated per backend) --------------------------------------

macro_rules! queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn log_webhook_request(
                &self,
                r: &$crate::NewWebhookRequest,
            ) -> Result<$crate::WebhookRequest, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::log_webhook_request_on(&mut conn, r, r.duplicates).await
            }

            async fn log_webhook_request_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                r: &$crate::NewWebhookRequest,
                duplicates: u32,
            ) -> Result<$crate::WebhookRequest, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::webhooks::WebhookRequestRow>(
                    $crate::webhooks::INSERT_WEBHOOK_REQUEST,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .bind(r.workspace_id.map($crate::codec::DbId))
                .bind(r.portal_id)
                .bind(i64::from(r.event_count))
                .bind(r.valid)
                .bind(r.reject_reason.as_deref())
                .bind(i64::from(duplicates))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))?
                .into())
            }

            pub async fn webhook_log(
                &self,
                workspace_id: uuid::Uuid,
                limit: u32,
                before: Option<uuid::Uuid>,
            ) -> Result<Vec<$crate::WebhookRequest>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::webhooks::WebhookRequestRow>(
                    $crate::webhooks::WEBHOOK_LOG,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(before.map($crate::codec::DbId))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .decode()
            }

            pub async fn ingest_webhook(
                &self,
                ingest: &$crate::WebhookIngest,
            ) -> Result<$crate::IngestResult, $crate::StoreError> {
                let now = $crate::codec::now();
                let mut tx = self.begin_write().await?;
                let mut result = $crate::IngestResult::default();
                let mut fresh: std::collections::HashSet<uuid::Uuid> =
                    std::collections::HashSet::new();
                for e in &ingest.events {
                    let done = sqlx::query::<$db>($crate::webhooks::INSERT_WEBHOOK_EVENT)
                        .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                        .bind(e.event_id)
                        .bind(e.portal_id)
                        .bind(e.connector_id.map($crate::codec::DbId))
                        .bind(e.workspace_id.map($crate::codec::DbId))
                        .bind(e.object_id.as_str())
                        .bind(e.subscription_type.as_str())
                        .bind($crate::codec::DbTime::from(e.occurred_at))
                        .bind(sqlx::types::Json(&e.payload))
                        .bind($crate::codec::DbTime(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                    if done.rows_affected() == 0 {
                        result.duplicates += 1;
                    } else {
                        result.inserted += 1;
                        fresh.extend(e.connector_id);
                    }
                }
                {
                    for job in ingest
                        .jobs
                        .iter()
                        .filter(|j| fresh.contains(&j.connector_id))
                    {
                        if Self::enqueue_on(&mut tx, job).await?.coalesced {
                            result.jobs_coalesced += 1;
                        } else {
                            result.jobs_enqueued += 1;
                        }
                    }
                }
                let logged =
                    Self::log_webhook_request_on(&mut tx, &ingest.request, result.duplicates)
                        .await?;
                result.request_id = logged.id;
                tx.commit().await?;
                Ok(result)
            }

            pub async fn contact_events_since(
                &self,
                connector_id: uuid::Uuid,
                object_id: &str,
                after_occurred_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::WebhookEvent>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::webhooks::WebhookEventRow>(
                    $crate::webhooks::CONTACT_EVENTS_SINCE,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object_id)
                .bind($crate::codec::DbTime::from(after_occurred_at))
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
    /// `(workspace_id, portal_id, event_id)` skipped and counted) and the jobs
    /// (coalesced) of the connectors that got a new event. All or nothing.
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
}
