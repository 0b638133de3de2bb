//! The worker: claims jobs from the store's durable queue, runs their handler
//! while heartbeating the lease, and records the end — succeeded, failed with the
//! reason, retried later with backoff (honouring HubSpot's Retry-After) or dead
//! after the last attempt. A reaper requeues jobs whose worker died.
//!
//! Several processes on one PostgreSQL share the queue: the store's claim hands a
//! job to one worker only and never runs two jobs of one key at once, and with
//! portal ownership only to the process that owns the job's portal
//! (`cluster.rs`). The worker wakes on `state.jobs_notify` for local enqueues and
//! polls for the others'.
//!
//! Fencing: every claim carries a fencing token (`JobLease`); the heartbeat, the
//! end (finish, retry) and the sync commit itself (`CURRENT_JOB`, read by the
//! engine) are refused once another claim superseded it. A handler whose
//! heartbeat has not succeeded within the lease is dropped before it writes
//! more: by then the reaper may have handed the job to another worker.
//!
//! Stopping (the shutdown token): no more claims; running jobs get
//! `ClusterSettings::shutdown_grace` to finish, the rest are handed back to the
//! queue (due at once) so another process reruns them without waiting for the
//! lease (handlers are idempotent).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keva_core::{JobState, RetryDecision, RetryPolicy, SyncDirection, SyncStatus};
use keva_store::{HistoryResult, Job, JobLease, NewHistory};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::jobs::{CONTACT_MERGE, INBOUND_CONTACT, SYNC_CUSTOMER};
use crate::sync::lease_clock::LeaseClock;
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

tokio::task_local! {
    /// The claim the current task's job runs under: the engine commits with it
    /// (`Store::commit_sync_fenced`). Unset outside a job (batch, tools).
    pub static CURRENT_JOB: JobLease;
}

/// The current job's claim, if the caller runs inside one.
pub fn current_job() -> Option<JobLease> {
    CURRENT_JOB.try_with(Clone::clone).ok()
}

/// Starts this process's worker loop and reaper (and, with portal ownership,
/// its cluster membership first); all stop with `shutdown`. The handle ends once
/// running jobs finished or were handed back.
pub fn start_workers(state: AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let id = state.cluster.id.clone();
        let membership = super::cluster::start(state.clone()).await;
        tracing::info!(worker = %id, "sync worker started");
        let reaper = tokio::spawn(reap(state.clone(), shutdown.clone()));
        run(state, id, shutdown).await;
        reaper.abort();
        if let Some(m) = membership {
            m.abort();
        }
    })
}

async fn reap(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(state.sync.reap_every) => {}
        }
        match state.store.reap_expired_jobs().await {
            Ok(reaped) if reaped.changed == 0 => {}
            Ok(reaped) => {
                tracing::info!(jobs = reaped.changed, "requeued jobs whose worker stopped");
                for job in &reaped.dead {
                    let reason = job.last_error.as_deref().unwrap_or("lease expired");
                    let reason = format!("gave up: {reason}");
                    if let Err(e) = record_failure(&state, job, &reason, None).await {
                        tracing::warn!(error = %e, job = %job.id, "could not record a reaped job's failure");
                    }
                }
                state.wake_workers();
            }
            Err(e) => tracing::warn!(error = %e, "reaping expired leases failed"),
        }
    }
}

async fn run(state: AppState, worker: String, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(state.sync.concurrency.max(1)));
    let mut running = JoinSet::new();
    // The claims of the jobs in `running`, by task, to hand back at shutdown.
    let mut leases: HashMap<tokio::task::Id, JobLease> = HashMap::new();
    loop {
        if shutdown.is_cancelled() {
            drain(&state, running, leases).await;
            return;
        }
        while let Some(done) = running.try_join_next_with_id() {
            leases.remove(&task_id(&done));
        }
        let free = slots.available_permits();
        let limit = u32::try_from(free).unwrap_or(1);
        let claimed = if free == 0 {
            Vec::new()
        } else {
            let claim = match state.cluster.portal_owner() {
                Some(owner) => {
                    state
                        .store
                        .claim_owned(&worker, state.sync.lease, limit, owner)
                        .await
                }
                None => state.store.claim(&worker, state.sync.lease, limit).await,
            };
            match claim {
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
            let lease = job.lease();
            let handle = running.spawn(async move {
                run_job(&state, job).await;
                drop(permit);
            });
            leases.insert(handle.id(), lease);
        }
        if got_any {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = state.jobs_notify.notified() => {}
            _ = tokio::time::sleep(state.sync.poll) => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                leases.remove(&task_id(&done));
            }
        }
    }
}

fn task_id(done: &Result<(tokio::task::Id, ()), tokio::task::JoinError>) -> tokio::task::Id {
    match done {
        Ok((id, ())) => *id,
        Err(e) => e.id(),
    }
}

