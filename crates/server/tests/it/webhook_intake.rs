//! The webhook receiver over HTTP: each signature version accepted and stored; every
//! rejection a 401 that stores nothing but its log line; bad input refused; duplicate
//! deliveries stored once; our own echoes enqueue nothing; the log API.

use keva_core::{Bases, SyncDirection, SyncStatus, Trigger};
use keva_store::{HistoryResult, LinkUpdate, NewCustomer, NewHistory, SyncCommit};
use serde_json::{json, Value};

use crate::harness::{error_code, parts, TestApp};
use crate::webhook_support::*;

async fn v3_v2_and_v1_signatures_are_accepted_and_stored(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    // v1/v2 only with the workspace's opt-in (see webhook_abuse.rs for without).
    app.store
        .set_webhook_legacy_signatures(app.workspace_id, true)
        .await
        .unwrap();
    for (i, sign) in [
        Sign::V3 {
            timestamp_ms: now_ms(),
        },
        Sign::V2,
        Sign::V1,
    ]
    .into_iter()
    .enumerate()
    {
        let event_id = 100 + i as u64;
        let body = json!([change(event_id, 501 + i as u64, "firstname", "Ann")]).to_string();
        let r = post_signed(&app, body.as_bytes(), SECRET, sign).await;
        assert_eq!(r.status(), 204, "{sign:?}");
        assert_eq!(
            stored_events(&app.store, c.id, 501 + i as u64).await,
            [event_id as i64],
            "{sign:?}"
        );
    }
    let keys: Vec<String> = jobs(&app).await.into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        keys,
        [501, 502, 503].map(|o| format!("contact:{}:{o}", c.id)),
        "one inbound_contact job per contact"
    );
    let log = log(&app).await;
    assert_eq!(log.len(), 3);
    assert!(log
        .iter()
        .all(|l| l["valid"] == true && l["eventCount"] == 1));
    assert_eq!(log[0]["portalId"], PORTAL);
}

async fn every_rejection_is_401_and_stores_nothing_but_the_log_line(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let body = json!([change(7, 900, "firstname", "Mallory")]).to_string();
    let b = body.as_bytes();
    let minute = 60_000;
    let tampered = body.replace("Mallory", "Eve");
    let cases: Vec<(&str, Vec<u8>, &str, Sign, &str)> = vec![
        (
            "missing signature",
            b.to_vec(),
            SECRET,
            Sign::None,
            "missing signature",
        ),
        (
            "wrong secret",
            b.to_vec(),
            "not-the-secret",
            Sign::V3 {
                timestamp_ms: now_ms(),
            },
            "does not match",
        ),
        (
            "wrong secret v1",
            b.to_vec(),
            "not-the-secret",
            Sign::V1,
            "requires X-HubSpot-Signature-v3",
        ),
        (
            "stale",
            b.to_vec(),
            SECRET,
            Sign::V3 {
                timestamp_ms: now_ms() - 6 * minute,
            },
            "older than 5 minutes",
        ),
        (
            "future",
            b.to_vec(),
            SECRET,
            Sign::V3 {
                timestamp_ms: now_ms() + 10 * minute,
            },
            "future",
        ),
    ];
    for (name, body, secret, sign, _) in &cases {
        let r = post_signed(&app, body, secret, *sign).await;
        let (status, json) = parts(r).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(error_code(&json), "unauthorized", "{name}");
    }
    // Signed one body, sent another.
    let uri = format!("{}{PATH}", app.url);
    let ts = now_ms().to_string();
    let sig = keva_hubspot::signature::sign_v3(SECRET, "POST", &uri, b, &ts);
    let r = app
        .http
        .post(&uri)
        .header("content-type", "application/json")
        .header("X-HubSpot-Signature-v3", sig)
        .header("X-HubSpot-Request-Timestamp", ts)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "tampered body");
    // Right secret, but an app this workspace does not use.
    let other_app = json!([change(8, 900, "firstname", "X")])
        .to_string()
        .replace(&format!("\"appId\":{APP_ID}"), "\"appId\":31337");
    let r = post_v3(&app, other_app.as_bytes(), SECRET).await;
    assert_eq!(r.status(), 401, "unknown app");
    // A portal nobody connected, validly signed.
    let unknown = json!([change(9, 900, "firstname", "X")])
        .to_string()
        .replace(&format!("\"portalId\":{PORTAL}"), "\"portalId\":4242");
    let r = post_v3(&app, unknown.as_bytes(), SECRET).await;
    assert_eq!(r.status(), 401, "unknown portal");

    assert!(
        stored_events(&app.store, c.id, 900).await.is_empty(),
        "nothing stored"
    );
    assert!(jobs(&app).await.is_empty(), "nothing enqueued");
    let log = log(&app).await;
    // The unknown portal's and the unknown app's requests belong to no workspace,
    // so this log omits them.
    assert_eq!(log.len(), cases.len() + 1);
    assert!(log.iter().all(|l| l["valid"] == false));
    let reasons: Vec<&str> = log
        .iter()
        .map(|l| l["rejectReason"].as_str().unwrap())
        .collect();
    for (name, _, _, _, reason) in &cases {
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{name}: {reasons:?}"
        );
    }
    assert!(
        !reasons.iter().any(|r| r.contains("unknown app 31337")),
        "{reasons:?}"
    );
}

