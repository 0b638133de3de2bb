//! Custom attributes as mapping targets, against the sandbox over HTTP on both
//! backends: a `number`, a `date` and an `enum` attribute reach HubSpot in its
//! formats and come back typed after a HubSpot-side edit, without ping-pong; a
//! batch sync carries them; a mapping between incompatible types is refused; a
//! mapping naming attributes the workspace does not define is refused without
//! interning their keys.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{call, eventually, TestApp};

const PATCH_CONTACT: &str = "PATCH /crm/v3/objects/contacts/{contactId}";

/// HubSpot properties and Keva attributes of three types, and mappings between
/// them next to the default ones.
async fn typed_attributes(app: &TestApp) {
    for body in [
        json!({"name": "mrr", "label": "MRR", "type": "number", "fieldType": "number"}),
        json!({"name": "signup_date", "label": "Signup date", "type": "date", "fieldType": "date"}),
        json!({"name": "plan_tier", "label": "Plan", "type": "enumeration", "fieldType": "select",
            "options": [{"label": "Free", "value": "free"}, {"label": "Pro", "value": "pro"},
                {"label": "Team", "value": "team"}]}),
        json!({"name": "is_vip", "label": "VIP", "type": "bool", "fieldType": "booleancheckbox",
            "options": [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]}),
    ] {
        let mut body = body;
        body["groupName"] = json!("contactinformation");
        app.sandbox_ok(Method::POST, "/crm/v3/properties/contacts", Some(body), 201)
            .await;
    }
    for body in [
        json!({"key": "mrr", "label": "MRR", "type": "number"}),
        json!({"key": "signupDate", "label": "Signup date", "type": "date"}),
        json!({"key": "plan", "label": "Plan", "type": "enum", "options": ["free", "pro", "team"]}),
    ] {
        app.expect(app.post("/api/customer-attributes", body), 201, "attribute")
            .await;
    }
    let mut mappings = current_mappings(app).await;
    for (field, prop) in [
        ("attributes.mrr", "mrr"),
        ("attributes.signupDate", "signup_date"),
        ("attributes.plan", "plan_tier"),
    ] {
        mappings.push(json!({"kevaField": field, "hubspotProperties": [prop],
            "direction": "bidirectional"}));
    }
    let saved = app
        .expect(
            app.put("/api/crm/hubspot/mappings", json!({"mappings": mappings})),
            200,
            "save attribute mappings",
        )
        .await;
    assert!(
        saved["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kevaField"] == "attributes.signupDate"),
        "{saved}"
    );
}

async fn current_mappings(app: &TestApp) -> Vec<Value> {
    app.expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await["mappings"]
        .as_array()
        .unwrap()
        .clone()
}

async fn history_len(app: &TestApp, customer: &str) -> usize {
    app.crm(customer).await["history"].as_array().unwrap().len()
}

