//! The sync rules end to end: triggers, dedup, names, three-way merge, conflicts,
//! echo suppression, email changes, deletion/merge/restore, invalid emails and the
//! dry run — over HTTP against an in-process sandbox.

use keva_sandbox::portal::{now_ms, Actor, ObjectType};
use serde_json::{json, Value};

use crate::harness::{call, eventually, TestApp, CREATE, UPDATE};

async fn ticket_from_unknown_email_creates_the_contact(app: TestApp) {
    app.connector().await;
    let (s, t) = call(app.post(
        "/api/tickets",
        json!({"email": "Mary.Watson@Example.com", "name": "Mary Jane Watson", "subject": "Help"}),
    ))
    .await;
    assert_eq!(s, 201, "{t}");
    app.settle().await;
    let customer = t["customer"]["id"].as_str().unwrap();
    let crm = app.crm(customer).await;
    assert_eq!(crm["status"], "synced", "{crm}");
    let id = crm["hubspotId"].as_str().unwrap();
    // Found by email, as HubSpot stores it (lower-cased).
    let (found, props) = app
        .sb()
        .state()
        .get_contact_by_email(app.sb().portal_id(), "mary.watson@example.com")
        .expect("contact created in the sandbox");
    assert_eq!(found.to_string(), id);
    assert_eq!(props["firstname"], "Mary Jane");
    assert_eq!(props["lastname"], "Watson");
    assert_eq!(app.calls(CREATE), 1);
    assert_eq!(crm["history"][0]["trigger"], "ticket");
    assert_eq!(crm["history"][0]["direction"], "to_crm");
}

async fn existing_contact_is_linked_not_duplicated(app: TestApp) {
    app.connector().await;
    let id = app
        .hubspot_contact(json!({"email": "jane@example.com", "firstname": "Jane", "lastname": "Doe", "phone": "+1 555 0100"}))
        .await;
    let customer = app
        .synced_customer(json!({"email": "Jane@Example.COM", "company": "Acme"}))
        .await;
    assert_eq!(app.contact_id(&customer).await, id);
    assert_eq!(app.contact_count(), 1);
    assert_eq!(app.calls(CREATE), 1, "only the test's own create");
    // First link: each empty side is filled from the other.
    let c = app.customer(&customer).await;
    assert_eq!(c["name"], "Jane Doe");
    assert_eq!(c["phone"], "+1 555 0100");
    assert_eq!(app.contact(&id).await["company"], "Acme");
}

async fn conflict_409_links_to_the_existing_contact_with_a_warning(app: TestApp) {
    let connector = app.connector().await;
    let customer = app.stored_customer("race@example.com").await;
    // Slow HubSpot down so a contact can appear between the lookup and the create.
    app.faults(json!({"latencyMs": 800})).await;
    let sync = {
        let req = app.post(
            "/api/crm/hubspot/sync",
            json!({"customerId": customer.id, "connectorId": connector}),
        );
        tokio::spawn(async move { call(req).await })
    };
    eventually(20, "the create is sent", || async { app.calls(CREATE) > 0 }).await;
    // The create is in flight (delayed): another integration creates the contact now.
    let existing = {
        let portal = app.sb().state().default_portal();
        let mut props = serde_json::Map::new();
        props.insert("email".into(), json!("race@example.com"));
        props.insert("firstname".into(), json!("Racer"));
        let id = portal
            .write()
            .create(
                ObjectType::Contacts,
                &props,
                &[],
                &Actor::crm_ui(),
                now_ms(),
                &mut Vec::new(),
            )
            .unwrap();
        id.to_string()
    };
    let (s, outcome) = sync.await.unwrap();
    app.faults(json!({})).await;
    assert_eq!(s, 200, "{outcome}");
    assert_eq!(outcome["contactId"], existing.as_str(), "{outcome}");
    let codes: Vec<&str> = outcome["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert!(codes.contains(&"duplicate_contact"), "{outcome}");
    assert!(outcome["warnings"]
        .to_string()
        .contains("Duplicate contact"));
    assert_eq!(app.contact_count(), 1);
    let c = app.customer(&customer.id.to_string()).await;
    assert_eq!(c["name"], "Racer", "first link filled Keva's empty name");
}

async fn names_split_join_and_round_trip_stably(app: TestApp) {
    let connector = app.connector().await;
    let king = app
        .synced_customer(json!({"email": "mlk@example.com", "name": "Martin Luther King Jr."}))
        .await;
    let id = app.contact_id(&king).await;
    let p = app.contact(&id).await;
    assert_eq!(
        (p["firstname"].as_str(), p["lastname"].as_str()),
        (Some("Martin Luther"), Some("King Jr."))
    );

    let mary = app
        .synced_customer(json!({"email": "mary@example.com", "name": "Mary Jane Watson"}))
        .await;
    let mid = app.contact_id(&mary).await;
    // HubSpot regroups the same words: Keva's text is unchanged, nothing is pushed back.
    app.edit_contact(
        &mid,
        json!({"firstname": "Mary", "lastname": "Jane Watson"}),
    )
    .await;
    app.reset_stats();
    app.inbound(connector, &mid).await;
    assert_eq!(app.customer(&mary).await["name"], "Mary Jane Watson");
    assert_eq!(
        app.calls(UPDATE),
        0,
        "a name that came from HubSpot is never pushed back"
    );
    let p = app.contact(&mid).await;
    assert_eq!(
        (p["firstname"].as_str(), p["lastname"].as_str()),
        (Some("Mary"), Some("Jane Watson"))
    );

    // A real change in HubSpot flows to Keva, and a second sync changes nothing.
    app.edit_contact(&mid, json!({"lastname": "Watson-Parker"}))
        .await;
    app.inbound(connector, &mid).await;
    assert_eq!(app.customer(&mary).await["name"], "Mary Watson-Parker");
    let (s, o) = app.sync_now(&mary, connector).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["direction"], "none", "{o}");
    assert_eq!(app.calls(UPDATE), 0);

    // One word: firstname only.
    let cher = app
        .synced_customer(json!({"email": "cher@example.com", "name": "Cher"}))
        .await;
    let p = app.contact(&app.contact_id(&cher).await).await;
    assert_eq!(p["firstname"], "Cher");
    assert!(p["lastname"].is_null() || p["lastname"] == "", "{p}");
}

