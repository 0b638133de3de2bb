//! The console in real Chromium (Debian's `chromium`, headless) driven through
//! `chromedriver` (Debian's `chromium-driver`) with WebDriver, as a user drives
//! it: open the sign-in link, go to Integrations → HubSpot, *Connect* through the
//! sandbox's consent page choosing the second of two portals, see *Connected* with
//! that *Portal ID*; add a Field Mapping to the label "Job Title", see the hint,
//! fix it and save; open a customer, *Sync Now*, see the contact id; then
//! *Disconnect*. Every step's page is saved under
//! `target/browser-screenshots/<test>/`, and a failing step saves `failure.png`
//! before the test fails.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use keva_store::{Backend, UserRole};
use serde_json::json;

use crate::browser_support::Browser;
use crate::console_support::user;
use crate::harness::TestApp;

use crate::oauth_connect::{oauth_app, SECOND_PORTAL};

async fn admin_connects_hubspot_by_oauth_then_disconnects(backend: Backend) {
    let app = oauth_app(backend).await;
    let link = user(&app, "admin@acme.example", UserRole::Admin).await;
    let name = format!("connect_oauth_{}", format!("{backend:?}").to_lowercase());
    let mut b = Browser::start(&name).await;

    // The quickstart's (and `user create`'s) link: one click signs in.
    b.goto(&link).await;
    b.shot("sign-in-link").await;
    b.click_button("Sign in").await;
    b.wait_for("[data-workspace='acme']").await;
    b.shot("home").await;

    b.click_link("Integrations → HubSpot").await;
    b.wait_for("[data-status='disconnected']").await;
    b.shot("integrations-disconnected").await;

    // Connect: HubSpot's (the sandbox's) consent page, second of two portals.
    b.click_button("Connect").await;
    let select = b.wait_for("select#portal_id").await;
    if let Err(e) = select.select_by_value(&SECOND_PORTAL.to_string()).await {
        b.fail(&format!("choosing portal {SECOND_PORTAL}: {e}"))
            .await;
    }
    b.shot("hubspot-consent").await;
    b.click_button("Approve").await;

    b.wait_for("[data-status='connected']").await;
    let portal = b.text_of("a[data-portal-id]").await;
    b.check(
        portal == SECOND_PORTAL.to_string(),
        &format!("Portal ID shows {portal:?}"),
    )
    .await;
    let notice = b.text_of(".flash").await;
    b.check(
        notice.contains(&format!("HubSpot portal {SECOND_PORTAL} is connected.")),
        &format!("notice {notice:?}"),
    )
    .await;
    b.shot("integrations-connected").await;
    let connectors = app.store.list_connectors(app.workspace_id).await.unwrap();
    assert_eq!(connectors.len(), 1);
    assert_eq!(connectors[0].portal_id, SECOND_PORTAL as i64);
    assert_eq!(connectors[0].auth_kind.as_str(), "oauth");

    // Field Mappings: the label is refused with the API's hint, the name saves.
    b.click_link("CRM Sync → HubSpot").await;
    let field = b.wait_for("select#keva_field").await;
    if let Err(e) = field.select_by_value("jobTitle").await {
        b.fail(&format!("choosing the Keva field: {e}")).await;
    }
    b.type_into("input#hubspot_property", "Job Title").await;
    b.shot("mappings-add").await;
    b.click_button("Save").await;
    let notice = b.text_of(".flash.error").await;
    b.check(
        notice.contains("use jobtitle, not Job Title"),
        &format!("notice {notice:?}"),
    )
    .await;
    b.shot("mappings-refused-with-hint").await;
    b.type_into("input#hubspot_property", "jobtitle").await;
    b.click_button("Save").await;
    let notice = b.text_of(".flash.ok").await;
    b.check(notice.contains("Saved the jobTitle mapping."), &notice)
        .await;
    b.shot("mappings-saved").await;

    // A customer's HubSpot panel: Sync Now links the contact.
    let customer = app
        .create_customer(json!({"email": "grace@navy.example", "name": "Grace Hopper"}))
        .await;
    b.click_link("Customers").await;
    b.wait_for("table").await;
    b.shot("customers").await;
    b.click_link("grace@navy.example").await;
    b.wait_for("[data-link-status]").await;
    b.click_button("Sync Now").await;
    let notice = b.text_of(".flash").await;
    b.check(
        notice.contains("Sync Now: Synced"),
        &format!("notice {notice:?}"),
    )
    .await;
    let contact = b.text_of("a[data-contact-id]").await;
    let crm = app
        .expect(
            app.get(&format!(
                "/api/customers/{}/crm",
                customer["id"].as_str().unwrap()
            )),
            200,
            "crm",
        )
        .await;
    b.check(
        crm["hubspotId"].as_str() == Some(contact.as_str()),
        &format!("contact id {contact:?} vs {crm}"),
    )
    .await;
    b.shot("customer-synced").await;

    b.click_link("Integrations → HubSpot").await;
    b.wait_for("[data-status='connected']").await;
    b.click_button("Disconnect").await;
    b.wait_for("[data-status='disconnected']").await;
    b.shot("integrations-after-disconnect").await;
    let c = app
        .store
        .get_connector(app.workspace_id, connectors[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status.as_str(), "disconnected");

    // An agent in the same browser profile would be refused settings: covered
    // over HTTP (console_auth); here the admin signs out.
    b.click_button("Sign out").await;
    b.wait_for("input#workspace").await;
    b.shot("signed-out").await;
    b.close().await;
}

keva_store::backend_tests!(
    admin_connects_hubspot_by_oauth_then_disconnects,
    admin_runs_a_batch_sync_and_watches_the_bar
);

/// Run Batch Sync over 2,000 customers and watch the bar (updated by polling,
/// without reloading) reach done.
async fn admin_runs_a_batch_sync_and_watches_the_bar(backend: Backend) {
    let app = TestApp::builder(backend)
        .sandbox(true)
        .connected()
        .build()
        .await;
    app.seed_customers("bulk", 2_000).await;
    let link = user(&app, "admin@acme.example", UserRole::Admin).await;
    let name = format!("batch_sync_{}", format!("{backend:?}").to_lowercase());
    let mut b = Browser::start(&name).await;
    b.goto(&link).await;
    b.click_button("Sign in").await;
    b.wait_for("[data-workspace='acme']").await;
    b.click_link("Run Batch Sync").await;
    b.wait_for("form[action$='/start']").await;
    b.shot("batch-before").await;
    b.click_button("Run Batch Sync").await;
    b.wait_for("#batch-bar").await;
    b.shot("batch-running").await;
    // A mark in this document: a reload would lose it.
    let marked = b
        .client
        .execute("window.kevaMark = 42; return true;", vec![])
        .await;
    b.check(marked.is_ok(), "marking the page").await;

    // The page is not reloaded: the same document's bar fills up.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = b
            .client
            .find(Locator::Css("#batch"))
            .await
            .ok()
            .map(|el| async move { el.attr("data-state").await.ok().flatten() });
        let state = match state {
            Some(f) => f.await,
            None => None,
        };
        if state.as_deref() == Some("done") {
            break;
        }
        if Instant::now() > deadline {
            b.fail(&format!("the run did not finish (state {state:?})"))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let processed = b.text_of("#batch [data-field='processed']").await;
    let total = b.text_of("#batch [data-field='total']").await;
    b.check(
        processed == "2000" && total == "2000",
        &format!("{processed} / {total}"),
    )
    .await;
    let value = b
        .client
        .execute(
            "var b = document.getElementById('batch-bar'); return [b.value, b.max];",
            vec![],
        )
        .await
        .ok();
    b.check(
        value == Some(json!([2000, 2000])),
        &format!("bar value and max {value:?}"),
    )
    .await;
    let mark = b
        .client
        .execute("return window.kevaMark || 0;", vec![])
        .await
        .ok();
    b.check(
        mark == Some(json!(42)),
        &format!("the page was not reloaded (mark {mark:?})"),
    )
    .await;
    let start = b.wait_for("form#batch-start").await;
    let visible = start.is_displayed().await.unwrap_or(false);
    b.check(
        visible,
        "Run Batch Sync is offered again once the run is done",
    )
    .await;
    b.shot("batch-done").await;
    b.close().await;
}
