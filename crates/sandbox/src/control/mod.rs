//! The sandbox's control plane: who may call (tokens, OAuth apps), how often (rate
//! limits), what goes wrong on purpose (faults), what was called (stats), and who
//! hears about changes (webhook delivery).
//!
//! The data plane wraps its HubSpot API routes in `hubspot_api_guard` and merges
//! `control_router`; it reports record changes through `Control::webhooks.emit`.

pub mod admin;
pub mod auth;
pub mod faults;
mod guard;
pub mod oauth;
pub mod ratelimit;
pub mod stats;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

pub use guard::hubspot_api_guard;

use auth::{AppCredentials, TokenStore};
use ratelimit::{RateLimitSettings, RateLimiter};
use webhooks::DeliveryOptions;

/// Everything the control plane can be configured with; `Default` is HubSpot's
/// behaviour for a Free/Starter portal.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Rate limits; set `rate_limits.enabled = false` (or use `without_rate_limits`)
    /// for benchmarks.
    pub rate_limits: RateLimitSettings,
    /// OAuth access-token lifetime (HubSpot: 30 minutes).
    pub token_lifetime: Duration,
    /// How long an authorization code may wait for its exchange (single-use either
    /// way); tests shorten it to see an expired code refused.
    pub auth_code_lifetime: Duration,
    /// The app every portal has installed and every private-app token belongs to.
    pub default_app: AppCredentials,
    pub webhooks: DeliveryOptions,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            rate_limits: RateLimitSettings::default(),
            token_lifetime: Duration::from_secs(1800),
            auth_code_lifetime: auth::AUTH_CODE_LIFETIME,
            default_app: AppCredentials::generate(),
            webhooks: DeliveryOptions::default(),
        }
    }
}

impl ControlConfig {
    /// The default configuration with every rate limit switched off.
    pub fn without_rate_limits() -> Self {
        let mut c = Self::default();
        c.rate_limits.enabled = false;
        c
    }
}

/// The control plane's shared state.
#[derive(Debug)]
pub struct Control {
    pub tokens: TokenStore,
    pub limiter: RateLimiter,
    pub faults: faults::Faults,
    pub stats: stats::Stats,
    pub webhooks: webhooks::Dispatcher,
}

impl Control {
    /// Must be called inside a tokio runtime: it spawns the webhook delivery task.
    pub fn new(config: ControlConfig) -> Arc<Control> {
        let tokens = TokenStore::new(config.default_app, config.token_lifetime);
        tokens.set_auth_code_lifetime(config.auth_code_lifetime);
        let webhooks = webhooks::Dispatcher::new(tokens.clone(), config.webhooks);
        Arc::new(Control {
            tokens,
            limiter: RateLimiter::new(config.rate_limits),
            faults: faults::Faults::default(),
            stats: stats::Stats::default(),
            webhooks,
        })
    }
}

/// OAuth, webhooks v3 and the control plane's `/_sandbox/` routes, state applied.
pub fn control_router(control: Arc<Control>) -> axum::Router {
    axum::Router::new()
        .merge(oauth::router())
        .merge(webhooks::routes::router())
        .merge(admin::router())
        .with_state(control)
}
