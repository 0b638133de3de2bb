//! Batch endpoints: caps, multi-status, upsert by email.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_error, env};

fn inputs(n: usize, f: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(f).collect())
}

#[tokio::test]
async fn batch_create_read_update_archive() {
    let e = env().await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": inputs(3, |i| json!({"properties": {"email": format!("b{i}@example.com"), "firstname": format!("B{i}")}, "associations": []}))}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "COMPLETE");
    assert!(v["startedAt"].is_string() && v["completedAt"].is_string());
    let ids: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);

    // Read by email (case-insensitive) with one miss: 207 with the miss listed.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/read",
            json!({"idProperty": "email", "properties": ["firstname"], "propertiesWithHistory": [],
                   "inputs": [{"id": "B0@EXAMPLE.com"}, {"id": "b1@example.com"}, {"id": "ghost@example.com"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["numErrors"], 1);
    assert_eq!(v["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(v["errors"][0]["context"]["ids"][0], "ghost@example.com");
    assert_eq!(v["errors"][0]["status"], "error");

    // Read by id, all found: 200.
    let (s, v) = e
        .post("/crm/v3/objects/contacts/batch/read", json!({"properties": ["email"], "propertiesWithHistory": [], "inputs": [{"id": ids[0]}, {"id": ids[2]}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][1]["properties"]["email"], "b2@example.com");

    // Update with one unknown id: 207, the others applied.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/update",
            json!({"inputs": [{"id": ids[0], "properties": {"lastname": "One"}}, {"id": "987654", "properties": {"lastname": "X"}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["results"][0]["properties"]["lastname"], "One");
    assert_eq!(v["errors"][0]["context"]["ids"][0], "987654");

    // Archive: 204, records gone.
    let (s, _) = e
        .post(
            "/crm/v3/objects/contacts/batch/archive",
            json!({"inputs": [{"id": ids[0]}, {"id": ids[1]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(e.sb.contact_count(), 1);
}

#[tokio::test]
async fn batch_caps_and_whole_batch_errors() {
    let e = env().await;
    for op in ["read", "create", "update", "upsert", "archive"] {
        let body = json!({"properties": [], "propertiesWithHistory": [],
            "inputs": inputs(101, |i| json!({"id": format!("{i}"), "properties": {}}))});
        let (s, v) = e
            .post(&format!("/crm/v3/objects/contacts/batch/{op}"), body)
            .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    // 100 is fine.
    let (s, v) = e
        .post("/crm/v3/objects/contacts/batch/create", json!({"inputs": inputs(100, |i| json!({"properties": {"email": format!("c{i}@example.com")}}))}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(e.sb.contact_count(), 100);
    // History reads are capped at 50.
    let (s, v) = e
        .post("/crm/v3/objects/contacts/batch/read", json!({"properties": [], "propertiesWithHistory": ["email"], "inputs": inputs(51, |i| json!({"id": format!("{i}")}))}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("property histories is 50"));

    // One bad input fails the whole create without writing anything.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": [{"properties": {"email": "fine@example.com"}}, {"properties": {"email": "also@example.com", "notes": "x"}}]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(e
        .sb
        .state()
        .get_contact_by_email(e.sb.portal_id(), "fine@example.com")
        .is_none());

    // With objectWriteTraceId on every input, failures are per item (207).
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": [{"properties": {"email": "fine@example.com"}, "objectWriteTraceId": "t1"},
                              {"properties": {"email": "c1@example.com"}, "objectWriteTraceId": "t2"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["numErrors"], 1);
    assert_eq!(v["errors"][0]["category"], "CONFLICT");
    assert_eq!(v["errors"][0]["context"]["objectWriteTraceId"][0], "t2");
    assert_eq!(v["results"][0]["objectWriteTraceId"], "t1");

    // Duplicate ids in one update are rejected.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [
            {"id": "d@example.com", "idProperty": "email", "properties": {}},
            {"id": "D@example.com", "idProperty": "email", "properties": {}}]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn upsert_by_email_creates_and_updates() {
    let e = env().await;
    let existing = e.contact("known@example.com", "Old").await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [
                {"id": "KNOWN@example.com", "idProperty": "email", "properties": {"firstname": "New"}},
                {"id": "fresh@example.com", "idProperty": "email", "properties": {"firstname": "Fresh"}}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    let known = results
        .iter()
        .find(|r| r["id"] == existing.as_str())
        .unwrap();
    assert_eq!(known["new"], false);
    assert_eq!(known["properties"]["firstname"], "New");
    let fresh = results
        .iter()
        .find(|r| r["id"] != existing.as_str())
        .unwrap();
    assert_eq!(fresh["new"], true);
    let (_, props) =
        e.sb.state()
            .get_contact_by_email(e.sb.portal_id(), "fresh@example.com")
            .unwrap();
    assert_eq!(props["firstname"], "Fresh");
    assert_eq!(props["email"], "fresh@example.com");
    assert_eq!(e.sb.contact_count(), 2);

    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [{"id": "bad email", "idProperty": "email", "properties": {}}]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"].as_str().unwrap().contains("INVALID_EMAIL"));
}
