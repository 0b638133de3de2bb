//! The intake against the sandbox's real deliveries (signed by the sandbox, with its
//! duplicates and reordering) and the engine's worker: an edit made "as a HubSpot
//! user" reaches the Keva customer; duplicated and reordered deliveries converge to
//! the last edit; our own writes' echoes enqueue nothing; an acknowledged delivery
//! survives the service dying before processing it.

use serde_json::{json, Value};

use crate::harness::{eventually, parts, TestApp};
use crate::webhook_support::*;

/// A connected customer "Ann Lee" with its HubSpot contact; returns (customer, contact).
async fn linked_customer(sa: &TestApp, email: &str) -> (String, String) {
    let c = sa
        .create_customer(json!({"email": email, "name": "Ann Lee", "jobTitle": "Engineer"}))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    sa.settle().await;
    let contact = sa.contact_id(&id).await;
    (id, contact)
}

async fn inbound_jobs(sa: &TestApp, contact: &str) -> usize {
    sa.store
        .list_jobs(sa.workspace_id, None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.kind == "inbound_contact" && j.coalesce_key.ends_with(&format!(":{contact}")))
        .count()
}

async fn a_user_edit_in_hubspot_reaches_the_keva_customer(sa: TestApp) {
    sa.connector().await;
    deliver_webhooks(&sa, json!({})).await;
    let (customer, contact) = linked_customer(&sa, "ann@example.com").await;
    sa.settle().await;

    sa.edit_contact(&contact, json!({"jobtitle": "CTO", "firstname": "Annie"}))
        .await;
    eventually(10, "the edit reaches Keva", || async {
        let c = sa.customer(&customer).await;
        c["jobTitle"] == "CTO" && c["name"] == "Annie Lee"
    })
    .await;
    let log = log(&sa).await;
    assert!(log.iter().any(|l| l["valid"] == true), "{log:?}");
    assert!(
        log.iter().all(|l| l["valid"] == true),
        "no delivery refused: {log:?}"
    );
}

async fn duplicated_and_reordered_deliveries_converge_to_the_last_edit(sa: TestApp) {
    let connector = sa.connector().await;
    deliver_webhooks(
        &sa,
        json!({"duplicateRate": 1.0, "reorder": true, "lingerMs": 5}),
    )
    .await;
    let (customer, contact) = linked_customer(&sa, "ann@example.com").await;

    for name in ["Bea", "Cleo", "Dora", "Edna"] {
        sa.edit_contact(&contact, json!({"firstname": name})).await;
    }
    sa.edit_contact(&contact, json!({"phone": "+1 555 0100"}))
        .await;
    eventually(15, "every delivery made", || async {
        let w = sandbox_webhooks(&sa).await;
        w["pending"] == 0 && w["duplicates"].as_u64().unwrap_or(0) > 0
    })
    .await;
    sa.settle().await;
    let c = sa.customer(&customer).await;
    assert_eq!(c["name"], "Edna Lee", "{c}");
    assert_eq!(c["phone"], "+1 555 0100", "{c}");
    let log = log(&sa).await;
    let duplicates: u64 = log.iter().map(|l| l["duplicates"].as_u64().unwrap()).sum();
    assert!(
        duplicates > 0,
        "the sandbox's repeats were recognised: {log:?}"
    );
    // Each event id is stored once, however often it was delivered.
    let events = sa
        .store
        .contact_events_since(
            connector,
            &contact,
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        )
        .await
        .unwrap();
    let mut ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
    // The HubSpot side still says Edna: nothing older was written back.
    assert_eq!(sa.contact(&contact).await["firstname"], "Edna");
}

async fn the_echo_of_our_own_write_enqueues_no_inbound_job(sa: TestApp) {
    sa.connector().await;
    // Deliveries wait long enough for the engine to commit its bases first.
    deliver_webhooks(&sa, json!({"lingerMs": 400})).await;
    let (customer, contact) = linked_customer(&sa, "ann@example.com").await;
    eventually(10, "creation echoes delivered", || async {
        sandbox_webhooks(&sa).await["pending"] == 0
    })
    .await;
    sa.settle().await;
    let before = inbound_jobs(&sa, &contact).await;
    let delivered = sandbox_webhooks(&sa).await["delivered"].as_u64().unwrap();

    sa.edit_customer(&customer, json!({"jobTitle": "Chief Engineer"}))
        .await;
    sa.settle().await;
    assert_eq!(sa.contact(&contact).await["jobtitle"], "Chief Engineer");
    eventually(10, "the echo is delivered", || async {
        let w = sandbox_webhooks(&sa).await;
        w["delivered"].as_u64().unwrap() > delivered && w["pending"] == 0
    })
    .await;
    sa.settle().await;
    assert_eq!(
        inbound_jobs(&sa, &contact).await,
        before,
        "the echo enqueued nothing"
    );
    let r = sa
        .http
        .get(format!("{}/metrics", sa.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = r.text().await.unwrap();
    assert!(metrics.contains("webhook_events_echo_total"), "{metrics}");
}

async fn an_acknowledged_delivery_survives_a_crash_before_processing(sa: TestApp) {
    sa.connector().await;
    deliver_webhooks(&sa, json!({})).await;
    let (customer, contact) = linked_customer(&sa, "ann@example.com").await;
    sa.settle().await;
    let accepted = log(&sa).await.len();

    // HubSpot's API now fails, so the worker cannot process what the intake acknowledged.
    sa.faults(json!({"rate503": 1.0})).await;
    sa.edit_contact(&contact, json!({"jobtitle": "Survivor"}))
        .await;
    eventually(10, "the delivery is acknowledged", || async {
        log(&sa).await.len() > accepted && sandbox_webhooks(&sa).await["pending"] == 0
    })
    .await;
    assert_ne!(sa.customer(&customer).await["jobTitle"], "Survivor");

    // The process dies (its workers with it); a new one starts on the same database.
    let sa = sa.restart().await;
    sa.faults(json!({"rate503": 0.0})).await;
    eventually(
        20,
        "the new process applies the acknowledged edit",
        || async { sa.customer(&customer).await["jobTitle"] == "Survivor" },
    )
    .await;
}

async fn a_new_hubspot_contact_is_imported_when_the_connector_imports(sa: TestApp) {
    let connector = sa.connector().await;
    let (s, v) = parts(
        sa.patch(
            &format!("/api/crm/hubspot/connectors/{connector}"),
            json!({"importContacts": true}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    deliver_webhooks(&sa, json!({})).await;
    // Created through HubSpot's API; a creation is never taken for an echo.
    sa.hubspot_contact(json!({"email": "new@example.com", "firstname": "Nia", "lastname": "Obi"}))
        .await;
    eventually(10, "the contact is imported", || async {
        let (s, page) = parts(
            sa.get("/api/customers?email=new@example.com")
                .send()
                .await
                .unwrap(),
        )
        .await;
        s == 200 && page["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    let (_, page) = parts(
        sa.get("/api/customers?email=new@example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let c: &Value = &page["data"][0];
    assert_eq!(c["name"], "Nia Obi");
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    a_user_edit_in_hubspot_reaches_the_keva_customer,
    duplicated_and_reordered_deliveries_converge_to_the_last_edit,
    the_echo_of_our_own_write_enqueues_no_inbound_job,
    an_acknowledged_delivery_survives_a_crash_before_processing,
    a_new_hubspot_contact_is_imported_when_the_connector_imports,
);
