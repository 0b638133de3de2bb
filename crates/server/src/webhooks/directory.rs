//! Who is behind a portal — its connectors and each workspace's webhook app — looked
//! up in the store and kept for a couple of seconds, so a busy portal's deliveries
//! do not re-read the same rows (and unseal the same secret) on every request.
//!
//! The cache can only speed up an acceptance, never cause a refusal: a request that
//! fails against cached data is checked again against fresh data (`fresh = true`).
//! The price: for up to `TTL` after a change (secret rotated, connector removed),
//! this process may still accept what the old data allowed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keva_store::{Connector, StoreError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::state::AppState;

/// How long a lookup is trusted.
pub const TTL: Duration = Duration::from_secs(2);

/// A workspace's app as far as verification needs it.
#[derive(Clone)]
pub struct App {
    /// Our app's id (the events' `appId`, and `sourceId` on our own writes).
    pub app_id: Option<String>,
    pub secret: Option<SecretString>,
    /// The workspace opted in to v1/v2 signatures (`allowLegacySignatures`).
    pub allow_legacy: bool,
}

type Entry<T> = (Instant, Arc<T>);

/// Per-process cache of portal and app lookups (one per router built by `app`).
#[derive(Default)]
pub struct Directory {
    portals: Mutex<HashMap<u64, Entry<Vec<Connector>>>>,
    apps: Mutex<HashMap<Uuid, Entry<App>>>,
}

fn cached<K: std::hash::Hash + Eq, T>(
    map: &Mutex<HashMap<K, Entry<T>>>,
    key: &K,
) -> Option<Arc<T>> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

fn remember<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, Entry<T>>>, key: K, value: Arc<T>) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    // Expired entries go when the map grows, so it stays as small as the live set.
    if map.len() >= 1024 {
        map.retain(|_, (at, _)| at.elapsed() < TTL);
    }
    map.insert(key, (Instant::now(), value));
}

impl Directory {
    /// The portal's connectors in every workspace (empty: nobody connected it).
    pub async fn connectors(
        &self,
        state: &AppState,
        portal: u64,
        fresh: bool,
    ) -> Result<Arc<Vec<Connector>>, StoreError> {
        if !fresh {
            if let Some(hit) = cached(&self.portals, &portal) {
                return Ok(hit);
            }
        }
        let Ok(id) = i64::try_from(portal) else {
            return Ok(Arc::new(Vec::new()));
        };
        let found = Arc::new(state.store.connectors_by_portal(id).await?);
        // An unknown portal is remembered too (a flood naming it costs no query):
        // connecting it still works at once, as a refusal is re-checked fresh.
        remember(&self.portals, portal, found.clone());
        Ok(found)
    }

    /// The workspace's app id and secret, falling back to the service-wide app.
    pub async fn app(
        &self,
        state: &AppState,
        workspace_id: Uuid,
        fresh: bool,
    ) -> Result<Arc<App>, StoreError> {
        if !fresh {
            if let Some(hit) = cached(&self.apps, &workspace_id) {
                return Ok(hit);
            }
        }
        let settings = state.store.webhook_settings(workspace_id).await?;
        let secret = match settings {
            Some(_) => state.store.webhook_secret(workspace_id).await?,
            None => None,
        };
        let allow_legacy = settings.as_ref().is_some_and(|s| s.allow_legacy_signatures);
        let app_id = settings
            .map(|s| s.app_id)
            .or_else(|| state.config.hubspot_app_id.clone())
            .filter(|s| !s.trim().is_empty());
        let secret = secret
            .or_else(|| state.config.hubspot_client_secret.clone())
            .filter(|s| !s.expose_secret().is_empty());
        let app = Arc::new(App {
            app_id,
            secret,
            allow_legacy,
        });
        remember(&self.apps, workspace_id, app.clone());
        Ok(app)
    }
}
