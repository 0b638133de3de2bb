//! The background pruner: deletes webhook requests and events, sync history,
//! finished jobs and spent OAuth states once they are older than the operator's
//! retention for their kind (`serve --retain-*-days`), so tables that only grow
//! stay bounded.
//!
//! Each pass deletes in small batches and yields between them, so pruning a large
//! backlog after an upgrade never holds a long lock nor starves live syncs of the
//! database. Every instance may prune: deletes are idempotent, so two instances
//! pruning at once only share the work. What was deleted is counted in
//! `keva_retention_pruned_total{kind}`.

use std::time::Duration;

use chrono::Utc;
use keva_store::{Retained, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// How long each kind of row is kept, and how pruning is paced.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionSettings {
    /// The webhook delivery log (the console's list of valid and refused requests).
    pub webhook_requests: Option<Duration>,
    /// Ingested webhook events (they deduplicate HubSpot's retries, which stop
    /// within three days).
    pub webhook_events: Option<Duration>,
    /// Sync history (what the console's history page and Test Mapping show).
    pub history: Option<Duration>,
    /// Succeeded, failed and dead jobs, from when they finished.
    pub finished_jobs: Option<Duration>,
    /// OAuth authorize states, from when they expired.
    pub oauth_states: Option<Duration>,
    /// Time between passes.
    pub every: Duration,
    /// Rows per delete statement.
    pub batch: u32,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            webhook_requests: Some(DAY * 14),
            webhook_events: Some(DAY * 30),
            history: Some(DAY * 90),
            finished_jobs: Some(DAY * 7),
            oauth_states: Some(DAY),
            every: Duration::from_secs(10 * 60),
            batch: 500,
        }
    }
}

impl RetentionSettings {
    /// How long `what` is kept; `None` keeps it forever.
    pub fn keep(&self, what: Retained) -> Option<Duration> {
        match what {
            Retained::WebhookRequests => self.webhook_requests,
            Retained::WebhookEvents => self.webhook_events,
            Retained::History => self.history,
            Retained::FinishedJobs => self.finished_jobs,
            Retained::OAuthStates => self.oauth_states,
        }
    }
}

/// Registers the metric's description (once, with the recorder).
pub fn describe() {
    metrics::describe_counter!(
        "keva_retention_pruned_total",
        "Rows deleted by retention, by kind"
    );
}

/// One pass over every kind: deletes, batch by batch, what is older than its
/// retention. Returns how many rows of each kind went.
pub async fn prune_once(
    store: &Store,
    settings: &RetentionSettings,
    shutdown: &CancellationToken,
) -> Result<Vec<(Retained, u64)>, StoreError> {
    let mut pruned = Vec::new();
    for what in Retained::ALL {
        let Some(keep) = settings.keep(what) else {
            continue;
        };
        let Ok(keep) = chrono::Duration::from_std(keep) else {
            continue;
        };
        let cutoff = Utc::now() - keep;
        let mut total = 0;
        loop {
            let n = store.prune(what, cutoff, settings.batch).await?;
            total += n;
            metrics::counter!("keva_retention_pruned_total", "kind" => what.as_str()).increment(n);
            if n < u64::from(settings.batch) || shutdown.is_cancelled() {
                break;
            }
            // Let other work at the database between batches.
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(kind = what.as_str(), rows = total, "retention pruned");
        }
        pruned.push((what, total));
    }
    Ok(pruned)
}

/// Prunes every `settings.every` until `shutdown`.
pub fn start_background(
    store: Store,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = prune_once(&store, &settings, &shutdown).await {
                tracing::warn!(error = %e, "retention pass failed; retried next pass");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(settings.every) => {}
            }
        }
    })
}