async fn bad_input_is_refused_with_the_right_status_and_stores_nothing(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let url = format!("{}{PATH}", app.url);
    let valid = json!([change(1, 77, "firstname", "A")]).to_string();
    let big = format!("[{}]", " ".repeat(1024 * 1024));
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "text/plain",
            "text/plain",
            valid.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            "",
            valid.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "malformed",
            "application/json",
            "[{\"eventId\":".into(),
            400,
            "bad_request",
        ),
        (
            "object",
            "application/json",
            "{\"eventId\":1}".into(),
            400,
            "bad_request",
        ),
        (
            "empty array",
            "application/json",
            "[]".into(),
            400,
            "bad_request",
        ),
        (
            "event without id",
            "application/json",
            "[{\"portalId\":1}]".into(),
            400,
            "bad_request",
        ),
        (
            "too large",
            "application/json; charset=utf-8",
            big,
            413,
            "payload_too_large",
        ),
    ];
    for (name, ctype, body, status, code) in cases {
        let mut req = app.http.post(&url).body(body);
        if !ctype.is_empty() {
            req = req.header("content-type", ctype);
        }
        let (got, json) = parts(crate::harness::send_refused_body(req).await).await;
        assert_eq!(got, status, "{name}: {json}");
        assert_eq!(error_code(&json), code, "{name}");
    }
    assert!(stored_events(&app.store, c.id, 77).await.is_empty());
    assert!(jobs(&app).await.is_empty());
    // Still healthy, and a good delivery after all that is accepted.
    let r = post_batch(&app, &serde_json::from_str::<Value>(&valid).unwrap()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, c.id, 77).await, [1]);
}

async fn a_duplicate_delivery_is_stored_once_and_enqueues_nothing_more(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let batch = json!([
        change(41, 600, "firstname", "A"),
        change(42, 600, "lastname", "B"),
        change(43, 601, "phone", "1"),
    ]);
    for _ in 0..2 {
        assert_eq!(post_batch(&app, &batch).await.status(), 204);
    }
    // A retry carrying one old and one new event.
    let mixed = json!([change(43, 601, "phone", "1"), change(44, 601, "phone", "2")]);
    assert_eq!(post_batch(&app, &mixed).await.status(), 204);

    assert_eq!(stored_events(&app.store, c.id, 600).await, [41, 42]);
    assert_eq!(stored_events(&app.store, c.id, 601).await, [43, 44]);
    let keys: Vec<String> = jobs(&app).await.into_iter().map(|(_, k)| k).collect();
    // Jobs are coalesced per contact while queued; the engine may already have
    // claimed one, in which case a second may exist for 601 — never one per event.
    assert!(
        keys.iter().filter(|k| k.ends_with(":600")).count() == 1,
        "{keys:?}"
    );
    assert!(
        keys.iter().filter(|k| k.ends_with(":601")).count() <= 2,
        "{keys:?}"
    );
    let log = log(&app).await;
    let dups: Vec<u64> = log
        .iter()
        .map(|l| l["duplicates"].as_u64().unwrap())
        .collect();
    assert_eq!(
        dups,
        [1, 3, 0],
        "newest first: the mixed retry, the full repeat, the first"
    );
}

