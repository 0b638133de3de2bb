//! Who may call the sandbox: apps, their installs on portals, and every kind of token.
//!
//! HubSpot authenticates API calls with `Authorization: Bearer <token>`, where the
//! token is either a private-app token (`pat-na1-<uuid>`, never expires) or an OAuth
//! access token (expires after 30 minutes by default). OAuth access tokens come from
//! authorization codes and refresh tokens; refresh tokens stay valid until revoked.
//! This module keeps all of that in memory; `oauth.rs` is its HTTP face.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use keva_hubspot::signature::signatures_equal;
use parking_lot::RwLock;
use rand::Rng;

/// What the guard hands to the data plane for an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub portal_id: u64,
    pub app_id: u64,
    pub scopes: Vec<String>,
}

/// How a token was obtained; decides expiry and which rate-limit headers apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    PrivateApp,
    OAuth,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub context: AuthContext,
    pub kind: TokenKind,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Unknown,
    /// Expired this many milliseconds ago.
    Expired {
        ago_ms: i64,
    },
}

/// The credentials of one app, as `/_sandbox/apps` and the CLI report them.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub app_id: u64,
    pub client_id: String,
    pub client_secret: String,
}

/// Redacts the secret: configs and apps end up in debug logs.
impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl AppCredentials {
    /// Fresh random credentials shaped like HubSpot's (uuid client id and secret,
    /// numeric app id that fits HubSpot's int32 `app_id`).
    pub fn generate() -> Self {
        Self {
            app_id: rand::rng().random_range(1_000_000..9_999_999),
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// An OAuth app registered in the sandbox.
#[derive(Debug, Clone)]
pub struct App {
    pub credentials: AppCredentials,
    pub name: String,
    /// Empty means "any redirect URI", which is convenient for local testing.
    pub redirect_uris: Vec<String>,
    pub installed_portals: BTreeSet<u64>,
    /// The scopes this app may be granted; `None` means any. Requested scopes
    /// outside the set are left out of the grant.
    pub grantable_scopes: Option<BTreeSet<String>>,
}

/// The scopes the sandbox grants when an authorize URL names none, and to
/// private-app tokens.
pub const DEFAULT_SCOPES: &[&str] = &[
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
];

/// The single user every sandbox portal has, as token-info responses name it.
pub const SANDBOX_USER_ID: u64 = 1_000_001;
pub const SANDBOX_USER: &str = "sandbox-user@example.com";

/// How long an authorization code may wait before it is exchanged, by default.
pub const AUTH_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
struct AccessToken {
    kind: TokenKind,
    portal_id: u64,
    app_id: u64,
    scopes: Vec<String>,
    /// `None` for private-app tokens.
    expires_at_ms: Option<i64>,
}

/// A refresh token's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub portal_id: u64,
    pub app_id: u64,
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct AuthCode {
    app_id: u64,
    redirect_uri: String,
    portal_id: u64,
    scopes: Vec<String>,
    expires_at_ms: i64,
}

/// What the token-info endpoint reports about a live access token.
#[derive(Debug, Clone)]
pub struct AccessTokenInfo {
    pub portal_id: u64,
    pub app_id: u64,
    pub scopes: Vec<String>,
    pub kind: TokenKind,
    /// Seconds left; `None` for tokens that never expire.
    pub expires_in_secs: Option<i64>,
}

/// A freshly issued OAuth token pair (no `Debug`: it holds bearer secrets).
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in_secs: i64,
    pub portal_id: u64,
    pub scopes: Vec<String>,
}

/// Why a token request failed, in HubSpot's `status` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    BadClientId,
    BadClientSecret,
    BadAuthCode,
    BadRedirectUri,
    BadRefreshToken,
}

#[derive(Default)]
struct Inner {
    apps: HashMap<u64, App>,
    app_by_client_id: HashMap<String, u64>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    auth_codes: HashMap<String, AuthCode>,
    portals: BTreeSet<u64>,
    /// Portals that can grant only these scopes (as if the account lacked the
    /// products behind the others); a portal not listed grants any scope.
    portal_scopes: HashMap<u64, BTreeSet<String>>,
}

impl Inner {
    /// Whether `app_id` installed on `portal_id` may be granted `scope`.
    fn grantable(&self, app_id: u64, portal_id: u64, scope: &str) -> bool {
        let by_app = self
            .apps
            .get(&app_id)
            .and_then(|a| a.grantable_scopes.as_ref())
            .is_none_or(|allowed| allowed.contains(scope));
        let by_portal = self
            .portal_scopes
            .get(&portal_id)
            .is_none_or(|allowed| allowed.contains(scope));
        by_app && by_portal
    }
}

/// All apps, installs and tokens. Cheap to clone (shared state), so the webhook
/// dispatcher can look up apps from its background task.
#[derive(Clone)]
pub struct TokenStore {
    inner: Arc<RwLock<Inner>>,
    default_app_id: u64,
    token_lifetime: Arc<RwLock<Duration>>,
    auth_code_lifetime: Arc<RwLock<Duration>>,
}

/// Counts only: tokens are bearer secrets and must not reach logs.
impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("TokenStore")
            .field("default_app_id", &self.default_app_id)
            .field("apps", &inner.apps.len())
            .field("access_tokens", &inner.access_tokens.len())
            .field("refresh_tokens", &inner.refresh_tokens.len())
            .field("portals", &inner.portals)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4())
}

