//! One `HubspotClient` per connector, built from its sealed tokens on first use and
//! kept, so every handler and worker of this process shares the connection pool,
//! the OAuth refresh and (through `state.rate_limiters`) the portal's rate budget.
//!
//! Refreshed OAuth tokens are persisted (sealed) by the client's async refresh hook,
//! which the client awaits before it uses the new token; the store ignores a write
//! older than the stored tokens. A refused grant marks the connector
//! `needs_reconnection` and drops its client; a disconnected connector gets none.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keva_hubspot::{Credentials, HubspotClient, OAuthCredentials, RetryConfig, TokenSet};
use keva_store::{AuthKind, Connector, ConnectorStatus, ConnectorTokens};
use parking_lot::Mutex;
use secrecy::SecretString;
use uuid::Uuid;

use crate::state::AppState;
use crate::sync::SyncError;

/// In-request retries stay short: longer waits belong to the job queue, which
/// backs off without holding a worker.
pub fn request_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(2),
    }
}

/// The per-process client cache.
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<Uuid, HubspotClient>>,
}

impl ClientCache {
    /// The connector's client, built (and cached) from its stored tokens.
    pub async fn client(
        &self,
        state: &AppState,
        connector: &Connector,
    ) -> Result<HubspotClient, SyncError> {
        if connector.status == ConnectorStatus::NeedsReconnection {
            return Err(SyncError::NeedsReconnection(
                connector
                    .status_reason
                    .clone()
                    .unwrap_or_else(|| "the portal must be reconnected".into()),
            ));
        }
        if connector.status == ConnectorStatus::Disconnected {
            self.invalidate(connector.id);
            return Err(SyncError::permanent(
                "the connector is disconnected: connect the portal again to resume",
            ));
        }
        if let Some(c) = self.clients.lock().get(&connector.id) {
            return Ok(c.clone());
        }
        let tokens = state
            .store
            .connector_tokens(connector.workspace_id, connector.id)
            .await?;
        let client = build_client(state, connector, tokens)?;
        self.clients.lock().insert(connector.id, client.clone());
        Ok(client)
    }

    /// Forgets a connector's client (tokens replaced, connector disconnected).
    pub fn invalidate(&self, connector_id: Uuid) {
        self.clients.lock().remove(&connector_id);
    }

    /// Records that the connector's grant was refused: no client is built for it
    /// until it is reconnected.
    pub async fn mark_needs_reconnection(
        &self,
        state: &AppState,
        connector_id: Uuid,
        reason: &str,
    ) {
        self.invalidate(connector_id);
        if let Err(e) = state
            .store
            .set_connector_status(
                connector_id,
                ConnectorStatus::NeedsReconnection,
                Some(reason),
            )
            .await
        {
            tracing::warn!(error = %e, %connector_id, "could not mark the connector for reconnection");
        }
    }
}

/// A client for a token that is not stored yet (connecting a portal).
pub fn client_for_token(state: &AppState, token: SecretString) -> Result<HubspotClient, SyncError> {
    HubspotClient::builder(Credentials::PrivateApp(token))
        .base_url(state.config.hubspot_api_base.clone())
        .rate_limiters(state.rate_limiters.clone())
        .retry(request_retries())
        .build()
        .map_err(SyncError::from)
}

fn build_client(
    state: &AppState,
    connector: &Connector,
    tokens: ConnectorTokens,
) -> Result<HubspotClient, SyncError> {
    let credentials = match connector.auth_kind {
        AuthKind::PrivateApp => Credentials::PrivateApp(tokens.access_token),
        AuthKind::OAuth => {
            let Some(refresh_token) = tokens.refresh_token else {
                return Err(SyncError::NeedsReconnection(
                    "the OAuth connector has no refresh token".into(),
                ));
            };
            let (Some(client_id), Some(client_secret)) = (
                state.config.hubspot_client_id.clone(),
                state.config.hubspot_client_secret.clone(),
            ) else {
                return Err(SyncError::permanent(
                    "OAuth connector but no HubSpot client id/secret configured",
                ));
            };
            let expires_at = tokens.expires_at.unwrap_or_else(chrono::Utc::now);
            let lifetime = (expires_at - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::from_secs(1800))
                .max(Duration::from_secs(60));
            Credentials::OAuth(OAuthCredentials {
                tokens: TokenSet {
                    access_token: tokens.access_token,
                    refresh_token,
                    expires_at,
                    lifetime,
                },
                client_id,
                client_secret,
            })
        }
    };
    let store = state.store.clone();
    let connector_id = connector.id;
    let on_refresh: keva_hubspot::AsyncRefreshHook = Arc::new(
        move |t: TokenSet| -> futures::future::BoxFuture<'static, ()> {
            let store = store.clone();
            Box::pin(async move {
                let tokens = ConnectorTokens {
                    access_token: t.access_token,
                    refresh_token: Some(t.refresh_token),
                    expires_at: Some(t.expires_at),
                };
                // Awaited by the client before the new token is used; a newer stored
                // token (another process refreshed later) is never overwritten.
                match store
                    .store_refreshed_tokens(connector_id, &tokens, chrono::Utc::now())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!(%connector_id, "newer HubSpot tokens already stored; kept them")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, %connector_id, "could not persist refreshed HubSpot tokens")
                    }
                }
            })
        },
    );
    HubspotClient::builder(credentials)
        .base_url(state.config.hubspot_api_base.clone())
        .portal_id(connector.portal_id)
        .rate_limiters(state.rate_limiters.clone())
        .retry(request_retries())
        .on_refresh_async(on_refresh)
        .build()
        .map_err(SyncError::from)
}
