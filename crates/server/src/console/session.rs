//! Who is using the console: session cookies, CSRF tokens, passwords, sign-in
//! rate limits, and the `ConsoleUser` / `AdminUser` extractors every page takes.
//!
//! A session token is 32 random bytes (base64url) in an HttpOnly, SameSite=Lax
//! cookie (`Secure` when the public URL is https); the store keeps only its
//! SHA-256, like API keys. The CSRF token of a form is derived from the cookie it
//! goes with (SHA-256 of a label and the token), so it needs no storage, cannot be
//! turned back into the cookie, and changes with every sign-in. Before sign-in the
//! same is done with a random pre-session cookie, so the sign-in forms are covered
//! too. `csrf_guard` checks every state-changing console request.
//!
//! Sign-in attempts are limited twice, in this process's memory: per account
//! (every attempt counts, so a guesser spreading over addresses is held) and per
//! source address (only failed attempts count, so people signing in correctly
//! from one office address or proxy are never held, while one address spraying
//! many accounts is). Both limits are `SignInLimits`, set from the settings.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use keva_store::{SessionKind, User, UserRole};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "keva_session";
/// The pre-session cookie the sign-in forms' CSRF tokens are derived from.
pub const PRE_SESSION_COOKIE: &str = "keva_pre";
/// The form field every console POST carries.
pub const CSRF_FIELD: &str = "csrf";
/// How long a session lasts (no sliding: sign in again after it).
pub const SESSION_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(12);
/// How long a sign-in link printed by the CLI or the quickstart stays valid.
pub const SIGN_IN_LINK_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Sign-in attempts per account (workspace and email) per minute, by default.
pub const SIGN_IN_ATTEMPTS_PER_MINUTE: u32 = 5;
/// Failed sign-ins per source address per minute, by default.
pub const SIGN_IN_FAILURES_PER_ADDRESS_PER_MINUTE: u32 = 20;
/// The window failed sign-ins per address are counted in.
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked before the ones whose window has passed are dropped.
const MAX_ADDRESSES: usize = 10_000;
/// Largest console form body read by the CSRF check.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// How many sign-in attempts are allowed (`Settings::sign_in`; `serve
/// --sign-in-attempts-per-account`, `--sign-in-failures-per-address`). 0 turns
/// a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Attempts per account (workspace and email) per minute, right or wrong.
    pub attempts_per_account_per_minute: u32,
    /// Failed attempts per source address per minute; then the address waits.
    pub failures_per_address_per_minute: u32,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            attempts_per_account_per_minute: SIGN_IN_ATTEMPTS_PER_MINUTE,
            failures_per_address_per_minute: SIGN_IN_FAILURES_PER_ADDRESS_PER_MINUTE,
        }
    }
}

/// Why a sign-in attempt is refused before the password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// This account had its attempts for now.
    Account,
    /// Too many failed attempts came from this address.
    Address,
}

/// Failed sign-ins of one address in its current window.
struct Failures {
    since: Instant,
    count: u32,
}

/// The console's own state: the sign-in rate limits.
pub struct ConsoleState {
    by_account: Option<DefaultKeyedRateLimiter<String>>,
    failures_per_address: u32,
    /// A fixed window per address rather than governor: only failures count, and
    /// whether an address is over must be read before its attempt is made,
    /// which governor cannot do without spending a cell.
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self::new(SignInLimits::default())
    }
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState").finish_non_exhaustive()
    }
}