impl TokenStore {
    /// A store holding the default app.
    pub fn new(default_app: AppCredentials, token_lifetime: Duration) -> Self {
        let default_app_id = default_app.app_id;
        let mut inner = Inner::default();
        inner
            .app_by_client_id
            .insert(default_app.client_id.clone(), default_app_id);
        inner.apps.insert(
            default_app_id,
            App {
                credentials: default_app,
                name: "Keva Sync (sandbox default app)".into(),
                redirect_uris: Vec::new(),
                installed_portals: BTreeSet::new(),
                grantable_scopes: None,
            },
        );
        Self {
            inner: Arc::new(RwLock::new(inner)),
            default_app_id,
            token_lifetime: Arc::new(RwLock::new(token_lifetime)),
            auth_code_lifetime: Arc::new(RwLock::new(AUTH_CODE_LIFETIME)),
        }
    }

    pub fn default_app_id(&self) -> u64 {
        self.default_app_id
    }

    pub fn default_app(&self) -> AppCredentials {
        self.app(self.default_app_id)
            .map(|a| a.credentials)
            .unwrap_or_else(|| unreachable!("the default app is never removed"))
    }

    pub fn token_lifetime(&self) -> Duration {
        *self.token_lifetime.read()
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.token_lifetime.write() = lifetime;
    }

    /// How long a new authorization code stays exchangeable.
    pub fn set_auth_code_lifetime(&self, lifetime: Duration) {
        *self.auth_code_lifetime.write() = lifetime;
    }

    /// Restricts the scopes `portal_id` can grant (`None`: any scope again).
    pub fn set_portal_scopes(&self, portal_id: u64, scopes: Option<Vec<String>>) {
        let mut inner = self.inner.write();
        match scopes {
            Some(s) => {
                inner
                    .portal_scopes
                    .insert(portal_id, s.into_iter().collect());
            }
            None => {
                inner.portal_scopes.remove(&portal_id);
            }
        }
    }

    /// The scopes `portal_id` is restricted to, if any.
    pub fn portal_scopes(&self, portal_id: u64) -> Option<Vec<String>> {
        let inner = self.inner.read();
        Some(
            inner
                .portal_scopes
                .get(&portal_id)?
                .iter()
                .cloned()
                .collect(),
        )
    }

    /// Restricts the scopes `app_id` can be granted (`None`: any); false when
    /// there is no such app.
    pub fn set_app_scopes(&self, app_id: u64, scopes: Option<Vec<String>>) -> bool {
        match self.inner.write().apps.get_mut(&app_id) {
            Some(app) => {
                app.grantable_scopes = scopes.map(|s| s.into_iter().collect());
                true
            }
            None => false,
        }
    }

    /// The user uninstalls `app_id` from `portal_id`: the install goes, and so do
    /// every refresh token and OAuth access token of that app for that portal (the
    /// next refresh gets `BAD_REFRESH_TOKEN`). Private-app tokens stay. Returns the
    /// number of refresh tokens revoked, or `None` when the app is unknown.
    pub fn uninstall(&self, app_id: u64, portal_id: u64) -> Option<usize> {
        let mut inner = self.inner.write();
        inner
            .apps
            .get_mut(&app_id)?
            .installed_portals
            .remove(&portal_id);
        let before = inner.refresh_tokens.len();
        inner
            .refresh_tokens
            .retain(|_, g| !(g.app_id == app_id && g.portal_id == portal_id));
        let revoked = before - inner.refresh_tokens.len();
        inner.access_tokens.retain(|_, t| {
            t.kind == TokenKind::PrivateApp || !(t.app_id == app_id && t.portal_id == portal_id)
        });
        inner
            .auth_codes
            .retain(|_, c| !(c.app_id == app_id && c.portal_id == portal_id));
        Some(revoked)
    }

