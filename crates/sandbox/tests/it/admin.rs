//! `/_sandbox/` data endpoints, portals, and change events.

use std::sync::Arc;

use keva_sandbox::events::{ChangeEvent, EventKind};
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::env;

/// Replaces the webhook sink with a recorder, to check what the data plane emits.
fn record_events(e: &crate::common::Env) -> Arc<Mutex<Vec<ChangeEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    e.sb.state()
        .set_event_sink(Arc::new(move |ev| sink.lock().push(ev)));
    seen
}

#[tokio::test]
async fn seed_edit_restore_and_events() {
    let e = env().await;
    let seen = record_events(&e);
    let (s, v) = e
        .post(
            "/_sandbox/seed",
            json!({"contacts": 50, "companies": 5, "deals": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["contacts"], 50);
    assert!(seen.lock().is_empty(), "seeding is an import, no webhooks");
    let (_, v) = e.get("/_sandbox/objects/contacts?limit=2").await;
    assert_eq!(v["count"], 50);
    let id = v["results"][0]["id"].as_str().unwrap().to_string();
    let (_, v) = e
        .get(&format!(
            "/crm/v3/objects/contacts/{id}?associations=companies,deals"
        ))
        .await;
    assert!(
        v["associations"]["companies"]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{v}"
    );

    // Edit as a HubSpot user: CRM_UI events, one per changed property.
    let (s, v) = e
        .patch(
            &format!("/_sandbox/objects/contacts/{id}"),
            json!({"properties": {"firstname": "Edited", "jobtitle": "Boss"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    {
        let events = seen.lock();
        assert_eq!(events.len(), 2);
        assert!(events
            .iter()
            .all(|ev| ev.kind == EventKind::PropertyChange && ev.change_source == "CRM_UI"));
        assert_eq!(events[0].source_id.as_deref(), Some("userId:1"));
    }
    // Same values again: nothing changed, no events.
    e.patch(
        &format!("/_sandbox/objects/contacts/{id}"),
        json!({"properties": {"firstname": "Edited"}}),
    )
    .await;
    assert_eq!(seen.lock().len(), 2);

    let (s, _) = e.delete(&format!("/_sandbox/objects/contacts/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = e
        .post(
            &format!("/_sandbox/objects/contacts/{id}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<EventKind> = seen.lock().iter().map(|ev| ev.kind).collect();
    assert_eq!(&kinds[2..], &[EventKind::Deletion, EventKind::Restore]);
}

#[tokio::test]
async fn api_writes_emit_integration_events() {
    let e = env().await;
    let seen = record_events(&e);
    let id = e.contact("ev@example.com", "Ev").await;
    e.patch(
        &format!("/crm/v3/objects/contacts/{id}"),
        json!({"properties": {"firstname": "Eve", "lastname": "Adams"}}),
    )
    .await;
    let other = e.contact("ev2@example.com", "Ev2").await;
    e.post(
        "/crm/v3/objects/contacts/merge",
        json!({"primaryObjectId": id, "objectIdToMerge": other}),
    )
    .await;
    let events = seen.lock().clone();
    let kinds: Vec<EventKind> = events.iter().map(|ev| ev.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Creation,
            EventKind::PropertyChange,
            EventKind::PropertyChange,
            EventKind::Creation,
            EventKind::Merge
        ]
    );
    assert!(events.iter().all(|ev| ev.change_source == "INTEGRATION"));
    assert_eq!(events[0].source_id, Some(e.sb.app_id().to_string()));
    assert_eq!(
        events[4].merged_object_ids,
        vec![other.parse::<u64>().unwrap()]
    );
    let names: Vec<&str> = events[1..3]
        .iter()
        .filter_map(|ev| ev.property_name.as_deref())
        .collect();
    assert!(names.contains(&"firstname") && names.contains(&"lastname"));
}

#[tokio::test]
async fn portals_are_separate() {
    let e = env().await;
    e.contact("shared@example.com", "Default").await;
    let (s, v) = e.post("/_sandbox/portals", json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let portal = v["portalId"].as_u64().unwrap();
    assert!((10_000_000..100_000_000).contains(&portal));
    let token = v["accessToken"].as_str().unwrap().to_string();
    // Same email is free in the other portal.
    let (s, v) = e
        .call_as(
            &token,
            reqwest::Method::POST,
            "/crm/v3/objects/contacts",
            Some(json!({"properties": {"email": "shared@example.com"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(e.sb.state().contact_count(portal), 1);
    assert_eq!(e.sb.contact_count(), 1);
    let (_, v) = e
        .get(&format!("/_sandbox/objects/contacts?portalId={portal}"))
        .await;
    assert_eq!(v["count"], 1);
    // A bad token is a 401 from the guard.
    let (s, _) = e
        .call_as(
            "nope",
            reqwest::Method::GET,
            "/crm/v3/objects/contacts",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stats_use_hubspot_path_templates() {
    let e = env().await;
    let id = e.contact("stats@example.com", "S").await;
    e.post(
        "/crm/v3/objects/contacts/batch/read",
        json!({"properties": [], "propertiesWithHistory": [], "inputs": [{"id": id}]}),
    )
    .await;
    e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    e.get("/crm/v3/properties/contacts/email").await;
    e.get("/_sandbox/objects/contacts").await;
    let (s, v) = e.get("/_sandbox/stats").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let requests = &v["requests"];
    assert_eq!(
        requests["POST /crm/v3/objects/contacts/batch/read"], 1,
        "{v}"
    );
    assert_eq!(
        requests["GET /crm/v3/objects/contacts/{contactId}"], 1,
        "{v}"
    );
    assert_eq!(requests["POST /crm/v3/objects/contacts"], 1, "{v}");
    assert_eq!(
        requests["GET /crm/v3/properties/{objectType}/{propertyName}"], 1,
        "{v}"
    );
    assert!(
        requests
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("_sandbox")),
        "admin calls are not counted: {v}"
    );
}

#[tokio::test]
async fn admin_merge_and_restore_conflict() {
    let e = env().await;
    let seen = record_events(&e);
    let a = e.contact("m1@example.com", "M1").await;
    let b = e.contact("m2@example.com", "M2").await;
    let (s, v) = e
        .post(
            "/_sandbox/objects/contacts/merge",
            json!({"primaryObjectId": a, "objectIdToMerge": b}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let merge = seen
        .lock()
        .iter()
        .find(|ev| ev.kind == EventKind::Merge)
        .cloned()
        .unwrap();
    assert_eq!(merge.change_source, "CRM_UI");
    assert_eq!(merge.primary_object_id, Some(a.parse().unwrap()));
    // The merged-away email finds the survivor.
    let (s, v) = e
        .get("/crm/v3/objects/contacts/m2@example.com?idProperty=email")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], a.as_str());

    // Restoring a contact whose email was taken meanwhile is a conflict.
    let c = e.contact("r@example.com", "R").await;
    e.delete(&format!("/crm/v3/objects/contacts/{c}")).await;
    let newer = e.contact("r@example.com", "R2").await;
    let (s, v) = e
        .post(
            &format!("/_sandbox/objects/contacts/{c}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().ends_with(&newer));
    let (s, _) = e
        .patch(
            "/_sandbox/objects/contacts/999999",
            json!({"properties": {"firstname": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = e.get("/_sandbox/objects/contacts?portalId=1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn direct_state_access_for_tests() {
    let e = env().await;
    let state = e.sb.state();
    let portal = state.portal(e.sb.portal_id()).unwrap();
    portal
        .write()
        .seed(20, 2, 0, keva_sandbox::portal::now_ms());
    assert_eq!(state.contact_count(e.sb.portal_id()), 20);
    let (_, v) = e
        .get("/crm/v3/objects/contacts?limit=1&properties=email")
        .await;
    let email = v["results"][0]["properties"]["email"]
        .as_str()
        .unwrap()
        .to_uppercase();
    let (id, props) = state
        .get_contact_by_email(e.sb.portal_id(), &email)
        .unwrap();
    assert_eq!(v["results"][0]["id"], id.to_string().as_str());
    assert_eq!(props["email"], email.to_lowercase());
}

#[tokio::test]
async fn tokens_without_the_scope_get_403_missing_scopes() {
    let e = env().await;
    let tokens = &e.sb.control().tokens;
    let redirect = "http://127.0.0.1:9/callback";
    let code = tokens
        .approve(
            &e.sb.client_id(),
            redirect,
            e.sb.portal_id(),
            vec!["oauth".into(), "crm.objects.contacts.read".into()],
        )
        .unwrap();
    let issued = tokens
        .exchange_code(&e.sb.client_id(), &e.sb.client_secret(), redirect, &code)
        .unwrap();
    let token = issued.access_token;
    let (s, _) = e
        .call_as(
            &token,
            reqwest::Method::GET,
            "/crm/v3/objects/contacts",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = e
        .call_as(
            &token,
            reqwest::Method::POST,
            "/crm/v3/objects/contacts/search",
            Some(json!({"filterGroups": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "search is a read");
    let (s, v) = e
        .call_as(
            &token,
            reqwest::Method::POST,
            "/crm/v3/objects/contacts",
            Some(json!({"properties": {"email": "w@example.com"}})),
        )
        .await;
    crate::common::assert_error(s, &v, StatusCode::FORBIDDEN, "MISSING_SCOPES");
    assert_eq!(
        v["errors"][0]["context"]["requiredGranularScopes"][0],
        "crm.objects.contacts.write"
    );
    let (s, v) = e
        .call_as(&token, reqwest::Method::GET, "/crm/v3/objects/deals", None)
        .await;
    crate::common::assert_error(s, &v, StatusCode::FORBIDDEN, "MISSING_SCOPES");
    assert_eq!(e.sb.contact_count(), 0);
}
