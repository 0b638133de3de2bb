//! The console in real Chromium (Debian's `chromium`, headless) driven through
//! `chromedriver` (Debian's `chromium-driver`) with WebDriver, as a user drives
//! it: open the sign-in link, go to Integrations → HubSpot, *Connect* through the
//! sandbox's consent page choosing the second of two portals, see *Connected* with
//! that *Portal ID*; add a Field Mapping to the label "Job Title", see the hint,
//! fix it and save; *Test Mapping* with a customer shows what would be sent;
//! open a customer, *Sync Now*, see the contact id; then
//! *Disconnect*. An agent opening a settings page gets the 403 page; a form whose
//! CSRF field was removed in the page is refused with 403 and changes nothing; on
//! Webhooks an admin saves the App ID and secret (and sees "secret set", never
//! the secret) and creates the subscriptions; on Run Batch Sync sets a schedule
//! and sees its next run. Every step's page is saved under
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
    let customer = app
        .create_customer(json!({
            "email": "grace@navy.example",
            "name": "Grace Hopper",
            "jobTitle": "Rear Admiral"
        }))
        .await;
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

    // Test Mapping: the dry run shows what the saved mapping would send.
    let chosen = b.wait_for("select#test_customer").await;
    if let Err(e) = chosen.select_by_label("grace@navy.example").await {
        b.fail(&format!("choosing the customer: {e}")).await;
    }
    b.click_button("Test Mapping").await;
    let sent = b.text_of("tr[data-property='jobtitle']").await;
    b.check(
        sent.contains("Rear Admiral"),
        &format!("preview row {sent:?}"),
    )
    .await;
    b.scroll_to("tr[data-property='jobtitle']").await;
    b.shot("mappings-test-mapping").await;

    // A customer's HubSpot panel: Sync Now links the contact.
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
    admin_runs_a_batch_sync_and_watches_the_bar,
    agents_get_403_and_a_form_without_its_csrf_field_is_refused,
    admin_sets_up_webhooks_and_a_batch_schedule
);

impl Browser {
    /// Signs in with a one-time link (the page's *Sign in* button).
    async fn sign_in_with(&mut self, link: &str) {
        self.goto(link).await;
        self.click_button("Sign in").await;
        self.wait_for("[data-workspace='acme']").await;
    }

    /// The HTTP status of the current page, fetched again by the page itself
    /// (WebDriver does not expose it).
    async fn status_of_current_page(&mut self) -> u64 {
        let script = "var done = arguments[0]; \
            fetch(location.href, {credentials: 'same-origin'}).then(function (r) { done(r.status); });";
        match self.client.execute_async(script, vec![]).await {
            Ok(v) => v.as_u64().unwrap_or(0),
            Err(e) => self.fail(&format!("fetching the page's status: {e}")).await,
        }
    }
}

/// An agent is shown the 403 page on settings; an admin's form whose CSRF field
/// was removed in the page is refused with 403 and nothing is stored.
async fn agents_get_403_and_a_form_without_its_csrf_field_is_refused(backend: Backend) {
    let app = TestApp::builder(backend).build().await;
    let agent = user(&app, "agent@acme.example", UserRole::Agent).await;
    let admin = user(&app, "admin@acme.example", UserRole::Admin).await;
    let name = format!("refusals_{}", format!("{backend:?}").to_lowercase());
    let mut b = Browser::start(&name).await;

    b.sign_in_with(&agent).await;
    b.shot("agent-home").await;
    let settings = format!("{}/settings/integrations/hubspot", app.url);
    b.goto(&settings).await;
    let title = b.text_of("h1").await;
    b.check(title == "Forbidden", &format!("heading {title:?}"))
        .await;
    let text = b.text_of("main").await;
    b.check(text.contains("This page is for admins"), &text)
        .await;
    let status = b.status_of_current_page().await;
    b.check(status == 403, &format!("status {status}")).await;
    b.shot("agent-settings-403").await;
    b.goto(&app.url).await;
    b.click_button("Sign out").await;
    b.wait_for("input#workspace").await;

    b.sign_in_with(&admin).await;
    b.click_link("Webhooks").await;
    b.type_into("input#app_id", "4242").await;
    b.type_into("input#client_secret", "a-secret-never-stored")
        .await;
    let removed = b
        .client
        .execute(
            "var f = document.querySelector(\"form[action*='/webhooks/app'] input[name='csrf']\"); \
             f.remove(); return document.querySelectorAll(\"form[action*='/webhooks/app'] input[name='csrf']\").length;",
            vec![],
        )
        .await;
    b.check(
        removed.as_ref().ok() == Some(&json!(0)),
        &format!("removing the CSRF field: {removed:?}"),
    )
    .await;
    b.shot("webhooks-form-without-csrf").await;
    b.click_button("Save").await;
    b.wait_for_text("h1", "Forbidden").await;
    let text = b.text_of("main").await;
    b.check(text.contains("CSRF check failed"), &text).await;
    b.shot("csrf-refused-403").await;
    let stored = app.store.webhook_settings(app.workspace_id).await.unwrap();
    assert!(stored.is_none(), "nothing stored: {stored:?}");
    // The same form with its token works (the refusal was the missing field).
    b.click_link("Back to the console").await;
    b.click_link("Webhooks").await;
    b.type_into("input#app_id", "4242").await;
    b.type_into("input#client_secret", "a-secret-stored-now")
        .await;
    b.click_button("Save").await;
    b.wait_for(".flash.ok").await;
    let stored = app.store.webhook_settings(app.workspace_id).await.unwrap();
    assert_eq!(stored.map(|s| s.app_id).as_deref(), Some("4242"));
    b.close().await;
}

