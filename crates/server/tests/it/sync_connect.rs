//! Connecting a portal, connector settings, mapping validation and describe, against
//! a real in-process sandbox over HTTP.

use serde_json::json;

use crate::harness::{call, error_code, parts, TestApp};

async fn connect_records_portal_and_creates_notes(app: TestApp) {
    // The sandbox, like HubSpot, has no contact property `notes`.
    let (s, _) = app
        .sandbox(
            reqwest::Method::GET,
            "/crm/v3/properties/contacts/notes",
            None,
        )
        .await;
    assert_ne!(s, 200);
    let c = app.connect().await;
    assert_eq!(c["portalId"], app.sb().portal_id());
    assert_eq!(c["status"], "connected");
    assert_eq!(c["createdProperties"], json!(["notes"]));
    assert_eq!(c["mappingIssues"], json!([]));
    assert_eq!(c["settings"]["conflictPolicy"], "newest_wins");

    // The property now exists in the portal as a textarea.
    let r = app
        .http
        .get(format!(
            "{}/crm/v3/properties/contacts/notes",
            app.sb().url()
        ))
        .bearer_auth(app.sb().access_token())
        .send()
        .await
        .unwrap();
    let (s, p) = parts(r).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["fieldType"], "textarea");

    // Listed, shown, and the token is stored sealed (never in the API's answers).
    let id = c["id"].as_str().unwrap();
    let (s, list) = call(app.get("/api/crm/hubspot/connectors")).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(app.sb().access_token()));
    let (s, one) = call(app.get(&format!("/api/crm/hubspot/connectors/{id}"))).await;
    assert_eq!(s, 200);
    assert_eq!(one["portalId"], app.sb().portal_id());

    // Connecting the same portal again is a conflict.
    let (s, e) = call(app.post(
        "/api/crm/hubspot/connectors",
        json!({"accessToken": app.sb().access_token()}),
    ))
    .await;
    assert_eq!(s, 409, "{e}");

    // Another workspace cannot see it.
    let other = app.key_for("globex").await;
    let r = app
        .get_as(&other, &format!("/api/crm/hubspot/connectors/{id}"))
        .await;
    assert_eq!(r.status(), 404);
}

async fn rejected_token_is_422(app: TestApp) {
    // Unknown to HubSpot, or with characters no header can carry (once a 503).
    for token in [
        "pat-na1-not-a-token",
        "pat-na1-\u{7}bell",
        "pat-na1-caf\u{e9}",
        "pat na1",
    ] {
        let (s, e) = call(app.post(
            "/api/crm/hubspot/connectors",
            json!({ "accessToken": token }),
        ))
        .await;
        assert_eq!(s, 422, "{token:?}: {e}");
        assert_eq!(error_code(&e), "validation_failed");
        assert_eq!(e["error"]["message"], "HubSpot rejected the token");
    }
    assert_eq!(app.connector_count().await, 0, "nothing connected");
}

async fn settings_can_be_changed(app: TestApp) {
    let id = app.connector().await;
    let path = format!("/api/crm/hubspot/connectors/{id}");
    let (s, c) = call(app.patch(&path, json!({"conflictPolicy": "keva_wins", "importContacts": true, "batchSchedule": "0 3 * * *"})))
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["settings"]["conflictPolicy"], "keva_wins");
    assert_eq!(c["settings"]["importContacts"], true);
    assert_eq!(c["settings"]["batchSchedule"], "0 3 * * *");
    let (s, c) = call(app.patch(&path, json!({"batchSchedule": null}))).await;
    assert_eq!(s, 200);
    assert_eq!(c["settings"]["batchSchedule"], serde_json::Value::Null);
    assert_eq!(
        c["settings"]["conflictPolicy"], "keva_wins",
        "absent fields stay"
    );
    let (s, e) = call(app.patch(&path, json!({"conflictPolicy": "loudest_wins"}))).await;
    assert_eq!(s, 422, "{e}");
    // A cron expression the scheduler cannot parse is refused with the reason.
    let (s, e) = call(app.patch(&path, json!({"batchSchedule": "61 * * * *"}))).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(error_code(&e), "validation_failed");
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("invalid batch schedule \"61 * * * *\""),
        "{message}"
    );
    let got = app
        .store
        .get_connector(app.workspace_id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.batch_schedule, None, "a refused schedule is not saved");
}

