//! From verified events to what the store writes in one transaction: the event rows,
//! the jobs the sync engine runs (kinds and keys per `docs/sync-contract.md`), and the
//! echoes of Keva's own writes, which are stored but enqueue nothing.
//!
//! Pure: the links the echo check needs are looked up beforehand (`echo_candidates`),
//! so the rules here are testable without a database.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use keva_core::Trigger;
use keva_hubspot::webhook::{EventKind, WebhookEvent};
use keva_store::{NewJob, NewWebhookEvent};
use serde_json::json;
use uuid::Uuid;

use crate::sync::jobs::{CONTACT_MERGE, INBOUND_CONTACT};

/// A connector that receives a portal's events, from a workspace whose app secret
/// verified the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub connector_id: Uuid,
    pub workspace_id: Uuid,
    /// Our app's id as HubSpot writes it in `sourceId`, if known (echo filtering).
    pub app_id: Option<String>,
    /// Only connected connectors get jobs: one that needs reconnecting could only
    /// fail them (its next batch sync catches up); its events are still stored.
    pub connected: bool,
}

/// The base HubSpot values of linked contacts, by (connector, contact id):
/// `link.bases.hubspot`, or empty when the link has no bases yet.
pub type LinkBases = HashMap<(Uuid, String), std::collections::BTreeMap<String, Option<String>>>;

/// What a verified batch becomes.
#[derive(Debug, Default, PartialEq)]
pub struct EventWrites {
    pub events: Vec<NewWebhookEvent>,
    pub jobs: Vec<NewJob>,
    /// Events recognised as echoes of our own writes.
    pub echoes: u32,
}

/// Whether an event says it was written by `app_id` (HubSpot puts the writing app's
/// id in `sourceId`; tolerate an `appId:` prefix like the `userId:` one of users).
fn written_by(event: &WebhookEvent, app_id: &str) -> bool {
    event.source_id.as_deref().is_some_and(|s| {
        let s = s.trim();
        s == app_id || s.strip_prefix("appId:") == Some(app_id)
    })
}

/// (connector, contact) pairs whose link must be read to tell echoes apart: only
/// property changes written by our own app, so most batches need no lookup.
pub fn echo_candidates(
    events: &[WebhookEvent],
    targets: &HashMap<u64, Vec<Target>>,
) -> HashSet<(Uuid, String)> {
    let mut out = HashSet::new();
    for e in events {
        if e.kind() != EventKind::ContactPropertyChange {
            continue;
        }
        for t in targets.get(&e.portal_id).into_iter().flatten() {
            if t.app_id.as_deref().is_some_and(|app| written_by(e, app)) {
                out.insert((t.connector_id, e.object_id.to_string()));
            }
        }
    }
    out
}

/// Our write echoed back: written by our app, and the new value is the one both
/// sides last agreed on (so the reconcile it would trigger has nothing to do).
/// Empty and absent are the same value in HubSpot.
fn is_echo(event: &WebhookEvent, target: &Target, bases: &LinkBases) -> bool {
    let Some(app) = target.app_id.as_deref() else {
        return false;
    };
    if !written_by(event, app) {
        return false;
    }
    let (Some(property), Some(base)) = (
        event.property_name.as_deref(),
        bases.get(&(target.connector_id, event.object_id.to_string())),
    ) else {
        return false;
    };
    let Some(agreed) = base.get(property) else {
        return false;
    };
    let norm = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    norm(agreed.as_deref()) == norm(event.property_value.as_deref())
}

fn occurred_at(e: &WebhookEvent) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(e.occurred_at).unwrap_or_else(Utc::now)
}

