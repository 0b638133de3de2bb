//! Properties API: defaults, custom properties, errors.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{assert_error, env};

#[tokio::test]
async fn default_properties_look_like_hubspot() {
    let e = env().await;
    let (s, v) = e.get("/crm/v3/properties/contacts").await;
    assert_eq!(s, StatusCode::OK);
    let results = v["results"].as_array().unwrap();
    assert!(
        results.iter().all(|p| p["name"] != "notes"),
        "contacts have no notes property"
    );
    let email = results.iter().find(|p| p["name"] == "email").unwrap();
    for field in [
        "name",
        "label",
        "type",
        "fieldType",
        "groupName",
        "description",
        "options",
    ] {
        assert!(email.get(field).is_some(), "{field} missing");
    }
    assert_eq!(email["hubspotDefined"], true);
    let (_, v) = e.get("/crm/v3/properties/contacts/lifecyclestage").await;
    assert_eq!(v["type"], "enumeration");
    assert!(v["options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["value"] == "customer"));
    let (_, v) = e.get("/crm/v3/properties/contacts/hs_lead_status").await;
    assert!(v["options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["value"] == "OPEN"));
    let (_, v) = e.get("/crm/v3/properties/contacts/hs_object_id").await;
    assert_eq!(v["modificationMetadata"]["readOnlyValue"], true);
    let (_, v) = e.get("/crm/v3/properties/companies/industry").await;
    assert!(v["options"].as_array().unwrap().len() > 20);
    let (_, v) = e.get("/crm/v3/properties/deals/dealstage").await;
    assert!(v["options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["value"] == "closedlost"));
    let (_, v) = e.get("/crm/v3/properties/0-3/pipeline").await;
    assert_eq!(v["options"][0]["value"], "default");

    let (s, v) = e.get("/crm/v3/properties/contacts/notes").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    let (s, v) = e.get("/crm/v3/properties/widgets").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn custom_property_lifecycle() {
    let e = env().await;
    let body = json!({"name": "notes", "label": "Notes", "type": "string", "fieldType": "textarea", "groupName": "contactinformation"});
    let (s, v) = e.post("/crm/v3/properties/contacts", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["hubspotDefined"], false);
    let (s, v) = e.post("/crm/v3/properties/contacts", body).await;
    assert_error(s, &v, StatusCode::CONFLICT, "OBJECT_ALREADY_EXISTS");
    let (s, v) = e
        .post("/crm/v3/properties/contacts", json!({"name": "x1", "label": "X", "type": "blob", "fieldType": "text", "groupName": "contactinformation"}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = e
        .post(
            "/crm/v3/properties/contacts",
            json!({"name": "x2", "label": "X"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // Now writing `notes` works.
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "n@example.com", "notes": "VIP"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["notes"], "VIP");

    let (s, v) = e
        .patch(
            "/crm/v3/properties/contacts/notes",
            json!({"label": "Keva notes"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["label"], "Keva notes");
    let (s, _) = e.delete("/crm/v3/properties/contacts/notes").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = e.get("/crm/v3/properties/contacts/notes").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = e.delete("/crm/v3/properties/contacts/email").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn property_groups_are_created_and_required() {
    let e = env().await;
    let prop = json!({"name": "plan_tier", "label": "Plan", "type": "string",
        "fieldType": "text", "groupName": "keva"});
    let (s, v) = e.post("/crm/v3/properties/contacts", prop.clone()).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(v["message"].as_str().unwrap().contains("keva"), "{v}");

    let group = json!({"name": "keva", "label": "Keva"});
    let (s, v) = e
        .post("/crm/v3/properties/contacts/groups", group.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["label"], "Keva");
    let (s, v) = e.post("/crm/v3/properties/contacts/groups", group).await;
    assert_error(s, &v, StatusCode::CONFLICT, "OBJECT_ALREADY_EXISTS");
    let (s, v) = e
        .post(
            "/crm/v3/properties/contacts/groups",
            json!({"name": "Bad Name", "label": "x"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let (s, v) = e.post("/crm/v3/properties/contacts", prop).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = e.get("/crm/v3/properties/contacts/groups").await;
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"keva") && names.contains(&"contactinformation"));
    assert_eq!(names.iter().filter(|n| **n == "keva").count(), 1, "{v}");
    // Groups are per object type.
    let (_, v) = e.get("/crm/v3/properties/companies/groups").await;
    assert!(!v.to_string().contains("\"keva\""), "{v}");
}
