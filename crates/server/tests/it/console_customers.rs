//! *Customers* and the profile's HubSpot panel over HTTP, on both backends,
//! against the sandbox: an agent lists customers, opens one, clicks *Sync Now* and
//! sees the outcome and the contact id (linking to HubSpot); another workspace's
//! customer or connector is a 404. *Sync history* lists the attempt for admins.

use keva_store::UserRole;
use serde_json::json;

use crate::console_support::signed_in;
use crate::harness::TestApp;

async fn an_agent_syncs_a_customer_now_and_sees_the_contact(app: TestApp) {
    let connector = app.connector_id().to_string();
    let customer = app
        .create_customer(json!({"email": "grace@navy.example", "name": "Grace Hopper"}))
        .await;
    let id = customer["id"].as_str().unwrap().to_string();
    app.settle().await;

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    let list = agent.get("/customers").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&format!("href=\"/customers/{id}\"")));

    let path = format!("/customers/{id}");
    let page = agent.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Sync Now"));

    let done = agent
        .submit(
            &path,
            &format!("{path}/sync-now"),
            &[("connector_id", &connector)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Sync Now: Synced"), "{}", done.body);
    let crm = app
        .expect(app.get(&format!("/api/customers/{id}/crm")), 200, "crm")
        .await;
    let contact = crm["hubspotId"].as_str().expect("linked").to_string();
    let portal = app.sb().portal_id();
    assert!(
        done.body.contains(&format!(
            "href=\"https://app.hubspot.com/contacts/{portal}/record/0-1/{contact}\""
        )),
        "{}",
        done.body
    );
    assert!(done.body.contains("data-link-status=\"synced\""));
    assert!(done.body.contains("Recent history"));

    // Sync history shows the attempt (admins only), filterable by result.
    assert_eq!(agent.get("/settings/sync-history").await.status, 403);
    let mut admin = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = admin.get("/settings/sync-history").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-result=\"synced\""),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"/customers/{id}\"")));
    assert!(page.body.contains(&format!("contact {contact}")));
    let failed = admin.get("/settings/sync-history?status=failed").await;
    assert!(failed.body.contains("No sync attempts."), "{}", failed.body);
    assert_eq!(
        admin
            .get("/settings/sync-history?status=bogus")
            .await
            .status,
        422
    );

    // Another workspace's customer and connector are unknown here.
    let (globex, theirs) =
        keva_store::testing::workspace_with_connector(&app.store, "globex", 515_151).await;
    let other = app
        .store
        .insert_customer(
            globex,
            keva_store::NewCustomer::with_email("x@globex.example"),
        )
        .await
        .unwrap();
    assert_eq!(
        agent.get(&format!("/customers/{}", other.id)).await.status,
        404
    );
    assert_eq!(agent.get("/customers/not-a-uuid").await.status, 404);
    let page = agent
        .submit(
            &path,
            &format!("{path}/sync-now"),
            &[("connector_id", &theirs.to_string())],
        )
        .await;
    assert_eq!(page.status, 404, "{}", page.body);
}

keva_store::backend_tests!(with = crate::harness::connected;
    an_agent_syncs_a_customer_now_and_sees_the_contact
);
