//! *Sync history* filtered by customer over HTTP, on both backends: by email (any
//! case) or customer id, alone or with a result; a customer the workspace does not
//! have — another workspace's id included — is a 404 with no rows, in the console
//! as in `GET /api/crm/hubspot/history`.

use keva_core::{SyncDirection, Trigger};
use keva_store::testing::{customer, workspace_with_connector};
use keva_store::{HistoryResult, NewHistory, UserRole};
use uuid::Uuid;

use crate::console_support::signed_in;
use crate::harness::TestApp;
use crate::webhook_support::private_connector;

const PATH: &str = "/settings/sync-history";

/// Records a sync attempt of `who`.
async fn attempt(app: &TestApp, ws: Uuid, connector: Uuid, who: Uuid, result: HistoryResult) {
    let failed = result == HistoryResult::Failed;
    app.store
        .insert_history(&NewHistory {
            workspace_id: ws,
            connector_id: connector,
            customer_id: Some(who),
            hubspot_id: None,
            trigger: Trigger::Manual,
            direction: SyncDirection::ToCrm,
            fields: serde_json::json!({}),
            result,
            error: failed.then(|| "HubSpot said no".to_string()),
            correlation_id: None,
        })
        .await
        .unwrap();
}

/// How many attempts a history page lists.
fn rows(body: &str) -> usize {
    body.matches("data-result=").count()
}

async fn sync_history_is_filtered_by_customer(app: TestApp) {
    let ws = app.workspace_id;
    let connector = private_connector(&app.store, ws, 62515).await.id;
    let ann = customer(&app.store, ws, "ann@acme.example").await;
    let bob = customer(&app.store, ws, "bob@acme.example").await;
    attempt(&app, ws, connector, ann, HistoryResult::Synced).await;
    attempt(&app, ws, connector, bob, HistoryResult::Synced).await;
    attempt(&app, ws, connector, ann, HistoryResult::Failed).await;
    let (globex, theirs) = workspace_with_connector(&app.store, "globex", 424_242).await;
    let carol = customer(&app.store, globex, "carol@globex.example").await;
    attempt(&app, globex, theirs, carol, HistoryResult::Failed).await;

    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let all = v.get(PATH).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(rows(&all.body), 3);
    assert!(all.body.contains("Customer (email or customer id)"));

    for query in [
        "ann@acme.example",
        "%20ANN@Acme.Example%20",
        &ann.to_string(),
    ] {
        let page = v.get(&format!("{PATH}?customer={query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(rows(&page.body), 2, "{query}");
        assert!(page.body.contains(&format!("/customers/{ann}")));
        assert!(!page.body.contains(&format!("/customers/{bob}")), "{query}");
    }
    let failed = v.get(&format!("{PATH}?status=failed&customer={ann}")).await;
    assert_eq!(rows(&failed.body), 1);
    assert!(failed.body.contains("data-result=\"failed\""));
    let none = v.get(&format!("{PATH}?status=failed&customer={bob}")).await;
    assert_eq!(none.status, 200);
    assert_eq!(rows(&none.body), 0);
    // The result links keep the customer.
    assert!(
        failed
            .body
            .contains(&format!("?status=synced&amp;customer={ann}")),
        "{}",
        failed.body
    );

    // Another workspace's customer, or no such customer: 404, no rows, never theirs.
    for query in [
        carol.to_string(),
        "carol@globex.example".into(),
        Uuid::now_v7().to_string(),
    ] {
        let page = v.get(&format!("{PATH}?customer={query}")).await;
        assert_eq!(page.status, 404, "{query}: {}", page.body);
        assert_eq!(rows(&page.body), 0, "{query}");
        assert!(page.body.contains("No customer"), "{query}");
    }

    // The API answers alike (one code path).
    let api = |q: String| app.get(&format!("/api/crm/hubspot/history?{q}"));
    let page = app
        .expect(api(format!("customerId={ann}")), 200, "by id")
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let page = app
        .expect(api("email=BOB@acme.example".into()), 200, "by email")
        .await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["customerId"], bob.to_string());
    app.expect(api(format!("customerId={carol}")), 404, "theirs")
        .await;
    app.expect(
        api(format!("customerId={ann}&email=ann@acme.example")),
        422,
        "both",
    )
    .await;
}

keva_store::backend_tests!(with = crate::harness::plain;
    sync_history_is_filtered_by_customer
);
