//! Credentials and the access token's life: private-app tokens as they are, OAuth
//! tokens refreshed ahead of expiry and once on a 401, one refresh at a time.
//!
//! Single flight: every token carries a generation. A caller that finds its token
//! stale takes the refresh lock, and refreshes only if the generation is still the one
//! it saw; everyone queued behind it finds a newer generation and reuses that token.
//! So N concurrent callers cause one refresh per expiry, not N (HubSpot would accept
//! the N, but each one wastes a call and the hook would persist N token sets).
//!
//! A refresh HubSpot refuses because the grant is gone (BAD_REFRESH_TOKEN, revoked,
//! uninstalled) latches `NeedsReconnection`: every later call fails fast with it
//! instead of retrying in a loop.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::error::{HubspotError, Result};
use crate::oauth::TokenEndpoint;

/// What a client authenticates with.
pub enum Credentials {
    /// A private-app access token (never expires by itself).
    PrivateApp(SecretString),
    OAuth(OAuthCredentials),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::PrivateApp(_) => f.write_str("Credentials::PrivateApp(..)"),
            Credentials::OAuth(o) => f
                .debug_struct("Credentials::OAuth")
                .field("client_id", &o.client_id)
                .field("expires_at", &o.tokens.expires_at)
                .finish_non_exhaustive(),
        }
    }
}

/// OAuth tokens of one installed portal plus the app credentials to refresh them.
pub struct OAuthCredentials {
    pub tokens: TokenSet,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// A token pair as the service stores it (encrypted) and restores it.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// The lifetime HubSpot granted (`expires_in`), used to refresh proportionally.
    pub lifetime: Duration,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenSet {
    /// From a token response received now.
    pub fn from_response(resp: &crate::models::TokenResponse) -> Self {
        let lifetime = Duration::from_secs(resp.expires_in);
        let expires_at = Utc::now()
            + chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::zero());
        Self {
            access_token: resp.access_token.clone(),
            refresh_token: resp.refresh_token.clone(),
            expires_at,
            lifetime,
        }
    }
}

/// Called with every new token set before it is used, so the service can persist it
/// (a rotated refresh token must never be lost). Prefer `AsyncRefreshHook` when
/// persisting needs `.await`: it is awaited before the new token is used.
pub type RefreshHook = Arc<dyn Fn(&TokenSet) + Send + Sync>;

/// Awaited with every new token set before it is used (other callers wait for the
/// refresh meanwhile), e.g. to encrypt and store it.
pub type AsyncRefreshHook = Arc<dyn Fn(TokenSet) -> BoxFuture<'static, ()> + Send + Sync>;

/// Wraps a synchronous hook as an async one.
pub(crate) fn from_sync_hook(f: RefreshHook) -> AsyncRefreshHook {
    Arc::new(move |tokens: TokenSet| {
        f(&tokens);
        Box::pin(async {})
    })
}

/// How early to refresh: 10 % of the lifetime, at most 60 s.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

struct Current {
    tokens: TokenSet,
    /// Monotonic deadline after which we refresh before sending.
    refresh_at: Instant,
    generation: u64,
}

