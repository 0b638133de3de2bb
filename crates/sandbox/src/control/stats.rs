//! Request counters for `/_sandbox/stats`: total, rate-limited, and per
//! "METHOD /path/template", so tests and benchmarks can count HubSpot calls.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use serde::Serialize;

/// A copy of the counters, shaped as `GET /_sandbox/stats` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    pub total: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
    pub requests: BTreeMap<String, u64>,
}

/// Counters shared by every request; the per-route map takes a read lock on the
/// hot path and a write lock only the first time a route is seen.
#[derive(Debug, Default)]
pub struct Stats {
    total: AtomicU64,
    rate_limited: AtomicU64,
    faults_injected: AtomicU64,
    requests: RwLock<HashMap<String, AtomicU64>>,
}

impl Stats {
    /// Counts one request to `key` ("POST /crm/v3/objects/contacts/batch/read").
    pub fn record(&self, key: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.requests.read().get(key) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.requests
            .write()
            .entry(key.to_string())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_fault(&self) {
        self.faults_injected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            total: self.total.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
            requests: self
                .requests
                .read()
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
        }
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.rate_limited.store(0, Ordering::Relaxed);
        self.faults_injected.store(0, Ordering::Relaxed);
        self.requests.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_resets() {
        let s = Stats::default();
        s.record("GET /a");
        s.record("GET /a");
        s.record("POST /b");
        s.record_rate_limited();
        let snap = s.snapshot();
        assert_eq!(snap.total, 3);
        assert_eq!(snap.rate_limited, 1);
        assert_eq!(snap.requests.get("GET /a"), Some(&2));
        assert_eq!(snap.requests.get("POST /b"), Some(&1));
        s.reset();
        let snap = s.snapshot();
        assert_eq!(
            (snap.total, snap.rate_limited, snap.requests.len()),
            (0, 0, 0)
        );
    }
}
