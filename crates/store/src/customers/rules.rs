//! The store's customer rules that need no database: the email lookup key, how
//! empty values are stored, and what an update changes (with per-field times, which
//! the sync uses to decide which side changed a field last; attributes have theirs
//! under `attributes.<key>` in the same JSON map, so no schema change was needed).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use keva_core::{Customer, CustomerPatch, KevaField};
use uuid::Uuid;

use super::{FieldTimes, NewCustomer};

/// The uniqueness and lookup key of an email: trimmed and lower-cased. Matches
/// `keva_core::Email::normalized` for valid emails.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Empty strings are stored as NULL so "cleared" has one representation.
fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// Builds a new customer; every field given a value gets `now` as its change time.
pub(crate) fn new_customer(
    id: Uuid,
    workspace_id: Uuid,
    c: NewCustomer,
    now: DateTime<Utc>,
) -> (Customer, FieldTimes) {
    let customer = Customer {
        id,
        workspace_id,
        email: c.email.trim().to_string(),
        name: non_empty(c.name),
        phone: non_empty(c.phone),
        company: non_empty(c.company),
        job_title: non_empty(c.job_title),
        location: non_empty(c.location),
        notes: non_empty(c.notes),
        attributes: c.attributes,
        created_at: now,
        updated_at: now,
    };
    let attributes = customer
        .attributes
        .keys()
        .filter_map(|k| KevaField::attribute(k));
    let times = KevaField::ALL
        .into_iter()
        .filter(|f| customer.field(*f).is_some())
        .chain(attributes)
        .map(|f| (f, now.timestamp_millis()))
        .collect();
    (customer, times)
}

/// Applies `patch` to `current`. Returns `None` when nothing would change (so the
/// row, its `updated_at` and its field times stay untouched), otherwise the new
/// customer and field times, where only fields whose value changed get `now`.
///
/// `Some("")` clears a field; for the email, which cannot be empty, an empty value
/// leaves it as it is (the API validates emails before they reach the store).
pub(crate) fn apply_patch(
    current: &Customer,
    times: &FieldTimes,
    patch: &CustomerPatch,
    now: DateTime<Utc>,
) -> Option<(Customer, FieldTimes)> {
    let mut next = current.clone();
    let mut next_times = times.clone();
    let mut changed = false;
    for field in patch.fields() {
        let Some(raw) = patch.get(field) else {
            continue;
        };
        let slot = match field {
            KevaField::Email => {
                let email = raw.trim();
                if email.is_empty() || email == next.email {
                    continue;
                }
                next.email = email.to_string();
                next_times.insert(field, now.timestamp_millis());
                changed = true;
                continue;
            }
            KevaField::Name => &mut next.name,
            KevaField::Phone => &mut next.phone,
            KevaField::Company => &mut next.company,
            KevaField::JobTitle => &mut next.job_title,
            KevaField::Location => &mut next.location,
            KevaField::Notes => &mut next.notes,
            // `fields()` names built-ins only; attributes follow.
            KevaField::Attribute(_) => continue,
        };
        let value = non_empty(Some(raw.to_string()));
        if *slot != value {
            *slot = value;
            next_times.insert(field, now.timestamp_millis());
            changed = true;
        }
    }
    // Each attribute whose value changes gets its own change time, like a field.
    for (key, value) in &patch.attributes {
        let before = next.attributes.get(key);
        if before != value.as_ref() {
            if let Some(field) = KevaField::attribute(key) {
                next_times.insert(field, now.timestamp_millis());
            }
        }
    }
    changed |= keva_core::attribute::apply_changes(&mut next.attributes, &patch.attributes);
    if !changed {
        return None;
    }
    next.updated_at = now;
    Some((next, next_times))
}