impl ConsoleState {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            by_account: NonZeroU32::new(limits.attempts_per_account_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            failures_per_address: limits.failures_per_address_per_minute,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more sign-in attempt for this account from `source` may be
    /// made now. The address is looked at first and without counting anything,
    /// so a held address does not also use up its victims' account budgets.
    pub fn allow_sign_in(
        &self,
        workspace: &str,
        email: &str,
        source: IpAddr,
    ) -> Result<(), SignInRefusal> {
        if self.address_held(source, Instant::now()) {
            return Err(SignInRefusal::Address);
        }
        let Some(by_account) = &self.by_account else {
            return Ok(());
        };
        let key = format!(
            "{}\n{}",
            workspace.trim().to_lowercase(),
            keva_store::normalize_email(email)
        );
        let allowed = by_account.check_key(&key).is_ok();
        // Entries of accounts no one is trying any more go.
        by_account.retain_recent();
        allowed.then_some(()).ok_or(SignInRefusal::Account)
    }

    /// Counts a failed sign-in (wrong workspace, email or password) against
    /// `source`.
    pub fn sign_in_failed(&self, source: IpAddr) {
        if self.failures_per_address == 0 {
            return;
        }
        let now = Instant::now();
        let mut map = self.by_address.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&source) {
            map.retain(|_, f| now.duration_since(f.since) < ADDRESS_WINDOW);
        }
        let f = map.entry(source).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now.duration_since(f.since) >= ADDRESS_WINDOW {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
    }

    fn address_held(&self, source: IpAddr, now: Instant) -> bool {
        if self.failures_per_address == 0 {
            return false;
        }
        self.by_address.lock().get(&source).is_some_and(|f| {
            now.duration_since(f.since) < ADDRESS_WINDOW && f.count >= self.failures_per_address
        })
    }
}

/// The address a request came from (the peer of its connection; behind a
/// reverse proxy that is the proxy, so every user shares its failure budget:
/// raise `--sign-in-failures-per-address` there). Unspecified when the server
/// was not started with connection info.
#[derive(Debug, Clone, Copy)]
pub struct SourceAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for SourceAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(SourceAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// A new random token (sessions, sign-in links, the pre-session cookie).
pub fn mint_token() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// What the store keeps of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The CSRF token of the forms shown with `cookie_token`.
pub fn csrf_for(cookie_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"keva-console-csrf\0")
        .chain_update(cookie_token.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for a console cookie; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Hashes a password with argon2id (the crate's recommended parameters).
pub fn hash_password(password: &str) -> Result<String, ConsoleError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::BadRequest(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let salt = new_salt()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// A hash nobody's password matches, verified when the account does not exist or
/// has no password, so a wrong email takes as long as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    new_salt()
        .ok()
        .and_then(|salt| {
            Argon2::default()
                .hash_password(mint_token().as_bytes(), &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
});

/// 128 random bits of salt (the size argon2's PHC strings recommend).
fn new_salt() -> Result<SaltString, ConsoleError> {
    let raw: [u8; 16] = rand::random();
    SaltString::encode_b64(&raw)
        .map_err(|e| ConsoleError::Internal(anyhow::anyhow!("making a password salt: {e}")))
}

/// Whether `password` matches `stored` (a PHC string), off the async threads:
/// argon2 is deliberately slow.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    let real = stored.is_some();
    let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
    let matched = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    real && matched
}

/// Starts a session for `user`: the `Set-Cookie` value to send.
pub async fn start_session(state: &AppState, user: &User) -> Result<String, ConsoleError> {
    let token = mint_token();
    state
        .store
        .insert_session(
            &hash_token(&token),
            user.id,
            SessionKind::Session,
            chrono::Utc::now() + SESSION_TTL,
        )
        .await?;
    tracing::info!(user_id = %user.id, "console sign-in");
    Ok(set_cookie(
        state,
        SESSION_COOKIE,
        &token,
        SESSION_TTL.num_seconds(),
    ))
}

/// Mints a one-time sign-in link for `user` (what `user create` and the
/// quickstart print).
pub async fn sign_in_link(
    store: &keva_store::Store,
    public_url: &str,
    user: &User,
) -> Result<String, keva_store::StoreError> {
    let token = mint_token();
    store
        .insert_session(
            &hash_token(&token),
            user.id,
            SessionKind::SignInLink,
            chrono::Utc::now() + SIGN_IN_LINK_TTL,
        )
        .await?;
    Ok(format!(
        "{}/sign-in/link?token={token}",
        public_url.trim_end_matches('/')
    ))
}

/// A signed-in console user, proven by the session cookie. Holds one of the
/// user's in-flight slots (the API keys' per-caller limit) while the request runs.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub user: User,
    /// The CSRF token for the forms of this response.
    pub csrf: String,
    _slot: Arc<crate::limits::KeyPermit>,
}

impl ConsoleUser {
    pub fn is_admin(&self) -> bool {
        self.user.role == UserRole::Admin
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let sign_in = || ConsoleError::SignIn {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .filter(|p| {
                    parts.method == Method::GET && crate::api::crm::oauth::valid_return_to(p)
                }),
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(sign_in());
        };
        let Some(user) = state.store.session_user(&hash_token(token)).await? else {
            return Err(sign_in());
        };
        let slot =
            state
                .key_concurrency
                .try_acquire(user.id)
                .ok_or(ConsoleError::TooManyRequests(
                    "too many of your requests are in flight; try again when one is answered",
                ))?;
        Ok(ConsoleUser {
            csrf: csrf_for(token),
            user,
            _slot: Arc::new(slot),
        })
    }
}

/// A signed-in admin: an agent gets 403 (settings pages and their forms).
#[derive(Debug, Clone)]
pub struct AdminUser(pub ConsoleUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let user = ConsoleUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ConsoleError::Forbidden);
        }
        Ok(AdminUser(user))
    }
}

/// Refuses a state-changing console request whose form does not carry the CSRF
/// token of its session cookie (or, before sign-in, of its pre-session cookie).
/// Runs before any handler, so no console form can skip it.
pub async fn csrf_guard(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let expected: Vec<String> = [SESSION_COOKIE, PRE_SESSION_COOKIE]
        .iter()
        .filter_map(|name| cookie(req.headers(), name))
        .map(csrf_for)
        .collect();
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => return ConsoleError::BadRequest("the form is too large".into()).into_response(),
    };
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    let ok = sent.is_some_and(|sent| expected.iter().any(|e| same(e, &sent)));
    if !ok {
        tracing::warn!(path = %parts.uri.path(), "console form refused: CSRF token missing or wrong");
        return ConsoleError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_follow_their_cookie_and_do_not_reveal_it() {
        let (a, b) = (mint_token(), mint_token());
        assert_eq!(csrf_for(&a), csrf_for(&a));
        assert_ne!(csrf_for(&a), csrf_for(&b));
        assert!(!csrf_for(&a).contains(&a));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "x_keva_session=no; keva_session=yes; other=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&h, PRE_SESSION_COOKIE), None);
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("anything at all".into(), None).await);
        assert!(matches!(
            hash_password("short"),
            Err(ConsoleError::BadRequest(_))
        ));
    }

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const AWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn sign_in_attempts_are_limited_per_account() {
        let limits = ConsoleState::default();
        for _ in 0..SIGN_IN_ATTEMPTS_PER_MINUTE {
            assert_eq!(limits.allow_sign_in("acme", "a@example.com", HOME), Ok(()));
        }
        assert_eq!(
            limits.allow_sign_in("acme", " A@Example.com ", AWAY),
            Err(SignInRefusal::Account),
            "the account is held from every address"
        );
        assert_eq!(limits.allow_sign_in("acme", "b@example.com", HOME), Ok(()));
    }

