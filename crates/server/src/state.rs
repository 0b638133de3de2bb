//! `AppState`: what every handler and worker shares.

use std::sync::Arc;

use keva_hubspot::RateLimiters;
use keva_store::Store;
use tokio::sync::Notify;

use crate::config::{ServerConfig, Settings};
use crate::limits::KeyConcurrency;
use crate::retention::RetentionSettings;
use crate::sync::cluster::Cluster;
use crate::sync::{ClientCache, SyncSettings};

/// Built once from a [`Settings`] by [`AppState::new`]; no field is replaced later.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    /// Wakes this process's workers when a job is enqueued locally, so a sync starts
    /// at once instead of at the next poll.
    pub jobs_notify: Arc<Notify>,
    /// One rate budget per HubSpot portal, shared by every client this process
    /// builds for that portal (API handlers, workers, batch), from
    /// `Settings::rate_limits` (its batch reserve included).
    pub rate_limiters: Arc<RateLimiters>,
    /// Timing of the sync queue (leases, backoff, debounce).
    pub sync: Arc<SyncSettings>,
    /// One HubSpot client per connector, built from its sealed tokens.
    pub clients: Arc<ClientCache>,
    /// Requests each API key may have in flight (`Settings::per_key_concurrency`).
    pub key_concurrency: Arc<KeyConcurrency>,
    /// How long rows that only grow are kept.
    pub retention: Arc<RetentionSettings>,
    /// This process among the `serve` processes on the database: its instance id
    /// and the portals whose HubSpot traffic it drives.
    pub cluster: Arc<Cluster>,
    /// The admin console's own state (sign-in rate limits).
    pub console: Arc<crate::console::ConsoleState>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> Self {
        let Settings {
            server,
            sync,
            rate_limits,
            per_key_concurrency,
            retention,
            cluster,
            sign_in,
        } = settings;
        Self {
            store,
            config: Arc::new(server),
            jobs_notify: Arc::new(Notify::new()),
            rate_limiters: RateLimiters::new(rate_limits),
            sync: Arc::new(sync),
            clients: Arc::new(ClientCache::default()),
            key_concurrency: Arc::new(KeyConcurrency::new(per_key_concurrency)),
            retention: Arc::new(retention),
            cluster: Arc::new(Cluster::new(cluster)),
            console: Arc::new(crate::console::ConsoleState::new(sign_in)),
        }
    }

    /// Wakes local workers after an enqueue (a stored permit covers a worker that
    /// is busy right now and not yet waiting).
    pub fn wake_workers(&self) {
        self.jobs_notify.notify_one();
        self.jobs_notify.notify_waiters();
        if self.cluster.settings.portal_ownership {
            self.cluster.wake();
        }
    }
}
