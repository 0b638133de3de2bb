//! Per-API-key concurrency: at most `max` requests of one key in flight at once,
//! so one busy (or hostile) client cannot hold every connection and database
//! slot, e.g. with a pile of Sync Now calls that each wait up to ten seconds. A
//! request over the limit is answered 429 with `Retry-After` at once, never queued:
//! queueing would only move the pile-up into memory.
//!
//! Keyed by the key's id after it authenticated, so unauthenticated traffic cannot
//! grow the table; an entry lives only while a request of its key is in flight.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Requests one API key may have in flight by default.
pub const DEFAULT_PER_KEY_CONCURRENCY: usize = 16;

/// The in-flight limits of every key.
#[derive(Debug)]
pub struct KeyConcurrency {
    max: usize,
    in_flight: Arc<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
}

/// Held for the duration of one request; gives its slot back when dropped.
#[derive(Debug)]
pub struct KeyPermit {
    key_id: Uuid,
    max: usize,
    in_flight: Arc<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl KeyConcurrency {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for one more request of `key_id`, or `None` when it has `max` in flight.
    pub fn try_acquire(&self, key_id: Uuid) -> Option<KeyPermit> {
        let mut map = self.in_flight.lock();
        let semaphore = map
            .entry(key_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.max)))
            .clone();
        let permit = semaphore.try_acquire_owned().ok()?;
        Some(KeyPermit {
            key_id,
            max: self.max,
            in_flight: self.in_flight.clone(),
            permit: Some(permit),
        })
    }

    /// Keys with a request in flight (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.in_flight.lock().len()
    }
}

impl Default for KeyConcurrency {
    fn default() -> Self {
        Self::new(DEFAULT_PER_KEY_CONCURRENCY)
    }
}

impl Drop for KeyPermit {
    fn drop(&mut self) {
        // Released under the lock, so a concurrent acquire sees either the old
        // entry with the slot back or no entry at all.
        let mut map = self.in_flight.lock();
        drop(self.permit.take());
        if map
            .get(&self.key_id)
            .is_some_and(|s| s.available_permits() == self.max)
        {
            map.remove(&self.key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_at_most_max_slots_and_its_entry_goes_with_the_last() {
        let limits = KeyConcurrency::new(2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = limits.try_acquire(a);
        let second = limits.try_acquire(a);
        assert!(first.is_some() && second.is_some());
        assert!(limits.try_acquire(a).is_none(), "a third is refused");
        assert!(
            limits.try_acquire(b).is_some(),
            "another key is not affected"
        );
        drop(first);
        let third = limits.try_acquire(a);
        assert!(third.is_some(), "a returned slot is reusable");
        drop((second, third));
        assert_eq!(limits.tracked_keys(), 0, "no entry outlives its requests");
    }
}