    /// A private-app token for `portal_id`, belonging to the default app so that
    /// writes made with it carry the default app's id as `sourceId` in webhooks.
    pub fn issue_private_app_token(&self, portal_id: u64) -> String {
        let token = random_token("pat-na1-");
        let mut inner = self.inner.write();
        inner.portals.insert(portal_id);
        inner.access_tokens.insert(
            token.clone(),
            AccessToken {
                kind: TokenKind::PrivateApp,
                portal_id,
                app_id: self.default_app_id,
                scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
                expires_at_ms: None,
            },
        );
        token
    }

    /// Records a new portal and installs the default app on it (so its webhook
    /// subscriptions fire for the portal's changes).
    pub fn install_default_app(&self, portal_id: u64) {
        self.install_app(self.default_app_id, portal_id);
    }

    /// Installs `app_id` on `portal_id`; false when there is no such app.
    pub fn install_app(&self, app_id: u64, portal_id: u64) -> bool {
        let mut inner = self.inner.write();
        inner.portals.insert(portal_id);
        match inner.apps.get_mut(&app_id) {
            Some(app) => {
                app.installed_portals.insert(portal_id);
                true
            }
            None => false,
        }
    }

    /// Every portal the sandbox knows, for the authorize page's chooser.
    pub fn portals(&self) -> Vec<u64> {
        self.inner.read().portals.iter().copied().collect()
    }

    pub fn register_app(&self, name: String, redirect_uris: Vec<String>) -> AppCredentials {
        let mut inner = self.inner.write();
        let mut credentials = AppCredentials::generate();
        while inner.apps.contains_key(&credentials.app_id) {
            credentials = AppCredentials::generate();
        }
        inner
            .app_by_client_id
            .insert(credentials.client_id.clone(), credentials.app_id);
        inner.apps.insert(
            credentials.app_id,
            App {
                credentials: credentials.clone(),
                name,
                redirect_uris,
                installed_portals: BTreeSet::new(),
                grantable_scopes: None,
            },
        );
        credentials
    }

    pub fn app(&self, app_id: u64) -> Option<App> {
        self.inner.read().apps.get(&app_id).cloned()
    }

    pub fn apps(&self) -> Vec<App> {
        let mut apps: Vec<App> = self.inner.read().apps.values().cloned().collect();
        apps.sort_by_key(|a| a.credentials.app_id);
        apps
    }

    pub fn app_by_client_id(&self, client_id: &str) -> Option<App> {
        let inner = self.inner.read();
        let id = inner.app_by_client_id.get(client_id)?;
        inner.apps.get(id).cloned()
    }

    /// Replaces an app's client secret (the webhook shortcut lets tests choose it).
    pub fn set_client_secret(&self, app_id: u64, secret: String) -> bool {
        match self.inner.write().apps.get_mut(&app_id) {
            Some(app) => {
                app.credentials.client_secret = secret;
                true
            }
            None => false,
        }
    }

    /// Apps installed on `portal_id` (the ones whose subscriptions see its events).
    pub fn apps_installed_on(&self, portal_id: u64) -> Vec<AppCredentials> {
        self.inner
            .read()
            .apps
            .values()
            .filter(|a| a.installed_portals.contains(&portal_id))
            .map(|a| a.credentials.clone())
            .collect()
    }

    /// Checks a bearer token at time `now`.
    pub fn authenticate_at(&self, token: &str, now: i64) -> Result<Authenticated, AuthFailure> {
        let inner = self.inner.read();
        let t = inner.access_tokens.get(token).ok_or(AuthFailure::Unknown)?;
        if let Some(exp) = t.expires_at_ms {
            if now >= exp {
                return Err(AuthFailure::Expired { ago_ms: now - exp });
            }
        }
        Ok(Authenticated {
            context: AuthContext {
                portal_id: t.portal_id,
                app_id: t.app_id,
                scopes: t.scopes.clone(),
            },
            kind: t.kind,
        })
    }

    pub fn authenticate(&self, token: &str) -> Result<Authenticated, AuthFailure> {
        self.authenticate_at(token, now_ms())
    }