/// Builds the rows and jobs. Every event is stored once per target (so each
/// workspace deduplicates its own copy: another workspace's app on the portal cannot
/// pre-empt it); jobs are made per target connector and deduplicated within the
/// batch (the store coalesces across batches, and enqueues a target's jobs only if
/// that target got a new event).
pub fn jobs_from_events(
    events: &[WebhookEvent],
    targets: &HashMap<u64, Vec<Target>>,
    bases: &LinkBases,
) -> EventWrites {
    let mut out = EventWrites::default();
    let mut seen_jobs: HashSet<(Uuid, String)> = HashSet::new();
    for e in events {
        let portal_targets = targets.get(&e.portal_id).map(Vec::as_slice).unwrap_or(&[]);
        for t in portal_targets {
            out.events.push(NewWebhookEvent {
                event_id: i64::try_from(e.event_id).unwrap_or(i64::MAX),
                portal_id: i64::try_from(e.portal_id).unwrap_or(i64::MAX),
                connector_id: Some(t.connector_id),
                workspace_id: Some(t.workspace_id),
                object_id: e.object_id.to_string(),
                subscription_type: e.subscription_type.clone(),
                occurred_at: occurred_at(e),
                payload: serde_json::to_value(e).unwrap_or_default(),
            });
        }
        let kind = e.kind();
        let mut echoed = false;
        for t in portal_targets.iter().filter(|t| t.connected) {
            let job = match &kind {
                EventKind::ContactMerge => {
                    let primary = e.primary_object_id.unwrap_or(e.object_id);
                    let merged: Vec<String> = e
                        .merged_object_ids
                        .iter()
                        .filter(|id| **id != primary)
                        .map(u64::to_string)
                        .collect();
                    NewJob::new(
                        t.workspace_id,
                        t.connector_id,
                        CONTACT_MERGE,
                        format!("merge:{}:{}:{}", t.connector_id, e.portal_id, e.event_id),
                        json!({"primaryObjectId": primary.to_string(), "mergedObjectIds": merged}),
                        Trigger::Webhook,
                    )
                }
                EventKind::Other(_) => {
                    match crate::context::events::job_for(e, t.workspace_id, t.connector_id) {
                        Some(job) => job,
                        None => continue,
                    }
                }
                EventKind::ContactPropertyChange if is_echo(e, t, bases) => {
                    echoed = true;
                    continue;
                }
                _ => NewJob::new(
                    t.workspace_id,
                    t.connector_id,
                    INBOUND_CONTACT,
                    format!("contact:{}:{}", t.connector_id, e.object_id),
                    json!({"objectId": e.object_id.to_string()}),
                    Trigger::Webhook,
                ),
            };
            if seen_jobs.insert((t.connector_id, job.coalesce_key.clone())) {
                out.jobs.push(job);
            }
        }
        if echoed {
            out.echoes += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use keva_hubspot::webhook::parse_batch;

    use super::*;

    fn target() -> Target {
        Target {
            connector_id: Uuid::from_u128(1),
            workspace_id: Uuid::from_u128(2),
            app_id: Some("777".into()),
            connected: true,
        }
    }

    fn targets() -> HashMap<u64, Vec<Target>> {
        HashMap::from([(62515, vec![target()])])
    }

    fn events(json: serde_json::Value) -> Vec<WebhookEvent> {
        parse_batch(json.to_string().as_bytes()).expect("valid batch")
    }

    fn change(event_id: u64, object: u64, source: &str, value: &str) -> serde_json::Value {
        json!({"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 777,
               "occurredAt": 1_700_000_000_000_i64 + event_id as i64,
               "subscriptionType": "contact.propertyChange", "objectId": object,
               "sourceId": source, "propertyName": "firstname", "propertyValue": value})
    }

    #[test]
    fn a_burst_for_one_contact_is_one_job_and_every_event_is_stored() {
        let evs = events(json!([
            change(1, 10, "userId:1", "A"),
            change(2, 10, "userId:1", "B"),
            change(3, 11, "userId:1", "C"),
        ]));
        let p = jobs_from_events(&evs, &targets(), &LinkBases::new());
        assert_eq!(p.events.len(), 3);
        let keys: Vec<_> = p.jobs.iter().map(|j| j.coalesce_key.as_str()).collect();
        let c = Uuid::from_u128(1);
        assert_eq!(keys, [format!("contact:{c}:10"), format!("contact:{c}:11")]);
        assert!(p.jobs.iter().all(|j| j.kind == INBOUND_CONTACT));
        assert_eq!(p.jobs[0].payload, json!({"objectId": "10"}));
        assert_eq!(p.events[0].connector_id, Some(c));
    }

    #[test]
    fn our_write_echoed_with_the_base_value_enqueues_nothing() {
        let bases: LinkBases = HashMap::from([(
            (Uuid::from_u128(1), "10".to_owned()),
            BTreeMap::from([("firstname".to_owned(), Some("Ann".to_owned()))]),
        )]);
        let echo = events(json!([change(1, 10, "777", "Ann")]));
        assert_eq!(
            echo_candidates(&echo, &targets()),
            HashSet::from([(Uuid::from_u128(1), "10".to_owned())])
        );
        let p = jobs_from_events(&echo, &targets(), &bases);
        assert_eq!((p.events.len(), p.jobs.len(), p.echoes), (1, 0, 1));

        // Same app, another value (a later edit of ours not yet agreed, or a race):
        // not an echo. A user's edit to the base value is not an echo either.
        for e in [
            change(2, 10, "777", "Bob"),
            change(3, 10, "userId:1", "Ann"),
        ] {
            let p = jobs_from_events(&events(json!([e])), &targets(), &bases);
            assert_eq!((p.jobs.len(), p.echoes), (1, 0));
        }
        // Unlinked contact: nothing to compare with, so the engine decides.
        let p = jobs_from_events(
            &events(json!([change(4, 99, "777", "Ann")])),
            &targets(),
            &bases,
        );
        assert_eq!((p.jobs.len(), p.echoes), (1, 0));
    }

    #[test]
    fn a_disconnected_connector_gets_the_events_but_no_jobs() {
        let mut t = target();
        t.connected = false;
        let evs = events(json!([change(1, 10, "userId:1", "A")]));
        let p = jobs_from_events(&evs, &HashMap::from([(62515, vec![t])]), &LinkBases::new());
        assert_eq!((p.events.len(), p.jobs.len()), (1, 0));
    }

    #[test]
    fn merges_get_their_own_job_and_other_objects_none() {
        let evs = events(json!([
            {"eventId": 5, "subscriptionId": 1, "portalId": 62515, "appId": 777, "occurredAt": 1,
             "subscriptionType": "contact.merge", "objectId": 10, "primaryObjectId": 10,
             "mergedObjectIds": [11, 12]},
            {"eventId": 6, "subscriptionId": 1, "portalId": 62515, "appId": 777, "occurredAt": 1,
             "subscriptionType": "company.creation", "objectId": 3},
        ]));
        let p = jobs_from_events(&evs, &targets(), &LinkBases::new());
        assert_eq!(p.events.len(), 2, "unknown kinds are still recorded");
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.jobs[0].kind, CONTACT_MERGE);
        assert_eq!(
            p.jobs[0].payload,
            json!({"primaryObjectId": "10", "mergedObjectIds": ["11", "12"]})
        );
        assert_eq!(
            p.jobs[0].coalesce_key,
            format!("merge:{}:62515:5", Uuid::from_u128(1))
        );
    }

    #[test]
    fn company_and_deal_changes_get_context_jobs_keyed_per_record_and_action() {
        let evs = events(json!([
            {"eventId": 7, "subscriptionId": 1, "portalId": 62515, "appId": 777, "occurredAt": 1,
             "subscriptionType": "company.propertyChange", "objectId": 3,
             "propertyName": "industry", "propertyValue": "BANKING"},
            {"eventId": 8, "subscriptionId": 1, "portalId": 62515, "appId": 777, "occurredAt": 2,
             "subscriptionType": "company.propertyChange", "objectId": 3,
             "propertyName": "name", "propertyValue": "Acme"},
            {"eventId": 9, "subscriptionId": 1, "portalId": 62515, "appId": 777, "occurredAt": 3,
             "subscriptionType": "deal.deletion", "objectId": 4},
        ]));
        let p = jobs_from_events(&evs, &targets(), &LinkBases::new());
        let c = Uuid::from_u128(1);
        let keys: Vec<_> = p.jobs.iter().map(|j| j.coalesce_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                format!("context:{c}:company:3:propertyChange"),
                format!("context:{c}:deal:4:deletion")
            ]
        );
        assert!(p
            .jobs
            .iter()
            .all(|j| j.kind == crate::context::events::CRM_CONTEXT));
        assert_eq!(p.jobs[1].payload["action"], "deletion");
    }
}
