//! Batch sync (`docs/architecture.md`): every customer of a connector's workspace
//! brought into agreement with HubSpot through the same `reconcile` as live syncs,
//! 100 customers at a time, with HubSpot's batch APIs.
//!
//! - `chunk.rs`: one chunk — reads, reconcile, create, update (≈4 calls / 100).
//! - `replan.rs`: the batch's additions to the merge path it shares with the engine
//!   (`sync/merge.rs`): when to re-read with history, what a plan counts as.
//! - `runner.rs`: the run — checkpoint per chunk, pause on the daily limit,
//!   cancel, retries, heartbeat; `import.rs`: the optional HubSpot → Keva pass.
//! - `progress.rs`: a run as the API and the CLI show it (tally, state, ETA).
//! - `schedule.rs`: the cron schedule per connector and the takeover of runs a
//!   crashed process left behind.
//!
//! Pacing: the run's HubSpot client has `Priority::Bulk`, so the portal's shared
//! limiter gives the reserved share of the 10-second window (default 20 %, see
//! [`rate_limiters`]) to live syncs whenever one waits, and lets the batch use it
//! otherwise; the window is kept full and never exceeded, as the limiter counts
//! slots until their responses arrive. The same share of HubSpot's daily limit
//! is left to live syncs (`runner.rs`).

pub mod chunk;
pub mod import;
pub mod progress;
pub mod replan;
pub mod runner;
pub mod schedule;

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::future::BoxFuture;
use keva_hubspot::{RateLimitConfig, RateLimiters};
use keva_store::{BatchRun, StoreError};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::state::AppState;

pub use progress::BatchProgress;
pub use runner::run;

/// The share of each portal's 10-second window batch calls leave to live syncs.
pub const DEFAULT_BATCH_RESERVE: f64 = 0.2;

/// A process's rate limiters with the batch reserve: batch calls, made with
/// `Priority::Bulk`, leave `share` of every window to interactive calls waiting
/// for it.
/// `AppState::new` uses [`DEFAULT_BATCH_RESERVE`]; a process overrides it with
/// `Settings::with_batch_reserve`.
pub fn rate_limiters(reserve_share: f64) -> Arc<RateLimiters> {
    RateLimiters::new(RateLimitConfig {
        bulk_reserve_share: reserve_share,
        ..RateLimitConfig::default()
    })
}

/// Called with the emails about to be created (tests: create one meanwhile to
/// provoke HubSpot's 409).
pub type CreateHook = Arc<dyn Fn(Vec<String>) -> BoxFuture<'static, ()> + Send + Sync>;

/// Test seams; all off in production.
#[derive(Clone, Default)]
pub struct BatchHooks {
    /// Stop like a kill -9 after HubSpot was written for this chunk (0-based,
    /// counted from the run's start in this process) and before its commit.
    pub crash_before_commit: Option<u64>,
    pub before_create: Option<CreateHook>,
}

impl std::fmt::Debug for BatchHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchHooks")
            .field("crash_before_commit", &self.crash_before_commit)
            .field("before_create", &self.before_create.is_some())
            .finish()
    }
}

/// How runs are worked. The defaults suit production; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// Customers per chunk (HubSpot's batch cap is 100).
    pub chunk_size: u32,
    /// How often a running or paused run renews its lease.
    pub heartbeat: Duration,
    /// The run's lease: a run not renewed for this long belongs to a crashed (or
    /// paused, or partitioned) process and is taken over; that process stops
    /// before writing more.
    pub stale_after: Duration,
    /// While paused on the daily limit, try again this often instead of waiting
    /// for `resume_at` (`None`: wait for `resume_at`).
    pub daily_recheck: Option<Duration>,
    /// Attempts at a chunk that fails transiently before the run fails.
    pub chunk_attempts: u32,
    pub retry_base: Duration,
    /// How often the scheduler looks at the connectors' cron schedules.
    pub schedule_tick: Duration,
    pub hooks: BatchHooks,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            chunk_size: 100,
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            daily_recheck: None,
            chunk_attempts: 6,
            retry_base: Duration::from_secs(1),
            schedule_tick: Duration::from_secs(30),
            hooks: BatchHooks::default(),
        }
    }
}

/// The settings of the runs this process starts or takes over: the defaults with
/// the lease of its [`ClusterSettings`](crate::sync::cluster::ClusterSettings).
pub fn settings_for(state: &AppState) -> Arc<BatchSettings> {
    let lease = state.cluster.settings.batch_lease;
    Arc::new(BatchSettings {
        stale_after: lease,
        heartbeat: (lease / 12).max(Duration::from_millis(50)),
        ..BatchSettings::default()
    })
}

/// Waits (at most `grace`) until this process works no run any more.
pub async fn wait_stopped(grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while !RUNNING.lock().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs this process is working on (so a run is never worked twice here; other
/// processes see the heartbeat).
static RUNNING: LazyLock<Mutex<HashSet<Uuid>>> = LazyLock::new(Default::default);

/// Removes the run from `RUNNING` when its task ends, however it ends.
struct Claim(Uuid);

impl Claim {
    fn take(id: Uuid) -> Option<Claim> {
        RUNNING.lock().insert(id).then_some(Claim(id))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING.lock().remove(&self.0);
    }
}

/// Whether this process is working on the run.
pub fn is_running_here(id: Uuid) -> bool {
    RUNNING.lock().contains(&id)
}

/// Starts a run for the connector (`Conflict` if one is active) and works it in
/// a background task — here if this process owns the connector's portal, else
/// the owner takes it over at its next tick.
pub async fn start(
    state: &AppState,
    workspace_id: Uuid,
    connector_id: Uuid,
    settings: Arc<BatchSettings>,
) -> Result<(BatchRun, tokio::task::JoinHandle<()>), StoreError> {
    let total = state.store.count_customers(workspace_id).await?;
    let run = state
        .store
        .start_batch(workspace_id, connector_id, total)
        .await?;
    let owned = match state
        .store
        .get_connector(workspace_id, connector_id)
        .await?
    {
        Some(c) => state.cluster.owns(c.portal_id),
        None => true,
    };
    let handle = if owned {
        spawn(state.clone(), run.clone(), settings)
    } else {
        tokio::spawn(async {})
    };
    Ok((run, handle))
}

/// Works an existing run in a background task, if it can be claimed (no other
/// process holds an unexpired lease on it) and this process is not already.
pub fn spawn(
    state: AppState,
    run: BatchRun,
    settings: Arc<BatchSettings>,
) -> tokio::task::JoinHandle<()> {
    spawn_with(state, run, settings, false)
}

/// `spawn`, or with `force` take the run whatever its lease says (at start, when
/// no other process can be working on it: tests and single-process setups).
pub fn spawn_with(
    state: AppState,
    run: BatchRun,
    settings: Arc<BatchSettings>,
    force: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(_claim) = Claim::take(run.id) else {
            return;
        };
        let owner = state.cluster.id.clone();
        let claimed = if force {
            state
                .store
                .take_over_batch(run.id, &owner, settings.stale_after)
                .await
        } else {
            state
                .store
                .claim_batch(run.id, &owner, settings.stale_after)
                .await
        };
        let lease = match claimed {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run_id = %run.id, error = %e, "could not claim a batch sync");
                return;
            }
        };
        match runner::run(&state, &run, &lease, &settings).await {
            Ok(end) => {
                tracing::info!(run_id = %run.id, state = end.state.as_str(), "batch sync ended")
            }
            Err(e) => tracing::warn!(run_id = %run.id, error = %e, "batch sync stopped"),
        }
    })
}