async fn mappings_are_validated_against_the_portal(app: TestApp) {
    let id = app.connector().await;
    let path = format!("/api/crm/hubspot/mappings?connectorId={id}&object=Contact");
    let (s, m) = call(app.get(&path)).await;
    assert_eq!(s, 200, "{m}");
    let before = m["mappings"].clone();
    assert_eq!(before.as_array().unwrap().len(), 7);

    // A label typed instead of the internal name: rejected with the suggestion.
    let mut bad = before.clone();
    for mapping in bad.as_array_mut().unwrap() {
        if mapping["kevaField"] == "jobTitle" {
            mapping["hubspotProperties"] = json!(["Job Title"]);
        }
    }
    let (s, e) = call(app.put(&path, json!({"mappings": bad}))).await;
    assert_eq!(s, 422, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Property doesn't exist"), "{msg}");
    assert!(msg.contains("use jobtitle, not Job Title"), "{msg}");
    // Nothing saved.
    let (_, m) = call(app.get(&path)).await;
    assert_eq!(m["mappings"], before);

    // Oversized saves are refused before any work: too many mappings, or a
    // property name no portal has (each unknown name costs a similarity search).
    let many: Vec<serde_json::Value> = (0..201).map(|_| before[0].clone()).collect();
    let (s, e) = call(app.put(&path, json!({ "mappings": many }))).await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many mappings"),
        "{e}"
    );
    let mut long = before.clone();
    long[0]["hubspotProperties"] = json!(["p".repeat(5000)]);
    let (s, e) = call(app.put(&path, json!({ "mappings": long }))).await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than 100"),
        "{e}"
    );
    let (_, m) = call(app.get(&path)).await;
    assert_eq!(m["mappings"], before);

    // A valid change is saved: location to CRM only → bidirectional, jobtitle dropped.
    let good: Vec<serde_json::Value> = before
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kevaField"] != "jobTitle")
        .cloned()
        .collect();
    let (s, m) = call(app.put(&path, json!({"mappings": good}))).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["mappings"].as_array().unwrap().len(), 6);
    let (_, m) = call(app.get(&path)).await;
    assert_eq!(m["mappings"].as_array().unwrap().len(), 6);

    // Unknown connector → 404.
    let (s, _) = call(app.get(&format!(
        "/api/crm/hubspot/mappings?connectorId={}",
        uuid::Uuid::now_v7()
    )))
    .await;
    assert_eq!(s, 404);
}

