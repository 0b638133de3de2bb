//! The job kinds of the sync queue (SYNC-CONTRACT.md) and the helpers that enqueue
//! them. Every trigger goes through here, so keys and payloads are built once.

use chrono::Utc;
use keva_core::Trigger;
use keva_store::{ConnectorStatus, EnqueueResult, NewJob, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::state::AppState;

pub const SYNC_CUSTOMER: &str = "sync_customer";
pub const INBOUND_CONTACT: &str = "inbound_contact";
pub const CONTACT_MERGE: &str = "contact_merge";

/// The coalescing key of a customer's sync on one connector.
pub fn customer_key(connector_id: Uuid, customer_id: Uuid) -> String {
    format!("customer:{connector_id}:{customer_id}")
}

/// A `sync_customer` job for one connector. Profile edits are debounced so that a
/// burst of edits coalesces into one run (and one HubSpot update).
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
        let job = customer_job(state, workspace_id, c.id, customer_id, trigger);
        out.push(state.store.enqueue(&job).await?);
    }
    if !out.is_empty() {
        state.wake_workers();
    }
    Ok(out)
}
