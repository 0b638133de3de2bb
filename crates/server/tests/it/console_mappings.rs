//! *CRM Sync → HubSpot → Field Mappings* over HTTP, on both backends, against the
//! sandbox: the table, Add Mapping refused with the API's hint for a label ("use
//! jobtitle, not Job Title") and nothing saved, then fixed and saved; Remove;
//! Refresh Properties; Test Mapping's dry run; an agent gets 403.

use keva_core::ObjectKind;
use keva_store::UserRole;

use crate::console_support::signed_in;
use crate::harness::TestApp;

const PATH: &str = "/settings/crm-sync/hubspot/mappings";

async fn mappings_are_added_with_the_apis_validation(app: TestApp) {
    let connector = app.connector_id();
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(PATH).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-keva-field=\"email\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<option value=\"jobtitle\">"),
        "describe feeds the list"
    );
    let before = app
        .store
        .mappings(connector, ObjectKind::Contact)
        .await
        .unwrap();

    // The label instead of the internal name: the API's hint, nothing saved.
    let fields = [
        ("object", "Contact"),
        ("keva_field", "jobTitle"),
        ("hubspot_property", "Job Title"),
        ("direction", "to_crm"),
        ("transform", "none"),
        ("default", ""),
    ];
    let refused = v.submit(PATH, &format!("{PATH}/add"), &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("use jobtitle, not Job Title"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Job Title\""),
        "the form keeps what was typed"
    );
    let after = app
        .store
        .mappings(connector, ObjectKind::Contact)
        .await
        .unwrap();
    assert_eq!(
        before.as_ref().map(|m| &m.mappings),
        after.as_ref().map(|m| &m.mappings),
        "nothing saved"
    );

    let mut fixed = fields;
    fixed[2] = ("hubspot_property", "jobtitle");
    let saved = v.submit(PATH, &format!("{PATH}/add"), &fixed).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = v.get(saved.location()).await;
    assert!(page.body.contains("Saved the jobTitle mapping."));
    let api = app
        .expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await;
    let job = api["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kevaField"] == "jobTitle")
        .cloned()
        .unwrap();
    assert_eq!(job["hubspotProperties"], serde_json::json!(["jobtitle"]));
    assert_eq!(job["direction"], "to_crm");

    // Remove, then Refresh Properties.
    let removed = v
        .submit(
            PATH,
            &format!("{PATH}/remove"),
            &[("object", "Contact"), ("keva_field", "notes")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let page = v.get(PATH).await;
    assert!(!page.body.contains("data-keva-field=\"notes\""));
    let refreshed = v
        .submit(PATH, &format!("{PATH}/refresh"), &[("object", "Contact")])
        .await;
    assert_eq!(refreshed.status, 303, "{}", refreshed.body);
    assert!(v
        .get(refreshed.location())
        .await
        .body
        .contains("Refreshed: "));

    // Test Mapping: a dry run with a customer, nothing written.
    let grace = app
        .store
        .insert_customer(
            app.workspace_id,
            keva_store::NewCustomer {
                job_title: Some("Rear Admiral".into()),
                ..keva_store::NewCustomer::with_email("grace@navy.example")
            },
        )
        .await
        .unwrap();
    let page = v.get(PATH).await;
    assert!(page
        .body
        .contains(&format!("<option value=\"{}\">", grace.id)));
    let tested = v
        .submit(
            PATH,
            &format!("{PATH}/test"),
            &[("customer_id", &grace.id.to_string())],
        )
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(tested.body.contains("id=\"test-mapping-result\""));
    assert!(
        tested.body.contains("data-property=\"jobtitle\""),
        "{}",
        tested.body
    );
    assert!(tested.body.contains("Rear Admiral"));
    assert!(
        app.store
            .get_link(connector, grace.id)
            .await
            .unwrap()
            .is_none(),
        "nothing synced"
    );
    let unknown = v
        .submit(
            PATH,
            &format!("{PATH}/test"),
            &[("customer_id", &uuid::Uuid::now_v7().to_string())],
        )
        .await;
    assert_eq!(unknown.status, 404);

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    assert_eq!(agent.get(PATH).await.status, 403);
}

keva_store::backend_tests!(with = crate::harness::connected;
    mappings_are_added_with_the_apis_validation
);
