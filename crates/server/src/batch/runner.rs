//! One batch run, from its checkpoint to the end: chunk after chunk, each
//! committed with its checkpoint in one store transaction; a pause before
//! HubSpot's daily limit runs out, leaving the reserve share of it to live syncs
//! (or when it has run out), until the limit resets or reports room again; a stop after the current chunk when cancelled; retries of
//! a chunk that failed transiently; a heartbeat so another process can tell a live
//! run from one a crash left behind.
//!
//! The run is worked under a claim (`BatchLease`, taken by compare-and-set in
//! `batch::spawn`): a separate task renews it every `heartbeat`, whatever the
//! chunks are doing; every state change and chunk commit is fenced by it; once a
//! renewal is refused or none succeeded within the lease, the run stops before
//! it writes more. It also stops, and hands the run back, at a chunk boundary
//! when the process shuts down or no longer owns the connector's portal.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, Utc};
use keva_core::{missing_properties, ObjectKind, Trigger};
use keva_hubspot::{HubspotClient, Priority};
use keva_store::{BatchChunk, BatchLease, BatchRun, BatchState, Connector, StoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::chunk::{self, ChunkEnv, ChunkError};
use super::{import, BatchSettings};
use crate::state::AppState;
use crate::sync::lease_clock::LeaseClock;
use crate::sync::merge::{MergeRules, Quiet};
use crate::sync::{properties, SyncError};

/// Why a run stopped without reaching an end state (the run stays active and is
/// resumed later, by this process or another).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stopped by a test hook")]
    Crashed,
    #[error("lost the run's lease; another process works it now")]
    LeaseLost,
    #[error("handed back: {0}")]
    HandedBack(&'static str),
}

/// Renews the run's lease on its own task. The run is lost once a renewal is
/// refused (`refused`) or none succeeded within the lease (`clock`, which the
/// work checks itself: after a pause it may run before this task does). Stops
/// when dropped.
struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    refused: CancellationToken,
    clock: Arc<LeaseClock>,
}

