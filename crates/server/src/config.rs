//! The service's settings, as resolved by the CLI from flags and environment.

use std::net::SocketAddr;

use keva_hubspot::RateLimitConfig;
use secrecy::SecretString;

use crate::batch::DEFAULT_BATCH_RESERVE;
use crate::retention::RetentionSettings;
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
    /// HubSpot's consent page (`https://app.hubspot.com/oauth/authorize`, or the
    /// sandbox's `/oauth/authorize`).
    pub hubspot_authorize_url: String,
    /// Scopes the OAuth connect requires (`scope`); a grant without all of them
    /// creates no connector.
    pub oauth_scopes: Vec<String>,
    /// Scopes asked for when the portal has them (`optional_scope`).
    pub oauth_optional_scopes: Vec<String>,
    /// Where `/metrics` is served instead of `listen` (`serve --metrics-listen`),
    /// e.g. an address only the monitoring network reaches; `None` serves it on
    /// `listen` with the API.
    pub metrics_listen: Option<SocketAddr>,
    /// How long one API request may take, body upload included; longer → 408.
    pub request_timeout: std::time::Duration,
}

/// The scopes a connector needs: contacts read/write, the contact schema (describe,
/// property creation) and the company/deal context.
pub const DEFAULT_OAUTH_SCOPES: &[&str] = &[
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
];

/// Asked for when available: creating the mapped contact properties.
pub const DEFAULT_OAUTH_OPTIONAL_SCOPES: &[&str] = &["crm.schemas.contacts.write"];

/// How long one API request may take by default: above Sync Now's longest wait
/// (ten seconds) with room to spare.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where HubSpot sends the browser back to (after `public_url`).
pub const OAUTH_CALLBACK_PATH: &str = "/integrations/hubspot/callback";

/// A space- or comma-separated scope list.
pub fn parse_scopes(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl ServerConfig {
    /// Settings for a service on `listen` that talks to `hubspot_api_base`.
    ///
    /// The consent page is HubSpot's for the production API and `{base}/oauth/authorize`
    /// for any other base (the sandbox).
    pub fn new(listen: SocketAddr, hubspot_api_base: impl Into<String>) -> Self {
        let hubspot_api_base: String = hubspot_api_base.into();
        let hubspot_authorize_url =
            if hubspot_api_base.trim_end_matches('/') == keva_hubspot::HUBSPOT_API_URL {
                keva_hubspot::oauth::HUBSPOT_AUTHORIZE_URL.to_string()
            } else {
                format!("{}/oauth/authorize", hubspot_api_base.trim_end_matches('/'))
            };
        Self {
            listen,
            public_url: format!("http://{listen}"),
            hubspot_api_base,
            hubspot_client_id: None,
            hubspot_client_secret: None,
            hubspot_app_id: None,
            hubspot_authorize_url,
            oauth_scopes: DEFAULT_OAUTH_SCOPES.iter().map(|s| s.to_string()).collect(),
            oauth_optional_scopes: DEFAULT_OAUTH_OPTIONAL_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            metrics_listen: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Whether the OAuth connect flow can run (client id and secret set).
    pub fn oauth_configured(&self) -> bool {
        self.hubspot_client_id.is_some() && self.hubspot_client_secret.is_some()
    }

    /// `public_url` + the callback path: the redirect URI registered with HubSpot.
    pub fn oauth_redirect_uri(&self) -> String {
        format!(
            "{}{OAUTH_CALLBACK_PATH}",
            self.public_url.trim_end_matches('/')
        )
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
    /// Requests one API key may have in flight; more are answered 429.
    pub per_key_concurrency: usize,
    /// How long webhook logs, history and finished jobs are kept.
    pub retention: RetentionSettings,
    /// Sharing portals with other processes on the database (off by default;
    /// `serve` turns it on for PostgreSQL).
    pub cluster: crate::sync::cluster::ClusterSettings,
    /// The console's sign-in rate limits (per account, per source address).
    pub sign_in: crate::console::session::SignInLimits,
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
            per_key_concurrency: crate::limits::DEFAULT_PER_KEY_CONCURRENCY,
            retention: RetentionSettings::default(),
            cluster: crate::sync::cluster::ClusterSettings::default(),
            sign_in: crate::console::session::SignInLimits::default(),
        }
    }

    /// The same settings with another batch reserve (share of every rate window).
    pub fn with_batch_reserve(mut self, share: f64) -> Self {
        self.rate_limits.bulk_reserve_share = share;
        self
    }
}
