//! Webhook delivery over HTTP to a local receiver: signatures, payload fields,
//! batching, retries, duplicates, reordering, and the v3 subscriptions API.

use std::collections::{BTreeSet, HashMap};

use keva_hubspot::signature::{verify_v1, verify_v3};
use keva_sandbox::server::RunningSandbox;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::control_support::*;

const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";

async fn point_webhooks(sb: &RunningSandbox, body: Value) -> Value {
    let r = admin(sb, Method::PUT, "/_sandbox/webhooks", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn event_ids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| e["eventId"].as_u64())
        .collect()
}

/// Creates `n` contacts with one batch/create call per 100.
async fn batch_create(sb: &RunningSandbox, prefix: &str, n: usize) {
    let all: Vec<Value> = (0..n)
        .map(|i| json!({"properties": {"email": format!("{prefix}{i}@example.com")}}))
        .collect();
    for chunk in all.chunks(100) {
        let r = call(
            sb,
            Some(sb.access_token()),
            Method::POST,
            "/crm/v3/objects/contacts/batch/create",
            Some(json!({"inputs": chunk})),
        )
        .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
}

#[tokio::test]
async fn deliveries_are_signed_v3_and_v1_and_carry_hubspot_fields() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    let view = point_webhooks(&sb, json!({"targetUrl": rx.url, "clientSecret": SECRET})).await;
    assert_eq!(view["targetUrl"], rx.url.as_str());
    assert_eq!(view["appId"], sb.app_id());

    let id = create_contact(&sb, "signed@example.com").await;
    let edit = admin(
        &sb,
        Method::PATCH,
        &format!("/_sandbox/objects/contacts/{id}"),
        Some(json!({"properties": {"firstname": "Edited"}})),
    )
    .await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.text);
    let got = rx
        .wait_for("creation and UI edit", |r| {
            let n: usize = r.iter().map(|x| x.events().len()).sum();
            n >= 2
        })
        .await;

    for req in &got {
        assert_eq!(req.header("content-type"), "application/json");
        let ts = req.header("x-hubspot-request-timestamp");
        let age = now_ms() - ts.parse::<i64>().expect("timestamp in ms");
        assert!(
            (0..60_000).contains(&age),
            "timestamp is milliseconds: {ts}"
        );
        verify_v3(
            SECRET,
            "POST",
            &rx.url,
            &req.body,
            ts,
            req.header("x-hubspot-signature-v3"),
            now_ms(),
        )
        .expect("v3 signature verifies");
        assert_eq!(req.header("x-hubspot-signature-version"), "v1");
        verify_v1(SECRET, &req.body, req.header("x-hubspot-signature"))
            .expect("v1 signature verifies");
        assert!(verify_v1(
            "another-secret",
            &req.body,
            req.header("x-hubspot-signature")
        )
        .is_err());
    }

    let events = rx.events();
    let creation = events
        .iter()
        .find(|e| e["subscriptionType"] == "contact.creation")
        .expect("creation event");
    assert_eq!(creation["objectId"], id);
    assert_eq!(creation["portalId"], sb.portal_id());
    assert_eq!(creation["appId"], sb.app_id());
    assert_eq!(creation["attemptNumber"], 0);
    assert_eq!(creation["changeFlag"], "CREATED");
    assert_eq!(creation["changeSource"], "INTEGRATION");
    assert_eq!(creation["sourceId"], sb.app_id().to_string());
    assert!(creation["occurredAt"].as_i64().unwrap_or(0) > 1_600_000_000_000);
    assert!(creation["subscriptionId"].as_u64().is_some());

    let change = events
        .iter()
        .find(|e| {
            e["subscriptionType"] == "contact.propertyChange" && e["propertyName"] == "firstname"
        })
        .expect("propertyChange event for firstname");
    assert_eq!(change["propertyValue"], "Edited");
    assert_eq!(change["changeSource"], "CRM_UI");
    assert!(
        change["eventId"].as_u64() > creation["eventId"].as_u64(),
        "event ids increase"
    );

    let stats = wait_settled(&sb).await;
    assert_eq!(stats["failed"], 0);
    assert_eq!(stats["delivered"], stats["matched"]);
}

