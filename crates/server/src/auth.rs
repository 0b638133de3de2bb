//! API keys: minting, hashing, and the `Authenticated` extractor for `/api/*`.
//!
//! A key is `keva_live_` + 32 random bytes (base64url). It is shown once; the store
//! keeps only its SHA-256 (and a short prefix for display), so a database leak does
//! not leak usable keys. A fast hash is right here: the key has 256 bits of entropy,
//! so there is nothing for a slow password hash to protect against.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use keva_store::{ApiKey, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub const KEY_PREFIX: &str = "keva_live_";

/// How stale `last_used_at` may get before a request refreshes it.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A freshly minted key: the plaintext (shown once) and what the store keeps.
pub struct MintedKey {
    pub plaintext: String,
    pub display_prefix: String,
    pub hash: [u8; 32],
}

pub fn mint_api_key() -> MintedKey {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let plaintext = format!("{KEY_PREFIX}{secret}");
    MintedKey {
        display_prefix: format!("{KEY_PREFIX}{}", &secret[..6]),
        hash: hash_api_key(&plaintext),
        plaintext,
    }
}

pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Creates the workspace if new and mints a key for it (the CLI's `api-key create`
/// and the quickstart both go through here).
pub async fn create_api_key(store: &Store, workspace: &str) -> anyhow::Result<(Uuid, MintedKey)> {
    let (ws, _) = store.ensure_workspace(workspace).await?;
    let key = mint_api_key();
    store
        .insert_api_key(ws.id, &key.display_prefix, &key.hash)
        .await?;
    Ok((ws.id, key))
}

/// The workspace a request acts for, proven by its bearer key.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub workspace_id: Uuid,
    pub key_id: Uuid,
    /// The key's in-flight slot, held until the request is answered.
    _slot: std::sync::Arc<crate::limits::KeyPermit>,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        if !token.starts_with(KEY_PREFIX) {
            return Err(ApiError::Unauthorized);
        }
        let hash = hash_api_key(token);
        let key: ApiKey = state
            .store
            .api_key_by_hash(&hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // The database compares SHA-256 digests, never the key itself: timing can at
        // most reveal how many leading digest bytes of the caller's own guess match,
        // which says nothing about any real key (preimage resistance).
        if key.revoked_at.is_some() {
            return Err(ApiError::Unauthorized);
        }
        // "Last used" is for admins spotting stale keys; minute precision is plenty,
        // and writing it on every request would put a database write (SQLite's single
        // writer) on the hot path of every API call.
        let stale = key
            .last_used_at
            .is_none_or(|t| chrono::Utc::now() - t > LAST_USED_RESOLUTION);
        if stale {
            if let Err(e) = state.store.touch_api_key(key.id).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        }
        let slot = state.key_concurrency.try_acquire(key.id).ok_or_else(|| {
            ApiError::TooManyRequests(
                "too many requests in flight for this API key; retry when one is answered".into(),
            )
        })?;
        Ok(Authenticated {
            workspace_id: key.workspace_id,
            key_id: key.id,
            _slot: std::sync::Arc::new(slot),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_distinct_and_hash_stably() {
        let a = mint_api_key();
        let b = mint_api_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(KEY_PREFIX));
        assert_eq!(a.plaintext.len(), KEY_PREFIX.len() + 43);
        assert_eq!(hash_api_key(&a.plaintext), a.hash);
        assert_ne!(a.hash, b.hash);
        assert!(a.plaintext.starts_with(&a.display_prefix));
    }
}