    /// Token-info for a live access token; `None` when unknown or expired.
    pub fn access_token_info(&self, token: &str) -> Option<AccessTokenInfo> {
        let now = now_ms();
        let inner = self.inner.read();
        let t = inner.access_tokens.get(token)?;
        let expires_in_secs = match t.expires_at_ms {
            Some(exp) if now >= exp => return None,
            Some(exp) => Some((exp - now) / 1000),
            None => None,
        };
        Some(AccessTokenInfo {
            portal_id: t.portal_id,
            app_id: t.app_id,
            scopes: t.scopes.clone(),
            kind: t.kind,
            expires_in_secs,
        })
    }

    pub fn refresh_token_info(&self, token: &str) -> Option<RefreshGrant> {
        self.inner.read().refresh_tokens.get(token).cloned()
    }

    /// Revokes a refresh token; false when it was not known.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.inner.write().refresh_tokens.remove(token).is_some()
    }

    /// The authorize page's "Approve": installs the app and mints a one-time code
    /// for the requested scopes the app and portal can grant (the others are left
    /// out, so a client sees them missing from the granted list).
    pub fn approve(
        &self,
        client_id: &str,
        redirect_uri: &str,
        portal_id: u64,
        scopes: Vec<String>,
    ) -> Result<String, GrantError> {
        let app = self
            .app_by_client_id(client_id)
            .ok_or(GrantError::BadClientId)?;
        if !redirect_allowed(&app, redirect_uri) {
            return Err(GrantError::BadRedirectUri);
        }
        let app_id = app.credentials.app_id;
        self.install_app(app_id, portal_id);
        let code = uuid::Uuid::new_v4().to_string();
        let lifetime = self.auth_code_lifetime.read().as_millis() as i64;
        let mut inner = self.inner.write();
        let mut scopes = scopes;
        scopes.retain(|s| inner.grantable(app_id, portal_id, s));
        inner.auth_codes.insert(
            code.clone(),
            AuthCode {
                app_id,
                redirect_uri: redirect_uri.to_string(),
                portal_id,
                scopes,
                expires_at_ms: now_ms() + lifetime,
            },
        );
        Ok(code)
    }

    /// Finds the app for a client id and checks its secret in constant time.
    fn client(&self, client_id: &str, client_secret: &str) -> Result<App, GrantError> {
        let app = self
            .app_by_client_id(client_id)
            .ok_or(GrantError::BadClientId)?;
        if !signatures_equal(&app.credentials.client_secret, client_secret) {
            return Err(GrantError::BadClientSecret);
        }
        Ok(app)
    }

    /// `grant_type=authorization_code`: codes are single-use.
    pub fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        code: &str,
    ) -> Result<IssuedTokens, GrantError> {
        let app = self.client(client_id, client_secret)?;
        let mut inner = self.inner.write();
        let grant = inner
            .auth_codes
            .get(code)
            .cloned()
            .ok_or(GrantError::BadAuthCode)?;
        if grant.app_id != app.credentials.app_id || grant.expires_at_ms <= now_ms() {
            return Err(GrantError::BadAuthCode);
        }
        if grant.redirect_uri != redirect_uri {
            return Err(GrantError::BadRedirectUri);
        }
        inner.auth_codes.remove(code);
        let refresh_token = random_token("na1-");
        inner.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshGrant {
                portal_id: grant.portal_id,
                app_id: grant.app_id,
                client_id: client_id.to_string(),
                scopes: grant.scopes.clone(),
            },
        );
        let (access_token, expires_in_secs) =
            self.mint_access_token(&mut inner, grant.portal_id, grant.app_id, &grant.scopes);
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            expires_in_secs,
            portal_id: grant.portal_id,
            scopes: grant.scopes,
        })
    }

    /// `grant_type=refresh_token`: a new access token; the refresh token stays valid.
    pub fn refresh(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<IssuedTokens, GrantError> {
        let app = self.client(client_id, client_secret)?;
        let mut inner = self.inner.write();
        let grant = inner
            .refresh_tokens
            .get(refresh_token)
            .cloned()
            .ok_or(GrantError::BadRefreshToken)?;
        if grant.app_id != app.credentials.app_id {
            return Err(GrantError::BadRefreshToken);
        }
        let (access_token, expires_in_secs) =
            self.mint_access_token(&mut inner, grant.portal_id, grant.app_id, &grant.scopes);
        Ok(IssuedTokens {
            access_token,
            refresh_token: refresh_token.to_string(),
            expires_in_secs,
            portal_id: grant.portal_id,
            scopes: grant.scopes,
        })
    }

    fn mint_access_token(
        &self,
        inner: &mut Inner,
        portal_id: u64,
        app_id: u64,
        scopes: &[String],
    ) -> (String, i64) {
        let lifetime = self.token_lifetime();
        let now = now_ms();
        // Expired tokens are kept for their 401 message, but not forever.
        inner.access_tokens.retain(|_, t| match t.expires_at_ms {
            Some(exp) => now - exp < 24 * 3600 * 1000,
            None => true,
        });
        // HubSpot's OAuth access tokens are long opaque strings (up to ~300 chars).
        let token = format!(
            "CK{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        inner.access_tokens.insert(
            token.clone(),
            AccessToken {
                kind: TokenKind::OAuth,
                portal_id,
                app_id,
                scopes: scopes.to_vec(),
                expires_at_ms: Some(now + lifetime.as_millis() as i64),
            },
        );
        (token, lifetime.as_secs() as i64)
    }
}

