//! `AppState`: what every handler and worker shares.

use std::sync::Arc;

use keva_hubspot::RateLimiters;
use keva_store::Store;
use tokio::sync::Notify;

use crate::config::ServerConfig;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    /// Wakes this process's workers when a job is enqueued locally, so a sync starts
    /// at once instead of at the next poll.
    pub jobs_notify: Arc<Notify>,
    /// One rate budget per HubSpot portal, shared by every client this process
    /// builds for that portal (API handlers, workers, batch).
    pub rate_limiters: Arc<RateLimiters>,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            jobs_notify: Arc::new(Notify::new()),
            rate_limiters: Arc::new(RateLimiters::default()),
        }
    }
}
