//! One batch run, from its checkpoint to the end: chunk after chunk, each
//! committed with its checkpoint in one store transaction; a pause when HubSpot's
//! daily limit runs out; a stop after the current chunk when cancelled; retries of
//! a chunk that failed transiently; a heartbeat so another process can tell a live
//! run from one a crash left behind.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, Utc};
use keva_core::{missing_properties, ObjectKind, Trigger};
use keva_hubspot::Priority;
use keva_store::{BatchChunk, BatchRun, BatchState, Connector, StoreError};

use super::chunk::{self, ChunkEnv, ChunkError};
use super::{import, BatchSettings};
use crate::state::AppState;
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
    client: &keva_hubspot::HubspotClient,
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
    to: BatchState,
    reason: Option<&str>,
) -> Result<BatchRun, RunError> {
    match state.store.set_batch_state(run.id, to, reason, None).await {
        Ok(r) => Ok(r),
        // Cancelled meanwhile: the cancel stands.
        Err(StoreError::Conflict(_)) => Ok(state
            .store
            .get_batch(run.workspace_id, run.id)
            .await?
            .unwrap_or_else(|| run.clone())),
        Err(e) => Err(e.into()),
    }
}

/// Works the run until it ends (done, cancelled, failed) and returns it as it
/// ended. A pause is waited out inside (heartbeating), so this can take days.
pub async fn run(
    state: &AppState,
    run: &BatchRun,
    settings: &BatchSettings,
) -> Result<BatchRun, RunError> {
    let Some(connector) = state
        .store
        .get_connector(run.workspace_id, run.connector_id)
        .await?
    else {
        return end(state, run, BatchState::Failed, Some("connector not found")).await;
    };
    let client = match state.clients.client(state, &connector).await {
        Ok(c) => c.with_priority(Priority::Bulk),
        Err(e) => return end(state, run, BatchState::Failed, Some(&e.to_string())).await,
    };
    let mut merge = match rules(state, &connector, &client, false).await {
        Ok(r) => r,
        Err(e) => return end(state, run, BatchState::Failed, Some(&e.to_string())).await,
    };
    let mut chunk_no: u64 = 0;
    loop {
        let Some(current) = state.store.get_batch(run.workspace_id, run.id).await? else {
            return Ok(run.clone());
        };
        match current.state {
            BatchState::Running => {}
            BatchState::Paused => {
                if !wait_paused(state, &current, settings).await? {
                    return Ok(state
                        .store
                        .get_batch(run.workspace_id, run.id)
                        .await?
                        .unwrap_or(current));
                }
                continue;
            }
            _ => return Ok(current),
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
                match import::import_contacts(state, &connector, &client, &merge, &current).await {
                    Ok(()) => {}
                    Err(ChunkError::DailyLimit(reason)) => {
                        pause(state, &current, &reason).await?;
                        continue;
                    }
                    Err(e) => {
                        let reason = format!("importing HubSpot contacts failed: {e}");
                        return end(state, &current, BatchState::Failed, Some(&reason)).await;
                    }
                }
            }
            if let Err(e) = state.store.touch_connector_sync(connector.id).await {
                tracing::warn!(error = %e, "could not record the connector's last sync");
            }
            return end(state, &current, BatchState::Done, None).await;
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
            let result = chunk::process(&env, &rows, settings.hooks.before_create.as_ref()).await;
            match result {
                Ok(work) => break Some(work),
                Err(ChunkError::DailyLimit(reason)) => {
                    pause(state, &current, &reason).await?;
                    break None;
                }
                Err(ChunkError::Fatal(reason)) => {
                    return end(state, &current, BatchState::Failed, Some(&reason)).await;
                }
                Err(ChunkError::Crashed) => return Err(RunError::Crashed),
                Err(ChunkError::Transient(reason)) if attempt >= settings.chunk_attempts => {
                    let reason = format!("a chunk kept failing: {reason}");
                    return end(state, &current, BatchState::Failed, Some(&reason)).await;
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
        let outcome = state
            .store
            .commit_batch_chunk(&BatchChunk {
                run_id: run.id,
                checkpoint: last,
                counters_delta: work.counters,
                commits: work.commits,
            })
            .await?;
        metrics::counter!("batch_customers_processed_total").increment(work.counters.processed);
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

async fn pause(state: &AppState, run: &BatchRun, reason: &str) -> Result<(), RunError> {
    let resume_at = next_daily_reset(Utc::now());
    tracing::warn!(run_id = %run.id, %resume_at, "batch sync paused: {reason}");
    match state
        .store
        .set_batch_state(run.id, BatchState::Paused, Some(reason), Some(resume_at))
        .await
    {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Waits out a pause, heartbeating. `true` when the run is running again,
/// `false` when it ended meanwhile (cancelled).
async fn wait_paused(
    state: &AppState,
    paused: &BatchRun,
    settings: &BatchSettings,
) -> Result<bool, RunError> {
    let since = tokio::time::Instant::now();
    loop {
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
            || settings.daily_recheck.is_some_and(|d| since.elapsed() >= d);
        if due {
            return match state
                .store
                .set_batch_state(run.id, BatchState::Running, None, None)
                .await
            {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict(_)) => Ok(false),
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
        tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
        // Heartbeat: keeps the pause (reason and resume time) and proves we are alive.
        if let Err(StoreError::Conflict(_)) = state
            .store
            .set_batch_state(
                run.id,
                BatchState::Paused,
                run.pause_reason.as_deref(),
                run.resume_at,
            )
            .await
        {
            return Ok(false);
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
