//! The service's settings, as resolved by the CLI from flags and environment.

use std::net::SocketAddr;

use keva_hubspot::RateLimitConfig;
use secrecy::SecretString;

use crate::batch::DEFAULT_BATCH_RESERVE;
use crate::sync::SyncSettings;

/// Everything `serve` needs besides the store. Secrets are `SecretString` so they
/// never reach a log line through `Debug`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The externally visible base URL (webhook signatures are computed over it).
    pub public_url: String,
    pub hubspot_api_base: String,
    pub hubspot_client_id: Option<String>,
    pub hubspot_client_secret: Option<SecretString>,
    pub hubspot_app_id: Option<String>,
}

impl ServerConfig {
    /// Settings for a service on `listen` that talks to `hubspot_api_base`.
    pub fn new(listen: SocketAddr, hubspot_api_base: impl Into<String>) -> Self {
        Self {
            listen,
            public_url: format!("http://{listen}"),
            hubspot_api_base: hubspot_api_base.into(),
            hubspot_client_id: None,
            hubspot_client_secret: None,
            hubspot_app_id: None,
        }
    }
}

/// Everything an [`AppState`](crate::AppState) is built from, once: the service's
/// configuration, the queue's timings and the HubSpot rate budget. Fields start at
/// production defaults; a caller changes them before building the state, never after.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerConfig,
    /// Timing of the sync queue (leases, backoff, debounce).
    pub sync: SyncSettings,
    /// One portal's rate budget; `bulk_reserve_share` is the part of every window
    /// that batch calls leave to live syncs (`serve --batch-reserve`).
    pub rate_limits: RateLimitConfig,
}

impl Settings {
    /// Production defaults around `server`; the batch reserve is
    /// [`DEFAULT_BATCH_RESERVE`].
    pub fn new(server: ServerConfig) -> Self {
        Self {
            server,
            sync: SyncSettings::default(),
            rate_limits: RateLimitConfig {
                bulk_reserve_share: DEFAULT_BATCH_RESERVE,
                ..RateLimitConfig::default()
            },
        }
    }

    /// The same settings with another batch reserve (share of every rate window).
    pub fn with_batch_reserve(mut self, share: f64) -> Self {
        self.rate_limits.bulk_reserve_share = share;
        self
    }
}
