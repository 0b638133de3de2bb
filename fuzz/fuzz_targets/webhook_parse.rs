//! Fuzz target: `parse_batch` on arbitrary request bodies. Besides "no panic", checks
//! that an accepted batch respects the size limit and survives a serialize/parse
//! round trip unchanged (the intake stores events as JSON and re-reads them).
#![no_main]

use keva_hubspot::webhook::{parse_batch, MAX_EVENTS_PER_REQUEST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(events) = parse_batch(body) {
        assert!(!events.is_empty() && events.len() <= MAX_EVENTS_PER_REQUEST);
        let stored = serde_json::to_vec(&events).unwrap_or_default();
        assert_eq!(parse_batch(&stored).ok(), Some(events));
    }
});
