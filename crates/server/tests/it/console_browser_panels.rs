//! The HubSpot panel, the ticket sidebar and Auto-Map in real Chromium, on both
//! backends, against the sandbox: an admin opens a linked customer, clicks *Sync
//! Now* and sees the contact id; reloading the page syncs nothing again (the
//! history keeps its length); the panel shows the customer's company and a deal;
//! the customer's ticket shows the same panel beside it; *Auto-Map Fields* on Field
//! Mappings, one suggestion accepted and saved, shows up in the mapping table. The
//! ticket page is also checked 390 px wide (no sideways scrolling).
//! Screenshots of every step: `target/browser-screenshots/panels_<backend>/`.

use fantoccini::Locator;
use keva_store::{Backend, UserRole};
use serde_json::{json, Value};

use crate::browser_support::Browser;
use crate::console_support::user;
use crate::crm_context::{enable_context, scenario};
use crate::harness::TestApp;

async fn history_len(app: &TestApp, customer: &str) -> usize {
    app.crm(customer).await["history"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Leaves jobTitle unmapped, so Auto-Map has it to suggest.
async fn unmap_job_title(app: &TestApp) {
    let current = app
        .expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await;
    let kept: Vec<Value> = current["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kevaField"] != "jobTitle")
        .cloned()
        .collect();
    app.expect(
        app.put("/api/crm/hubspot/mappings", json!({ "mappings": kept })),
        200,
        "save mappings",
    )
    .await;
}

async fn the_panel_the_ticket_sidebar_and_auto_map_in_a_browser(backend: Backend) {
    let app = TestApp::builder(backend)
        .sandbox(true)
        .connected()
        .build()
        .await;
    unmap_job_title(&app).await;
    let s = scenario(&app).await;
    enable_context(&app).await;
    let ticket = app
        .expect(
            app.post(
                "/api/tickets",
                json!({"email": "dana@acme.example", "subject": "Renewal quote is wrong"}),
            ),
            201,
            "ticket",
        )
        .await;
    assert_eq!(ticket["customer"]["id"], s.customer.as_str());
    app.settle().await;
    let contact = app.contact_id(&s.customer).await;

    let link = user(&app, "admin@acme.example", UserRole::Admin).await;
    let name = format!("panels_{}", format!("{backend:?}").to_lowercase());
    let mut b = Browser::start(&name).await;
    b.goto(&link).await;
    b.click_button("Sign in").await;
    b.wait_for("[data-workspace='acme']").await;

    // The customer's profile: Sync Now, then the outcome after the redirect.
    b.click_link("Customers").await;
    b.wait_for("table").await;
    b.click_link("dana@acme.example").await;
    b.wait_for("[data-link-status]").await;
    b.shot("customer-before-sync").await;
    let before = history_len(&app, &s.customer).await;
    b.click_button("Sync Now").await;
    let notice = b.text_of(".flash").await;
    b.check(
        notice.contains(&format!("Sync Now: Synced, contact {contact}")),
        &format!("notice {notice:?}"),
    )
    .await;
    let shown = b.text_of("a[data-contact-id]").await;
    b.check(
        shown == contact,
        &format!("contact id {shown:?} vs {contact}"),
    )
    .await;
    let synced = history_len(&app, &s.customer).await;
    b.check(
        synced == before + 1,
        &format!("history {before} → {synced}"),
    )
    .await;
    b.shot("customer-synced").await;

    // A reload shows the outcome again and syncs nothing.
    if let Err(e) = b.client.refresh().await {
        b.fail(&format!("reloading: {e}")).await;
    }
    let notice = b.text_of(".flash").await;
    b.check(
        notice.contains("Sync Now: Synced"),
        &format!("after reload {notice:?}"),
    )
    .await;
    app.settle().await;
    let after = history_len(&app, &s.customer).await;
    b.check(
        after == synced,
        &format!("a reload synced again: history {synced} → {after}"),
    )
    .await;
    b.shot("customer-reloaded").await;

    // The CRM context: the company and a deal.
    b.wait_for("[data-context='read']").await;
    let company = b.text_of("a[data-company-id]").await;
    b.check(company == "Acme Inc", &format!("company {company:?}"))
        .await;
    let deals = b.text_of("ul.deals").await;
    b.check(
        deals.contains("Renewal 2027") && deals.contains("$48,000"),
        &format!("deals {deals:?}"),
    )
    .await;
    b.shot("customer-crm-context").await;

    // The ticket: the same panel beside it.
    b.click_link("Tickets").await;
    b.wait_for("table").await;
    b.shot("tickets").await;
    b.click_link("Renewal quote is wrong").await;
    b.wait_for(".with-sidebar [data-context='read']").await;
    let shown = b.text_of(".with-sidebar a[data-contact-id]").await;
    b.check(shown == contact, &format!("ticket's contact id {shown:?}"))
        .await;
    let company = b.text_of(".with-sidebar a[data-company-id]").await;
    b.check(
        company == "Acme Inc",
        &format!("ticket's company {company:?}"),
    )
    .await;
    b.shot("ticket-with-panel").await;
    // On a phone (390 px) the panel goes below the ticket and the page does not
    // scroll sideways.
    if let Err(e) = b.client.set_window_size(390, 900).await {
        b.fail(&format!("narrowing the window: {e}")).await;
    }
    let widths = b
        .client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| serde_json::from_value::<(u32, u32)>(v).ok());
    b.check(
        widths.is_some_and(|(page, window)| page <= window),
        &format!("page and window widths {widths:?}"),
    )
    .await;
    b.shot("ticket-narrow").await;
    if let Err(e) = b.client.set_window_size(1280, 900).await {
        b.fail(&format!("widening the window: {e}")).await;
    }

    // Auto-Map Fields: accept the jobTitle suggestion only, save, see it mapped.
    b.click_link("CRM Sync → HubSpot").await;
    b.wait_for("select#keva_field").await;
    b.click_button("Auto-Map Fields").await;
    b.wait_for("table#automap tr[data-key='jobTitle']").await;
    let rejects = match b
        .client
        .find_all(Locator::Css("table#automap input[value='reject']"))
        .await
    {
        Ok(r) => r,
        Err(e) => b.fail(&format!("finding the Reject choices: {e}")).await,
    };
    for r in rejects {
        let rejected = r.click().await;
        b.check(rejected.is_ok(), &format!("rejecting: {rejected:?}"))
            .await;
    }
    let accept = b
        .wait_for("input[name='decision.jobTitle'][value='accept']")
        .await;
    let accepted = accept.click().await;
    b.check(accepted.is_ok(), &format!("accepting: {accepted:?}"))
        .await;
    b.shot("automap-review").await;
    b.click_button("Save accepted mappings").await;
    let notice = b.text_of(".flash.ok").await;
    b.check(
        notice.contains("Saved 1 accepted mapping(s)"),
        &format!("notice {notice:?}"),
    )
    .await;
    let row = b.text_of("tr[data-keva-field='jobTitle']").await;
    b.check(row.contains("jobtitle"), &format!("mapping row {row:?}"))
        .await;
    b.shot("mappings-after-automap").await;
    let saved = app
        .expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await;
    let job = saved["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kevaField"] == "jobTitle")
        .cloned();
    assert_eq!(
        job.map(|m| m["hubspotProperties"].clone()),
        Some(json!(["jobtitle"]))
    );
    b.close().await;
}

keva_store::backend_tests!(the_panel_the_ticket_sidebar_and_auto_map_in_a_browser);
