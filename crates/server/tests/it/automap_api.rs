//! `POST /api/crm/hubspot/automap` against the sandbox portal: suggestions for the
//! Keva fields not yet mapped, with reasons; look-alike custom properties do not
//! win; another workspace's connector is 404; a bad object is 422.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{error_code, parts, TestApp};

async fn sandbox_app(backend: keva_store::Backend) -> TestApp {
    TestApp::builder(backend)
        .sandbox(true)
        .connected()
        .build()
        .await
}

fn suggestion<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
}

async fn automap_suggests_unmapped_fields_with_reasons(app: TestApp) {
    let connector = app.connector_id();
    // Look-alikes and a custom revenue property in the portal.
    for (name, label, kind, field_type) in [
        ("mrr__c", "Monthly Recurring Revenue", "number", "number"),
        ("total_revenue", "Total Revenue", "number", "number"),
        (
            "phone_backup_2019",
            "Phone (backup 2019)",
            "string",
            "phonenumber",
        ),
        ("old_email", "Old Email", "string", "text"),
    ] {
        app.sandbox_ok(
            Method::POST,
            "/crm/v3/properties/contacts",
            Some(json!({"name": name, "label": label, "type": kind,
                "fieldType": field_type, "groupName": "contactinformation"})),
            201,
        )
        .await;
    }
    // A custom attribute the portal has a custom property for, and one a look-alike
    // revenue property must not take.
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "mrr", "label": "MRR", "type": "number"}),
        ),
        201,
        "create mrr",
    )
    .await;
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "favouriteColour", "label": "Favourite colour", "type": "enum",
                "options": ["red", "green"]}),
        ),
        201,
        "create favouriteColour",
    )
    .await;
    // Only email is mapped: the other six built-ins get suggestions.
    app.expect(
        app.put(
            &format!("/api/crm/hubspot/mappings?connectorId={connector}&object=Contact"),
            json!({"mappings": [{"kevaField": "email", "hubspotProperties": ["email"],
                "direction": "bidirectional"}]}),
        ),
        200,
        "save mappings",
    )
    .await;

    let v = app.automap_contacts(connector).await;
    assert_eq!(v["object"], "contacts");
    assert_eq!(v["connectorId"], connector.to_string());
    assert!(suggestion(&v, "email").is_none(), "email is mapped: {v}");
    let all = v["suggestions"].as_array().unwrap();
    assert_eq!(all.len(), 8, "six built-ins and two attributes: {v}");

    let mrr = suggestion(&v, "mrr").unwrap();
    assert_eq!(mrr["property"], "mrr__c", "{mrr}");
    assert_eq!(mrr["label"], "Monthly Recurring Revenue");
    let reason = mrr["reason"].as_str().unwrap();
    assert!(reason.contains("number"), "{reason}");
    assert!(mrr["confidence"].as_f64().unwrap() >= 0.5, "{mrr}");
    let colour = suggestion(&v, "favouriteColour").unwrap();
    assert!(colour["property"].is_null(), "no match: {colour}");
    assert_eq!(colour["confidence"], 0.0);

    let phone = suggestion(&v, "phone").unwrap();
    assert_eq!(phone["property"], "phone", "{phone}");
    assert_eq!(phone["label"], "Phone Number");
    assert!(!phone["reason"].as_str().unwrap().is_empty(), "{phone}");
    assert!(phone["confidence"].as_f64().unwrap() >= 0.8, "{phone}");

    let mut used = std::collections::BTreeSet::new();
    for s in all {
        let c = s["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{s}");
        assert!(s["reason"].is_string(), "{s}");
        assert!(s["direction"].is_string(), "{s}");
        assert!(s["alternatives"].as_array().unwrap().len() <= 2, "{s}");
        if let Some(p) = s["property"].as_str() {
            assert!(used.insert(p.to_string()), "{p} suggested twice: {v}");
            // The mapped property and migration copies are not offered.
            assert_ne!(p, "email", "{v}");
            assert_ne!(p, "old_email", "{v}");
            assert_ne!(p, "phone_backup_2019", "{v}");
        }
    }

    // Companies: nothing saved, so all seven built-ins are answered.
    let v = app
        .expect(
            app.post(
                "/api/crm/hubspot/automap",
                json!({"connectorId": connector, "object": "companies"}),
            ),
            200,
            "automap companies",
        )
        .await;
    assert_eq!(
        v["suggestions"].as_array().unwrap().len(),
        9,
        "seven built-ins and two attributes: {v}"
    );
}