fn refresh_deadline(tokens: &TokenSet) -> Instant {
    let left = (tokens.expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let margin = refresh_margin(tokens.lifetime);
    Instant::now() + left.saturating_sub(margin)
}

pub(crate) struct OAuthState {
    current: RwLock<Arc<Current>>,
    refresh_lock: tokio::sync::Mutex<()>,
    revoked: Mutex<Option<String>>,
    client_id: String,
    client_secret: SecretString,
    endpoint: TokenEndpoint,
    hook: Option<AsyncRefreshHook>,
}

/// The token source a client holds.
pub(crate) enum Auth {
    Static(SecretString),
    OAuth(Box<OAuthState>),
}

/// The header value to send and the generation it came from.
pub(crate) struct Bearer {
    pub token: SecretString,
    pub generation: u64,
}

impl Auth {
    pub(crate) fn new(
        credentials: Credentials,
        endpoint: TokenEndpoint,
        hook: Option<AsyncRefreshHook>,
    ) -> Self {
        match credentials {
            Credentials::PrivateApp(token) => Auth::Static(token),
            Credentials::OAuth(o) => {
                let refresh_at = refresh_deadline(&o.tokens);
                Auth::OAuth(Box::new(OAuthState {
                    current: RwLock::new(Arc::new(Current {
                        tokens: o.tokens,
                        refresh_at,
                        generation: 0,
                    })),
                    refresh_lock: tokio::sync::Mutex::new(()),
                    revoked: Mutex::new(None),
                    client_id: o.client_id,
                    client_secret: o.client_secret,
                    endpoint,
                    hook,
                }))
            }
        }
    }

    /// A token fit to send now, refreshing first if it is about to expire.
    pub(crate) async fn bearer(&self) -> Result<Bearer> {
        match self {
            Auth::Static(token) => Ok(Bearer {
                token: token.clone(),
                generation: 0,
            }),
            Auth::OAuth(state) => {
                state.check_revoked()?;
                let current = Arc::clone(&state.current.read());
                if Instant::now() < current.refresh_at {
                    return Ok(current.bearer());
                }
                state.refresh_after(current.generation).await
            }
        }
    }

    /// HubSpot said 401 to a token of `generation`: refresh (once, shared) and give the
    /// token to retry with, or `None` when there is nothing to refresh.
    pub(crate) async fn after_unauthorized(&self, generation: u64) -> Result<Option<Bearer>> {
        match self {
            Auth::Static(_) => Ok(None),
            Auth::OAuth(state) => {
                state.check_revoked()?;
                state.refresh_after(generation).await.map(Some)
            }
        }
    }
}

impl Current {
    fn bearer(&self) -> Bearer {
        Bearer {
            token: self.tokens.access_token.clone(),
            generation: self.generation,
        }
    }
}

impl OAuthState {
    fn check_revoked(&self) -> Result<()> {
        match self.revoked.lock().as_ref() {
            Some(reason) => Err(HubspotError::NeedsReconnection {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Refreshes unless someone already replaced generation `seen`.
    #[tracing::instrument(level = "debug", skip(self))]
    async fn refresh_after(&self, seen: u64) -> Result<Bearer> {
        let _guard = self.refresh_lock.lock().await;
        self.check_revoked()?;
        let current = Arc::clone(&self.current.read());
        if current.generation != seen {
            return Ok(current.bearer());
        }
        let result = self
            .endpoint
            .refresh(
                &self.client_id,
                &self.client_secret,
                &current.tokens.refresh_token,
            )
            .await;
        match result {
            Ok(resp) => {
                let mut tokens = TokenSet::from_response(&resp);
                if resp.refresh_token.expose_secret().is_empty() {
                    tokens.refresh_token = current.tokens.refresh_token.clone();
                }
                metrics::counter!("hubspot_token_refreshes_total", "outcome" => "ok").increment(1);
                tracing::info!(
                    generation = current.generation + 1,
                    lifetime_s = tokens.lifetime.as_secs(),
                    "refreshed HubSpot access token"
                );
                if let Some(hook) = &self.hook {
                    hook(tokens.clone()).await;
                }
                let next = Arc::new(Current {
                    refresh_at: refresh_deadline(&tokens),
                    tokens,
                    generation: current.generation + 1,
                });
                *self.current.write() = Arc::clone(&next);
                Ok(next.bearer())
            }
            Err(err) => {
                metrics::counter!("hubspot_token_refreshes_total", "outcome" => "error")
                    .increment(1);
                if let HubspotError::NeedsReconnection { reason } = &err {
                    tracing::warn!(%reason, "HubSpot refresh token rejected; reconnection needed");
                    *self.revoked.lock() = Some(reason.clone());
                    return Err(err);
                }
                // A transient failure: the old token may still be good for a while.
                if current.tokens.expires_at > Utc::now() + chrono::Duration::seconds(1) {
                    tracing::warn!(error = %err, "token refresh failed; using the current token");
                    return Ok(current.bearer());
                }
                Err(err)
            }
        }
    }
}

/// `Bearer <token>`; the only place an access token is exposed.
pub(crate) fn authorization_value(token: &SecretString) -> String {
    format!("Bearer {}", token.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_ten_percent_capped_at_a_minute() {
        assert_eq!(
            refresh_margin(Duration::from_secs(1800)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = TokenSet {
            access_token: SecretString::from("at-secret".to_string()),
            refresh_token: SecretString::from("rt-secret".to_string()),
            expires_at: Utc::now(),
            lifetime: Duration::from_secs(1800),
        };
        let shown = format!(
            "{t:?} {:?}",
            Credentials::OAuth(OAuthCredentials {
                tokens: t.clone(),
                client_id: "cid".into(),
                client_secret: SecretString::from("cs-secret".to_string()),
            })
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
