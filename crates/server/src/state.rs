//! `AppState`: what every handler and worker shares.

use std::sync::Arc;

use keva_hubspot::RateLimiters;
use keva_store::Store;
use tokio::sync::Notify;

use crate::batch::{rate_limiters, DEFAULT_BATCH_RESERVE};
use crate::config::ServerConfig;
use crate::sync::{Connections, SyncSettings};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    /// Wakes this process's workers when a job is enqueued locally, so a sync starts
    /// at once instead of at the next poll.
    pub jobs_notify: Arc<Notify>,
    /// One rate budget per HubSpot portal, shared by every client this process
    /// builds for that portal (API handlers, workers, batch). Batch calls leave
    /// [`DEFAULT_BATCH_RESERVE`] of every window to live syncs unless the process
    /// overrides it (`serve --batch-reserve` / `KEVA_BATCH_RESERVE`).
    pub rate_limiters: Arc<RateLimiters>,
    /// Timing of the sync queue (leases, backoff, debounce).
    pub sync: Arc<SyncSettings>,
    /// One HubSpot client per connector, built from its sealed tokens.
    pub connections: Arc<Connections>,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            jobs_notify: Arc::new(Notify::new()),
            rate_limiters: rate_limiters(DEFAULT_BATCH_RESERVE),
            sync: Arc::new(SyncSettings::default()),
            connections: Arc::new(Connections::default()),
        }
    }

    /// The same state with other queue timings (tests shorten them).
    pub fn with_sync_settings(mut self, settings: SyncSettings) -> Self {
        self.sync = Arc::new(settings);
        self
    }

    /// Wakes local workers after an enqueue (a stored permit covers a worker that
    /// is busy right now and not yet waiting).
    pub fn wake_workers(&self) {
        self.jobs_notify.notify_one();
        self.jobs_notify.notify_waiters();
    }
}