async fn changes_flow_each_way_as_directions_allow(app: TestApp) {
    let connector = app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "flow@example.com", "phone": "111", "location": "Paris"}))
        .await;
    let id = app.contact_id(&customer).await;
    assert_eq!(app.contact(&id).await["city"], "Paris");

    // Keva → HubSpot.
    app.edit_customer(&customer, json!({"phone": "222", "notes": "likes tea"}))
        .await;
    app.settle().await;
    let p = app.contact(&id).await;
    assert_eq!(p["phone"], "222");
    assert_eq!(p["notes"], "likes tea");

    // HubSpot → Keva; city is to-CRM only, so its HubSpot edit stays in HubSpot.
    app.edit_contact(&id, json!({"jobtitle": "CTO", "city": "Lyon"}))
        .await;
    app.inbound(connector, &id).await;
    let c = app.customer(&customer).await;
    assert_eq!(c["jobTitle"], "CTO");
    assert_eq!(c["location"], "Paris");
    let h = app.last_history(&customer).await;
    assert_eq!(h["direction"], "from_crm", "{h}");
    let changed = &h["fields"]["fieldsChanged"][0];
    assert_eq!(changed["field"], "jobTitle");
    assert_eq!(changed["new"], "CTO");
    assert_eq!(changed["old"], Value::Null);

    // Only changed properties are written; unmapped ones are never touched.
    app.edit_contact(&id, json!({"website": "example.com"}))
        .await;
    app.edit_customer(&customer, json!({"company": "Acme"}))
        .await;
    app.settle().await;
    let p = app.contact(&id).await;
    assert_eq!(p["company"], "Acme");
    assert_eq!(p["website"], "example.com");
    assert_eq!(
        p["city"], "Lyon",
        "city unchanged in Keva, so not rewritten"
    );
}

