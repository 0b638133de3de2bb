//! The background side of batch sync, started with `serve`: runs left active by a
//! crashed process are taken over once their heartbeat is stale, and connectors
//! with a cron `batch_schedule` (UTC, e.g. "0 2 * * *" nightly at 02:00) get a run
//! at each occurrence. Several processes may tick at once: the store allows one
//! active run per connector, so only one of them starts it.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use croner::Cron;
use keva_store::StoreError;
use tokio_util::sync::CancellationToken;

use super::BatchSettings;
use crate::state::AppState;

/// Whether `schedule` has an occurrence in `(after, now]`. An unparseable
/// schedule never fires (the connectors API validates it on save).
pub fn due(schedule: &str, after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let Ok(cron) = Cron::from_str(schedule) else {
        return false;
    };
    cron.find_next_occurrence(&after, false)
        .is_ok_and(|next| next <= now)
}

/// The first occurrence of `schedule` after `after` (what the console shows as
/// the next run); `None` when it does not parse or never occurs again. The same
/// parser as [`due`], so what is shown is what fires.
pub fn next_run(schedule: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Cron::from_str(schedule)
        .ok()?
        .find_next_occurrence(&after, false)
        .ok()
}

/// Why a cron expression is refused, if it is.
pub fn validate(schedule: &str) -> Result<(), String> {
    Cron::from_str(schedule)
        .map(|_| ())
        .map_err(|e| format!("invalid batch schedule {schedule:?}: {e}"))
}

/// Takes over active runs of this process's portals whose lease has expired or
/// was released (a crashed or stopped process; takeover is a compare-and-set in
/// the store), or, with `force`, every active run this process is not working
/// on: at start, when no other process can be working on them — tests and
/// single-process setups. Returns how many it went for.
pub async fn resume_stale(
    state: &AppState,
    settings: &Arc<BatchSettings>,
    force: bool,
) -> Result<usize, StoreError> {
    let now = state.store.database_now().await?;
    let mut taken = 0;
    let mut portals = std::collections::HashMap::new();
    for run in state.store.list_active_batches().await? {
        if super::is_running_here(run.id) {
            continue;
        }
        let free = run.owner.is_none() || run.lease_until.is_none_or(|t| t <= now);
        if !(force || free) {
            continue;
        }
        let portal = match portals.entry(run.connector_id) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => *e.insert(
                state
                    .store
                    .get_connector(run.workspace_id, run.connector_id)
                    .await?
                    .map(|c| c.portal_id),
            ),
        };
        if !portal.is_some_and(|p| state.cluster.owns(p)) {
            continue;
        }
        tracing::info!(run_id = %run.id, "resuming a batch sync left by another process");
        super::spawn_with(state.clone(), run, settings.clone(), force);
        taken += 1;
    }
    Ok(taken)
}

async fn start_due(
    state: &AppState,
    settings: &Arc<BatchSettings>,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for c in state.store.list_all_connectors().await? {
        let Some(schedule) = c.batch_schedule.as_deref() else {
            continue;
        };
        if !due(schedule, after, now) {
            continue;
        }
        match super::start(state, c.workspace_id, c.id, settings.clone()).await {
            Ok((run, _)) => {
                tracing::info!(run_id = %run.id, connector_id = %c.id, "scheduled batch sync started")
            }
            Err(StoreError::Conflict(_)) => {
                tracing::info!(connector_id = %c.id, "scheduled batch sync skipped: one is active")
            }
            Err(e) => {
                tracing::warn!(connector_id = %c.id, error = %e, "scheduled batch sync failed to start")
            }
        }
    }
    Ok(())
}

/// The scheduler and takeover loop, until `shutdown`. Takeover is looked for
/// every `heartbeat` (a released run is picked up within seconds), schedules
/// every `schedule_tick`.
pub fn start_background(
    state: AppState,
    settings: Arc<BatchSettings>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = Utc::now();
        let mut next_schedule = tokio::time::Instant::now();
        loop {
            if let Err(e) = resume_stale(&state, &settings, false).await {
                tracing::warn!(error = %e, "could not look for batch syncs to resume");
            }
            if tokio::time::Instant::now() >= next_schedule {
                let now = Utc::now();
                if let Err(e) = start_due(&state, &settings, last, now).await {
                    tracing::warn!(error = %e, "could not check batch schedules");
                }
                last = now;
                next_schedule = tokio::time::Instant::now() + settings.schedule_tick;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(settings.heartbeat.min(settings.schedule_tick)) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_nightly_schedule_fires_once_per_night() {
        let s = "0 2 * * *";
        assert!(due(s, t("2026-11-27T01:59:30Z"), t("2026-11-27T02:00:00Z")));
        assert!(!due(
            s,
            t("2026-11-27T02:00:00Z"),
            t("2026-11-27T02:00:30Z")
        ));
        assert!(!due(
            s,
            t("2026-11-27T12:00:00Z"),
            t("2026-11-27T12:00:30Z")
        ));
        assert!(!due(
            "not a cron",
            t("2026-11-27T01:00:00Z"),
            t("2026-11-28T01:00:00Z")
        ));
        assert!(validate(s).is_ok());
        assert_eq!(
            next_run(s, t("2026-11-27T02:00:00Z")),
            Some(t("2026-11-28T02:00:00Z"))
        );
        assert_eq!(
            next_run(s, t("2026-11-27T01:59:30Z")),
            Some(t("2026-11-27T02:00:00Z"))
        );
        assert_eq!(next_run("not a cron", t("2026-11-27T01:00:00Z")), None);
        assert!(validate("61 * * * *").is_err());
    }
}