    #[test]
    fn failed_sign_ins_are_limited_per_address() {
        let limits = ConsoleState::new(SignInLimits {
            attempts_per_account_per_minute: 0,
            failures_per_address_per_minute: 3,
        });
        for i in 0..3 {
            let email = format!("user{i}@example.com");
            assert_eq!(limits.allow_sign_in("acme", &email, HOME), Ok(()));
            limits.sign_in_failed(HOME);
        }
        assert_eq!(
            limits.allow_sign_in("acme", "fresh@example.com", HOME),
            Err(SignInRefusal::Address)
        );
        assert_eq!(
            limits.allow_sign_in("acme", "fresh@example.com", AWAY),
            Ok(()),
            "other addresses are not held"
        );
        // Successful attempts are not counted: an address signing in right is
        // never held.
        let busy = ConsoleState::new(SignInLimits {
            attempts_per_account_per_minute: 0,
            failures_per_address_per_minute: 1,
        });
        for _ in 0..50 {
            assert_eq!(busy.allow_sign_in("acme", "a@example.com", HOME), Ok(()));
        }
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = ConsoleState::new(SignInLimits {
            attempts_per_account_per_minute: 0,
            failures_per_address_per_minute: 0,
        });
        for _ in 0..100 {
            assert_eq!(limits.allow_sign_in("acme", "a@example.com", HOME), Ok(()));
            limits.sign_in_failed(HOME);
        }
    }
}
