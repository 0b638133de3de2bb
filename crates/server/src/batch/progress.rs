//! A batch run as the API and the CLI show it: the tally, the state and an ETA
//! from the rate measured so far.

use chrono::{DateTime, Utc};
use keva_store::BatchRun;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Progress of a batch sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchProgress {
    pub id: Uuid,
    pub connector_id: Uuid,
    /// `running`, `paused`, `done`, `cancelled` or `failed`.
    pub state: String,
    /// Customers in the workspace when the run started.
    pub total: u64,
    pub processed: u64,
    /// Contacts created in HubSpot.
    pub created: u64,
    /// Customers linked to a contact that already existed in HubSpot.
    pub linked: u64,
    pub updated_to_crm: u64,
    pub updated_from_crm: u64,
    pub unchanged: u64,
    /// Customers that could not be synced; each has the reason in its history.
    pub failed: u64,
    /// Customers with fields changed on both sides (resolved by the policy).
    pub conflicts: u64,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Estimated end, from the rate measured since the start (running runs only).
    pub eta: Option<DateTime<Utc>>,
    /// Why the run is paused (e.g. HubSpot's daily limit).
    pub pause_reason: Option<String>,
    /// When a paused run resumes.
    pub resume_at: Option<DateTime<Utc>>,
    /// Why the run failed or was cancelled.
    pub error: Option<String>,
}

/// The estimated end of a run that has processed `processed` of `total` since
/// `started_at`, at the rate measured so far.
pub fn eta(
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    processed: u64,
    total: u64,
) -> Option<DateTime<Utc>> {
    if processed == 0 {
        return None;
    }
    let left = total.saturating_sub(processed);
    let elapsed_ms = (now - started_at).num_milliseconds().max(1) as f64;
    let ms_left = elapsed_ms / processed as f64 * left as f64;
    Some(now + chrono::Duration::milliseconds(ms_left.round() as i64))
}

impl BatchProgress {
    pub fn of(run: &BatchRun, now: DateTime<Utc>) -> Self {
        let c = run.counters;
        let running = run.state == keva_store::BatchState::Running;
        Self {
            id: run.id,
            connector_id: run.connector_id,
            state: run.state.as_str().to_string(),
            total: c.total,
            processed: c.processed,
            created: c.created,
            linked: c.linked,
            updated_to_crm: c.updated_to_crm,
            updated_from_crm: c.updated_from_crm,
            unchanged: c.unchanged,
            failed: c.failed,
            conflicts: c.conflicts,
            started_at: run.started_at,
            updated_at: run.updated_at,
            finished_at: run.finished_at,
            eta: if running {
                eta(run.started_at, now, c.processed, c.total)
            } else {
                None
            },
            pause_reason: run.pause_reason.clone(),
            resume_at: run.resume_at,
            error: run.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_the_measured_rate() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let now = start + chrono::Duration::seconds(10);
        assert_eq!(eta(start, now, 0, 100), None);
        // 25 in 10 s → 75 more take 30 s.
        assert_eq!(
            eta(start, now, 25, 100),
            Some(now + chrono::Duration::seconds(30))
        );
        assert_eq!(eta(start, now, 100, 100), Some(now));
    }
}
