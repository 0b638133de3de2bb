//! Search: operators, sorts, paging, caps.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_error, env, env_with};

fn eq(prop: &str, value: &str) -> Value {
    json!({"propertyName": prop, "operator": "EQ", "value": value})
}

async fn ids(e: &crate::common::Env, body: Value) -> (u64, Vec<String>) {
    let (s, v) = e.post("/crm/v3/objects/contacts/search", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    (v["total"].as_u64().unwrap(), ids)
}

#[tokio::test]
async fn operators_and_case_insensitive_email() {
    let e = env().await;
    let a = e.contact("Ann.Lee@Example.com", "Ann").await;
    let b = e.contact("bob@example.com", "Bob").await;
    let c = e.contact("cy@other.org", "Cy").await;
    e.patch(
        &format!("/crm/v3/objects/contacts/{b}"),
        json!({"properties": {"lastname": "Stone Smith"}}),
    )
    .await;

    let (t, r) = ids(
        &e,
        json!({"filterGroups": [{"filters": [eq("email", "ANN.LEE@example.COM")]}]}),
    )
    .await;
    assert_eq!((t, r), (1, vec![a.clone()]));
    let (t, _) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "NEQ", "value": "bob@example.com"}]}]})).await;
    assert_eq!(t, 2);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN", "values": ["bob@example.com", "cy@other.org"]}]}]})).await;
    assert_eq!(r, vec![b.clone(), c.clone()]);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "lastname", "operator": "HAS_PROPERTY"}]}]})).await;
    assert_eq!(r, vec![b.clone()]);
    let (t, _) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "lastname", "operator": "NOT_HAS_PROPERTY"}]}]})).await;
    assert_eq!(t, 2);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "lastname", "operator": "CONTAINS_TOKEN", "value": "smith"}]}]})).await;
    assert_eq!(r, vec![b.clone()]);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": a}]}]})).await;
    assert_eq!(r, vec![b.clone(), c.clone()]);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "LT", "value": b}]}]})).await;
    assert_eq!(r, vec![a.clone()]);
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "BETWEEN", "value": b, "highValue": c}]}]})).await;
    assert_eq!(r, vec![b.clone(), c.clone()]);
    // Groups are ORed, filters ANDed.
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [eq("firstname", "ann")]}, {"filters": [eq("firstname", "cy"), eq("email", "cy@other.org")]}]})).await;
    assert_eq!(r, vec![a.clone(), c.clone()]);
    // Sorts and free-text query.
    let (_, r) = ids(
        &e,
        json!({"sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}]}),
    )
    .await;
    assert_eq!(r, vec![c.clone(), b.clone(), a.clone()]);
    let (_, r) = ids(&e, json!({"query": "other.org"})).await;
    assert_eq!(r, vec![c.clone()]);
    // Modified since (GTE lastmodifieddate) sees the later update.
    let (_, v) = e
        .get(&format!(
            "/crm/v3/objects/contacts/{b}?properties=lastmodifieddate"
        ))
        .await;
    let since = v["properties"]["lastmodifieddate"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, r) = ids(&e, json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}]})).await;
    assert!(r.contains(&b));
    // Requested properties come back; no associations in search results.
    let (_, v) = e
        .post("/crm/v3/objects/contacts/search", json!({"properties": ["firstname"], "filterGroups": [{"filters": [eq("email", "bob@example.com")]}]}))
        .await;
    assert_eq!(v["results"][0]["properties"]["firstname"], "Bob");
    assert!(v["results"][0].get("associations").is_none());
}

#[tokio::test]
async fn search_caps_and_paging() {
    let e = env_with(10_050).await;
    let filter =
        |n: usize| Value::Array((0..n).map(|i| eq("firstname", &format!("x{i}"))).collect());
    let (s, v) = e.post("/crm/v3/objects/contacts/search", json!({"filterGroups": (0..6).map(|_| json!({"filters": filter(1)})).collect::<Vec<_>>()})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"filterGroups": [{"filters": filter(11)}]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let groups: Vec<Value> = (0..3).map(|_| json!({"filters": filter(9)})).collect();
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"filterGroups": groups}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e
        .post("/crm/v3/objects/contacts/search", json!({"limit": 201}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e.post("/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // Paging: total is the real count, `after` continues, 10,000 is the wall.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "after": "9800"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 10_050);
    assert_eq!(v["paging"]["next"]["after"], "10000");
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"limit": 200, "after": "10000"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // The documented way past the wall: hs_object_id GT the last id, sorted by id.
    let (_, v) = e.post("/crm/v3/objects/contacts/search", json!({"limit": 100, "after": "9900", "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]})).await;
    let last = v["results"][99]["id"].as_str().unwrap().to_string();
    let (s, v) = e
        .post("/crm/v3/objects/contacts/search", json!({"limit": 100, "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": last}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], 50);
    assert!(v.get("paging").is_none());
}
