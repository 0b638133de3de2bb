//! *Customers*, *Tickets* and the HubSpot panel they share, over HTTP, on both
//! backends, against the sandbox: an agent clicks *Sync Now*, is redirected to the
//! profile showing the outcome and the contact id (linking to HubSpot), and a
//! reload syncs nothing again; the CRM context (company and deals, as of the last
//! read) with its states — not linked, off, not read yet, read, HubSpot failing;
//! a ticket shows the same panel beside it, with its own *Sync Now*; another
//! workspace's customer, ticket or connector is a 404. *Sync history* lists the
//! attempt for admins.

use keva_store::UserRole;
use serde_json::json;

use crate::console_support::{signed_in, Page, Visitor};
use crate::crm_context::{enable_context, scenario};
use crate::harness::TestApp;

/// The HubSpot panel of a page (the profile's or the ticket's).
fn panel(page: &Page) -> &str {
    let start = page
        .body
        .find("<section class=\"hubspot-panel\"")
        .unwrap_or_else(|| panic!("no HubSpot panel in {}", page.body));
    let rest = &page.body[start..];
    let end = rest.find("</section>").expect("the panel ends");
    &rest[..end]
}

/// Clicks *Sync Now* on `path` (a profile or a ticket): the redirect back to it.
async fn sync_now(v: &mut Visitor, path: &str, connector: &str) -> Page {
    let done = v
        .submit(
            path,
            &format!("{path}/sync-now"),
            &[("connector_id", connector)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location().starts_with(&format!("{path}?sync_")),
        "{}",
        done.location()
    );
    done
}

async fn history_len(app: &TestApp, customer: &str) -> usize {
    app.crm(customer).await["history"]
        .as_array()
        .map_or(0, Vec::len)
}

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
    assert!(
        !page.body.contains("class=\"flash"),
        "no outcome before a click"
    );

    // POST → 303 → GET of the profile with the outcome.
    let history_before = history_len(&app, &id).await;
    let done = sync_now(&mut agent, &path, &connector).await;
    let shown = agent.get(done.location()).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("Sync Now: Synced"), "{}", shown.body);
    let crm = app.crm(&id).await;
    let contact = crm["hubspotId"].as_str().expect("linked").to_string();
    assert!(
        shown
            .body
            .contains(&format!("Sync Now: Synced, contact {contact}")),
        "{}",
        shown.body
    );
    let portal = app.sb().portal_id();
    assert!(
        shown.body.contains(&format!(
            "href=\"https://app.hubspot.com/contacts/{portal}/record/0-1/{contact}\""
        )),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("data-link-status=\"synced\""));
    assert!(shown.body.contains("Recent history"));
    let history_after = history_len(&app, &id).await;
    assert_eq!(
        history_after,
        history_before + 1,
        "one manual sync recorded"
    );

    // Reloading the outcome page twice syncs nothing again.
    let jobs = app.jobs_in(None).await.len();
    for _ in 0..2 {
        let again = agent.get(done.location()).await;
        assert_eq!(again.status, 200);
        assert!(again.body.contains("Sync Now: Synced"));
    }
    app.settle().await;
    assert_eq!(history_len(&app, &id).await, history_after);
    assert_eq!(app.jobs_in(None).await.len(), jobs, "no job enqueued");

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
    // An outcome address naming their connector, or nonsense, shows no outcome.
    for query in [
        format!("sync_connector={theirs}&sync_since=0"),
        format!("sync_job={}", uuid::Uuid::now_v7()),
        "sync_job=nonsense&sync_since=x".to_string(),
    ] {
        let page = agent.get(&format!("{path}?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert!(!page.body.contains("class=\"flash"), "{query}");
    }
}