#[tokio::test]
async fn events_are_batched_at_most_100_per_request() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    point_webhooks(&sb, json!({"targetUrl": rx.url, "lingerMs": 200})).await;
    batch_create(&sb, "batch", 250).await;
    let got = rx
        .wait_for("250 creation events", |r| {
            r.iter().map(|x| x.events().len()).sum::<usize>() >= 250
        })
        .await;
    let sizes: Vec<usize> = got.iter().map(|r| r.events().len()).collect();
    assert!(sizes.iter().all(|&n| (1..=100).contains(&n)), "{sizes:?}");
    assert!(
        sizes.iter().any(|&n| n > 1),
        "events travel together: {sizes:?}"
    );
    let ids: BTreeSet<u64> = event_ids(&rx.events()).into_iter().collect();
    assert_eq!(ids.len(), 250, "every event once, with a unique id");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_increasing_attempt_numbers() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    rx.script(&[500, 503, 429]);
    point_webhooks(&sb, json!({"targetUrl": rx.url, "clientSecret": SECRET})).await;
    create_contact(&sb, "retry@example.com").await;
    let got = rx.wait_for("fourth attempt", |r| r.len() >= 4).await;
    let attempts: Vec<u64> = got
        .iter()
        .map(|r| {
            r.events()[0]["attemptNumber"]
                .as_u64()
                .expect("attemptNumber")
        })
        .collect();
    assert_eq!(attempts[..4], [0, 1, 2, 3]);
    let first_ids = event_ids(&got[0].events());
    for r in &got[..4] {
        assert_eq!(
            event_ids(&r.events()),
            first_ids,
            "a retry resends the same events"
        );
        // Each attempt is signed afresh over its own body and timestamp.
        verify_v3(
            SECRET,
            "POST",
            &rx.url,
            &r.body,
            r.header("x-hubspot-request-timestamp"),
            r.header("x-hubspot-signature-v3"),
            now_ms(),
        )
        .expect("retry signature verifies");
    }
    let stats = wait_settled(&sb).await;
    assert_eq!(stats["delivered"], 1);
    assert_eq!(stats["retries"], 3);
    assert_eq!(stats["failed"], 0);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    rx.throttle_once(1);
    point_webhooks(&sb, json!({"targetUrl": rx.url})).await;
    create_contact(&sb, "throttled@example.com").await;
    let got = rx.wait_for("the retry", |r| r.len() >= 2).await;
    let ts = |r: &Received| {
        r.header("x-hubspot-request-timestamp")
            .parse::<i64>()
            .expect("timestamp")
    };
    // Without Retry-After the quick config would retry within ~20 ms.
    let waited = ts(&got[1]) - ts(&got[0]);
    assert!(waited >= 1_000, "retried after {waited} ms");
    assert_eq!(got[1].events()[0]["attemptNumber"], 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_retries_stop_at_the_maximum() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    rx.script(&[400]);
    point_webhooks(&sb, json!({"targetUrl": rx.url, "maxRetries": 2})).await;
    create_contact(&sb, "no-retry@example.com").await;
    let stats = wait_settled(&sb).await;
    assert_eq!(stats["failed"], 1);
    assert_eq!(stats["retries"], 0);
    assert_eq!(rx.received().len(), 1);

    // Always failing with 500: 1 attempt + maxRetries retries, then given up.
    rx.script(&[500, 500, 500, 500, 500]);
    create_contact(&sb, "gives-up@example.com").await;
    rx.wait_for("three attempts", |r| r.len() >= 4).await;
    let stats = wait_settled(&sb).await;
    assert_eq!(stats["failed"], 2);
    assert_eq!(stats["retries"], 2);
    // Settled with nothing pending: no further attempt is scheduled.
    assert_eq!(stats["pending"], 0);
    assert_eq!(rx.received().len(), 4);
}

#[tokio::test]
async fn duplicates_resend_delivered_batches_when_switched_on() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    point_webhooks(
        &sb,
        json!({"targetUrl": rx.url, "duplicateRate": 1.0, "lingerMs": 5}),
    )
    .await;
    for i in 0..3 {
        create_contact(&sb, &format!("dup{i}@example.com")).await;
    }
    let got = rx
        .wait_for("duplicated deliveries", |r| {
            r.iter().map(|x| x.events().len()).sum::<usize>() >= 6
        })
        .await;
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for id in got.iter().flat_map(|r| event_ids(&r.events())) {
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.values().all(|&n| n == 2), "{seen:?}");
    let stats = wait_settled(&sb).await;
    assert!(stats["duplicates"].as_u64() >= Some(1));
}

