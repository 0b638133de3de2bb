//! Row shapes of the sync tables, shared by both backends, and their conversion
//! into the public records (`sync_model.rs`, `jobs.rs`). Text columns holding enums
//! fail the read with a decode error if they hold an unknown spelling.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use keva_core::{
    Bases, Customer, FieldMapping, JobState, KevaField, PropertyInfo, SyncDirection, SyncStatus,
    Trigger,
};
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{DbId, DbTime};
use crate::jobs::Job;
use crate::rows::CustomerRow;
use crate::sync_model::{
    BatchCounters, BatchRun, BatchState, CrmLink, HistoryEntry, HistoryResult, StoredMappings,
    WebhookEvent, WebhookRequest, WebhookSettings,
};

fn decode_error(msg: String) -> sqlx::Error {
    sqlx::Error::Decode(msg.into())
}

fn parse<T>(what: &str, text: &str, f: impl FnOnce(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    f(text).ok_or_else(|| decode_error(format!("unknown {what} {text:?}")))
}

/// Non-negative counts stored as integers.
fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookSettingsRow {
    pub workspace_id: DbId,
    pub app_id: String,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl From<WebhookSettingsRow> for WebhookSettings {
    fn from(r: WebhookSettingsRow) -> Self {
        WebhookSettings {
            workspace_id: r.workspace_id.0,
            app_id: r.app_id,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MappingsRow {
    pub mappings: Json<Vec<FieldMapping>>,
    pub issues: Json<serde_json::Value>,
    pub updated_at: DbTime,
}

impl From<MappingsRow> for StoredMappings {
    fn from(r: MappingsRow) -> Self {
        StoredMappings {
            mappings: r.mappings.0,
            issues: r.issues.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PropertyCacheRow {
    pub properties: Json<Vec<PropertyInfo>>,
    pub fetched_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    pub connector_id: DbId,
    pub workspace_id: DbId,
    pub customer_id: DbId,
    pub hubspot_id: Option<String>,
    pub bases: Option<Json<Bases>>,
    pub status: String,
    pub status_reason: Option<String>,
    pub last_synced_at: Option<DbTime>,
    pub updated_at: DbTime,
}

impl TryFrom<LinkRow> for CrmLink {
    type Error = sqlx::Error;

    fn try_from(r: LinkRow) -> Result<Self, Self::Error> {
        Ok(CrmLink {
            connector_id: r.connector_id.0,
            workspace_id: r.workspace_id.0,
            customer_id: r.customer_id.0,
            hubspot_id: r.hubspot_id,
            bases: r.bases.map(|b| b.0),
            status: parse("sync status", &r.status, SyncStatus::parse)?,
            status_reason: r.status_reason,
            last_synced_at: r.last_synced_at.map(|t| t.0),
            updated_at: r.updated_at.0,
        })
    }
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
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub finished_at: Option<DbTime>,
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
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            finished_at: r.finished_at.map(|t| t.0),
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