impl Heartbeat {
    fn start(state: &AppState, lease: &BatchLease, settings: &BatchSettings) -> Heartbeat {
        let refused = CancellationToken::new();
        let clock = Arc::new(LeaseClock::new(settings.stale_after));
        let (store, lease, refused_tx) = (state.store.clone(), lease.clone(), refused.clone());
        let (every, duration, renewed) = (settings.heartbeat, settings.stale_after, clock.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = renewed.expired() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                let sent = tokio::time::Instant::now();
                match store.heartbeat_batch(&lease, duration).await {
                    Ok(true) => renewed.renewed(sent),
                    Ok(false) => {
                        refused_tx.cancel();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, run_id = %lease.run_id, "batch heartbeat failed")
                    }
                }
            }
            tracing::warn!(run_id = %lease.run_id, "batch sync lost its lease");
        });
        Heartbeat {
            task,
            refused,
            clock,
        }
    }

    /// Whether the run may have been taken over: stop before writing more.
    fn is_lost(&self) -> bool {
        self.refused.is_cancelled() || self.clock.is_expired()
    }

    /// Resolves once the run may have been taken over.
    async fn lost(&self) {
        tokio::select! {
            _ = self.refused.cancelled() => {}
            _ = self.clock.expired() => {}
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// When HubSpot's daily limit resets: midnight (UTC; HubSpot uses the portal's
/// time zone, which the API does not tell, so the pause may end early and the
/// first call then pauses again).
pub fn next_daily_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now
        .date_naive()
        .checked_add_days(Days::new(1))
        .unwrap_or(now.date_naive());
    tomorrow.and_time(NaiveTime::MIN).and_utc()
}

/// The connector-wide merge inputs (mappings, missing properties, policy).
async fn rules(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    refresh: bool,
) -> Result<MergeRules, SyncError> {
    let mappings = properties::mappings(state, connector, ObjectKind::Contact).await?;
    let props = if refresh {
        properties::refresh(state, connector, client, ObjectKind::Contact).await?
    } else {
        properties::cached(state, connector, client, ObjectKind::Contact).await?
    };
    Ok(MergeRules {
        workspace_id: connector.workspace_id,
        connector_id: connector.id,
        missing: missing_properties(&mappings, &props),
        mappings,
        policy: connector.conflict_policy,
        trigger: Trigger::Batch,
        quiet: Quiet::NothingToReport,
    })
}

async fn end(
    state: &AppState,
    run: &BatchRun,
    lease: &BatchLease,
    to: BatchState,
    reason: Option<&str>,
) -> Result<BatchRun, RunError> {
    match state
        .store
        .set_batch_state_fenced(lease, to, reason, None)
        .await
    {
        Ok(r) => Ok(r),
        // Cancelled meanwhile: the cancel stands.
        Err(StoreError::Conflict(_)) => Ok(state
            .store
            .get_batch(run.workspace_id, run.id)
            .await?
            .unwrap_or_else(|| run.clone())),
        Err(StoreError::LeaseLost) => Err(RunError::LeaseLost),
        Err(e) => Err(e.into()),
    }
}

/// Why the run must stop at this chunk boundary, if it must.
fn must_stop(state: &AppState, connector: &Connector, beat: &Heartbeat) -> Option<RunError> {
    if beat.is_lost() {
        return Some(RunError::LeaseLost);
    }
    if state.cluster.stopping.is_cancelled() {
        return Some(RunError::HandedBack("the process is shutting down"));
    }
    if !state.cluster.owns(connector.portal_id) {
        return Some(RunError::HandedBack("another process owns the portal now"));
    }
    None
}

/// Works the run under `lease` until it ends (done, cancelled, failed) and
/// returns it as it ended. A pause is waited out inside (heartbeating), so this
/// can take days. Stopping without an end (`RunError`) leaves the run active:
/// handed back (lease released) on shutdown or portal hand-over, else for
/// takeover once the lease expires.
pub async fn run(
    state: &AppState,
    run: &BatchRun,
    lease: &BatchLease,
    settings: &BatchSettings,
) -> Result<BatchRun, RunError> {
    let beat = Heartbeat::start(state, lease, settings);
    let result = work(state, run, lease, settings, &beat).await;
    drop(beat);
    if let Err(RunError::HandedBack(why)) = &result {
        tracing::info!(run_id = %run.id, "batch sync handed back: {why}");
        if let Err(e) = state.store.release_batch(lease).await {
            tracing::warn!(error = %e, run_id = %run.id, "could not release the batch sync");
        }
    }
    result
}

async fn work(
    state: &AppState,
    run: &BatchRun,
    lease: &BatchLease,
    settings: &BatchSettings,
    beat: &Heartbeat,
) -> Result<BatchRun, RunError> {
    let Some(connector) = state
        .store
        .get_connector(run.workspace_id, run.connector_id)
        .await?
    else {
        return end(
            state,
            run,
            lease,
            BatchState::Failed,
            Some("connector not found"),
        )
        .await;
    };
    let client = match state.clients.client(state, &connector).await {
        Ok(c) => c.with_priority(Priority::Bulk),
        Err(e) => return end(state, run, lease, BatchState::Failed, Some(&e.to_string())).await,
    };
    let mut merge = match rules(state, &connector, &client, false).await {
        Ok(r) => r,
        Err(e) => return end(state, run, lease, BatchState::Failed, Some(&e.to_string())).await,
    };
    let mut chunk_no: u64 = 0;
    // Since when HubSpot's daily-limit reports count (`None`: any of today's).
    let mut learned_since = None;
    // Synced (customer, contact) pairs whose CRM context is read in batches of up
    // to a thousand (one association read per thousand contacts).
    let mut contexts: Vec<(uuid::Uuid, String)> = Vec::new();
    loop {
        if let Some(stop) = must_stop(state, &connector, beat) {
            return Err(stop);
        }
        let Some(current) = state.store.get_batch(run.workspace_id, run.id).await? else {
            return Ok(run.clone());
        };
        match current.state {
            BatchState::Running => {}
            BatchState::Paused => {
                if !wait_paused(state, &current, lease, settings, &connector, &client, beat).await?
                {
                    return Ok(state
                        .store
                        .get_batch(run.workspace_id, run.id)
                        .await?
                        .unwrap_or(current));
                }
                // What HubSpot said before now may be out of date (the day rolled
                // over, the limit was raised): the next chunk learns afresh.
                learned_since = Some(tokio::time::Instant::now());
                continue;
            }
            _ => return Ok(current),
        }
        if let Some(reason) = daily_reserve_reached(&client, learned_since) {
            pause(state, &current, lease, &reason).await?;
            continue;
        }
        let rows = state
            .store
            .customers_for_batch(
                run.workspace_id,
                run.connector_id,
                current.checkpoint,
                settings.chunk_size,
            )
            .await?;
        let Some(last) = rows.last().map(|r| r.0.id) else {
            if connector.import_contacts {
                match import::import_contacts(state, &connector, &client, &merge, &current, lease)
                    .await
                {
                    Ok(()) => {}
                    Err(ChunkError::DailyLimit(reason)) => {
                        pause(state, &current, lease, &reason).await?;
                        continue;
                    }
                    Err(e) => {
                        let reason = format!("importing HubSpot contacts failed: {e}");
                        return end(state, &current, lease, BatchState::Failed, Some(&reason))
                            .await;
                    }
                }
            }
            refresh_contexts(state, &connector, &client, &mut contexts).await;
            if let Err(e) = state.store.touch_connector_sync(connector.id).await {
                tracing::warn!(error = %e, "could not record the connector's last sync");
            }
            return end(state, &current, lease, BatchState::Done, None).await;
        };

        let env = ChunkEnv {
            state,
            connector: &connector,
            client: client.clone(),
            rules: &merge,
        };
        let mut attempt = 0;
        let work = loop {
            attempt += 1;
            // Dropped (no more HubSpot writes) as soon as the lease is lost.
            let result = tokio::select! {
                biased;
                _ = beat.lost() => return Err(RunError::LeaseLost),
                r = chunk::process(&env, &rows, settings.hooks.before_create.as_ref()) => r,
            };
            match result {
                Ok(work) => break Some(work),
                Err(ChunkError::DailyLimit(reason)) => {
                    pause(state, &current, lease, &reason).await?;
                    break None;
                }
                Err(ChunkError::Fatal(reason)) => {
                    return end(state, &current, lease, BatchState::Failed, Some(&reason)).await;
                }
                Err(ChunkError::Crashed) => return Err(RunError::Crashed),
                Err(ChunkError::Transient(reason)) if attempt >= settings.chunk_attempts => {
                    let reason = format!("a chunk kept failing: {reason}");
                    return end(state, &current, lease, BatchState::Failed, Some(&reason)).await;
                }
                Err(ChunkError::Transient(reason)) => {
                    let wait = settings.retry_base * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(run_id = %run.id, attempt, error = %reason, "batch chunk failed; retrying");
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                }
            }
        };
        let Some(work) = work else { continue };
        if settings.hooks.crash_before_commit == Some(chunk_no) {
            return Err(RunError::Crashed);
        }
        chunk_no += 1;
        let relearn = !work.learned_missing.is_empty();
        let synced: Vec<(uuid::Uuid, String)> = work
            .commits
            .iter()
            .filter(|c| c.link.status != keva_core::SyncStatus::Failed)
            .filter_map(|c| Some((c.customer_id, c.link.hubspot_id.clone()?)))
            .collect();
        if beat.is_lost() {
            return Err(RunError::LeaseLost);
        }
        let outcome = match state
            .store
            .commit_batch_chunk(&BatchChunk {
                run_id: run.id,
                checkpoint: last,
                counters_delta: work.counters,
                commits: work.commits,
                lease: Some(lease.clone()),
            })
            .await
        {
            Ok(o) => o,
            Err(StoreError::LeaseLost) => return Err(RunError::LeaseLost),
            Err(e) => return Err(e.into()),
        };
        metrics::counter!("batch_customers_processed_total").increment(work.counters.processed);
        contexts.extend(synced);
        if contexts.len() >= keva_hubspot::associations::ASSOCIATION_BATCH_MAX {
            refresh_contexts(state, &connector, &client, &mut contexts).await;
        }
        if relearn {
            // HubSpot refused a property the cached list has: later chunks skip it.
            match rules(state, &connector, &client, true).await {
                Ok(r) => merge = r,
                Err(e) => tracing::warn!(error = %e, "could not refresh the property list"),
            }
        }
        if outcome.run.state != BatchState::Running {
            return Ok(outcome.run);
        }
    }
}

/// Reads the CRM context of the customers synced so far (when the connector has
/// context on). A failure is logged, not the run's: contexts refresh again on the
/// next sync of each customer.
async fn refresh_contexts(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    pairs: &mut Vec<(uuid::Uuid, String)>,
) {
    if pairs.is_empty() {
        return;
    }
    if let Err(e) = crate::context::refresh_contexts(state, connector, client, pairs).await {
        tracing::warn!(error = %e, connector = %connector.id, "could not refresh CRM contexts");
    }
    pairs.clear();
}

async fn pause(
    state: &AppState,
    run: &BatchRun,
    lease: &BatchLease,
    reason: &str,
) -> Result<(), RunError> {
    let resume_at = next_daily_reset(Utc::now());
    tracing::warn!(run_id = %run.id, %resume_at, "batch sync paused: {reason}");
    match state
        .store
        .set_batch_state_fenced(lease, BatchState::Paused, Some(reason), Some(resume_at))
        .await
    {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(StoreError::LeaseLost) => Err(RunError::LeaseLost),
        Err(e) => Err(e.into()),
    }
}

/// Calls a chunk may make (reads, creates, updates, context), kept in hand when
/// deciding whether it still fits above the daily reserve.
const CHUNK_CALLS: u64 = 8;

/// Why the run must pause before its next chunk to leave the rest of HubSpot's
/// daily limit to live syncs, if it must: HubSpot's last report of today (one
/// made after `since`, when given) leaves less than the reserve and a chunk.
fn daily_reserve_reached(client: &HubspotClient, since: Option<Instant>) -> Option<String> {
    let limiter = client.limiter();
    let daily = limiter.daily()?;
    if since.is_some_and(|t| daily.seen_at < t) {
        return None;
    }
    let reserve = daily.reserve(limiter.reserve_share());
    (daily.remaining < reserve + CHUNK_CALLS).then(|| {
        format!(
            "HubSpot's daily API limit is nearly used up ({} of {} calls left today): the \
             batch pauses to leave the last {reserve} to live syncs, and resumes when the \
             limit resets or allows more",
            daily.remaining, daily.max
        )
    })
}

/// Whether a daily-limit report made after `since` (by live syncs, which keep
/// calling) leaves room for chunks above the reserve again.
fn daily_allows_again(client: &HubspotClient, since: Instant) -> bool {
    let limiter = client.limiter();
    limiter.daily().is_some_and(|d| {
        d.seen_at > since && d.remaining >= d.reserve(limiter.reserve_share()) + CHUNK_CALLS
    })
}

/// Waits out a pause (the heartbeat task keeps the lease). `true` when the run
/// is running again, `false` when it ended meanwhile (cancelled).
#[allow(clippy::too_many_arguments)]
async fn wait_paused(
    state: &AppState,
    paused: &BatchRun,
    lease: &BatchLease,
    settings: &BatchSettings,
    connector: &Connector,
    client: &HubspotClient,
    beat: &Heartbeat,
) -> Result<bool, RunError> {
    let since = tokio::time::Instant::now();
    loop {
        if let Some(stop) = must_stop(state, connector, beat) {
            return Err(stop);
        }
        let Some(run) = state
            .store
            .get_batch(paused.workspace_id, paused.id)
            .await?
        else {
            return Ok(false);
        };
        match run.state {
            BatchState::Running => return Ok(true),
            BatchState::Paused => {}
            _ => return Ok(false),
        }
        let due = run.resume_at.is_none_or(|t| t <= Utc::now())
            || settings.daily_recheck.is_some_and(|d| since.elapsed() >= d)
            || daily_allows_again(client, since);
        if due {
            return match state
                .store
                .set_batch_state_fenced(lease, BatchState::Running, None, None)
                .await
            {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(StoreError::LeaseLost) => Err(RunError::LeaseLost),
                Err(e) => Err(e.into()),
            };
        }
        let mut wait = settings.heartbeat;
        if let Some(t) = run.resume_at {
            let left = (t - Utc::now()).to_std().unwrap_or_default();
            wait = wait.min(left);
        }
        if let Some(d) = settings.daily_recheck {
            wait = wait.min(d.saturating_sub(since.elapsed()));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            _ = beat.lost() => {}
            _ = state.cluster.stopping.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_limit_resets_at_the_next_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T13:45:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let reset = next_daily_reset(now);
        assert_eq!(reset.to_rfc3339(), "2026-11-28T00:00:00+00:00");
        assert!(next_daily_reset(reset) > reset);
    }
}