#[tokio::test]
async fn reordering_shuffles_events_when_switched_on() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    point_webhooks(
        &sb,
        json!({"targetUrl": rx.url, "reorder": true, "lingerMs": 200}),
    )
    .await;
    batch_create(&sb, "order", 100).await;
    rx.wait_for("100 events", |r| {
        r.iter().map(|x| x.events().len()).sum::<usize>() >= 100
    })
    .await;
    let ids = event_ids(&rx.events());
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "no event lost or doubled");
    // 100 events in id order after a shuffle has probability 1/100!.
    assert_ne!(ids, sorted, "delivery order differs from event order");

    // Without the switch, one batch keeps the order of the changes.
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    point_webhooks(&sb, json!({"targetUrl": rx.url, "lingerMs": 200})).await;
    batch_create(&sb, "order", 50).await;
    rx.wait_for("50 events", |r| {
        r.iter().map(|x| x.events().len()).sum::<usize>() >= 50
    })
    .await;
    let ids = event_ids(&rx.events());
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
}

#[tokio::test]
async fn v3_subscriptions_api_controls_what_is_delivered() {
    let sb = sandbox(quick_config()).await;
    let rx = Receiver::start().await;
    let app = sb.app_id();
    let settings_path = format!("/webhooks/v3/{app}/settings");
    let missing = admin(&sb, Method::GET, &settings_path, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let put = admin(
        &sb,
        Method::PUT,
        &settings_path,
        Some(json!({"targetUrl": rx.url, "throttling": {"maxConcurrentRequests": 5}})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["targetUrl"], rx.url.as_str());
    assert_eq!(put.body["throttling"]["maxConcurrentRequests"], 5);
    assert!(put.body["createdAt"].is_string());
    let bad = admin(
        &sb,
        Method::PUT,
        &settings_path,
        Some(json!({"targetUrl": "not a url", "throttling": {"maxConcurrentRequests": 5}})),
    )
    .await;
    assert_hubspot_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let subs = format!("/webhooks/v3/{app}/subscriptions");
    let created = admin(
        &sb,
        Method::POST,
        &subs,
        Some(json!({"eventType": "contact.propertyChange", "propertyName": "lastname"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["active"], false, "subscriptions start paused");
    let sub_id = created.body["id"].as_str().expect("string id").to_string();
    let unknown = admin(
        &sb,
        Method::POST,
        &subs,
        Some(json!({"eventType": "contact.teleported"})),
    )
    .await;
    assert_hubspot_error(&unknown, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // Paused: a lastname change is not delivered.
    let id = create_contact(&sb, "subs@example.com").await;
    let edit = |v: &'static str| {
        let sb = &sb;
        async move {
            admin(
                sb,
                Method::PATCH,
                &format!("/_sandbox/objects/contacts/{id}"),
                Some(json!({"properties": {"lastname": v, "firstname": v}})),
            )
            .await
        }
    };
    // Not delivered while inactive: the only event that ever arrives is "Two" below.
    edit("One").await;

    let batch = admin(&sb, Method::POST, &format!("{subs}/batch/update"), Some(json!({"inputs": [{"id": sub_id.parse::<u64>().expect("numeric"), "active": true}, {"id": 9999, "active": true}]}))).await;
    assert_eq!(batch.status, StatusCode::MULTI_STATUS, "{}", batch.text);
    assert_eq!(batch.body["results"][0]["active"], true);
    assert_eq!(
        batch.body["errors"][0]["category"],
        "SUBSCRIPTION_ID_NOT_FOUND"
    );
    assert_eq!(batch.body["status"], "COMPLETE");

    edit("Two").await;
    rx.wait_for("lastname change", |r| !r.is_empty()).await;
    wait_settled(&sb).await;
    let events = rx.events();
    // Only the subscribed property is delivered, not firstname.
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["propertyName"], "lastname");
    assert_eq!(events[0]["propertyValue"], "Two");
    assert_eq!(events[0]["subscriptionId"].to_string(), sub_id);

    let listed = admin(&sb, Method::GET, &subs, None).await;
    assert_eq!(listed.body["results"].as_array().map(Vec::len), Some(1));
    let patched = admin(
        &sb,
        Method::PATCH,
        &format!("{subs}/{sub_id}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(patched.body["active"], false);
    let deleted = admin(&sb, Method::DELETE, &format!("{subs}/{sub_id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = admin(&sb, Method::GET, &format!("{subs}/{sub_id}"), None).await;
    assert_hubspot_error(&gone, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    let no_app = admin(&sb, Method::GET, "/webhooks/v3/1/subscriptions", None).await;
    assert_eq!(no_app.status, StatusCode::NOT_FOUND);
}