/// Webhooks: the App ID and secret saved (the secret never shown), the
/// subscriptions created and active; Run Batch Sync: a schedule and its next run.
async fn admin_sets_up_webhooks_and_a_batch_schedule(backend: Backend) {
    let app = TestApp::builder(backend)
        .sandbox(true)
        .connected()
        .build()
        .await;
    let link = user(&app, "admin@acme.example", UserRole::Admin).await;
    let name = format!(
        "webhooks_schedule_{}",
        format!("{backend:?}").to_lowercase()
    );
    let mut b = Browser::start(&name).await;
    b.sign_in_with(&link).await;

    b.click_link("Webhooks").await;
    b.wait_for("[data-secret-source='none']").await;
    b.shot("webhooks-empty").await;
    let app_id = app.sb().app_id().to_string();
    let secret = "browser-secret-9876";
    b.type_into("input#app_id", &app_id).await;
    b.type_into("input#client_secret", secret).await;
    b.shot("webhooks-typed").await;
    b.click_button("Save").await;
    let notice = b.text_of(".flash.ok").await;
    b.check(notice.contains("Saved the webhook app."), &notice)
        .await;
    let shown = b.text_of("[data-secret-source='workspace']").await;
    b.check(
        shown.contains("secret set"),
        &format!("secret shown as {shown:?}"),
    )
    .await;
    let html = b.client.source().await.unwrap_or_default();
    b.check(!html.contains(secret), "the secret is never on the page")
        .await;
    let field = b
        .client
        .execute(
            "return document.getElementById('client_secret').value;",
            vec![],
        )
        .await
        .ok();
    b.check(field == Some(json!("")), &format!("secret field {field:?}"))
        .await;
    b.shot("webhooks-saved").await;

    b.click_button("Copy").await;
    let said = b.wait_for_some_text("#copy-status").await;
    b.check(
        said == "Copied" || said.starts_with("Selected"),
        &format!("copy status {said:?}"),
    )
    .await;

    b.type_into("input#developer_api_key", "dev-key").await;
    b.click_button("Create subscriptions").await;
    b.wait_for("#subscriptions[data-all-active='true']").await;
    let active = b
        .client
        .find_all(Locator::Css("#subscriptions tr[data-status='active']"))
        .await
        .map(|rows| rows.len())
        .unwrap_or(0);
    b.check(active == 6, &format!("{active} active subscriptions"))
        .await;
    b.shot("webhooks-subscriptions-active").await;
    let listed = app
        .sandbox_ok(
            reqwest::Method::GET,
            &format!("/webhooks/v3/{app_id}/subscriptions"),
            None,
            200,
        )
        .await;
    assert_eq!(listed["results"].as_array().map(Vec::len), Some(6));

    b.click_link("Run Batch Sync").await;
    b.type_into("input#schedule-input", "30 3 * * *").await;
    b.shot("schedule-typed").await;
    b.click_button("Save schedule").await;
    let next = b.wait_for("#next-run").await;
    let when = next
        .attr("datetime")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let when = chrono::DateTime::parse_from_rfc3339(&when).map(|t| t.with_timezone(&chrono::Utc));
    let now = chrono::Utc::now();
    b.check(
        when.as_ref().is_ok_and(|t| {
            *t > now - chrono::TimeDelta::minutes(1)
                && *t <= now + chrono::TimeDelta::days(1)
                && t.format("%H:%M:%S").to_string() == "03:30:00"
        }),
        &format!("next run {when:?}"),
    )
    .await;
    b.shot("schedule-next-run").await;
    let c = app
        .store
        .get_connector(app.workspace_id, app.connector_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.batch_schedule.as_deref(), Some("30 3 * * *"));
    b.close().await;
}

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