async fn the_panel_shows_the_company_and_deals_as_last_read(app: TestApp) {
    let connector = app.connector_id().to_string();
    let portal = app.sb().portal_id();
    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;

    // Not linked: a customer no sync has touched.
    let unlinked = app
        .store
        .insert_customer(
            app.workspace_id,
            keva_store::NewCustomer::with_email("new@acme.example"),
        )
        .await
        .unwrap();
    let page = agent.get(&format!("/customers/{}", unlinked.id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        panel(&page).contains("data-context=\"not_linked\""),
        "{}",
        page.body
    );

    // Linked, context off for the portal.
    let s = scenario(&app).await;
    let path = format!("/customers/{}", s.customer);
    let page = agent.get(&path).await;
    assert!(
        panel(&page).contains("data-context=\"off\""),
        "{}",
        page.body
    );

    // On, not read yet; Sync Now reads it.
    enable_context(&app).await;
    let page = agent.get(&path).await;
    assert!(
        panel(&page).contains("data-context=\"not_read\""),
        "{}",
        page.body
    );
    let done = sync_now(&mut agent, &path, &connector).await;
    let page = agent.get(done.location()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let p = panel(&page);
    assert!(p.contains("data-context=\"read\""), "{p}");
    let ctx = app
        .expect(
            app.get(&format!("/api/customers/{}/crm/context", s.customer)),
            200,
            "context",
        )
        .await;
    assert!(p.contains("As of"), "{p}");
    assert!(
        p.contains(&format!(
            "data-company-id=\"{}\" href=\"https://app.hubspot.com/contacts/{portal}/record/0-2/{}\"",
            s.company, s.company
        )),
        "{p}"
    );
    assert!(p.contains(">Acme Inc</a>"), "{p}");
    assert!(p.contains("Computer Software"), "{p}");
    assert!(p.contains("acme.example"), "{p}");
    for d in ctx["deals"].as_array().expect("deals") {
        let id = d["id"].as_str().unwrap();
        let row_start = p
            .find(&format!("data-deal-id=\"{id}\""))
            .unwrap_or_else(|| panic!("deal {id} in {p}"));
        let row = &p[row_start..p[row_start..].find("</li>").unwrap() + row_start];
        assert!(row.contains(d["name"].as_str().unwrap()), "{row}");
        assert!(
            row.contains(&format!("data-stage=\"{}\"", d["stage"].as_str().unwrap())),
            "{row}"
        );
        assert!(
            row.contains(&format!(
                "data-deal-state=\"{}\"",
                d["state"].as_str().unwrap()
            )),
            "{row}"
        );
        assert!(
            row.contains(&format!(
                "href=\"https://app.hubspot.com/contacts/{portal}/record/0-3/{id}\""
            )),
            "{row}"
        );
    }
    assert!(p.contains("$48,000"), "{p}");
    assert!(p.contains("Contract Sent (90%)"), "{p}");
    assert!(
        p.contains(&format!("data-priority=\"{}\"", ctx["priority"])),
        "{p}"
    );
    assert!(
        p.contains(&format!(
            "data-customer-status=\"{}\"",
            ctx["status"].as_str().unwrap()
        )),
        "{p}"
    );

    // A linked customer without company or deals.
    let alone = app
        .synced_customer(json!({"email": "solo@freelance.example"}))
        .await;
    let solo = format!("/customers/{alone}");
    let done = sync_now(&mut agent, &solo, &connector).await;
    let page = agent.get(done.location()).await;
    let p = panel(&page);
    assert!(p.contains("data-context=\"read\""), "{p}");
    assert!(p.contains("No company in HubSpot"), "{p}");
    assert!(p.contains("No deals."), "{p}");

    // HubSpot failing: the page still answers, with the last reading and the error.
    app.faults(json!({"rate500": 1.0})).await;
    let done = sync_now(&mut agent, &path, &connector).await;
    let page = agent.get(done.location()).await;
    app.faults(json!({})).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let p = panel(&page);
    assert!(p.contains("data-context=\"read\""), "{p}");
    assert!(p.contains(">Acme Inc</a>"), "{p}");
    assert!(p.contains("class=\"flash error\""), "{p}");
    assert!(p.contains("500"), "HubSpot's error is named: {p}");
    assert!(
        p.contains("Sync Now has not reached HubSpot yet") || p.contains("Sync Now: Failed"),
        "{p}"
    );
    app.settle().await;

    // A portal that needs reconnecting: the last reading, and why it is not newer.
    app.store
        .set_connector_status(
            app.connector_id(),
            keva_store::ConnectorStatus::NeedsReconnection,
            Some("the grant was revoked"),
        )
        .await
        .unwrap();
    let page = agent.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let p = panel(&page);
    assert!(p.contains(">Acme Inc</a>"), "{p}");
    assert!(
        p.contains("HubSpot cannot be reached: the grant was revoked"),
        "{p}"
    );
}

async fn a_ticket_shows_the_customers_panel_beside_it(app: TestApp) {
    let connector = app.connector_id().to_string();
    let created = app
        .expect(
            app.post(
                "/api/tickets",
                json!({"email": "ada@engines.example", "name": "Ada", "subject": "Engine stalls"}),
            ),
            201,
            "ticket",
        )
        .await;
    let ticket = created["ticket"]["id"].as_str().unwrap().to_string();
    let customer = created["customer"]["id"].as_str().unwrap().to_string();
    app.settle().await;

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    let home = agent.get("/").await;
    assert!(home.body.contains("href=\"/tickets\""), "{}", home.body);
    let list = agent.get("/tickets").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&format!("href=\"/tickets/{ticket}\"")));
    assert!(list.body.contains("Engine stalls"));
    assert!(list.body.contains("ada@engines.example"));

    let path = format!("/tickets/{ticket}");
    let page = agent.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("class=\"with-sidebar\""));
    assert!(page
        .body
        .contains(&format!("href=\"/customers/{customer}\"")));
    let contact = app.contact_id(&customer).await;
    assert!(
        panel(&page).contains(&format!("data-contact-id=\"{contact}\"")),
        "{}",
        page.body
    );
    // The same panel as the profile's; only where Sync Now posts differs.
    let profile = agent.get(&format!("/customers/{customer}")).await;
    assert_eq!(
        panel(&page).replace(&format!("/tickets/{ticket}/"), "/X/"),
        panel(&profile).replace(&format!("/customers/{customer}/"), "/X/"),
    );

    // Sync Now from the ticket comes back to the ticket with the outcome.
    let before = history_len(&app, &customer).await;
    let done = sync_now(&mut agent, &path, &connector).await;
    let shown = agent.get(done.location()).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown
            .body
            .contains(&format!("Sync Now: Synced, contact {contact}")),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("Engine stalls"));
    assert_eq!(history_len(&app, &customer).await, before + 1);
    // Without the page's CSRF token the form is refused and nothing syncs.
    let forged = agent
        .post(&format!("{path}/sync-now"), &[("connector_id", &connector)])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(history_len(&app, &customer).await, before + 1);

    // Another workspace's ticket is unknown here.
    let globex = app.store.create_workspace("globex").await.unwrap().id;
    let (theirs, _, _) = app
        .store
        .create_ticket(globex, "x@globex.example", None, "Their ticket")
        .await
        .unwrap();
    assert_eq!(
        agent.get(&format!("/tickets/{}", theirs.id)).await.status,
        404
    );
    assert_eq!(agent.get("/tickets/not-a-uuid").await.status, 404);
    let refused = agent
        .submit(
            &path,
            &format!("/tickets/{}/sync-now", theirs.id),
            &[("connector_id", &connector)],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(!agent.get("/tickets").await.body.contains("Their ticket"));
}

keva_store::backend_tests!(with = crate::harness::connected;
    an_agent_syncs_a_customer_now_and_sees_the_contact,
    the_panel_shows_the_company_and_deals_as_last_read,
    a_ticket_shows_the_customers_panel_beside_it,
);
