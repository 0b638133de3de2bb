//! *Webhooks* over HTTP, on both backends: the app id, the client secret only as
//! set/unset, the target URL with its Copy button, and the delivery log with a
//! valid delivery and a repeat; an agent gets 403.

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