/// Edits company on both sides (HubSpot first when `hubspot_first`), then syncs.
async fn conflict_case(app: &TestApp, policy: &str, hubspot_first: bool) -> (Value, Value) {
    let connector = app.connector().await;
    app.set_policy(connector, policy).await;
    let customer = app
        .synced_customer(json!({"email": "both@example.com", "company": "Acme"}))
        .await;
    let id = app.contact_id(&customer).await;
    // Keva's edit goes to the store directly (no job), so both edits surely land
    // before the sync, in the chosen order.
    let keva_edit = || async {
        let patch = keva_core::CustomerPatch {
            company: Some("Keva Co".into()),
            ..Default::default()
        };
        app.store
            .update_customer(app.workspace_id, customer.parse().unwrap(), &patch)
            .await
            .unwrap();
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    if hubspot_first {
        app.edit_contact(&id, json!({"company": "Hub Co"})).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        keva_edit().await;
    } else {
        keva_edit().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.edit_contact(&id, json!({"company": "Hub Co"})).await;
    }
    let (s, o) = app.sync_now(&customer, connector).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "conflict", "{o}");
    app.settle().await;
    let keva = app.customer(&customer).await["company"].clone();
    let hubspot = app.contact(&id).await["company"].clone();
    assert_eq!(keva, hubspot, "both sides agree after the conflict");
    let crm = app.crm(&customer).await;
    let h = crm["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["result"] == "conflict")
        .cloned()
        .unwrap_or_else(|| panic!("a conflict is recorded: {crm}"));
    let conflict = h["fields"]["conflicts"][0].clone();
    assert_eq!(conflict["kevaValue"], "Keva Co", "{conflict}");
    assert_eq!(conflict["hubspotValue"], "Hub Co", "{conflict}");
    assert_eq!(crm["status"], "conflict");
    (keva, conflict)
}

async fn newest_wins_by_timestamps(app: TestApp) {
    let (value, c) = conflict_case(&app, "newest_wins", true).await;
    assert_eq!(value, "Keva Co");
    assert_eq!(
        (c["winner"].as_str(), c["resolution"].as_str()),
        (Some("keva"), Some("newer_change"))
    );
}

async fn newest_wins_hubspot_newer(app: TestApp) {
    let (value, c) = conflict_case(&app, "newest_wins", false).await;
    assert_eq!(value, "Hub Co");
    assert_eq!(c["winner"], "hubspot");
    assert!(c["hubspotTs"].is_string() && c["kevaTs"].is_string(), "{c}");
}

async fn keva_wins_policy(app: TestApp) {
    let (value, c) = conflict_case(&app, "keva_wins", false).await;
    assert_eq!(value, "Keva Co");
    assert_eq!(c["resolution"], "keva_wins");
}

async fn hubspot_wins_policy(app: TestApp) {
    let (value, c) = conflict_case(&app, "hubspot_wins", true).await;
    assert_eq!(value, "Hub Co");
    assert_eq!(c["resolution"], "hubspot_wins");
}

async fn one_edit_one_write_and_the_echo_changes_nothing(app: TestApp) {
    let connector = app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "echo@example.com", "phone": "1"}))
        .await;
    let id = app.contact_id(&customer).await;
    app.reset_stats();
    app.edit_customer(&customer, json!({"phone": "2"})).await;
    app.settle().await;
    assert_eq!(app.calls(UPDATE), 1);
    assert_eq!(app.contact(&id).await["phone"], "2");
    let before = app.customer(&customer).await;
    let history = app.crm(&customer).await["history"]
        .as_array()
        .unwrap()
        .len();

    // HubSpot's webhook echo of our write reaches the engine: nothing happens.
    app.inbound(connector, &id).await;
    app.inbound(connector, &id).await;
    assert_eq!(app.calls(UPDATE), 1, "no write back to HubSpot");
    assert_eq!(app.customer(&customer).await, before, "no Keva write");
    assert_eq!(
        app.crm(&customer).await["history"]
            .as_array()
            .unwrap()
            .len(),
        history
    );
}

async fn email_change_moves_the_link(app: TestApp) {
    app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "old@example.com"}))
        .await;
    let id = app.contact_id(&customer).await;
    app.reset_stats();
    app.edit_customer(&customer, json!({"email": "New@Example.com"}))
        .await;
    app.settle().await;
    assert_eq!(app.contact_id(&customer).await, id);
    assert_eq!(app.contact(&id).await["email"], "new@example.com");
    assert_eq!(app.calls(CREATE), 0);
    assert_eq!(app.contact_count(), 1);
}

