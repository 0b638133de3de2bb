//! Webhook intake under abuse: legacy signatures only on opt-in, refusals attributed
//! only to the workspace whose app matched, dedup per workspace, a batch with an
//! unknown portal keeps the known portals' events, numeric app ids in the settings.

use reqwest::Response;
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{parts, TestApp};
use crate::webhook_support::*;

const OTHER_APP: u64 = 888;
const OTHER_SECRET: &str = "other-workspace-secret";

/// A second workspace, "other", with its own app (888) and a connector on `PORTAL`.
/// Returns (workspace id, connector id, API key).
async fn other_workspace_on_the_portal(app: &TestApp) -> (Uuid, Uuid, String) {
    let key = app.key_for("other").await;
    let ws = app.workspace_id_of("other").await;
    let c = private_connector(&app.store, ws, PORTAL).await;
    app.store
        .set_webhook_settings(
            ws,
            &OTHER_APP.to_string(),
            &SecretString::from(OTHER_SECRET),
        )
        .await
        .unwrap();
    (ws, c.id, key)
}

async fn log_of(app: &TestApp, key: &str) -> Vec<Value> {
    let r = app
        .http
        .get(format!(
            "{}/api/crm/hubspot/webhooks/log?limit=100",
            app.url
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let (status, page) = parts(r).await;
    assert_eq!(status, 200);
    page["data"].as_array().unwrap().clone()
}

fn from_app(mut e: Value, app_id: u64) -> Value {
    e["appId"] = json!(app_id);
    e
}

async fn v3(app: &TestApp, batch: &Value, secret: &str) -> Response {
    post_signed(
        app,
        batch.to_string().as_bytes(),
        secret,
        Sign::V3 {
            timestamp_ms: now_ms(),
        },
    )
    .await
}

async fn legacy_signatures_need_the_workspace_opt_in(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    for (i, sign) in [Sign::V2, Sign::V1].into_iter().enumerate() {
        let body = json!([change(10 + i as u64, 300, "firstname", "A")]).to_string();
        let r = post_signed(&app, body.as_bytes(), SECRET, sign).await;
        assert_eq!(r.status(), 401, "{sign:?} without the opt-in");
    }
    assert!(stored_events(&app.store, c.id, 300).await.is_empty());
    let reasons: Vec<String> = log(&app)
        .await
        .iter()
        .map(|l| l["rejectReason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        reasons.iter().all(|r| r.contains("v3")),
        "the log says v3 is required: {reasons:?}"
    );
    let (s, v) = parts(app.get("/api/crm/hubspot/webhooks").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(v["allowLegacySignatures"], false, "{v}");

    let (s, v) = parts(
        app.put(
            "/api/crm/hubspot/webhooks",
            json!({"appId": APP_ID.to_string(), "allowLegacySignatures": true}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["allowLegacySignatures"], true, "{v}");
    for (i, sign) in [Sign::V2, Sign::V1].into_iter().enumerate() {
        let body = json!([change(20 + i as u64, 301, "firstname", "A")]).to_string();
        let r = post_signed(&app, body.as_bytes(), SECRET, sign).await;
        assert_eq!(r.status(), 204, "{sign:?} with the opt-in");
    }
    assert_eq!(stored_events(&app.store, c.id, 301).await, [20, 21]);
}

async fn a_refusal_is_logged_only_for_the_workspace_whose_app_matched(app: TestApp) {
    connect(&app, PORTAL).await;
    let (_, _, other_key) = other_workspace_on_the_portal(&app).await;
    // Anyone who knows the portal id, with an app id nobody here uses: no workspace.
    let stranger = json!([from_app(change(1, 10, "firstname", "X"), 31337)]);
    assert_eq!(v3(&app, &stranger, "guess").await.status(), 401);
    let unsigned = json!([from_app(change(2, 10, "firstname", "X"), 31337)]).to_string();
    let r = post_signed(&app, unsigned.as_bytes(), SECRET, Sign::None).await;
    assert_eq!(r.status(), 401);
    assert!(
        log(&app).await.is_empty(),
        "not in the first workspace's log"
    );
    assert!(log_of(&app, &other_key).await.is_empty());

    // The other workspace's app id with a wrong signature: that workspace's problem
    // (a wrong secret is its admin's most likely mistake), not ours.
    let theirs = json!([from_app(change(3, 10, "firstname", "X"), OTHER_APP)]);
    assert_eq!(v3(&app, &theirs, "wrong").await.status(), 401);
    assert!(log(&app).await.is_empty(), "not ours");
    let other_log = log_of(&app, &other_key).await;
    assert_eq!(other_log.len(), 1, "{other_log:?}");
    assert_eq!(other_log[0]["valid"], false);
    assert!(other_log[0]["rejectReason"]
        .as_str()
        .unwrap()
        .contains("does not match"));
}

async fn dedup_is_per_workspace_so_another_app_cannot_suppress_our_events(app: TestApp) {
    let ours = connect(&app, PORTAL).await;
    let (other_ws, other_c, _) = other_workspace_on_the_portal(&app).await;
    // The other workspace's app delivers (or pre-inserts) event id 5 first.
    let theirs = json!([from_app(change(5, 10, "firstname", "X"), OTHER_APP)]);
    assert_eq!(v3(&app, &theirs, OTHER_SECRET).await.status(), 204);
    assert_eq!(stored_events(&app.store, other_c, 10).await, [5]);
    // Our app's event with the same id is still ours: stored and enqueued.
    assert_eq!(
        post_batch(&app, &json!([change(5, 10, "firstname", "A")]))
            .await
            .status(),
        204
    );
    assert_eq!(stored_events(&app.store, ours.id, 10).await, [5]);
    let keys: Vec<String> = jobs(&app).await.into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, [format!("contact:{}:10", ours.id)]);
    // And a real retry of ours is still a duplicate.
    assert_eq!(
        post_batch(&app, &json!([change(5, 10, "firstname", "A")]))
            .await
            .status(),
        204
    );
    assert_eq!(log(&app).await[0]["duplicates"], 1);
    let their_jobs = app.store.list_jobs(other_ws, None, 100).await.unwrap();
    assert_eq!(their_jobs.len(), 1);
}

async fn a_batch_with_an_unknown_portal_keeps_the_known_portals_events(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let mut stray = change(2, 11, "firstname", "B");
    stray["portalId"] = json!(4242);
    let batch = json!([change(1, 10, "firstname", "A"), stray]);
    let r = post_batch(&app, &batch).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, c.id, 10).await, [1]);
    let keys: Vec<String> = jobs(&app).await.into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, [format!("contact:{}:10", c.id)]);
    let log = log(&app).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["valid"], true);
    assert!(
        log[0]["rejectReason"]
            .as_str()
            .unwrap_or("")
            .contains("4242"),
        "the ignored portal is reported: {log:?}"
    );
}

async fn webhook_settings_accept_a_numeric_app_id(app: TestApp) {
    let (s, v) = parts(
        app.put(
            "/api/crm/hubspot/webhooks",
            json!({"appId": APP_ID, "clientSecret": SECRET}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["appId"], APP_ID.to_string());
    for bad in [json!(-1), json!(1.5), json!(true)] {
        let (s, _) = parts(
            app.put(
                "/api/crm/hubspot/webhooks",
                json!({"appId": bad, "clientSecret": SECRET}),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(s, 422, "{bad}");
    }
}

/// A flood of unsigned requests from one address: past a small budget they are
/// answered 429 and leave one sample row, not a row each; a signed delivery from
/// the same address still goes through at once.
async fn a_flood_of_refusals_is_rate_limited_and_logged_as_a_sample(app: TestApp) {
    let c = connect(&app, PORTAL).await;
    let body = json!([change(1, 10, "firstname", "X")]).to_string();
    let mut limited = 0;
    for _ in 0..150 {
        let r = post_signed(&app, body.as_bytes(), SECRET, Sign::None).await;
        match r.status().as_u16() {
            401 => {}
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited > 0, "some refusals are rate limited");
    let rows = log(&app).await;
    assert!(rows.len() <= 60, "{} log rows for 150 refusals", rows.len());
    assert!(
        rows.iter().any(|r| r["rejectReason"]
            .as_str()
            .unwrap_or("")
            .starts_with("rate limited")),
        "one sample row says so"
    );
    assert_eq!(
        post_batch(&app, &json!([change(2, 10, "firstname", "A")]))
            .await
            .status(),
        204
    );
    assert_eq!(stored_events(&app.store, c.id, 10).await, [2]);
}

/// `/healthz` is public: a database failure is answered generically (the details go
/// to the service's log, not to whoever asks).
async fn healthz_does_not_echo_the_database_error(app: TestApp) {
    app.store.close().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    let (status, body) = parts(r).await;
    assert_eq!(status, 503);
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message, "service unavailable: database unavailable",
        "{body}"
    );
}

keva_store::backend_tests!(with = crate::harness::plain;
    healthz_does_not_echo_the_database_error,
    a_flood_of_refusals_is_rate_limited_and_logged_as_a_sample,
    legacy_signatures_need_the_workspace_opt_in,
    a_refusal_is_logged_only_for_the_workspace_whose_app_matched,
    dedup_is_per_workspace_so_another_app_cannot_suppress_our_events,
    a_batch_with_an_unknown_portal_keeps_the_known_portals_events,
    webhook_settings_accept_a_numeric_app_id,
);

/// Tests that need the sandbox (HubSpot's side).
mod with_hubspot {
    use serde_json::json;

    use crate::harness::TestApp;

    /// A `contact.merge` event is checked against HubSpot: a merge HubSpot never made
    /// (the event's ids alone) does not move a link.
    async fn a_merge_is_relinked_only_as_hubspot_says(app: TestApp) {
        let connector = app.connector().await;
        let customer = app
            .synced_customer(json!({"email": "kept@example.com", "name": "Kept Here"}))
            .await;
        let id = app.contact_id(&customer).await;
        let other = app
            .hubspot_contact(json!({"email": "other@example.com"}))
            .await;
        app.store
            .enqueue(&keva_store::NewJob::new(
                app.workspace_id,
                connector,
                "contact_merge",
                format!("merge:{connector}:{}:9", app.sb().portal_id()),
                json!({"primaryObjectId": other, "mergedObjectIds": [id]}),
                keva_core::Trigger::Webhook,
            ))
            .await
            .unwrap();
        app.settle().await;
        assert_eq!(
            app.contact_id(&customer).await,
            id,
            "HubSpot did not merge them: the link stays"
        );
    }

    keva_store::backend_tests!(with = crate::harness::sandboxed;
        a_merge_is_relinked_only_as_hubspot_says,
    );
}
