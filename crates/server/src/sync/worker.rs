//! The worker: claims jobs from the store's durable queue, runs their handler
//! while heartbeating the lease, and records the end — succeeded, failed with the
//! reason, retried later with backoff (honouring HubSpot's Retry-After) or dead
//! after the last attempt. A reaper requeues jobs whose worker died.
//!
//! Several processes on one PostgreSQL share the queue: the store's claim hands a
//! job to one worker only and never runs two jobs of one key at once. The worker
//! wakes on `state.jobs_notify` for local enqueues and polls for the others'.
//! Stopping (the shutdown token) drops running jobs like a crash would; their
//! leases expire and another worker reruns them (handlers are idempotent).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keva_core::{JobState, RetryDecision, RetryPolicy, SyncDirection, SyncStatus};
use keva_store::{HistoryResult, Job, NewHistory};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::jobs::{CONTACT_MERGE, INBOUND_CONTACT, SYNC_CUSTOMER};
use crate::sync::{engine, SyncError, SyncOutcome};

/// A worker id unique across processes and restarts: host, pid and a random tag.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let tag: u32 = rand::random();
    format!("{host}:{}:{tag:08x}", std::process::id())
}

/// Starts this process's worker loop and reaper; both stop with `shutdown`.
pub fn start_workers(state: AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let id = worker_id();
        tracing::info!(worker = %id, "sync worker started");
        let reaper = tokio::spawn(reap(state.clone(), shutdown.clone()));
        run(state, id, shutdown).await;
        reaper.abort();
    })
}

async fn reap(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(state.sync.reap_every) => {}
        }
        match state.store.reap_expired_leases().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(jobs = n, "requeued jobs whose worker stopped");
                state.wake_workers();
            }
            Err(e) => tracing::warn!(error = %e, "reaping expired leases failed"),
        }
    }
}

async fn run(state: AppState, worker: String, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(state.sync.concurrency.max(1)));
    let mut running = JoinSet::new();
    loop {
        if shutdown.is_cancelled() {
            running.abort_all();
            return;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            match state
                .store
                .claim(&worker, state.sync.lease, u32::try_from(free).unwrap_or(1))
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    Vec::new()
                }
            }
        };
        let got_any = !claimed.is_empty();
        for job in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let state = state.clone();
            let worker = worker.clone();
            running.spawn(async move {
                run_job(&state, &worker, job).await;
                drop(permit);
            });
        }
        if got_any {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                // Like a crash: running jobs are dropped, their leases expire.
                running.abort_all();
                return;
            }
            _ = state.jobs_notify.notified() => {}
            _ = tokio::time::sleep(state.sync.poll) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// Runs one job with a heartbeat, then records how it ended.
async fn run_job(state: &AppState, worker: &str, job: Job) {
    let lease = state.sync.lease;
    let beat = (lease / 3).max(Duration::from_millis(50));
    let handler = handle(state, &job);
    tokio::pin!(handler);
    let result = loop {
        tokio::select! {
            r = &mut handler => break r,
            _ = tokio::time::sleep(beat) => {
                match state.store.heartbeat(job.id, worker, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %job.id, "lost the job's lease; another worker reruns it");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, job = %job.id, "heartbeat failed"),
                }
            }
        }
    };
    if let Err(e) = record(state, worker, &job, result).await {
        tracing::error!(error = %e, job = %job.id, "could not record a job's end");
    }
}