/// Stored millisecond times as timestamps; a value outside chrono's range (only
/// possible if the column was edited by hand) is left out rather than failing reads.
pub(crate) fn field_times_to_dates(times: &FieldTimes) -> BTreeMap<KevaField, DateTime<Utc>> {
    times
        .iter()
        .filter_map(|(f, ms)| Utc.timestamp_millis_opt(*ms).single().map(|t| (*f, t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().expect("valid time")
    }

    fn sample() -> (Customer, FieldTimes) {
        new_customer(
            Uuid::now_v7(),
            Uuid::now_v7(),
            NewCustomer {
                email: "  Ann@Example.com ".into(),
                name: Some("Ann".into()),
                phone: Some(String::new()),
                ..NewCustomer::default()
            },
            at(1_000),
        )
    }

    #[test]
    fn normalize_trims_and_lowercases() {
        assert_eq!(
            normalize_email("  Ann.B@Example.COM\t"),
            "ann.b@example.com"
        );
    }

    #[test]
    fn new_customer_trims_email_and_stores_empty_as_none() {
        let (c, times) = sample();
        assert_eq!(c.email, "Ann@Example.com");
        assert_eq!(c.phone, None);
        assert_eq!(
            times.keys().copied().collect::<Vec<_>>(),
            vec![KevaField::Email, KevaField::Name]
        );
    }

    #[test]
    fn patch_records_times_only_for_changed_fields() {
        let (c, times) = sample();
        let patch = CustomerPatch {
            name: Some("Ann".into()),     // unchanged
            company: Some("Acme".into()), // new
            ..CustomerPatch::default()
        };
        let (next, next_times) = apply_patch(&c, &times, &patch, at(2_000)).expect("changed");
        assert_eq!(next.company.as_deref(), Some("Acme"));
        assert_eq!(next.updated_at, at(2_000));
        assert_eq!(next_times[&KevaField::Name], 1_000);
        assert_eq!(next_times[&KevaField::Company], 2_000);
    }

    #[test]
    fn empty_string_clears_but_not_email() {
        let (c, times) = sample();
        let patch = CustomerPatch {
            name: Some(String::new()),
            email: Some("  ".into()),
            ..CustomerPatch::default()
        };
        let (next, next_times) = apply_patch(&c, &times, &patch, at(3_000)).expect("changed");
        assert_eq!(next.name, None);
        assert_eq!(next.email, c.email);
        assert_eq!(next_times[&KevaField::Name], 3_000);
        assert_eq!(next_times[&KevaField::Email], 1_000);
    }

    #[test]
    fn no_change_is_none() {
        let (c, times) = sample();
        let patch = CustomerPatch {
            name: Some("Ann".into()),
            phone: Some(String::new()),
            email: Some(" Ann@Example.com".into()),
            ..CustomerPatch::default()
        };
        assert!(apply_patch(&c, &times, &patch, at(4_000)).is_none());
    }

    #[test]
    fn attributes_get_their_own_change_times() {
        let (c, times) = sample();
        let mrr = KevaField::attribute("mrr").expect("key");
        let plan = KevaField::attribute("plan").expect("key");
        let mut patch = CustomerPatch::default();
        patch
            .attributes
            .insert("mrr".into(), Some(serde_json::json!(10)));
        patch.attributes.insert("plan".into(), None);
        let (next, next_times) = apply_patch(&c, &times, &patch, at(5_000)).expect("changed");
        assert_eq!(next.attributes["mrr"], serde_json::json!(10));
        assert_eq!(next_times[&mrr], 5_000);
        assert!(
            !next_times.contains_key(&plan),
            "clearing nothing is no change"
        );
        // The same value again changes nothing, and keeps the time.
        assert!(apply_patch(&next, &next_times, &patch, at(6_000)).is_none());
        patch.attributes.insert("mrr".into(), None);
        let (_, cleared) = apply_patch(&next, &next_times, &patch, at(7_000)).expect("cleared");
        assert_eq!(cleared[&mrr], 7_000);
        assert_eq!(cleared[&KevaField::Name], 1_000);
    }
}
