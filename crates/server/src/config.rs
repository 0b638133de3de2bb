//! The service's settings, as resolved by the CLI from flags and environment.

use std::net::SocketAddr;

use secrecy::SecretString;

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