async fn an_echo_of_our_own_write_enqueues_nothing(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let customer = app
        .store
        .insert_customer(
            app.workspace_id,
            NewCustomer {
                email: "ann@example.com".into(),
                name: Some("Ann Lee".into()),
                ..NewCustomer::default()
            },
        )
        .await
        .unwrap();
    let mut bases = Bases::default();
    bases.hubspot.insert("firstname".into(), Some("Ann".into()));
    bases.hubspot.insert("phone".into(), None);
    app.store
        .commit_sync(&SyncCommit {
            workspace_id: app.workspace_id,
            connector_id: c.id,
            customer_id: customer.id,
            customer_patch: None,
            keva_expected: Default::default(),
            link: LinkUpdate {
                hubspot_id: Some("700".into()),
                bases: Some(bases),
                status: SyncStatus::Synced,
                status_reason: None,
                synced_at: Some(chrono::Utc::now()),
            },
            history: NewHistory {
                workspace_id: app.workspace_id,
                connector_id: c.id,
                customer_id: Some(customer.id),
                hubspot_id: Some("700".into()),
                trigger: Trigger::ProfileUpdate,
                direction: SyncDirection::ToCrm,
                fields: json!([]),
                result: HistoryResult::Synced,
                error: None,
                correlation_id: None,
            },
        })
        .await
        .unwrap();
    let ours = |id: u64, prop: &str, value: &str| {
        let mut e = change(id, 700, prop, value);
        e["changeSource"] = json!("INTEGRATION");
        e["sourceId"] = json!(APP_ID.to_string());
        e
    };
    // Our writes echoed back with the agreed values (an empty value = cleared).
    let r = post_batch(
        &app,
        &json!([ours(1, "firstname", "Ann"), ours(2, "phone", "")]),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        stored_events(&app.store, c.id, 700).await,
        [1, 2],
        "echoes are recorded"
    );
    assert!(jobs(&app).await.is_empty(), "an echo enqueues nothing");

    // A user editing to the same value, or our app writing something else: real changes.
    let r = post_batch(&app, &json!([change(3, 700, "firstname", "Ann")])).await;
    assert_eq!(r.status(), 204);
    assert_eq!(jobs(&app).await.len(), 1);
}

