//! The records of the sync engine besides the queue (see `jobs.rs`): connector
//! settings, webhook app settings, stored mappings, customer ↔ contact links,
//! the one-transaction sync commit, history, webhook intake and batch runs.

use chrono::{DateTime, Utc};
use keva_core::{
    Bases, ConflictPolicy, CustomerPatch, FieldMapping, SyncDirection, SyncStatus, Trigger,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::NewJob;

/// The connector settings a user can change after connecting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSettings {
    pub conflict_policy: ConflictPolicy,
    /// Create or link Keva customers for HubSpot contacts not in Keva yet.
    pub import_contacts: bool,
    /// Cron expression for scheduled batch syncs; `None` disables the schedule.
    pub batch_schedule: Option<String>,
}

/// A workspace's HubSpot app for webhooks. The client secret is not part of this
/// struct (see `Store::webhook_secret`), so it can be logged and serialised freely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    pub workspace_id: Uuid,
    pub app_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A connector's saved mappings for one object type, with the validation issues
/// found when they were saved (as the caller built them, e.g. "property missing").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMappings {
    pub mappings: Vec<FieldMapping>,
    pub issues: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// A connector's cached property list and when it was fetched.
pub type CachedProperties = (Vec<keva_core::PropertyInfo>, DateTime<Utc>);

/// The link between a Keva customer and a HubSpot contact, for one connector.
/// There is at most one per (connector, customer), and a contact is linked to at
/// most one customer per connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmLink {
    pub connector_id: Uuid,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    /// `None` before the first link and after the contact was deleted.
    pub hubspot_id: Option<String>,
    /// The values both sides last agreed on (DESIGN §2); `None` before the first sync.
    pub bases: Option<Bases>,
    pub status: SyncStatus,
    pub status_reason: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// What a sync commit writes to the link, as given: `None` for `hubspot_id` or
/// `bases` clears them (pass the current values to keep them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUpdate {
    pub hubspot_id: Option<String>,
    pub bases: Option<Bases>,
    pub status: SyncStatus,
    pub status_reason: Option<String>,
    /// Becomes `last_synced_at`; `None` keeps the previous value.
    pub synced_at: Option<DateTime<Utc>>,
}

/// Everything one applied plan writes on the Keva side, committed together.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncCommit {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub customer_id: Uuid,
    /// The Keva side of the plan (`Plan::keva_patch`); `Some("")` clears a field.
    pub customer_patch: Option<CustomerPatch>,
    pub link: LinkUpdate,
    pub history: NewHistory,
}

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

/// One event of a verified delivery. `(portal_id, event_id)` identifies it: a
/// second copy is a duplicate and is not stored again.
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
    /// Enqueued (with coalescing) only if at least one event was new: a delivery
    /// made only of duplicates (HubSpot's retry) changes nothing but the log.
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
}

/// What `commit_batch_chunk` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub run: BatchRun,
    /// Customers whose commit was refused (email taken, contact linked elsewhere)
    /// and recorded as a failed history row instead, with the reason.
    pub failed: Vec<(Uuid, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
