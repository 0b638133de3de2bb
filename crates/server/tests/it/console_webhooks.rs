//! *Webhooks* over HTTP, on both backends: the app id, the client secret only as
//! set/unset, the target URL with its Copy button, and the delivery log with a
//! valid delivery and a repeat; an agent gets 403. Against the sandbox: the App ID
//! and secret saved from the form (refusals inline, nothing stored; an empty
//! secret keeps the stored one), and *Check* / *Create subscriptions*.

use keva_store::UserRole;
use serde_json::json;

use crate::console_support::signed_in;
use crate::harness::TestApp;
use crate::webhook_support::{change, connect, post_batch, APP_ID, PORTAL, SECRET};

const PATH: &str = "/settings/crm-sync/hubspot/webhooks";

async fn the_webhooks_page_shows_the_app_and_the_delivery_log(app: TestApp) {
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let empty = v.get(PATH).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No deliveries yet."));
    assert!(empty.body.contains("data-secret-source=\"none\""));

    connect(&app, PORTAL).await;
    let batch = json!([change(1, 100, "email", "a@example.com")]);
    assert_eq!(post_batch(&app, &batch).await.status(), 204);
    assert_eq!(post_batch(&app, &batch).await.status(), 204);

    let page = v.get(PATH).await;
    assert!(page.body.contains(&APP_ID.to_string()));
    assert!(page.body.contains("data-secret-source=\"workspace\""));
    assert!(!page.body.contains(SECRET), "the secret is never shown");
    assert!(page
        .body
        .contains(&format!("{}/api/webhooks/hubspot", app.url)));
    assert!(page.body.contains("id=\"copy-target\""));
    assert!(page.body.contains("data-valid=\"true\""), "{}", page.body);

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    assert_eq!(agent.get(PATH).await.status, 403);
}

keva_store::backend_tests!(with = crate::harness::plain;
    the_webhooks_page_shows_the_app_and_the_delivery_log
);

const APP: &str = "/settings/crm-sync/hubspot/webhooks/app";
const CREATE: &str = "/settings/crm-sync/hubspot/webhooks/subscriptions";
const CHECK: &str = "/settings/crm-sync/hubspot/webhooks/subscriptions/check";

/// What the store holds for the workspace's webhook app: `(app id, secret)`.
async fn stored_app(app: &TestApp) -> Option<(String, String)> {
    use secrecy::ExposeSecret;
    let settings = app
        .store
        .webhook_settings(app.workspace_id)
        .await
        .unwrap()?;
    let secret = app.store.webhook_secret(app.workspace_id).await.unwrap()?;
    Some((settings.app_id, secret.expose_secret().to_string()))
}

/// How many subscription rows the page shows in `status`.
fn rows_in(body: &str, status: &str) -> usize {
    body.matches(&format!("data-status=\"{status}\"")).count()
}

async fn the_webhooks_page_sets_the_app_and_creates_the_subscriptions(app: TestApp) {
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let app_id = app.sb().app_id().to_string();
    let secret = "console-set-secret-5678";

    // Refused input is shown on the page (the API's messages) and nothing is stored.
    let bad = v
        .submit(
            PATH,
            APP,
            &[("app_id", "not a number"), ("client_secret", secret)],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("numeric app id"), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"not a number\""),
        "the App ID as typed"
    );
    assert!(!bad.body.contains(secret), "the secret is never shown back");
    let no_secret = v
        .submit(PATH, APP, &[("app_id", &app_id), ("client_secret", "")])
        .await;
    assert_eq!(no_secret.status, 422, "{}", no_secret.body);
    assert!(no_secret.body.contains("clientSecret is required"));
    assert_eq!(stored_app(&app).await, None, "nothing stored");

    // Subscriptions need the App ID first.
    let early = v
        .submit(PATH, CREATE, &[("developer_api_key", "dev-key")])
        .await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(
        early.body.contains("set the App ID first"),
        "{}",
        early.body
    );

    let saved = v
        .submit(PATH, APP, &[("app_id", &app_id), ("client_secret", secret)])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = v.get(saved.location()).await;
    assert!(
        page.body.contains("Saved the webhook app."),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-secret-source=\"workspace\""));
    assert!(page.body.contains("secret set"));
    assert!(
        !page.body.contains(secret),
        "the secret is never shown back"
    );
    assert_eq!(
        stored_app(&app).await,
        Some((app_id.clone(), secret.to_string()))
    );
    // The API reads what the console wrote (one code path).
    let api = app
        .expect(app.get("/api/crm/hubspot/webhooks"), 200, "settings")
        .await;
    assert_eq!(api["appId"], app_id.as_str());
    assert_eq!(api["clientSecretSet"], true);

    // An empty secret keeps the stored one.
    let kept = v
        .submit(PATH, APP, &[("app_id", &app_id), ("client_secret", "  ")])
        .await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    assert_eq!(
        stored_app(&app).await,
        Some((app_id.clone(), secret.to_string()))
    );

    // No key: the API's refusal, inline.
    let keyless = v.submit(PATH, CREATE, &[("developer_api_key", " ")]).await;
    assert_eq!(keyless.status, 422);
    assert!(keyless.body.contains("developerApiKey is required"));

    let checked = v
        .submit(PATH, CHECK, &[("developer_api_key", "dev-key")])
        .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert_eq!(rows_in(&checked.body, "missing"), 6, "{}", checked.body);
    assert!(checked.body.contains("data-all-active=\"false\""));
    assert!(
        !checked.body.contains("dev-key"),
        "the key is never shown back"
    );

    let created = v
        .submit(PATH, CREATE, &[("developer_api_key", "dev-key")])
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(rows_in(&created.body, "active"), 6, "{}", created.body);
    assert!(created.body.contains("data-all-active=\"true\""));
    assert!(created.body.contains("Every subscription is active."));
    // HubSpot (the sandbox) holds them, active.
    let listed = app
        .sandbox_ok(
            reqwest::Method::GET,
            &format!("/webhooks/v3/{app_id}/subscriptions"),
            None,
            200,
        )
        .await;
    let listed = listed["results"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(listed.iter().all(|s| s["active"] == true));

    // Agents may not change any of it.
    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    for path in [APP, CREATE, CHECK] {
        let page = agent
            .submit(
                "/",
                path,
                &[
                    ("app_id", "1"),
                    ("client_secret", "x"),
                    ("developer_api_key", "k"),
                ],
            )
            .await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert_eq!(
        stored_app(&app).await,
        Some((app_id.clone(), secret.to_string()))
    );
}

mod with_sandbox {
    keva_store::backend_tests!(with = crate::harness::sandboxed;
        the_webhooks_page_sets_the_app_and_creates_the_subscriptions
    );
    use super::*;
}
