//! Associations v4 and the `associations` read parameter.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{assert_error, env};

#[tokio::test]
async fn default_and_labelled_associations() {
    let e = env().await;
    let contact = e.contact("assoc@example.com", "A").await;
    let company = e.company("Acme").await;
    let (s, v) = e
        .put(
            &format!("/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}"),
            json!(null),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "COMPLETE");
    assert_eq!(v["results"][0]["associationSpec"]["associationTypeId"], 279);

    let (s, v) = e
        .get(&format!(
            "/crm/v4/objects/contacts/{contact}/associations/companies"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["results"][0]["toObjectId"], company.as_str());
    assert_eq!(
        v["results"][0]["associationTypes"][0]["category"],
        "HUBSPOT_DEFINED"
    );
    assert_eq!(v["results"][0]["associationTypes"][0]["typeId"], 279);
    // The other side sees it too.
    let (_, v) = e
        .get(&format!(
            "/crm/v4/objects/companies/{company}/associations/contacts"
        ))
        .await;
    assert_eq!(v["results"][0]["toObjectId"], contact.as_str());
    assert_eq!(v["results"][0]["associationTypes"][0]["typeId"], 280);

    // Labelled (primary) association.
    let (s, v) = e
        .put(
            &format!("/crm/v4/objects/contacts/{contact}/associations/companies/{company}"),
            json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["fromObjectTypeId"], "0-1");
    assert_eq!(v["toObjectTypeId"], "0-2");
    assert_eq!(v["labels"][0], "Primary");

    // On object reads.
    let (_, v) = e.get(&format!("/crm/v3/objects/contacts/{contact}?associations=companies&properties=associatedcompanyid")).await;
    let types: Vec<&str> = v["associations"]["companies"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"contact_to_company") && types.contains(&"contact_to_company_unlabeled"),
        "{types:?}"
    );
    assert_eq!(v["properties"]["associatedcompanyid"], company.as_str());

    // Batch read: one with, one without associations.
    let (s, v) = e
        .post(
            "/crm/v4/associations/contacts/companies/batch/read",
            json!({"inputs": [{"id": contact}, {"id": "424242"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["results"][0]["from"]["id"], contact.as_str());
    assert_eq!(v["results"][0]["to"][0]["toObjectId"], company.as_str());
    assert_eq!(v["numErrors"], 1);

    // Delete.
    let (s, _) = e
        .delete(&format!(
            "/crm/v4/objects/contacts/{contact}/associations/companies/{company}"
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = e
        .get(&format!(
            "/crm/v4/objects/contacts/{contact}/associations/companies"
        ))
        .await;
    assert_eq!(v["results"].as_array().unwrap().len(), 0);

    // Missing records.
    let (s, v) = e
        .put(
            &format!("/crm/v4/objects/contacts/{contact}/associations/default/companies/999999"),
            json!(null),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn create_with_associations() {
    let e = env().await;
    let company = e.company("Globex").await;
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "with@example.com"},
                   "associations": [{"to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap();
    let (_, v) = e
        .get(&format!(
            "/crm/v3/objects/contacts/{id}?associations=companies"
        ))
        .await;
    assert_eq!(
        v["associations"]["companies"]["results"][0]["id"],
        company.as_str()
    );
    let (s, v) = e
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "bad@example.com"},
                   "associations": [{"to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn association_labels_list_hubspot_type_ids() {
    let e = env().await;
    let (s, v) = e
        .get("/crm/v4/associations/contacts/companies/labels")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["typeId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 279]);
    assert_eq!(v["results"][0]["label"], "Primary");
    let (_, v) = e.get("/crm/v4/associations/deals/contacts/labels").await;
    assert_eq!(v["results"][0]["typeId"], 3);
}