async fn attributes_round_trip_in_hubspot_formats(app: TestApp) {
    typed_attributes(&app).await;
    let connector = app.connector_id();
    let customer = app
        .synced_customer(json!({"email": "ada@example.com", "name": "Ada Lovelace",
            "attributes": {"mrr": 1250.5, "signupDate": "2026-01-05", "plan": "pro"}}))
        .await;
    let contact = app.contact_id(&customer).await;
    let raw = app.contact(&contact).await;
    assert_eq!(raw["mrr"], "1250.5", "{raw}");
    // Sent as epoch ms at midnight UTC (the sandbox, like HubSpot, refuses any
    // other instant for a date property) and rendered back as an instant.
    assert_eq!(raw["signup_date"], "2026-01-05T00:00:00.000Z", "{raw}");
    assert_eq!(raw["plan_tier"], "pro", "{raw}");

    // HubSpot's webhook echo of our own write changes nothing on either side.
    app.reset_stats();
    let rows = history_len(&app, &customer).await;
    app.inbound(connector, &contact).await;
    assert_eq!(app.calls(PATCH_CONTACT), 0, "the echo is not written back");
    assert_eq!(
        history_len(&app, &customer).await,
        rows,
        "nothing to record"
    );

    // A HubSpot user edits the three properties (the date as a calendar date).
    app.edit_contact(
        &contact,
        json!({"mrr": "2000.0", "signup_date": "2026-02-01", "plan_tier": "team"}),
    )
    .await;
    app.reset_stats();
    app.inbound(connector, &contact).await;
    let c = app.customer(&customer).await;
    assert_eq!(
        c["attributes"],
        json!({"mrr": 2000, "signupDate": "2026-02-01", "plan": "team"}),
        "{c}"
    );
    assert_eq!(
        app.calls(PATCH_CONTACT),
        0,
        "HubSpot's edit is not pushed back"
    );
    let history = app.last_history(&customer).await.to_string();
    assert!(
        history.contains("attributes.mrr") && history.contains("1250.5"),
        "old → new in history: {history}"
    );

    // Settled: another echo and a Sync Now find nothing to write.
    let rows = history_len(&app, &customer).await;
    app.inbound(connector, &contact).await;
    assert_eq!(history_len(&app, &customer).await, rows);
    let (s, body) = app.sync_now(&customer, connector).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["direction"], "none", "{body}");
    assert_eq!(app.calls(PATCH_CONTACT), 0);

    // A Keva edit of one attribute is one write of that property, in HubSpot's format.
    app.edit_customer(
        &customer,
        json!({"attributes": {"signupDate": "2026-03-15"}}),
    )
    .await;
    app.settle().await;
    let raw = app.contact(&contact).await;
    assert_eq!(raw["signup_date"], "2026-03-15T00:00:00.000Z", "{raw}");
    assert_eq!(raw["plan_tier"], "team");
    assert_eq!(app.calls(PATCH_CONTACT), 1);

    // Mapped attributes are not offered again by auto-map.
    let v = app.automap_contacts(connector).await;
    let keys: Vec<&str> = v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    for key in ["mrr", "signupDate", "plan"] {
        assert!(!keys.contains(&key), "{key} is mapped: {keys:?}");
    }
}

async fn a_value_hubspot_holds_that_does_not_fit_is_not_taken(app: TestApp) {
    typed_attributes(&app).await;
    let connector = app.connector_id();
    let customer = app
        .synced_customer(json!({"email": "bob@example.com", "attributes": {"mrr": 10}}))
        .await;
    let contact = app.contact_id(&customer).await;
    // Another integration adds an option Keva's `plan` does not define.
    app.sandbox_ok(
        Method::PATCH,
        "/crm/v3/properties/contacts/plan_tier",
        Some(json!({"options": [{"label": "Free", "value": "free"},
            {"label": "Gold", "value": "gold"}]})),
        200,
    )
    .await;
    app.edit_contact(&contact, json!({"plan_tier": "gold", "mrr": "11"}))
        .await;
    app.inbound(connector, &contact).await;
    let c = app.customer(&customer).await;
    assert_eq!(c["attributes"], json!({"mrr": 11}), "{c}");
    let crm = app.crm(&customer).await;
    assert!(
        crm.to_string().contains("invalid_value"),
        "the reason is shown: {crm}"
    );
}

async fn incompatible_attribute_mappings_are_refused(app: TestApp) {
    typed_attributes(&app).await;
    let before = current_mappings(&app).await;
    for (field, prop, words) in [
        ("attributes.signupDate", "is_vip", ["date", "bool"]),
        ("attributes.mrr", "plan_tier", ["number", "enumeration"]),
        (
            "attributes.nope",
            "mrr",
            ["attributes.nope", "no such attribute"],
        ),
    ] {
        let mut mappings: Vec<Value> = before
            .iter()
            .filter(|m| m["kevaField"] != field)
            .cloned()
            .collect();
        mappings.push(json!({"kevaField": field, "hubspotProperties": [prop]}));
        let (s, body) =
            call(app.put("/api/crm/hubspot/mappings", json!({ "mappings": mappings }))).await;
        assert_eq!(s, 422, "{field} → {prop}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        for w in words {
            assert!(message.contains(w), "{w} in {message}");
        }
        assert_eq!(current_mappings(&app).await, before, "nothing saved");
    }
}

