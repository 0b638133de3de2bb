//! Webhooks: per-app settings and v3 subscriptions, and the dispatcher that turns
//! the data plane's `ChangeEvent`s into HubSpot webhook deliveries.
//!
//! `Dispatcher::emit` never blocks the request path: events go through an unbounded
//! channel to a background task (see `delivery.rs`) that matches them against the
//! subscriptions of the apps installed on the event's portal, numbers them, batches
//! them and POSTs them with HubSpot's signatures and retry policy.

mod delivery;
mod payload;
pub mod routes;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use super::auth::TokenStore;
use crate::events::ChangeEvent;

/// How deliveries behave; the defaults follow HubSpot, tests shorten the delays.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOptions {
    /// Probability that a delivered batch is sent a second time, as HubSpot may.
    pub duplicate_rate: f64,
    /// Shuffle events inside a batch and let batches overtake each other.
    pub reorder: bool,
    /// Retries after the first attempt (HubSpot: 10).
    pub max_retries: u32,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_base_ms: u64,
    /// Longest delay between two attempts.
    pub retry_max_ms: u64,
    /// Per-request timeout (HubSpot: 5 s).
    pub timeout_ms: u64,
    /// How long the first event of a batch waits for others.
    pub linger_ms: u64,
    /// Events per POST (HubSpot: up to 100).
    pub max_batch: usize,
    /// Sign the target URL as written instead of HubSpot's partly decoded form.
    pub sign_raw_uri: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            duplicate_rate: 0.0,
            reorder: false,
            max_retries: 10,
            retry_base_ms: 1_000,
            retry_max_ms: 3_600_000,
            timeout_ms: 5_000,
            linger_ms: 50,
            max_batch: 100,
            sign_raw_uri: false,
        }
    }
}

/// `throttling` in HubSpot's settings objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    pub max_concurrent_requests: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<ThrottlingPeriod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThrottlingPeriod {
    Secondly,
    RollingMinute,
}

impl Default for Throttling {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 10,
            period: None,
        }
    }
}

