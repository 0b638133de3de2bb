//! What the OpenAPI contract run (crates/cli/tests/api_contract.rs) found on the
//! server side, pinned here on both backends: a body must be a JSON object (serde
//! also read structs from arrays), a disconnected connector is a state conflict
//! (409, not a 422 blaming the request), and the optional authorize body answers
//! malformed JSON like every other body (400).

use serde_json::json;

use crate::harness::{call, error_code, TestApp};

async fn bodies_must_be_json_objects(app: TestApp) {
    let connector = app.connector_id();
    let path = format!("/api/crm/hubspot/connectors/{connector}");
    let (status, body) = call(app.patch(&path, json!([null, null]))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "validation_failed");
    let (status, body) = call(app.post("/api/customers", json!(["ada@example.com"]))).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = call(app.post("/api/crm/hubspot/oauth/authorize", json!([null]))).await;
    assert_eq!(status, 422, "{body}");
    // The refused bodies changed nothing.
    let (status, customers) = call(app.get("/api/customers")).await;
    assert_eq!(status, 200);
    assert_eq!(customers["data"], json!([]), "{customers}");

    let malformed = app
        .request(reqwest::Method::POST, "/api/crm/hubspot/oauth/authorize")
        .header("content-type", "application/json")
        .body("{\"returnTo\":");
    let (status, body) = call(malformed).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "bad_request");

    // The same shapes as objects are fine.
    let (status, body) = call(app.patch(&path, json!({}))).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_disconnected_connector_is_a_conflict(app: TestApp) {
    let connector = app.connector_id();
    let (status, body) =
        call(app.delete(&format!("/api/crm/hubspot/connectors/{connector}"))).await;
    assert_eq!(status, 200, "{body}");
    let customer = app
        .create_customer(json!({"email": "ada@example.com"}))
        .await;
    let customer = customer["id"].as_str().unwrap();
    for (what, req) in [
        (
            "describe",
            app.get(&format!(
                "/api/crm/hubspot/describe?object=Contact&connectorId={connector}"
            )),
        ),
        (
            "put mappings",
            app.put(
                &format!("/api/crm/hubspot/mappings?connectorId={connector}"),
                json!({"mappings": []}),
            ),
        ),
        (
            "test-mapping",
            app.post(
                "/api/crm/hubspot/test-mapping",
                json!({"connectorId": connector, "customerId": customer}),
            ),
        ),
        (
            "automap",
            app.post(
                "/api/crm/hubspot/automap",
                json!({"connectorId": connector, "object": "contacts"}),
            ),
        ),
    ] {
        let (status, body) = call(req).await;
        assert_eq!(status, 409, "{what}: {body}");
        assert_eq!(error_code(&body), "conflict", "{what}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("disconnected"),
            "{what}: {body}"
        );
    }
}

keva_store::backend_tests!(with = crate::harness::connected;
    bodies_must_be_json_objects,
    a_disconnected_connector_is_a_conflict
);