async fn the_log_api_pages_and_is_scoped_to_the_workspace(app: TestApp) {
    connect(&app, PORTAL).await;
    for i in 0..3 {
        let r = post_batch(&app, &json!([change(i, 1, "firstname", "A")])).await;
        assert_eq!(r.status(), 204);
    }
    let r = post_signed(&app, b"[]", SECRET, Sign::None).await;
    assert_eq!(r.status(), 400);
    let (status, page) = parts(
        app.get("/api/crm/hubspot/webhooks/log?limit=2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let before = page["nextBefore"].as_str().unwrap();
    let (_, rest) = parts(
        app.get(&format!(
            "/api/crm/hubspot/webhooks/log?limit=2&before={before}"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["nextBefore"].is_null());

    let other = app.key_for("other-workspace").await;
    let r = app
        .http
        .get(format!("{}/api/crm/hubspot/webhooks/log", app.url))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    let (_, theirs) = parts(r).await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 0);
    let r = app
        .http
        .get(format!("{}/api/crm/hubspot/webhooks/log", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the log needs an API key");
    let (status, _) = parts(
        app.get("/api/crm/hubspot/webhooks/log?limit=0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
}

async fn without_a_webhook_app_or_service_secret_nothing_verifies(app: TestApp) {
    // Connector, but no workspace webhook app: the harness's service has no
    // HUBSPOT_CLIENT_SECRET, so nothing can verify.
    let c = private_connector(&app.store, app.workspace_id, PORTAL).await;
    let r = post_batch(&app, &json!([change(1, 5, "firstname", "A")])).await;
    assert_eq!(r.status(), 401);
    assert!(stored_events(&app.store, c.id, 5).await.is_empty());
}

/// A batch naming two portals must verify for each; a portal connected in two
/// workspaces with different apps gives its events only to the workspace whose
/// secret signed them.
async fn mixed_portals_verify_per_portal_and_stay_in_their_workspace(app: TestApp) {
    let ours = connect(&app, PORTAL).await;
    // Another workspace with its own app (secret) on portal 5000 and on ours.
    let other_key = app.key_for("other").await;
    let other_ws = app.workspace_id_of("other").await;
    let mut other_connectors = Vec::new();
    for portal in [5000, PORTAL] {
        let c = private_connector(&app.store, other_ws, portal).await;
        other_connectors.push(c);
    }
    app.store
        .set_webhook_settings(
            other_ws,
            "777",
            &secrecy::SecretString::from("other-secret"),
        )
        .await
        .unwrap();
    let at = |portal: u64, id: u64| {
        let mut e = change(id, 10, "firstname", "A");
        e["portalId"] = json!(portal);
        e
    };
    let mixed = json!([at(PORTAL, 1), at(5000, 2)]).to_string();
    for secret in [SECRET, "other-secret"] {
        // Our secret cannot vouch for portal 5000; theirs can for both portals.
        let r = post_v3(&app, mixed.as_bytes(), secret).await;
        let expected = if secret == SECRET { 401 } else { 204 };
        assert_eq!(r.status(), expected, "signed with {secret}");
    }
    // Signed by the other workspace's app: none of it is ours.
    assert!(stored_events(&app.store, ours.id, 10).await.is_empty());
    assert!(jobs(&app).await.is_empty(), "no job for our connector");
    let theirs = app.store.list_jobs(other_ws, None, 100).await.unwrap();
    let mut keys: Vec<String> = theirs.into_iter().map(|j| j.coalesce_key).collect();
    keys.sort();
    let mut expected: Vec<String> = other_connectors
        .iter()
        .map(|c| format!("contact:{}:10", c.id))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    // The same portal's events signed by our app are ours.
    let r = post_batch(&app, &json!([at(PORTAL, 3)])).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, ours.id, 10).await, [3]);
    let r = app
        .http
        .get(format!("{}/api/crm/hubspot/webhooks/log", app.url))
        .bearer_auth(other_key)
        .send()
        .await
        .unwrap();
    let (_, log) = parts(r).await;
    // Theirs: the accepted batch, and the refusal that concerned their portal 5000.
    let valid: Vec<bool> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [true, false], "{log}");
    assert!(log["data"][1]["rejectReason"]
        .as_str()
        .unwrap()
        .contains("portal 5000"));
}

keva_store::backend_tests!(with = crate::harness::plain;
    v3_v2_and_v1_signatures_are_accepted_and_stored,
    every_rejection_is_401_and_stores_nothing_but_the_log_line,
    bad_input_is_refused_with_the_right_status_and_stores_nothing,
    a_duplicate_delivery_is_stored_once_and_enqueues_nothing_more,
    an_echo_of_our_own_write_enqueues_nothing,
    the_log_api_pages_and_is_scoped_to_the_workspace,
    without_a_webhook_app_or_service_secret_nothing_verifies,
    mixed_portals_verify_per_portal_and_stay_in_their_workspace,
);