fn redirect_allowed(app: &App, redirect_uri: &str) -> bool {
    !redirect_uri.is_empty()
        && (app.redirect_uris.is_empty() || app.redirect_uris.iter().any(|u| u == redirect_uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets_or_tokens() {
        let (s, app) = store();
        let token = s.issue_private_app_token(1);
        let shown = format!("{s:?} {app:?} {:?}", s.apps());
        assert!(!shown.contains(&app.client_secret), "{shown}");
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains(&app.client_id), "{shown}");
    }

    fn store() -> (TokenStore, AppCredentials) {
        let app = AppCredentials::generate();
        (TokenStore::new(app.clone(), Duration::from_secs(1800)), app)
    }

    /// Exchanges `code` with the app's own (correct) client credentials.
    fn exchange(
        s: &TokenStore,
        app: &AppCredentials,
        redirect_uri: &str,
        code: &str,
    ) -> Result<IssuedTokens, GrantError> {
        s.exchange_code(&app.client_id, &app.client_secret, redirect_uri, code)
    }

    #[test]
    fn private_tokens_look_like_hubspots_and_never_expire() {
        let (s, app) = store();
        let t = s.issue_private_app_token(42);
        assert!(t.starts_with("pat-na1-"));
        let far_future = now_ms() + 10 * 365 * 24 * 3600 * 1000;
        let a = s
            .authenticate_at(&t, far_future)
            .expect("private token valid");
        assert_eq!(a.context.portal_id, 42);
        assert_eq!(a.context.app_id, app.app_id);
        assert_eq!(a.kind, TokenKind::PrivateApp);
        assert!(matches!(s.authenticate("nope"), Err(AuthFailure::Unknown)));
    }

    #[test]
    fn code_is_single_use_and_refresh_rotates_access_tokens() {
        let (s, app) = store();
        let code = s
            .approve(
                &app.client_id,
                "http://127.0.0.1/cb",
                7,
                vec!["oauth".into()],
            )
            .expect("approve");
        let wrong = s.exchange_code(&app.client_id, "bad-secret", "http://127.0.0.1/cb", &code);
        assert_eq!(wrong.err(), Some(GrantError::BadClientSecret));
        let wrong_uri = exchange(&s, &app, "http://127.0.0.1/x", &code);
        assert_eq!(wrong_uri.err(), Some(GrantError::BadRedirectUri));
        let issued = exchange(&s, &app, "http://127.0.0.1/cb", &code).expect("exchange");
        assert_eq!(issued.portal_id, 7);
        let again = exchange(&s, &app, "http://127.0.0.1/cb", &code);
        assert_eq!(again.err(), Some(GrantError::BadAuthCode));
        let refreshed = s
            .refresh(&app.client_id, &app.client_secret, &issued.refresh_token)
            .expect("refresh");
        assert_ne!(refreshed.access_token, issued.access_token);
        assert_eq!(refreshed.refresh_token, issued.refresh_token);
        assert!(s.revoke_refresh_token(&issued.refresh_token));
        let after = s.refresh(&app.client_id, &app.client_secret, &issued.refresh_token);
        assert_eq!(after.err(), Some(GrantError::BadRefreshToken));
    }

    #[test]
    fn oauth_tokens_expire_after_the_lifetime() {
        let (s, app) = store();
        s.set_token_lifetime(Duration::from_secs(60));
        let code = s
            .approve(&app.client_id, "http://127.0.0.1/cb", 7, vec![])
            .expect("approve");
        let issued = exchange(&s, &app, "http://127.0.0.1/cb", &code).expect("exchange");
        assert_eq!(issued.expires_in_secs, 60);
        let now = now_ms();
        assert!(s.authenticate_at(&issued.access_token, now).is_ok());
        let later = s.authenticate_at(&issued.access_token, now + 61_000);
        assert!(matches!(later, Err(AuthFailure::Expired { .. })));
    }
}