async fn handle(state: &AppState, job: &Job) -> Result<SyncOutcome, SyncError> {
    let connector = state
        .store
        .get_connector(job.workspace_id, job.connector_id)
        .await?
        .ok_or_else(|| SyncError::permanent("the connector no longer exists"))?;
    let text = |key: &str| {
        job.payload
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| SyncError::permanent(format!("job payload lacks {key}")))
    };
    match job.kind.as_str() {
        SYNC_CUSTOMER => {
            let id = Uuid::parse_str(&text("customerId")?)
                .map_err(|_| SyncError::permanent("job payload has a bad customerId"))?;
            engine::sync_customer(state, &connector, id, job.trigger).await
        }
        INBOUND_CONTACT => {
            engine::inbound_contact(state, &connector, &text("objectId")?, job.trigger).await
        }
        CONTACT_MERGE => {
            let merged: Vec<String> = job
                .payload
                .get("mergedObjectIds")
                .and_then(|v| v.as_array())
                .map(|ids| {
                    ids.iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let primary = match job.payload.get("primaryObjectId") {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => text("primaryObjectId")?,
            };
            engine::contact_merge(state, &connector, &primary, &merged, job.trigger).await
        }
        other => Err(SyncError::permanent(format!("unknown job kind {other}"))),
    }
}

/// The job's customer, for recording failures on its link.
fn customer_of(job: &Job) -> Option<Uuid> {
    (job.kind == SYNC_CUSTOMER)
        .then(|| job.payload.get("customerId")?.as_str()?.parse().ok())
        .flatten()
}

async fn record(
    state: &AppState,
    worker: &str,
    job: &Job,
    result: Result<SyncOutcome, SyncError>,
) -> Result<(), keva_store::StoreError> {
    let store = &state.store;
    let err = match result {
        Ok(outcome) => {
            let (end, reason) = if outcome.status == SyncStatus::Failed {
                (JobState::Failed, outcome.reason.as_deref())
            } else {
                (JobState::Succeeded, None)
            };
            store.finish(job.id, worker, end, reason).await?;
            return Ok(());
        }
        Err(e) => e,
    };
    let message = err.to_string();
    if let SyncError::NeedsReconnection(reason) = &err {
        state
            .clients
            .mark_needs_reconnection(state, job.connector_id, reason)
            .await;
    }
    if err.is_retryable() {
        let policy = RetryPolicy {
            max_attempts: job.max_attempts,
            ..state.sync.retry
        };
        if let RetryDecision::RetryAfter(delay) = policy.after_failure(job.attempts, rand::random())
        {
            let wait = delay.max(err.retry_after().unwrap_or_default());
            let run_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::info!(job = %job.id, attempt = job.attempts, wait_ms = wait.as_millis() as u64, error = %message, "job will be retried");
            if store
                .retry_later(job.id, worker, run_at, Some(&message))
                .await?
            {
                if let Some(customer) = customer_of(job) {
                    let reason = format!("retrying: {message}");
                    store
                        .set_link_status(
                            job.connector_id,
                            customer,
                            SyncStatus::Pending,
                            Some(&reason),
                        )
                        .await?;
                }
            }
            return Ok(());
        }
        let reason = format!("gave up after {} attempts: {message}", job.attempts);
        if store
            .finish(job.id, worker, JobState::Dead, Some(&reason))
            .await?
        {
            record_failure(state, job, &reason, err.correlation_id()).await?;
        }
        return Ok(());
    }
    if store
        .finish(job.id, worker, JobState::Failed, Some(&message))
        .await?
    {
        record_failure(state, job, &message, err.correlation_id()).await?;
    }
    Ok(())
}

/// A failed sync: the customer's status and a history row with the reason.
async fn record_failure(
    state: &AppState,
    job: &Job,
    reason: &str,
    correlation_id: Option<&str>,
) -> Result<(), keva_store::StoreError> {
    let customer = customer_of(job);
    let mut hubspot_id = job
        .payload
        .get("objectId")
        .or_else(|| job.payload.get("primaryObjectId"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    if let Some(c) = customer {
        match state
            .store
            .set_link_status(job.connector_id, c, SyncStatus::Failed, Some(reason))
            .await
        {
            Ok(link) => hubspot_id = link.hubspot_id,
            // The customer is gone: nothing to mark.
            Err(keva_store::StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    let outcome = SyncOutcome::skipped(hubspot_id.clone(), SyncStatus::Failed, reason);
    state
        .store
        .insert_history(&NewHistory {
            workspace_id: job.workspace_id,
            connector_id: job.connector_id,
            customer_id: customer,
            hubspot_id,
            trigger: job.trigger,
            direction: SyncDirection::None,
            fields: outcome.history_fields(),
            result: HistoryResult::Failed,
            error: Some(reason.to_string()),
            correlation_id: correlation_id.map(str::to_string),
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_differ_per_worker() {
        let (a, b) = (worker_id(), worker_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }
}
