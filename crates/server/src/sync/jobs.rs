//! The job kinds of the sync queue (`docs/sync-contract.md`), the helpers that
//! enqueue them, and the bounded wait for a job's end that Sync Now answers with.
//! Every trigger goes through here, so keys and payloads are built once.

use std::time::Duration;

use chrono::Utc;
use keva_core::{JobState, Trigger};
use keva_store::{ConnectorStatus, EnqueueResult, Job, NewJob, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::state::AppState;

pub const SYNC_CUSTOMER: &str = "sync_customer";
/// Re-reads one contact from HubSpot and reconciles it (enqueued by the webhook intake).
pub const INBOUND_CONTACT: &str = "inbound_contact";
/// Relinks merged contacts to the survivor, then reconciles it.
pub const CONTACT_MERGE: &str = "contact_merge";

/// The coalescing key of a customer's sync on one connector.
pub fn customer_key(connector_id: Uuid, customer_id: Uuid) -> String {
    format!("customer:{connector_id}:{customer_id}")
}

/// A `sync_customer` job for one connector. Profile edits are debounced so that a
/// burst of edits coalesces into one run (and one HubSpot update);
/// `enqueue_customer_sync` sends an isolated edit at once instead.
pub fn customer_job(
    state: &AppState,
    workspace_id: Uuid,
    connector_id: Uuid,
    customer_id: Uuid,
    trigger: Trigger,
) -> NewJob {
    let mut job = NewJob::new(
        workspace_id,
        connector_id,
        SYNC_CUSTOMER,
        customer_key(connector_id, customer_id),
        json!({ "customerId": customer_id }),
        trigger,
    );
    if trigger == Trigger::ProfileUpdate {
        let debounce = chrono::Duration::from_std(state.sync.debounce).unwrap_or_default();
        job.run_at = Some(Utc::now() + debounce);
    }
    job.max_attempts = state.sync.retry.max_attempts;
    job
}

/// Enqueues a customer's sync on every connected connector of its workspace and
/// wakes the workers.
pub async fn enqueue_customer_sync(
    state: &AppState,
    workspace_id: Uuid,
    customer_id: Uuid,
    trigger: Trigger,
) -> Result<Vec<EnqueueResult>, StoreError> {
    let mut out = Vec::new();
    for c in state.store.list_connectors(workspace_id).await? {
        if c.status != ConnectorStatus::Connected {
            continue;
        }
        let mut job = customer_job(state, workspace_id, c.id, customer_id, trigger);
        // The first edit of a customer goes out at once; only edits that follow
        // it within the debounce window wait, and coalesce into one update.
        if job.run_at.is_some()
            && !state
                .store
                .key_enqueued_within(c.id, &job.coalesce_key, state.sync.debounce)
                .await?
        {
            job.run_at = None;
        }
        out.push(state.store.enqueue(&job).await?);
    }
    if !out.is_empty() {
        state.wake_workers();
    }
    Ok(out)
}

/// How often `wait_for_outcome` re-reads the job.
const POLL: Duration = Duration::from_millis(25);

/// How a bounded wait for a job ended.
#[derive(Debug)]
pub enum Waited {
    /// The job (or the twin it was coalesced into) succeeded, failed or died.
    Finished,
    /// Not finished: waiting for a retry, or still queued or running at the
    /// deadline. The job as last read.
    Pending(Box<Job>),
    /// The job is not in the store (not this workspace's).
    Gone,
}

/// Polls job `job_id` until it ends, it waits for a retry (HubSpot rate-limits or
/// failed retryably) or `wait` has passed. A job coalesced into a queued twin is
/// followed to that twin.
pub async fn wait_for_outcome(
    state: &AppState,
    workspace_id: Uuid,
    mut job_id: Uuid,
    wait: Duration,
) -> Result<Waited, StoreError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Some(job) = state.store.get_job(workspace_id, job_id).await? else {
            return Ok(Waited::Gone);
        };
        match job.state {
            JobState::Succeeded => {
                if let Some(twin) = job.coalesced_into {
                    job_id = twin;
                    continue;
                }
                return Ok(Waited::Finished);
            }
            JobState::Failed | JobState::Dead => return Ok(Waited::Finished),
            JobState::Queued if job.attempts > 0 => return Ok(Waited::Pending(Box::new(job))),
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Waited::Pending(Box::new(job)));
        }
        tokio::time::sleep(POLL).await;
    }
}
