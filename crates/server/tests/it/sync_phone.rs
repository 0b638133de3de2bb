//! Phone numbers to E.164 with the workspace's default region
//! (`/api/workspace/settings`), against the sandbox on both backends: a number
//! without a country code reaches HubSpot in E.164; one that is not a valid
//! number goes as typed, with a warning; a bad region code is refused.

use serde_json::{json, Value};

use crate::harness::{call, TestApp};

async fn phones_reach_hubspot_in_e164_with_the_default_region(app: TestApp) {
    let (s, body) = call(app.put("/api/workspace/settings", json!({"phoneRegion": "XX"}))).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.to_string().contains("XX"), "{body}");
    let v = app
        .expect(app.get("/api/workspace/settings"), 200, "settings")
        .await;
    assert_eq!(v["phoneRegion"], Value::Null, "nothing saved");
    let v = app
        .expect(
            app.put("/api/workspace/settings", json!({"phoneRegion": "gb"})),
            200,
            "set region",
        )
        .await;
    assert_eq!(v["phoneRegion"], "GB");

    let mut mappings = app
        .expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await["mappings"]
        .as_array()
        .unwrap()
        .clone();
    for m in &mut mappings {
        if m["kevaField"] == "phone" {
            m["transform"] = json!("phone_e164");
        }
    }
    app.expect(
        app.put("/api/crm/hubspot/mappings", json!({ "mappings": mappings })),
        200,
        "phone_e164 mapping",
    )
    .await;

    let uk = app
        .synced_customer(json!({"email": "uk@example.com", "phone": "020 7946 0000"}))
        .await;
    let contact = app.contact(&app.contact_id(&uk).await).await;
    assert_eq!(contact["phone"], "+442079460000", "{contact}");
    let crm = app.crm(&uk).await;
    assert!(!crm.to_string().contains("invalid_phone"), "{crm}");

    let odd = app
        .synced_customer(json!({"email": "odd@example.com", "phone": "ask reception"}))
        .await;
    let contact = app.contact(&app.contact_id(&odd).await).await;
    assert_eq!(
        contact["phone"], "ask reception",
        "kept as typed: {contact}"
    );
    let crm = app.crm(&odd).await.to_string();
    assert!(crm.contains("invalid_phone") && crm.contains("GB"), "{crm}");
}

keva_store::backend_tests!(with = crate::harness::connected;
    phones_reach_hubspot_in_e164_with_the_default_region
);