/// Made-up attribute keys in a mappings save: a 422 naming them, nothing saved,
/// and none of them interned (which would leak memory and, at the cap, stop
/// every workspace's new keys from parsing); a defined attribute still maps.
async fn undefined_attribute_keys_are_refused_without_interning(app: TestApp) {
    app.sandbox_ok(
        Method::POST,
        "/crm/v3/properties/contacts",
        Some(
            json!({"name": "seat_count", "label": "Seats", "type": "number",
            "fieldType": "number", "groupName": "contactinformation"}),
        ),
        201,
    )
    .await;
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "seats", "label": "Seats", "type": "number"}),
        ),
        201,
        "attribute",
    )
    .await;
    let before = current_mappings(&app).await;
    // Unique to this test, so no other test can have interned them.
    let made_up: Vec<String> = (0..50)
        .map(|i| format!("attributes.floodedKey{i}"))
        .collect();
    let mut flood = before.clone();
    for field in &made_up {
        flood.push(json!({"kevaField": field, "hubspotProperties": ["seat_count"]}));
    }
    let (s, body) = call(app.put("/api/crm/hubspot/mappings", json!({ "mappings": flood }))).await;
    assert_eq!(s, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for field in &made_up {
        assert!(
            message.contains(&format!("{field}:")),
            "{field} in {message}"
        );
    }
    assert!(message.contains("no such attribute"), "{message}");
    for field in &made_up {
        assert!(!keva_core::is_interned(field), "{field} was interned");
    }
    assert_eq!(current_mappings(&app).await, before, "nothing saved");

    let mut mappings = before.clone();
    mappings.push(json!({"kevaField": "attributes.seats", "hubspotProperties": ["seat_count"]}));
    let saved = app
        .expect(
            app.put("/api/crm/hubspot/mappings", json!({ "mappings": mappings })),
            200,
            "save a defined attribute",
        )
        .await;
    assert!(
        saved["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kevaField"] == "attributes.seats"
                && m["hubspotProperties"] == json!(["seat_count"])),
        "{saved}"
    );
}

