//! Custom attribute values in the customer and ticket APIs: typed values stored
//! in canonical form, the 422s naming the attribute with nothing stored, PATCH
//! merging keys with `null` clearing one, retired attributes hidden and
//! unwritable, tickets carrying attributes for their sender, and sync writes
//! (both ways, through the sandbox) leaving attribute values alone.

use serde_json::{json, Value};

use crate::harness::{error_code, parts, TestApp};

async fn define(app: &TestApp, body: Value) {
    app.expect(
        app.post("/api/customer-attributes", body.clone()),
        201,
        &format!("define {body}"),
    )
    .await;
}

async fn define_all(app: &TestApp) {
    for body in [
        json!({"key": "mrr", "label": "MRR", "type": "number"}),
        json!({"key": "signupDate", "label": "Signup date", "type": "date"}),
        json!({"key": "lastSeen", "label": "Last seen", "type": "datetime"}),
        json!({"key": "beta", "label": "Beta tester", "type": "boolean"}),
        json!({"key": "plan", "label": "Plan", "type": "enum", "options": ["free", "pro", "team"]}),
        json!({"key": "tags", "label": "Tags", "type": "multi_enum", "options": ["a", "b", "c"]}),
        json!({"key": "nickname", "label": "Nickname", "type": "string"}),
        json!({"key": "legacyCode", "label": "Legacy code", "type": "string"}),
    ] {
        define(app, body).await;
    }
}

/// Asserts a 422 whose message names `attribute` and contains `needle`.
async fn refused(req: reqwest::RequestBuilder, attribute: &str, needle: &str) {
    let (s, v) = parts(req.send().await.unwrap()).await;
    assert_eq!(s, 422, "{attribute}: {v}");
    assert_eq!(error_code(&v), "validation_failed");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("\"{attribute}\"")), "{msg}");
    assert!(msg.contains(needle), "{msg} should mention {needle}");
}

async fn by_email(app: &TestApp, email: &str) -> Vec<Value> {
    let v = app
        .expect(
            app.get(&format!("/api/customers?email={email}")),
            200,
            "lookup",
        )
        .await;
    v["data"].as_array().unwrap().clone()
}

async fn typed_values_on_create_and_patch(app: TestApp) {
    define_all(&app).await;
    let c = app
        .create_customer(json!({
            "email": "ann@example.com",
            "name": "Ann",
            "attributes": {
                "mrr": 1250.5,
                "signupDate": "2026-01-05",
                "lastSeen": "2026-01-05T10:00:00+02:00",
                "beta": true,
                "plan": "pro",
                "tags": ["c", "a", "c"],
                "nickname": "  annie ",
                "legacyCode": null
            }
        }))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let expected = json!({
        "mrr": 1250.5,
        "signupDate": "2026-01-05",
        "lastSeen": "2026-01-05T08:00:00.000Z",
        "beta": true,
        "plan": "pro",
        "tags": ["a", "c"],
        "nickname": "annie"
    });
    assert_eq!(c["attributes"], expected);
    assert_eq!(app.customer(&id).await["attributes"], expected);
    // A customer without attributes shows an empty object, not null.
    let plain = app
        .create_customer(json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(plain["attributes"], json!({}));

    // Wrong values on create: 422 naming the attribute, and no customer stored.
    for (attrs, attribute, needle) in [
        (json!({"mrr": "1250"}), "mrr", "number"),
        (
            json!({"signupDate": "05/01/2026"}),
            "signupDate",
            "YYYY-MM-DD",
        ),
        (
            json!({"lastSeen": "2026-01-05 10:00"}),
            "lastSeen",
            "RFC 3339",
        ),
        (json!({"beta": "yes"}), "beta", "true or false"),
        (json!({"plan": "gold"}), "plan", "options"),
        (json!({"tags": ["a", "z"]}), "tags", "options"),
        (json!({"tags": "a"}), "tags", "list"),
        (json!({"nickname": 7}), "nickname", "string"),
        (
            json!({"mrr": 1, "shoeSize": 42}),
            "shoeSize",
            "no such attribute",
        ),
    ] {
        let body = json!({"email": "carl@example.com", "attributes": attrs});
        refused(app.post("/api/customers", body), attribute, needle).await;
        assert!(by_email(&app, "carl@example.com").await.is_empty());
    }

    // PATCH merges: named keys change, `null` clears, others stay.
    let patched = app
        .edit_customer(&id, json!({"attributes": {"mrr": 2000, "plan": null}}))
        .await;
    let mut after = expected.clone();
    after["mrr"] = json!(2000);
    after.as_object_mut().unwrap().remove("plan");
    assert_eq!(patched["attributes"], after);
    // Other fields and attributes are untouched by an attribute-only patch.
    assert_eq!(patched["name"], "Ann");

    // A bad PATCH changes nothing, not even the valid parts of the body.
    let path = format!("/api/customers/{id}");
    let body = json!({"name": "Changed", "attributes": {"mrr": 1, "plan": "gold"}});
    refused(app.patch(&path, body), "plan", "gold").await;
    let unchanged = app.customer(&id).await;
    assert_eq!(unchanged["attributes"], after);
    assert_eq!(unchanged["name"], "Ann");

    // The API description documents the field on both ways in.
    let spec = app
        .expect(app.get("/api/openapi.json"), 200, "openapi")
        .await;
    let schemas = &spec["components"]["schemas"];
    for schema in [
        "CustomerView",
        "CreateCustomer",
        "UpdateCustomer",
        "CreateTicket",
    ] {
        assert!(
            schemas[schema]["properties"]["attributes"].is_object(),
            "{schema}: {}",
            schemas[schema]
        );
    }
}

async fn retired_attributes_are_hidden_and_unwritable(app: TestApp) {
    define_all(&app).await;
    let c = app
        .create_customer(json!({
            "email": "dora@example.com",
            "attributes": {"legacyCode": "X-1", "mrr": 5}
        }))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["attributes"]["legacyCode"], "X-1");
    app.expect(
        app.delete("/api/customer-attributes/legacyCode"),
        200,
        "retire",
    )
    .await;
    assert_eq!(app.customer(&id).await["attributes"], json!({"mrr": 5}));
    let listed = by_email(&app, "dora@example.com").await;
    assert_eq!(listed[0]["attributes"], json!({"mrr": 5}));
    let path = format!("/api/customers/{id}");
    refused(
        app.patch(&path, json!({"attributes": {"legacyCode": "X-2"}})),
        "legacyCode",
        "retired",
    )
    .await;
}

