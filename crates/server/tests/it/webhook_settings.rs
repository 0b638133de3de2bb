//! The webhook app settings API (secret write-only), the subscriptions helper
//! against the sandbox's webhooks v3 API, `/metrics`, and verification behind a
//! proxy and with the service-wide client secret.

use keva_hubspot::signature::sign_v3;
use keva_store::Backend;
use serde_json::json;

use crate::harness::{error_code, parts, TestApp};
use crate::webhook_support::*;

async fn settings_show_the_secret_only_as_set_and_keep_it_when_omitted(app: TestApp) {
    let (s, v) = parts(app.get("/api/crm/hubspot/webhooks").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(v["clientSecretSet"], false);
    assert_eq!(v["secretSource"], "none");
    assert_eq!(v["targetUrl"], format!("{}{PATH}", app.url));

    for (body, why) in [
        (
            json!({"appId": "abc", "clientSecret": "s"}),
            "non-numeric app id",
        ),
        (json!({"appId": "777"}), "no secret yet"),
        (
            json!({"appId": "777", "clientSecret": "  "}),
            "blank secret",
        ),
    ] {
        let (s, e) = parts(
            app.put("/api/crm/hubspot/webhooks", body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 422, "{why}: {e}");
        assert_eq!(error_code(&e), "validation_failed");
    }

    let r = app
        .put(
            "/api/crm/hubspot/webhooks",
            json!({"appId": "777", "clientSecret": SECRET}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(SECRET),
        "the secret is never returned: {text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["appId"].as_str(), v["clientSecretSet"].as_bool()),
        (Some("777"), Some(true))
    );
    assert_eq!(v["secretSource"], "workspace");

    // Changing only the app id keeps the secret: deliveries still verify with it.
    let (s, v) = parts(
        app.put("/api/crm/hubspot/webhooks", json!({"appId": "778"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["appId"].as_str()), (200, Some("778")));
    let c = private_connector(&app.store, app.workspace_id, PORTAL).await;
    let mut event = change(1, 9, "firstname", "A");
    event["appId"] = json!(778);
    let r = post_batch(&app, &json!([event])).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, c.id, 9).await, [1]);
    // Events of the old app are no longer this workspace's.
    let r = post_batch(&app, &json!([change(2, 9, "firstname", "B")])).await;
    assert_eq!(r.status(), 401);

    let r = app
        .http
        .get(format!("{}/api/crm/hubspot/webhooks", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "settings need an API key");
}

async fn metrics_are_exposed_in_prometheus_text(app: TestApp) {
    connect(&app, PORTAL).await;
    let r = post_batch(&app, &json!([change(1, 9, "firstname", "A")])).await;
    assert_eq!(r.status(), 204);
    let r = post_signed(&app, b"[1", SECRET, Sign::None).await;
    assert_eq!(r.status(), 400);
    let r = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for needle in [
        "webhook_requests_total{result=\"accepted\"}",
        "webhook_requests_total{result=\"bad_request\"}",
        "webhook_events_received_total",
        "webhook_events_stored_total",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

async fn openapi_documents_the_webhook_routes(app: TestApp) {
    let (s, doc) = parts(
        app.http
            .get(format!("{}/api/openapi.json", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    for path in [
        PATH,
        "/api/crm/hubspot/webhooks",
        "/api/crm/hubspot/webhooks/subscriptions",
        "/api/crm/hubspot/webhooks/log",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert_eq!(
        doc["paths"][PATH]["post"]["security"],
        json!([{}]),
        "the receiver is public"
    );
}

async fn the_subscriptions_helper_creates_and_activates_every_contact_subscription(sa: TestApp) {
    let app_id = sa.sb().app_id();
    let (s, _) = parts(
        sa.put(
            "/api/crm/hubspot/webhooks",
            json!({"appId": app_id.to_string(), "clientSecret": "x"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let status = || async {
        parts(
            sa.get("/api/crm/hubspot/webhooks/subscriptions")
                .header("X-HubSpot-Developer-Api-Key", "dev-key")
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (s, v) = status().await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["allActive"], false);
    assert_eq!(v["subscriptions"].as_array().unwrap().len(), 6);

    // One already exists but is paused: it is activated, not duplicated.
    let (s, paused) = sa
        .sandbox(
            reqwest::Method::POST,
            &format!("/webhooks/v3/{app_id}/subscriptions"),
            Some(json!({"eventType": "contact.merge", "active": false})),
        )
        .await;
    assert_eq!(s, 201, "{paused}");

    let create = || async {
        parts(
            sa.post(
                "/api/crm/hubspot/webhooks/subscriptions",
                json!({"developerApiKey": "dev-key"}),
            )
            .send()
            .await
            .unwrap(),
        )
        .await
    };
    let (s, v) = create().await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["allActive"], true, "{v}");
    let merge = v["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["eventType"] == "contact.merge")
        .unwrap();
    assert_eq!(merge["id"], paused["id"]);

    let (_, listed) = sa
        .sandbox(
            reqwest::Method::GET,
            &format!("/webhooks/v3/{app_id}/subscriptions"),
            None,
        )
        .await;
    let listed = listed["results"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(listed
        .iter()
        .all(|s| s["active"] == true && s.get("propertyName").is_none()));

    let (s, again) = create().await;
    assert_eq!(s, 200);
    assert_eq!(again["subscriptions"], v["subscriptions"], "idempotent");
    let (_, shown) = status().await;
    assert_eq!(shown["allActive"], true);

    let (s, e) = parts(
        sa.get("/api/crm/hubspot/webhooks/subscriptions")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 422, "the developer key is required: {e}");
}

/// Behind a proxy: HubSpot signs the public URL (another host, a path prefix the
/// proxy strips, the query string), not the address the service listens on.
async fn verification_uses_the_public_url(backend: Backend) {
    let app = TestApp::builder(backend)
        .settings(|s| s.server.public_url = "https://keva.example.com/sync/".into())
        .build()
        .await;
    let c = connect(&app, PORTAL).await;
    let body = json!([change(1, 3, "firstname", "A")]).to_string();
    let ts = now_ms().to_string();
    // HubSpot decodes %2F before signing v3.
    let signed_as = "https://keva.example.com/sync/api/webhooks/hubspot?source=hs&x=/a";
    let send = |sig: String| {
        app.http
            .post(format!("{}{PATH}?source=hs&x=%2Fa", app.url))
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-v3", sig)
            .header("X-HubSpot-Request-Timestamp", &ts)
            .body(body.clone())
            .send()
    };
    let local = format!("{}{PATH}?source=hs&x=%2Fa", app.url);
    let r = send(sign_v3(SECRET, "POST", &local, body.as_bytes(), &ts))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "the listening address is not what HubSpot signed"
    );
    let r = send(sign_v3(SECRET, "POST", signed_as, body.as_bytes(), &ts))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, c.id, 3).await, [1]);
}

/// No app set for the workspace: the service-wide HUBSPOT_CLIENT_SECRET verifies.
async fn the_service_wide_secret_is_the_fallback(backend: Backend) {
    let app = TestApp::builder(backend)
        .settings(|s| {
            s.server.hubspot_client_secret = Some(secrecy::SecretString::from("service-secret"));
        })
        .build()
        .await;
    let c = private_connector(&app.store, app.workspace_id, PORTAL).await;
    let body = json!([change(1, 4, "firstname", "A")]).to_string();
    let r = post_v3(&app, body.as_bytes(), SECRET).await;
    assert_eq!(r.status(), 401, "not the service secret");
    let r = post_signed(
        &app,
        body.as_bytes(),
        "service-secret",
        Sign::V3 {
            timestamp_ms: now_ms(),
        },
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(stored_events(&app.store, c.id, 4).await, [1]);
    let (_, v) = parts(app.get("/api/crm/hubspot/webhooks").send().await.unwrap()).await;
    assert_eq!(v["secretSource"], "service");
}

/// Lookups are cached briefly, but never so that a just-made change refuses a
/// delivery: a new portal or a new secret works for the very next request.
async fn a_new_connector_or_secret_applies_to_the_next_delivery(app: TestApp) {
    let batch = json!([change(1, 9, "firstname", "A")]);
    assert_eq!(
        post_batch(&app, &batch).await.status(),
        401,
        "portal not connected yet"
    );
    let c = connect(&app, PORTAL).await;
    assert_eq!(post_batch(&app, &batch).await.status(), 204);

    let r = app
        .put(
            "/api/crm/hubspot/webhooks",
            json!({"appId": APP_ID.to_string(), "clientSecret": "rotated-secret"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json!([change(2, 9, "firstname", "B")]).to_string();
    let r = post_signed(
        &app,
        body.as_bytes(),
        "rotated-secret",
        Sign::V3 {
            timestamp_ms: now_ms(),
        },
    )
    .await;
    assert_eq!(r.status(), 204, "the new secret verifies at once");
    assert_eq!(stored_events(&app.store, c.id, 9).await, [1, 2]);
}

mod configured {
    use super::*;
    keva_store::backend_tests!(
        verification_uses_the_public_url,
        the_service_wide_secret_is_the_fallback
    );
}

mod plain {
    use super::*;
    keva_store::backend_tests!(with = crate::harness::plain;
        settings_show_the_secret_only_as_set_and_keep_it_when_omitted,
        metrics_are_exposed_in_prometheus_text,
        openapi_documents_the_webhook_routes,
        a_new_connector_or_secret_applies_to_the_next_delivery,
    );
}

mod with_sandbox {
    use super::*;
    keva_store::backend_tests!(with = crate::harness::sandboxed; the_subscriptions_helper_creates_and_activates_every_contact_subscription);
}
