//! Flood protection for the public receiver: refusals are rate-limited per source
//! address and per portal, and a refusal over the limit costs neither a fresh
//! (uncached) lookup nor a log row — only a counter, plus one sample row per
//! source and window so admins still see that something is hammering the receiver.
//!
//! Only refusals are charged: a verified delivery never touches these budgets, so
//! HubSpot's legitimate traffic keeps its latency during a flood, even from the same
//! address. In memory, per router (like `Directory`); a small token bucket per key
//! rather than a crate (no new dependency for two maps).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Refusals a source address may cause at once, then per second.
pub const SOURCE_BURST: f64 = 30.0;
pub const SOURCE_PER_SEC: f64 = 2.0;
/// Refusals naming one portal (from any address) at once, then per second.
pub const PORTAL_BURST: f64 = 60.0;
pub const PORTAL_PER_SEC: f64 = 5.0;
/// One sample log row per source address and window while it is over its budget.
pub const SAMPLE_WINDOW: Duration = Duration::from_secs(60);
/// Keys kept before idle ones are dropped.
const MAX_KEYS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
struct Limiter<K> {
    burst: f64,
    per_sec: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Copy> Limiter<K> {
    fn new(burst: f64, per_sec: f64) -> Self {
        Self {
            burst,
            per_sec,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when there is none.
    fn take(&self, key: K, now: Instant) -> bool {
        let mut map = self.buckets.lock();
        if map.len() >= MAX_KEYS && !map.contains_key(&key) {
            // A full bucket is as good as no bucket: forget those.
            let (burst, per_sec) = (self.burst, self.per_sec);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.per_sec;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The receiver's refusal budgets.
pub struct Guard {
    by_source: Limiter<IpAddr>,
    by_portal: Limiter<u64>,
    samples: Mutex<HashMap<IpAddr, Instant>>,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            by_source: Limiter::new(SOURCE_BURST, SOURCE_PER_SEC),
            by_portal: Limiter::new(PORTAL_BURST, PORTAL_PER_SEC),
            samples: Mutex::new(HashMap::new()),
        }
    }
}

impl Guard {
    /// Charges one refusal to its source and portal; false when either is over its
    /// budget (the refusal is then answered 429 without further work).
    pub fn charge(&self, source: IpAddr, portal: Option<i64>) -> bool {
        let now = Instant::now();
        let source_ok = self.by_source.take(source, now);
        let portal_ok = portal.is_none_or(|p| self.by_portal.take(p as u64, now));
        source_ok && portal_ok
    }

    /// Whether a suppressed refusal from `source` is the window's sample (logged).
    pub fn sample(&self, source: IpAddr) -> bool {
        let now = Instant::now();
        let mut map = self.samples.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, at| now.duration_since(*at) < SAMPLE_WINDOW);
        }
        match map.get(&source) {
            Some(at) if now.duration_since(*at) < SAMPLE_WINDOW => false,
            _ => {
                map.insert(source, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_over_time() {
        let l = Limiter::new(3.0, 1.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| l.take(1_u8, t0)));
        assert!(!l.take(1, t0), "burst spent");
        assert!(l.take(2, t0), "keys are independent");
        assert!(l.take(1, t0 + Duration::from_millis(1_001)), "refilled");
        assert!(!l.take(1, t0 + Duration::from_millis(1_002)));
    }

    #[test]
    fn one_sample_per_source_and_window() {
        let g = Guard::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(g.sample(ip));
        assert!(!g.sample(ip));
        assert!(g.sample([10, 0, 0, 2].into()));
    }
}
