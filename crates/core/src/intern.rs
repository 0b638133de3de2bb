//! The process-wide set of attribute wire names (`attributes.plan`), each stored
//! once for the life of the process so that [`crate::KevaField`] can name an
//! attribute and stay `Copy`.
//!
//! Only well-formed keys get here (camelCase, at most 64 characters), and the set
//! is capped: a process sees the keys its workspaces define plus those named in
//! requests, and a flood of made-up keys must not grow it without bound. Past
//! the cap, new keys are refused (parsing fails) while known ones keep working.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_stored_once() {
        let a = intern("attributes.internTest").expect("room");
        let b = intern(&String::from("attributes.internTest")).expect("room");
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "attributes.internTest");
    }
}