/// An app's webhook settings (`SettingsResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppWebhookSettings {
    pub target_url: String,
    pub throttling: Throttling,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One v3 subscription (`SubscriptionResponse`, with the id as a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: u64,
    pub app_id: u64,
    pub event_type: String,
    /// For `*.propertyChange`: the one property, or all when `None`.
    pub property_name: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Subscription {
    fn matches(&self, ev: &ChangeEvent, subscription_type: &str) -> bool {
        self.active
            && self.event_type == subscription_type
            && match &self.property_name {
                None => true,
                Some(p) => ev.property_name.as_deref() == Some(p.as_str()),
            }
    }
}

/// Object families and event kinds the subscriptions API accepts.
const OBJECT_TYPES: &[&str] = &[
    "contact",
    "company",
    "deal",
    "ticket",
    "product",
    "line_item",
];
const EVENT_KINDS: &[&str] = &[
    "creation",
    "deletion",
    "propertyChange",
    "merge",
    "restore",
    "associationChange",
];

/// Whether `event_type` is one of HubSpot's CRM subscription types.
pub fn is_known_event_type(event_type: &str) -> bool {
    if event_type == "contact.privacyDeletion" {
        return true;
    }
    event_type
        .split_once('.')
        .is_some_and(|(o, k)| OBJECT_TYPES.contains(&o) && EVENT_KINDS.contains(&k))
}

/// The event types the `/_sandbox/webhooks` shortcut subscribes an app to.
pub const CONTACT_EVENT_TYPES: &[&str] = &[
    "contact.creation",
    "contact.deletion",
    "contact.propertyChange",
    "contact.merge",
    "contact.restore",
    "contact.associationChange",
];

/// Delivery counters for `GET /_sandbox/webhooks`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events that matched a subscription and got an event id.
    pub matched: AtomicU64,
    pub delivered: AtomicU64,
    /// Events given up on (retries exhausted or a non-retryable answer).
    pub failed: AtomicU64,
    /// HTTP requests made, duplicates included.
    pub attempts: AtomicU64,
    pub retries: AtomicU64,
    /// Batches sent a second time on purpose.
    pub duplicates: AtomicU64,
    pub batches_delivered: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountersSnapshot {
    pub matched: u64,
    pub delivered: u64,
    pub failed: u64,
    pub pending: u64,
    pub attempts: u64,
    pub retries: u64,
    pub duplicates: u64,
    pub batches_delivered: u64,
}

struct Shared {
    tokens: TokenStore,
    settings: RwLock<HashMap<u64, AppWebhookSettings>>,
    subscriptions: RwLock<BTreeMap<u64, Subscription>>,
    options: RwLock<DeliveryOptions>,
    next_subscription_id: AtomicU64,
    next_event_id: AtomicU64,
    counters: Counters,
    /// One per app, sized by `throttling.maxConcurrentRequests`.
    concurrency: Mutex<HashMap<u64, (u32, Arc<Semaphore>)>>,
    http: reqwest::Client,
}

/// The webhook side of the control plane.
pub struct Dispatcher {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<ChangeEvent>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("options", &*self.shared.options.read())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Starts the background delivery task; must be called inside a tokio runtime.
    pub fn new(tokens: TokenStore, options: DeliveryOptions) -> Self {
        let http = reqwest::Client::builder()
            // Targets are local receivers; an environment proxy must not intercept them.
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let shared = Arc::new(Shared {
            tokens,
            settings: RwLock::new(HashMap::new()),
            subscriptions: RwLock::new(BTreeMap::new()),
            options: RwLock::new(options),
            next_subscription_id: AtomicU64::new(1),
            next_event_id: AtomicU64::new(1),
            counters: Counters::default(),
            concurrency: Mutex::new(HashMap::new()),
            http,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(delivery::run(shared.clone(), rx));
        Self { shared, tx }
    }

    /// Queues a change for delivery; never blocks.
    pub fn emit(&self, ev: ChangeEvent) {
        // Cheap exit: with no subscriptions there is nothing to match.
        if self.shared.subscriptions.read().is_empty() {
            return;
        }
        // A send error means the delivery task has gone (runtime shutting down).
        let _ = self.tx.send(ev);
    }

    pub fn options(&self) -> DeliveryOptions {
        *self.shared.options.read()
    }

    pub fn set_options(&self, options: DeliveryOptions) {
        *self.shared.options.write() = options;
    }

    pub fn counters(&self) -> CountersSnapshot {
        let c = &self.shared.counters;
        let matched = c.matched.load(Ordering::Relaxed);
        let delivered = c.delivered.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        CountersSnapshot {
            matched,
            delivered,
            failed,
            pending: matched.saturating_sub(delivered + failed),
            attempts: c.attempts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            batches_delivered: c.batches_delivered.load(Ordering::Relaxed),
        }
    }

    pub fn settings(&self, app_id: u64) -> Option<AppWebhookSettings> {
        self.shared.settings.read().get(&app_id).cloned()
    }

    pub fn all_settings(&self) -> Vec<(u64, AppWebhookSettings)> {
        let mut v: Vec<_> = self
            .shared
            .settings
            .read()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Creates or replaces an app's settings.
    pub fn set_settings(
        &self,
        app_id: u64,
        target_url: String,
        throttling: Throttling,
    ) -> AppWebhookSettings {
        let now = Utc::now();
        let mut all = self.shared.settings.write();
        let entry = match all.get(&app_id) {
            Some(old) => AppWebhookSettings {
                target_url,
                throttling,
                created_at: old.created_at,
                updated_at: Some(now),
            },
            None => AppWebhookSettings {
                target_url,
                throttling,
                created_at: now,
                updated_at: None,
            },
        };
        all.insert(app_id, entry.clone());
        entry
    }

    pub fn clear_settings(&self, app_id: u64) -> bool {
        self.shared.settings.write().remove(&app_id).is_some()
    }

    pub fn subscriptions(&self, app_id: u64) -> Vec<Subscription> {
        self.shared
            .subscriptions
            .read()
            .values()
            .filter(|s| s.app_id == app_id)
            .cloned()
            .collect()
    }

    pub fn subscription(&self, app_id: u64, id: u64) -> Option<Subscription> {
        self.shared
            .subscriptions
            .read()
            .get(&id)
            .filter(|s| s.app_id == app_id)
            .cloned()
    }

    pub fn create_subscription(
        &self,
        app_id: u64,
        event_type: String,
        property_name: Option<String>,
        active: bool,
    ) -> Subscription {
        let id = self
            .shared
            .next_subscription_id
            .fetch_add(1, Ordering::Relaxed);
        let sub = Subscription {
            id,
            app_id,
            event_type,
            property_name,
            active,
            created_at: Utc::now(),
            updated_at: None,
        };
        self.shared.subscriptions.write().insert(id, sub.clone());
        sub
    }

    pub fn set_active(&self, app_id: u64, id: u64, active: bool) -> Option<Subscription> {
        let mut subs = self.shared.subscriptions.write();
        let sub = subs.get_mut(&id).filter(|s| s.app_id == app_id)?;
        sub.active = active;
        sub.updated_at = Some(Utc::now());
        Some(sub.clone())
    }

    pub fn delete_subscription(&self, app_id: u64, id: u64) -> bool {
        let mut subs = self.shared.subscriptions.write();
        if subs.get(&id).is_some_and(|s| s.app_id == app_id) {
            subs.remove(&id);
            true
        } else {
            false
        }
    }

    /// Makes sure `app_id` has an active subscription to every type in `types`
    /// (all properties for `propertyChange`); returns how many it added.
    pub fn subscribe_all(&self, app_id: u64, types: &[&str]) -> usize {
        let mut added = 0;
        for t in types {
            let existing = self
                .subscriptions(app_id)
                .into_iter()
                .find(|s| s.event_type == *t && s.property_name.is_none());
            match existing {
                Some(s) if s.active => {}
                Some(s) => {
                    self.set_active(app_id, s.id, true);
                }
                None => {
                    self.create_subscription(app_id, t.to_string(), None, true);
                    added += 1;
                }
            }
        }
        added
    }
}
