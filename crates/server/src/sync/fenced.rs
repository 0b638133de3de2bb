//! The store writes a job handler makes, each under the running job's claim when
//! there is one (`worker::CURRENT_JOB`): a worker whose job was taken over (it
//! paused past its lease, the reaper requeued the job, another claim took it)
//! gets `StoreError::LeaseLost` and writes nothing — no commit, no relink, no
//! unlink, no write intent, no history row. Outside a job (tools, tests) they
//! write as the plain store calls do.

use keva_core::{Bases, Customer, SyncStatus};
use keva_store::{CrmLink, HistoryEntry, NewHistory, StoreError, SyncCommit};
use uuid::Uuid;

use super::worker::current_job;
use crate::state::AppState;

/// `Store::commit_sync`, fenced.
pub async fn commit(state: &AppState, commit: &SyncCommit) -> Result<Option<Customer>, StoreError> {
    match current_job() {
        Some(lease) => state.store.commit_sync_fenced(commit, &lease).await,
        None => state.store.commit_sync(commit).await,
    }
}

/// `Store::relink`, fenced.
pub async fn relink(
    state: &AppState,
    connector_id: Uuid,
    from: &str,
    to: &str,
) -> Result<Option<CrmLink>, StoreError> {
    match current_job() {
        Some(lease) => {
            state
                .store
                .relink_fenced(connector_id, from, to, &lease)
                .await
        }
        None => state.store.relink(connector_id, from, to).await,
    }
}

/// `Store::unlink_hubspot`, fenced.
pub async fn unlink(
    state: &AppState,
    connector_id: Uuid,
    hubspot_id: &str,
    status: SyncStatus,
    reason: Option<&str>,
) -> Result<Option<CrmLink>, StoreError> {
    let store = &state.store;
    match current_job() {
        Some(lease) => {
            store
                .unlink_hubspot_fenced(connector_id, hubspot_id, status, reason, &lease)
                .await
        }
        None => {
            store
                .unlink_hubspot(connector_id, hubspot_id, status, reason)
                .await
        }
    }
}

/// `Store::record_write_intent`, fenced.
pub async fn write_intent(
    state: &AppState,
    connector_id: Uuid,
    customer_id: Uuid,
    bases: &Bases,
) -> Result<bool, StoreError> {
    let lease = current_job();
    state
        .store
        .record_write_intent(connector_id, customer_id, bases, lease.as_ref())
        .await
}

/// `Store::insert_history`, fenced.
pub async fn history(state: &AppState, h: &NewHistory) -> Result<HistoryEntry, StoreError> {
    match current_job() {
        Some(lease) => state.store.insert_history_fenced(h, &lease).await,
        None => state.store.insert_history(h).await,
    }
}