async fn missing_properties_are_created_when_asked(app: TestApp) {
    for body in [
        json!({"key": "renewalDate", "label": "Renewal date", "type": "date"}),
        json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver"]}),
    ] {
        app.expect(app.post("/api/customer-attributes", body), 201, "attribute")
            .await;
    }
    let mut mappings = current_mappings(&app).await;
    mappings.push(json!({"kevaField": "attributes.renewalDate",
        "hubspotProperties": ["renewal_date"]}));
    mappings.push(json!({"kevaField": "attributes.tier", "hubspotProperties": ["keva_tier"]}));
    let absent = |name: &str| format!("/crm/v3/properties/contacts/{name}");

    // Not asked: refused as before.
    let (s, body) =
        call(app.put("/api/crm/hubspot/mappings", json!({ "mappings": mappings }))).await;
    assert_eq!(s, 422, "{body}");
    assert!(body
        .to_string()
        .contains("Property doesn't exist: 'renewal_date'"));
    // Asked, but another mapping is wrong: nothing is created or saved.
    let mut wrong = mappings.clone();
    wrong.push(json!({"kevaField": "attributes.nope", "hubspotProperties": ["nope_prop"]}));
    let (s, body) = call(app.put(
        "/api/crm/hubspot/mappings",
        json!({ "mappings": wrong, "createMissingProperties": true }),
    ))
    .await;
    assert_eq!(s, 422, "{body}");
    for name in ["renewal_date", "keva_tier", "nope_prop"] {
        assert_eq!(app.sandbox(Method::GET, &absent(name), None).await.0, 404);
    }

    let saved = app
        .expect(
            app.put(
                "/api/crm/hubspot/mappings",
                json!({ "mappings": mappings, "createMissingProperties": true }),
            ),
            200,
            "save creating properties",
        )
        .await;
    assert_eq!(
        saved["createdProperties"],
        json!(["keva_tier", "renewal_date"])
    );
    let date = app
        .sandbox_ok(Method::GET, &absent("renewal_date"), None, 200)
        .await;
    assert_eq!(
        (
            &date["type"],
            &date["fieldType"],
            &date["groupName"],
            &date["label"]
        ),
        (
            &json!("date"),
            &json!("date"),
            &json!("keva"),
            &json!("Renewal date")
        ),
        "{date}"
    );
    let tier = app
        .sandbox_ok(Method::GET, &absent("keva_tier"), None, 200)
        .await;
    assert_eq!(tier["type"], "enumeration", "{tier}");
    let options: Vec<&str> = tier["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["gold", "silver"]);
    let groups = app
        .sandbox_ok(Method::GET, "/crm/v3/properties/contacts/groups", None, 200)
        .await;
    assert!(
        groups["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "keva" && g["label"] == "Keva"),
        "{groups}"
    );

    // The new properties sync at once; saving again creates nothing.
    let customer = app
        .synced_customer(json!({"email": "cy@example.com",
            "attributes": {"renewalDate": "2026-06-30", "tier": "gold"}}))
        .await;
    let raw = app.contact(&app.contact_id(&customer).await).await;
    assert_eq!(raw["renewal_date"], "2026-06-30T00:00:00.000Z", "{raw}");
    assert_eq!(raw["keva_tier"], "gold");
    let again = app
        .expect(
            app.put(
                "/api/crm/hubspot/mappings",
                json!({ "mappings": mappings, "createMissingProperties": true }),
            ),
            200,
            "save again",
        )
        .await;
    assert!(again.get("createdProperties").is_none(), "{again}");
}

async fn stored(app: &TestApp, email: &str) -> keva_store::Customer {
    let c = app.store.customer_by_email(app.workspace_id, email).await;
    c.unwrap().unwrap()
}

async fn a_batch_sync_carries_attributes(env: TestApp) {
    typed_attributes(&env).await;
    for i in 0..3 {
        env.create_customer(json!({"email": format!("b{i}@example.com"),
            "attributes": {"mrr": i * 100, "signupDate": format!("2026-01-0{}", i + 1),
                "plan": "free"}}))
            .await;
    }
    env.settle().await;
    let contacts = env.contacts_by_email().await;
    let id = |e: &str| contacts[e]["id"].as_str().unwrap().to_string();
    // Changes the live sync has not heard of: a HubSpot-side edit (no webhook
    // here) and a Keva-side one written straight to the store (no job).
    env.edit_contact(&id("b1@example.com"), json!({"plan_tier": "team"}))
        .await;
    let b2 = stored(&env, "b2@example.com").await;
    let mut patch = keva_core::CustomerPatch::default();
    patch.attributes.insert("mrr".into(), Some(json!(250)));
    env.store
        .update_customer(env.workspace_id, b2.id, &patch)
        .await
        .unwrap();

    let (s, b) = call(env.post(
        "/api/crm/hubspot/batch-sync",
        json!({"connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 202, "{b}");
    let run = b["batch"]["id"].as_str().unwrap().parse().unwrap();
    let p = env.wait_state(run, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["failed"], 0, "{p}");
    assert_eq!(p["updatedFromCrm"], 1, "{p}");
    assert_eq!(p["updatedToCrm"], 1, "{p}");
    assert_eq!(p["unchanged"], 1, "{p}");
    let b1 = stored(&env, "b1@example.com").await;
    assert_eq!(b1.attributes["plan"], json!("team"));
    assert_eq!(b1.attributes["mrr"], json!(100));
    let raw = env.contact(&id("b2@example.com")).await;
    assert_eq!(raw["mrr"], "250", "{raw}");
    assert_eq!(raw["signup_date"], "2026-01-03T00:00:00.000Z", "{raw}");
    eventually(10, "no job left behind", || async {
        (env.busy_jobs().await == 0).then_some(())
    })
    .await;
}

keva_store::backend_tests!(with = crate::harness::connected;
    attributes_round_trip_in_hubspot_formats,
    a_value_hubspot_holds_that_does_not_fit_is_not_taken,
    incompatible_attribute_mappings_are_refused,
    undefined_attribute_keys_are_refused_without_interning,
    missing_properties_are_created_when_asked
);

mod batch {
    use super::a_batch_sync_carries_attributes;
    keva_store::backend_tests!(with = crate::batch_support::batch_env;
        a_batch_sync_carries_attributes
    );
}
