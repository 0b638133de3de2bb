//! The process-wide set of attribute wire names (`attributes.plan`), each stored
//! once for the life of the process so that [`crate::KevaField`] can name an
//! attribute and stay `Copy`.
//!
//! Only keys some workspace defines get here: names read back from the store
//! (attribute definitions, saved mappings, customers' attribute values, all of
//! which were checked against definitions when written). A name in a request is
//! never interned as it stands: requests carry a [`crate::FieldName`], which the
//! server resolves against the caller's workspace's definitions first, and an
//! undefined key is refused without touching this set. Otherwise any caller
//! could leak memory and, by filling the set, stop every other workspace's new
//! keys from parsing.
//!
//! The set is still capped, as a backstop: past the cap, new keys are refused
//! (parsing fails) while known ones keep working.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// Distinct names kept at most (about 8 MB at the longest keys).
const MAX_NAMES: usize = 100_000;

static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// The interned copy of `name`; `None` when the set is full and `name` is new.
pub(crate) fn intern(name: &str) -> Option<&'static str> {
    // A panic while holding the lock cannot leave the set half-updated (an insert
    // is one step), so a poisoned lock is still good to use.
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return Some(known);
    }
    if names.len() >= MAX_NAMES {
        return None;
    }
    let stored: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(stored);
    Some(stored)
}

/// How many distinct names are interned (for metrics and tests: a request
/// that names made-up keys must leave it unchanged).
pub fn interned_count() -> usize {
    NAMES.lock().unwrap_or_else(PoisonError::into_inner).len()
}

/// Whether `name` (`attributes.plan`) is interned, without interning it.
pub fn is_interned(name: &str) -> bool {
    NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_stored_once() {
        let a = intern("attributes.internTest").expect("room");
        let b = intern(&String::from("attributes.internTest")).expect("room");
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "attributes.internTest");
        assert!(is_interned("attributes.internTest"));
    }

    #[test]
    fn looking_a_name_up_does_not_intern_it() {
        assert!(!is_interned("attributes.neverInterned"));
        assert!(!is_interned("attributes.neverInterned"));
        let before = interned_count();
        intern("attributes.countedOnce").expect("room");
        intern("attributes.countedOnce").expect("room");
        assert!(interned_count() > before);
    }
}
