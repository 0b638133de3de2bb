//! The sync engine around `keva_core::reconcile` (`docs/sync-contract.md`):
//! connecting portals (`connect.rs`), one HubSpot client per connector
//! (`clients.rs`), the portal's property list (`properties.rs`), the per-customer
//! and per-contact job handlers, and the worker that runs them from the store's
//! durable queue.
//!
//! Every trigger (customer API, tickets, Sync Now, webhook intake) only enqueues a
//! job (`jobs.rs`, which also holds Sync Now's bounded wait for it); the worker (`worker.rs`) claims it and calls the engine
//! (`engine.rs`), which reads both sides, reconciles, writes HubSpot first and then
//! commits Keva's side, the link's new bases and the history in one transaction.
//! The merge itself (what is read, the plan, the commit) is `merge.rs`, shared
//! with the batch runner so both write exactly the same thing.

pub mod clients;
pub mod cluster;
pub mod connect;
pub mod engine;
pub mod error;
pub mod fenced;
pub mod jobs;
pub mod lease_clock;
pub mod merge;
pub mod outcome;
pub mod properties;
pub mod property_create;
pub mod worker;

use std::time::Duration;

use keva_core::RetryPolicy;

pub use clients::ClientCache;
pub use engine::{contact_merge, inbound_contact, sync_customer};
pub use error::SyncError;
pub use outcome::{SyncOutcome, SyncWarning};
pub use worker::start_workers;

/// How the queue is worked. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Job-level backoff after retryable failures (409/429/5xx/timeouts).
    pub retry: RetryPolicy,
    /// How long a claimed job is ours without a heartbeat.
    pub lease: Duration,
    /// How often idle workers look for jobs enqueued by other processes.
    pub poll: Duration,
    /// Profile edits wait this long before syncing, so a burst of edits becomes
    /// one HubSpot update (coalescing keeps the earliest due time).
    pub debounce: Duration,
    /// Jobs one process runs at once.
    pub concurrency: usize,
    /// How long `POST /api/crm/hubspot/sync` waits for its job before answering 202.
    pub sync_now_wait: Duration,
    /// How often expired leases are reaped.
    pub reap_every: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            debounce: Duration::from_millis(500),
            concurrency: 4,
            sync_now_wait: Duration::from_secs(10),
            reap_every: Duration::from_secs(5),
        }
    }
}