/// Shutdown: running jobs get the grace period to finish; the rest are stopped
/// and handed back to the queue, due at once, for another process to run.
async fn drain(
    state: &AppState,
    mut running: JoinSet<()>,
    mut leases: HashMap<tokio::task::Id, JobLease>,
) {
    let grace = tokio::time::sleep(state.cluster.settings.shutdown_grace);
    tokio::pin!(grace);
    while !running.is_empty() {
        tokio::select! {
            _ = &mut grace => break,
            Some(done) = running.join_next_with_id() => {
                leases.remove(&task_id(&done));
            }
        }
    }
    running.abort_all();
    while let Some(done) = running.join_next_with_id().await {
        let id = task_id(&done);
        // Finished after all (between the grace and the abort): nothing to hand back.
        if done.is_ok() {
            leases.remove(&id);
        }
    }
    for lease in leases.into_values() {
        match state
            .store
            .retry_later(
                lease.job_id,
                &lease,
                Utc::now(),
                Some("handed back at shutdown"),
            )
            .await
        {
            Ok(_) => tracing::info!(job = %lease.job_id, "handed a running job back at shutdown"),
            Err(e) => tracing::warn!(error = %e, job = %lease.job_id, "could not hand a job back"),
        }
    }
}

/// Runs one job with a heartbeat, then records how it ended. The handler is
/// dropped (writes nothing more) once the lease may have run out without a
/// successful heartbeat, or once a heartbeat is refused.
async fn run_job(state: &AppState, job: Job) {
    let lease = state.sync.lease;
    let claim = job.lease();
    // The lease was set by the claim a moment before now: the clock counts from
    // now minus a margin for that, so the job stops before the lease expires.
    let clock = LeaseClock::new(lease);
    let handler = CURRENT_JOB.scope(claim.clone(), handle(state, &job));
    tokio::pin!(handler);
    // The heartbeat is polled beside the handler, never instead of it: a fenced
    // write holds the job's row (`FOR UPDATE`) until its transaction commits,
    // and the heartbeat's UPDATE of that row waits for it. Awaited on its own,
    // it would wait for a transaction that only this very task can finish.
    let beats = heartbeats(state, &job, &claim, &clock);
    tokio::pin!(beats);
    let result = tokio::select! {
        biased;
        _ = clock.expired() => {
            tracing::warn!(job = %job.id, "no heartbeat within the lease; stopping the job before it writes");
            return;
        }
        r = &mut handler => r,
        () = &mut beats => {
            tracing::warn!(job = %job.id, "lost the job's lease; another worker reruns it");
            return;
        }
    };
    if let Err(e) = record(state, &claim, &job, result).await {
        tracing::error!(error = %e, job = %job.id, "could not record a job's end");
    }
}

/// Renews the job's lease every third of it, moving `clock` on each success;
/// ends only when the database refuses a renewal (the lease went to another
/// claim).
async fn heartbeats(state: &AppState, job: &Job, claim: &JobLease, clock: &LeaseClock) {
    let lease = state.sync.lease;
    let beat = (lease / 3).max(Duration::from_millis(50));
    let mut next_beat = tokio::time::Instant::now() + beat;
    loop {
        tokio::time::sleep_until(next_beat).await;
        let sent = tokio::time::Instant::now();
        next_beat = sent + beat;
        match state.store.heartbeat(job.id, claim, lease).await {
            Ok(true) => clock.renewed(sent),
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, job = %job.id, "heartbeat failed"),
        }
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
    let result = match job.kind.as_str() {
        crate::context::events::CRM_CONTEXT => {
            crate::context::events::handle(state, &connector, &job.payload).await?;
            return Ok(SyncOutcome::skipped(
                None,
                SyncStatus::Synced,
                "CRM context updated",
            ));
        }
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
    };
    // Every contact sync also refreshes the customer's CRM context (when enabled).
    if let Ok(outcome) = &result {
        if let (Some(contact), false) = (&outcome.contact_id, outcome.status == SyncStatus::Failed)
        {
            crate::context::refresh_after_sync(state, &connector, contact).await;
        }
    }
    result
}

/// The job's customer, for recording failures on its link.
fn customer_of(job: &Job) -> Option<Uuid> {
    (job.kind == SYNC_CUSTOMER)
        .then(|| job.payload.get("customerId")?.as_str()?.parse().ok())
        .flatten()
}

async fn record(
    state: &AppState,
    worker: &JobLease,
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
        if state
            .store
            .get_customer(job.workspace_id, c)
            .await?
            .is_none()
        {
            // The customer is gone: nothing to mark.
            return Ok(());
        }
        hubspot_id = state
            .store
            .get_link(job.connector_id, c)
            .await?
            .and_then(|link| link.hubspot_id);
    }
    // History first: whoever sees the link failed also finds why in its history.
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
    if let Some(c) = customer {
        match state
            .store
            .set_link_status(job.connector_id, c, SyncStatus::Failed, Some(reason))
            .await
        {
            // Deleted since: nothing to mark.
            Ok(_) | Err(keva_store::StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
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