async fn describe_is_cached_until_refresh(app: TestApp) {
    app.connector().await;
    let (s, d) = call(app.get("/api/crm/hubspot/describe?object=Contact")).await;
    assert_eq!(s, 200, "{d}");
    let props = d["properties"].as_array().unwrap();
    let jobtitle = props
        .iter()
        .find(|p| p["name"] == "jobtitle")
        .expect("jobtitle listed");
    assert_eq!(jobtitle["label"], "Job Title");
    assert!(jobtitle["type"].is_string() && jobtitle["fieldType"].is_string());
    assert!(
        props.iter().any(|p| p["name"] == "notes"),
        "the created notes property is cached"
    );

    // A property added in HubSpot shows only after refresh=true.
    let (s, v) = app
        .sandbox(
            reqwest::Method::POST,
            "/crm/v3/properties/contacts",
            Some(
                json!({"name": "favorite_color", "label": "Favorite color", "type": "string",
                "fieldType": "text", "groupName": "contactinformation"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    app.reset_stats();
    let (_, d) = call(app.get("/api/crm/hubspot/describe?object=Contact")).await;
    assert!(!d.to_string().contains("favorite_color"));
    assert_eq!(
        app.calls("GET /crm/v3/properties/{objectType}"),
        0,
        "served from the cache"
    );
    let (_, d) = call(app.get("/api/crm/hubspot/describe?object=Contact&refresh=true")).await;
    assert!(d.to_string().contains("favorite_color"));
    assert_eq!(app.calls("GET /crm/v3/properties/{objectType}"), 1);

    let (s, _) = call(app.get("/api/crm/hubspot/describe?object=Deal")).await;
    assert_eq!(s, 422);
}

async fn missing_property_fails_only_its_mapping(app: TestApp) {
    let connector = app.connector().await;
    // The portal loses `notes` after connecting; the cached list still has it.
    let (s, v) = app
        .sandbox(
            reqwest::Method::DELETE,
            "/crm/v3/properties/contacts/notes",
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let customer = app
        .synced_customer(json!({"email": "notes@example.com", "company": "Acme", "notes": "vip"}))
        .await;
    let crm = app.crm(&customer).await;
    assert_eq!(crm["status"], "synced", "{crm}");
    let p = app.contact(crm["hubspotId"].as_str().unwrap()).await;
    assert_eq!(p["company"], "Acme", "the other fields sync");
    assert!(p.get("notes").is_none_or(|n| n.is_null()), "{p}");
    let warnings = crm["history"][0]["fields"]["warnings"].to_string();
    assert!(
        warnings.contains("property_missing") && warnings.contains("notes"),
        "{warnings}"
    );
    // The standing warning is not news: echoes of the write record nothing more.
    let id = crm["hubspotId"].as_str().unwrap().to_string();
    let rows = crm["history"].as_array().unwrap().len();
    app.reset_stats();
    app.inbound(connector, &id).await;
    app.inbound(connector, &id).await;
    assert_eq!(
        app.crm(&customer).await["history"]
            .as_array()
            .unwrap()
            .len(),
        rows
    );
    assert_eq!(app.calls(crate::harness::UPDATE), 0);
    // The refused property was learnt: describe no longer lists it.
    let (_, d) = call(app.get("/api/crm/hubspot/describe?object=Contact")).await;
    assert!(!d["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "notes"));
}

async fn uncreatable_property_is_marked_missing_with_the_fix(app: TestApp) {
    let connector = app.connector().await;
    let state = keva_server::AppState::new(
        app.store.clone(),
        keva_server::config::Settings::new(keva_server::ServerConfig::new(
            "127.0.0.1:9".parse().unwrap(),
            app.sb().url(),
        )),
    );
    let c = app
        .store
        .get_connector(app.workspace_id, connector)
        .await
        .unwrap()
        .unwrap();
    let client = state.clients.client(&state, &c).await.unwrap();
    // HubSpot refuses this name (not a valid internal name).
    let mut mappings = keva_core::default_contact_mappings();
    for m in &mut mappings {
        if m.keva_field == keva_core::KevaField::Notes {
            m.hubspot_properties = vec!["Keva Notes".into()];
        }
    }
    let (props, issues, created) =
        keva_server::sync::connect::ensure_properties(&state, &c, &client, &mappings)
            .await
            .unwrap();
    assert!(created.is_empty());
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["kind"], "property_missing");
    assert_eq!(issues[0]["kevaField"], "notes");
    assert!(issues[0]["message"]
        .as_str()
        .unwrap()
        .contains("doesn't exist"));
    assert!(issues[0]["fix"]
        .as_str()
        .unwrap()
        .contains("Settings > Properties"));
    assert!(
        props.iter().any(|p| p.name == "jobtitle"),
        "the rest of the list is intact"
    );
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    missing_property_fails_only_its_mapping,
    uncreatable_property_is_marked_missing_with_the_fix,
    connect_records_portal_and_creates_notes,
    rejected_token_is_422,
    settings_can_be_changed,
    mappings_are_validated_against_the_portal,
    describe_is_cached_until_refresh,
);