async fn automap_run(app: &TestApp) -> Value {
    app.expect(
        app.post(
            "/api/crm/hubspot/automap",
            json!({"connectorId": app.connector_id(), "object": "contacts"}),
        ),
        200,
        "automap",
    )
    .await
}

fn confidence(v: &Value, key: &str) -> f64 {
    suggestion(v, key).unwrap()["confidence"].as_f64().unwrap()
}

async fn automap_weighs_the_values_of_linked_records(app: TestApp) {
    let connector = app.connector_id();
    app.expect(
        app.put(
            &format!("/api/crm/hubspot/mappings?connectorId={connector}&object=Contact"),
            json!({"mappings": [{"kevaField": "email", "hubspotProperties": ["email"]}]}),
        ),
        200,
        "only email mapped",
    )
    .await;
    let before = automap_run(&app).await;
    assert_eq!(before["hubspotCalls"], 1, "nothing linked, nothing sampled");
    assert_eq!(before["sampledRecords"], 0);

    // Linked customers whose phones HubSpot holds too, but whose job titles differ.
    for i in 0..4 {
        let customer = app
            .synced_customer(json!({"email": format!("s{i}@example.com"),
                "phone": format!("+1 202 456 11{i}0"), "jobTitle": "Engineer"}))
            .await;
        let contact = app.contact_id(&customer).await;
        app.edit_contact(
            &contact,
            json!({"phone": format!("+1 202 456 11{i}0"), "jobtitle": "Pilot"}),
        )
        .await;
    }
    app.reset_stats();
    let after = automap_run(&app).await;
    assert_eq!(after["hubspotCalls"], 2, "{after}");
    assert_eq!(after["sampledRecords"], 4, "{after}");
    assert_eq!(
        app.calls("POST /crm/v3/objects/contacts/batch/read"),
        1,
        "one batch read within the budget"
    );
    let phone = suggestion(&after, "phone").unwrap();
    assert_eq!(phone["property"], "phone", "{phone}");
    assert!(
        phone["reason"]
            .as_str()
            .unwrap()
            .contains("100% of sampled values agree"),
        "{phone}"
    );
    assert!(confidence(&after, "phone") >= confidence(&before, "phone"));
    assert!(
        confidence(&after, "jobTitle") < confidence(&before, "jobTitle"),
        "disagreeing values lower the confidence: {before} / {after}"
    );
}

async fn automap_refuses_other_workspaces_and_bad_objects(app: TestApp) {
    let connector = app.connector_id();
    let (s, body) = parts(
        app.post(
            "/api/crm/hubspot/automap",
            json!({"connectorId": connector, "object": "deals"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("object"));

    let other = app.key_for("automap-other").await;
    let (s, body) = parts(
        app.http
            .post(format!("{}/api/crm/hubspot/automap", app.url))
            .bearer_auth(&other)
            .json(&json!({"connectorId": connector, "object": "contacts"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404, "{body}");
    assert_eq!(error_code(&body), "not_found");

    let (s, body) = parts(
        app.post(
            "/api/crm/hubspot/automap",
            json!({"connectorId": uuid::Uuid::new_v4(), "object": "contacts"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 404, "{body}");

    let spec = app
        .expect(app.get("/api/openapi.json"), 200, "openapi")
        .await;
    let op = &spec["paths"]["/api/crm/hubspot/automap"]["post"];
    for status in ["200", "404", "422"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
}

keva_store::backend_tests!(with = super::sandbox_app;
    automap_suggests_unmapped_fields_with_reasons,
    automap_weighs_the_values_of_linked_records,
    automap_refuses_other_workspaces_and_bad_objects
);