async fn tickets_carry_attributes(app: TestApp) {
    define_all(&app).await;
    let t = app
        .expect(
            app.post(
                "/api/tickets",
                json!({"email": "eve@example.com", "subject": "Help",
                    "attributes": {"plan": "team", "signupDate": "2026-03-01"}}),
            ),
            201,
            "ticket from a new sender",
        )
        .await;
    assert_eq!(t["customerCreated"], true);
    assert_eq!(
        t["customer"]["attributes"],
        json!({"plan": "team", "signupDate": "2026-03-01"})
    );
    // A later ticket merges into the existing customer.
    let t = app
        .expect(
            app.post(
                "/api/tickets",
                json!({"email": "eve@example.com", "subject": "Again",
                    "attributes": {"plan": "pro", "beta": false}}),
            ),
            201,
            "ticket from a known sender",
        )
        .await;
    assert_eq!(t["customerCreated"], false);
    let id = t["customer"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.customer(&id).await["attributes"],
        json!({"plan": "pro", "signupDate": "2026-03-01", "beta": false})
    );
    // A bad attribute refuses the whole ticket: no customer for a new sender.
    refused(
        app.post(
            "/api/tickets",
            json!({"email": "fay@example.com", "subject": "Hi", "attributes": {"mrr": "lots"}}),
        ),
        "mrr",
        "number",
    )
    .await;
    assert!(by_email(&app, "fay@example.com").await.is_empty());
}

/// Attributes are not mapped yet, so the sync must carry them along untouched:
/// a HubSpot edit written to Keva, and a Keva edit pushed to HubSpot, leave the
/// customer's attribute values as they were.
async fn sync_writes_keep_attribute_values(app: TestApp) {
    define_all(&app).await;
    let connector = app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "gil@example.com",
            "attributes": {"mrr": 42, "plan": "team"}}))
        .await;
    let contact = app.contact_id(&customer).await;
    app.edit_contact(&contact, json!({"jobtitle": "CFO"})).await;
    app.inbound(connector, &contact).await;
    let c = app.customer(&customer).await;
    assert_eq!(c["jobTitle"], "CFO");
    assert_eq!(c["attributes"], json!({"mrr": 42, "plan": "team"}));

    app.edit_customer(
        &customer,
        json!({"company": "Gil & Co", "attributes": {"mrr": 43}}),
    )
    .await;
    app.settle().await;
    assert_eq!(app.contact(&contact).await["company"], "Gil & Co");
    let c = app.customer(&customer).await;
    assert_eq!(c["attributes"], json!({"mrr": 43, "plan": "team"}));
}

mod with_sandbox {
    use super::sync_writes_keep_attribute_values;

    keva_store::backend_tests!(with = crate::harness::sandboxed;
        sync_writes_keep_attribute_values
    );
}

keva_store::backend_tests!(with = crate::harness::plain;
    typed_values_on_create_and_patch,
    retired_attributes_are_hidden_and_unwritable,
    tickets_carry_attributes
);