async fn deletion_unlinks_restore_and_merge_relink(app: TestApp) {
    let connector = app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "gone@example.com", "name": "Gone Girl"}))
        .await;
    let id = app.contact_id(&customer).await;

    let (s, _) = app
        .sandbox(
            reqwest::Method::DELETE,
            &format!("/_sandbox/objects/contacts/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    app.inbound(connector, &id).await;
    let crm = app.crm(&customer).await;
    assert_eq!(crm["status"], "not_linked", "{crm}");
    assert_eq!(crm["reason"], "contact deleted in HubSpot");
    assert!(crm["hubspotId"].is_null());
    assert_eq!(
        app.customer(&customer).await["name"],
        "Gone Girl",
        "customer kept"
    );
    // An edit does not resurrect the deleted contact.
    app.edit_customer(&customer, json!({"phone": "9"})).await;
    app.settle().await;
    assert_eq!(app.contact_count(), 0);

    // Restored in HubSpot → relinked by email.
    let (s, v) = app
        .sandbox(
            reqwest::Method::POST,
            &format!("/_sandbox/objects/contacts/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.inbound(connector, &id).await;
    let crm = app.crm(&customer).await;
    assert_eq!(crm["hubspotId"], id.as_str(), "{crm}");
    assert_eq!(crm["status"], "synced");
    assert_eq!(
        app.contact(&id).await["phone"],
        "9",
        "the edit made meanwhile flows"
    );

    // Merged into another contact → the link follows the survivor.
    let survivor = app
        .hubspot_contact(json!({"email": "survivor@example.com"}))
        .await;
    let (s, v) = app
        .sandbox(
            reqwest::Method::POST,
            "/_sandbox/objects/contacts/merge",
            Some(json!({"primaryObjectId": survivor, "objectIdToMerge": id})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.store
        .enqueue(&keva_store::NewJob::new(
            app.workspace_id,
            connector,
            "contact_merge",
            format!("merge:{connector}:{}:1", app.sb().portal_id()),
            json!({"primaryObjectId": survivor, "mergedObjectIds": [id]}),
            keva_core::Trigger::Webhook,
        ))
        .await
        .unwrap();
    app.settle().await;
    assert_eq!(app.contact_id(&customer).await, survivor);
    assert_eq!(app.contact_count(), 1);
}

async fn invalid_email_never_reaches_hubspot(app: TestApp) {
    let connector = app.connector().await;
    // Only possible for data that predates validation; the API refuses such emails.
    let c = app.stored_customer("bob at example").await;
    app.reset_stats();
    let (s, o) = app.sync_now(&c.id.to_string(), connector).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "failed");
    assert!(
        o["reason"].as_str().unwrap().contains("invalid email"),
        "{o}"
    );
    let crm = app.crm(&c.id.to_string()).await;
    assert_eq!(crm["status"], "failed");
    assert!(
        crm["reason"].as_str().unwrap().contains("bob at example"),
        "{crm}"
    );
    let calls = app.sb().control().stats.snapshot();
    assert!(
        calls
            .requests
            .keys()
            .all(|k| !k.contains("/crm/v3/objects/contacts")),
        "no contact call: {calls:?}"
    );
    // The failure is listed in the history filter.
    let (s, h) = call(app.get(&format!(
        "/api/crm/hubspot/history?connectorId={connector}&status=failed"
    )))
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["data"].as_array().unwrap().len(), 1, "{h}");
}

async fn test_mapping_previews_and_writes_nothing(app: TestApp) {
    let connector = app.connector().await;
    let c = app
        .store
        .insert_customer(
            app.workspace_id,
            keva_store::NewCustomer {
                email: "preview@example.com".into(),
                name: Some("Ada King Lovelace".into()),
                company: Some("Analytical".into()),
                ..keva_store::NewCustomer::with_email("preview@example.com")
            },
        )
        .await
        .unwrap();
    let jobs_before = app
        .store
        .list_jobs(app.workspace_id, None, 1000)
        .await
        .unwrap()
        .len();
    let history_before = app
        .store
        .history(app.workspace_id, connector, None, None, 1000)
        .await
        .unwrap()
        .len();
    let customer_before = app
        .store
        .get_customer(app.workspace_id, c.id)
        .await
        .unwrap();
    app.reset_stats();
    let (s, p) = call(app.post(
        "/api/crm/hubspot/test-mapping",
        json!({"connectorId": connector, "customerId": c.id, "dryRun": true}),
    ))
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["preview"]["email"], "preview@example.com");
    assert_eq!(p["preview"]["firstname"], "Ada King");
    assert_eq!(p["preview"]["lastname"], "Lovelace");
    assert_eq!(p["preview"]["company"], "Analytical");
    assert_eq!(p["warnings"], json!([]));
    assert_eq!(p["errors"], json!([]));
    // Nothing written anywhere.
    assert_eq!(
        app.sb().control().stats.snapshot().total,
        0,
        "no HubSpot call at all"
    );
    assert_eq!(
        app.store
            .list_jobs(app.workspace_id, None, 1000)
            .await
            .unwrap()
            .len(),
        jobs_before
    );
    assert_eq!(
        app.store
            .history(app.workspace_id, connector, None, None, 1000)
            .await
            .unwrap()
            .len(),
        history_before
    );
    assert!(app.store.get_link(connector, c.id).await.unwrap().is_none());
    assert_eq!(
        app.store
            .get_customer(app.workspace_id, c.id)
            .await
            .unwrap(),
        customer_before
    );
    assert_eq!(app.contact_count(), 0);

    let (s, _) = call(app.post(
        "/api/crm/hubspot/test-mapping",
        json!({"connectorId": connector, "customerId": uuid::Uuid::now_v7(), "dryRun": true}),
    ))
    .await;
    assert_eq!(s, 404);
}

async fn sync_now_returns_the_outcome_or_202_while_rate_limited(app: TestApp) {
    let connector = app.connector().await;
    let c = app
        .store
        .insert_customer(
            app.workspace_id,
            keva_store::NewCustomer {
                job_title: Some("CEO".into()),
                ..keva_store::NewCustomer::with_email("now@example.com")
            },
        )
        .await
        .unwrap();
    let (s, o) = app.sync_now(&c.id.to_string(), connector).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "synced");
    assert_eq!(o["direction"], "to_crm");
    assert_eq!(o["created"], true);
    let id = o["contactId"].as_str().unwrap();
    assert!(
        o["fieldsChanged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["property"] == "jobtitle"),
        "{o}"
    );
    assert_eq!(app.contact(id).await["jobtitle"], "CEO");

    app.faults(json!({"rate429": 1.0})).await;
    app.edit_contact(id, json!({"jobtitle": "Chair"})).await;
    let (s, o) = app.sync_now(&c.id.to_string(), connector).await;
    assert_eq!(s, 202, "{o}");
    assert_eq!(o["job"]["state"], "queued");
    assert!(
        o["job"]["lastError"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{o}"
    );
    assert!(o["job"]["runAt"].is_string());
    app.faults(json!({})).await;
    app.settle().await;
    assert_eq!(app.customer(&c.id.to_string()).await["jobTitle"], "Chair");

    // Other workspaces' ids are 404.
    let other = app.key_for("globex").await;
    let r = app
        .http
        .post(format!("{}/api/crm/hubspot/sync", app.url))
        .bearer_auth(&other)
        .json(&json!({"customerId": c.id, "connectorId": connector}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .get_as(&other, &format!("/api/customers/{}/crm", c.id))
        .await;
    assert_eq!(r.status(), 404);
}

async fn openapi_lists_the_crm_routes(app: TestApp) {
    let (s, doc) = app.public_get("/api/openapi.json").await;
    assert_eq!(s, 200);
    for path in [
        "/api/crm/hubspot/connectors",
        "/api/crm/hubspot/connectors/{id}",
        "/api/crm/hubspot/mappings",
        "/api/crm/hubspot/describe",
        "/api/crm/hubspot/sync",
        "/api/crm/hubspot/test-mapping",
        "/api/crm/hubspot/history",
        "/api/customers/{id}/crm",
        "/api/customers/{id}/crm/context",
        "/api/crm/hubspot/context/settings",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

async fn history_pages_and_the_connector_shows_its_last_sync(app: TestApp) {
    let connector = app.connector().await;
    for i in 0..3 {
        app.synced_customer(json!({"email": format!("h{i}@example.com")}))
            .await;
    }
    let page = |q: String| {
        let req = app.get(&format!(
            "/api/crm/hubspot/history?connectorId={connector}{q}"
        ));
        async move { call(req).await }
    };
    let (s, first) = page("&limit=2".into()).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().expect("a next page");
    let (_, second) = page(format!("&limit=2&before={cursor}")).await;
    let rest = second["data"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(second["nextCursor"].is_null());
    let mut emails = std::collections::BTreeSet::new();
    for h in first["data"].as_array().unwrap().iter().chain(rest) {
        assert_eq!(h["result"], "synced");
        assert_eq!(h["direction"], "to_crm");
        emails.insert(h["customerId"].as_str().unwrap().to_string());
    }
    assert_eq!(emails.len(), 3, "three different customers");
    let (_, none) = page("&status=failed".into()).await;
    assert_eq!(none["data"], json!([]));
    let (s, _) = page("&status=exploded".into()).await;
    assert_eq!(s, 422);

    let (_, c) = call(app.get(&format!("/api/crm/hubspot/connectors/{connector}"))).await;
    assert!(c["lastSyncAt"].is_string(), "{c}");
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    history_pages_and_the_connector_shows_its_last_sync,
    ticket_from_unknown_email_creates_the_contact,
    existing_contact_is_linked_not_duplicated,
    conflict_409_links_to_the_existing_contact_with_a_warning,
    names_split_join_and_round_trip_stably,
    changes_flow_each_way_as_directions_allow,
    newest_wins_by_timestamps,
    newest_wins_hubspot_newer,
    keva_wins_policy,
    hubspot_wins_policy,
    one_edit_one_write_and_the_echo_changes_nothing,
    email_change_moves_the_link,
    deletion_unlinks_restore_and_merge_relink,
    invalid_email_never_reaches_hubspot,
    test_mapping_previews_and_writes_nothing,
    sync_now_returns_the_outcome_or_202_while_rate_limited,
    openapi_lists_the_crm_routes,
);
