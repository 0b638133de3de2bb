//! Single-record CRM v3 endpoints.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{assert_error, env, result_ids};

#[tokio::test]
async fn create_get_update_archive_contact() {
    let e = env().await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "  Jane.Doe@Example.COM ", "firstname": "Jane", "lastname": "Doe"}, "associations": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["properties"]["email"], "jane.doe@example.com");
    assert_eq!(v["properties"]["hs_object_id"], id.as_str());
    assert_eq!(v["archived"], false);
    assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));

    // Default properties when none are asked for.
    let (s, v) = e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let props = v["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname"
        ]
    );

    // By email, case-insensitively, with selected properties (unknown ones ignored).
    let (s, v) = e
        .get("/crm/v3/objects/contacts/JANE.DOE%40example.com?idProperty=email&properties=firstname,nosuchprop&properties=lastname")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["properties"]["firstname"], "Jane");
    assert_eq!(v["properties"]["lastname"], "Doe");
    assert!(v["properties"].get("nosuchprop").is_none());
    assert!(v["properties"].get("email").is_none());

    // Update, then clear with an empty string; history shows both sources.
    let (s, v) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{id}"),
            json!({"properties": {"firstname": "Janet"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["properties"]["firstname"], "Janet");
    let (_, v) = e
        .get(&format!(
            "/crm/v3/objects/contacts/{id}?propertiesWithHistory=firstname"
        ))
        .await;
    let hist = v["propertiesWithHistory"]["firstname"].as_array().unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0]["value"], "Janet");
    assert_eq!(hist[0]["sourceType"], "INTEGRATION");
    assert_eq!(hist[1]["value"], "Jane");
    let (s, _) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{id}"),
            json!({"properties": {"lastname": ""}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert!(v["properties"]["lastname"].is_null(), "{v}");

    // Archive: 204, then 404; visible with archived=true.
    let (s, _) = e.delete(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = e.get(&format!("/crm/v3/objects/contacts/{id}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    let (s, v) = e
        .get(&format!("/crm/v3/objects/contacts/{id}?archived=true"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["archived"], true);
    assert!(v["archivedAt"].is_string());
    // The email is free again after archiving.
    e.contact("jane.doe@example.com", "Again").await;
}

#[tokio::test]
async fn write_errors_match_hubspot() {
    let e = env().await;
    let first = e.contact("taken@example.com", "A").await;

    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "TAKEN@example.com"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(
        v["message"],
        format!("Contact already exists. Existing ID: {first}")
    );
    assert_eq!(v["error"], "CONTACT_EXISTS");

    let other = e.contact("other@example.com", "B").await;
    let (s, v) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{other}"),
            json!({"properties": {"email": "taken@EXAMPLE.com"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "CONFLICT");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .ends_with(&format!("Existing ID: {first}")));

    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "x@example.com", "notes": "hi"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Property values were not valid: ["),
        "{msg}"
    );
    assert!(
        msg.contains("PROPERTY_DOESNT_EXIST")
            && msg.contains("Property \\\"notes\\\" does not exist"),
        "{msg}"
    );
    let inner: serde_json::Value =
        serde_json::from_str(msg.trim_start_matches("Property values were not valid: ")).unwrap();
    assert_eq!(inner[0]["name"], "notes");
    assert_eq!(inner[0]["isValid"], false);

    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "not-an-email"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"].as_str().unwrap().contains("INVALID_EMAIL"));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("Email address not-an-email is invalid"));

    let (s, v) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{first}"),
            json!({"properties": {"hs_object_id": "5"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"].as_str().unwrap().contains("READ_ONLY_VALUE"));

    let (s, v) = e
        .patch(
            "/crm/v3/objects/contacts/999999",
            json!({"properties": {"firstname": "x"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    let (s, v) = e
        .get("/crm/v3/objects/contacts/nobody@example.com?idProperty=email")
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");

    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"lifecyclestage": "astronaut"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"].as_str().unwrap().contains("INVALID_OPTION"));

    // A date property takes a day: midnight UTC, nothing else.
    let (s, v) = e
        .post(
            "/crm/v3/properties/contacts",
            json!({"name": "renewal_date", "label": "Renewal", "type": "date",
                "fieldType": "date", "groupName": "contactinformation"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{first}"),
            json!({"properties": {"renewal_date": "1767574800000"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(
        v["message"].as_str().unwrap().contains("INVALID_DATE"),
        "{v}"
    );
    let (s, v) = e
        .patch(
            &format!("/crm/v3/objects/contacts/{first}"),
            json!({"properties": {"renewal_date": "1767571200000"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Malformed JSON is a HubSpot-shaped 400 too.
    let resp = e
        .http
        .post(format!("{}/crm/v3/objects/contacts", e.sb.url()))
        .bearer_auth(e.sb.access_token())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn list_pages_with_limit_and_after() {
    let e = env().await;
    for i in 0..25 {
        e.contact(&format!("p{i}@example.com"), "P").await;
    }
    let (s, v) = e.get("/crm/v3/objects/contacts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        10,
        "default limit 10"
    );
    let mut seen = Vec::new();
    let mut path = "/crm/v3/objects/contacts?limit=7&properties=email".to_string();
    loop {
        let (s, v) = e.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for r in v["results"].as_array().unwrap() {
            seen.push(r["properties"]["email"].as_str().unwrap().to_string());
        }
        match v["paging"]["next"]["after"].as_str() {
            Some(after) => {
                assert!(v["paging"]["next"]["link"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("after={after}")));
                path = format!("/crm/v3/objects/contacts?limit=7&properties=email&after={after}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "no duplicates across pages");

    let (s, v) = e.get("/crm/v3/objects/contacts?limit=101").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e.get("/crm/v3/objects/contacts?limit=100").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("paging").is_none(), "last page has no paging");
}

#[tokio::test]
async fn merge_keeps_primary_and_redirects_old_id() {
    let e = env().await;
    let a = e.contact("a@example.com", "Alice").await;
    let b = e.contact("b@example.com", "").await;
    e.patch(
        &format!("/crm/v3/objects/contacts/{b}"),
        json!({"properties": {"jobtitle": "CTO"}}),
    )
    .await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({"primaryObjectId": a, "objectIdToMerge": b}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], a.as_str());
    let (_, v) = e
        .get(&format!("/crm/v3/objects/contacts/{b}?properties=email,jobtitle,hs_merged_object_ids,hs_additional_emails"))
        .await;
    assert_eq!(v["id"], a.as_str(), "old id answers with the survivor");
    assert_eq!(v["properties"]["email"], "a@example.com");
    assert_eq!(v["properties"]["jobtitle"], "CTO");
    assert_eq!(v["properties"]["hs_merged_object_ids"], b.as_str());
    assert_eq!(v["properties"]["hs_additional_emails"], "b@example.com");
    assert_eq!(e.sb.contact_count(), 1);
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({"primaryObjectId": a, "objectIdToMerge": a}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn companies_and_deals_have_their_own_defaults() {
    let e = env().await;
    let (s, v) = e
        .post("/crm/v3/objects/deals", json!({"properties": {"dealname": "Big", "amount": "1000", "dealstage": "closedwon", "pipeline": "default"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap();
    let (_, v) = e.get(&format!("/crm/v3/objects/deals/{id}")).await;
    assert_eq!(v["properties"]["dealstage"], "closedwon");
    assert!(v["properties"].get("hs_lastmodifieddate").is_some());
    assert!(v["properties"].get("lastmodifieddate").is_none());
    let (s, v) = e
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"amount": "lots"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let c = e.company("Acme").await;
    let (_, v) = e.get(&format!("/crm/v3/objects/companies/{c}")).await;
    assert_eq!(v["properties"]["name"], "Acme");
    assert!(v["properties"].get("domain").is_some());
}

#[tokio::test]
async fn gdpr_delete_removes_for_good() {
    let e = env().await;
    let id = e.contact("gdpr@example.com", "G").await;
    let (s, _) = e
        .post(
            "/crm/v3/objects/contacts/gdpr-delete",
            json!({"objectId": "GDPR@example.com", "idProperty": "email"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = e
        .get(&format!("/crm/v3/objects/contacts/{id}?archived=true"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e.sb.contact_count(), 0);
    let (s, _) = e
        .post(
            "/crm/v3/objects/contacts/gdpr-delete",
            json!({"objectId": "12345"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn archived_lists_and_patch_by_email() {
    let e = env().await;
    let a = e.contact("live@example.com", "Live").await;
    let b = e.contact("gone@example.com", "Gone").await;
    e.delete(&format!("/crm/v3/objects/contacts/{b}")).await;
    let (_, v) = e.get("/crm/v3/objects/contacts?archived=true").await;
    let ids = result_ids(&v);
    assert_eq!(ids, [b.as_str()]);
    let (_, v) = e.get("/crm/v3/objects/contacts").await;
    let ids = result_ids(&v);
    assert_eq!(ids, [a.as_str()]);

    let (s, v) = e
        .patch(
            "/crm/v3/objects/contacts/LIVE@example.com?idProperty=email",
            json!({"properties": {"email": "Moved@Example.com"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["properties"]["email"], "moved@example.com");
    let (s, _) = e
        .get("/crm/v3/objects/contacts/live@example.com?idProperty=email")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "old email no longer finds it");
    let (s, v) = e
        .get("/crm/v3/objects/contacts/moved@example.com?idProperty=email")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], a.as_str());
}

#[tokio::test]
async fn dates_are_stored_as_iso_and_history_lists_cap_at_50() {
    let e = env().await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"dealname": "D", "closedate": "1700000000000"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["closedate"], "2023-11-14T22:13:20.000Z");
    let (s, v) = e
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"closedate": "next tuesday"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e
        .get("/crm/v3/objects/contacts?limit=51&propertiesWithHistory=email")
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, _) = e
        .get("/crm/v3/objects/contacts?limit=50&propertiesWithHistory=email")
        .await;
    assert_eq!(s, StatusCode::OK);
}
