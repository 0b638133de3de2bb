//! *CRM Sync → HubSpot → Field Mappings* over HTTP, on both backends, against the
//! sandbox: the table, Add Mapping refused with the API's hint for a label ("use
//! jobtitle, not Job Title") and nothing saved, then fixed and saved; Remove;
//! Refresh Properties; Test Mapping's dry run; the conflict policy saved with the
//! connector settings API's validation; *Auto-Map Fields* reviewed, accepted,
//! changed and saved through the same validation (merged with the current
//! mappings, nothing saved on error); an agent gets 403; the Keva-field list
//! offers the workspace's live custom attributes, one of which is saved through
//! the form while an undefined key is refused without being interned.

use keva_core::{ConflictPolicy, Direction, ObjectKind};
use keva_store::UserRole;
use serde_json::{json, Value};

use crate::console_support::{signed_in, Page};
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

async fn custom_attributes_are_offered_and_mapped(app: TestApp) {
    app.sandbox_ok(
        reqwest::Method::POST,
        "/crm/v3/properties/contacts",
        Some(
            json!({"name": "seat_count", "label": "Seats", "type": "number",
            "fieldType": "number", "groupName": "contactinformation"}),
        ),
        201,
    )
    .await;
    for body in [
        json!({"key": "seats", "label": "Seat count", "type": "number"}),
        json!({"key": "legacyTier", "label": "Legacy tier", "type": "string"}),
    ] {
        app.expect(app.post("/api/customer-attributes", body), 201, "attribute")
            .await;
    }
    app.expect(
        app.delete("/api/customer-attributes/legacyTier"),
        200,
        "retire",
    )
    .await;
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(PATH).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<option value=\"attributes.seats\">Seat count (attributes.seats)</option>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("attributes.legacyTier"),
        "retired attributes are not offered"
    );
    let stored = mappings_of(&app).await;

    // A key the workspace does not define: refused, nothing saved, not interned.
    let made_up = "attributes.consoleMadeUpKey";
    let refused = v
        .submit(
            PATH,
            &format!("{PATH}/add"),
            &[
                ("object", "Contact"),
                ("keva_field", made_up),
                ("hubspot_property", "seat_count"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("no such attribute"),
        "{}",
        refused.body
    );
    assert!(!keva_core::is_interned(made_up));
    assert_eq!(mappings_of(&app).await, stored, "nothing saved");

    let saved = v
        .submit(
            PATH,
            &format!("{PATH}/add"),
            &[
                ("object", "Contact"),
                ("keva_field", "attributes.seats"),
                ("hubspot_property", "seat_count"),
                ("direction", "bidirectional"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = v.get(saved.location()).await;
    assert!(
        page.body.contains("data-keva-field=\"attributes.seats\""),
        "{}",
        page.body
    );
    let api = app
        .expect(app.get("/api/crm/hubspot/mappings"), 200, "mappings")
        .await;
    let seats = api["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kevaField"] == "attributes.seats")
        .cloned()
        .unwrap_or_else(|| panic!("no seats mapping in {api}"));
    assert_eq!(seats["hubspotProperties"], json!(["seat_count"]));
    assert_eq!(seats["direction"], "bidirectional");
}

async fn stored_policy(app: &TestApp) -> ConflictPolicy {
    app.store
        .get_connector(app.workspace_id, app.connector_id())
        .await
        .unwrap()
        .unwrap()
        .conflict_policy
}

async fn the_conflict_policy_is_saved_with_the_settings_apis_validation(app: TestApp) {
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(PATH).await;
    assert!(
        page.body
            .contains("<option value=\"newest_wins\" selected>"),
        "{}",
        page.body
    );
    let form = |p: &'static str| [("object", "Contact"), ("conflict_policy", p)];
    let saved = v
        .submit(
            PATH,
            &format!("{PATH}/conflict-policy"),
            &form("hubspot_wins"),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = v.get(saved.location()).await;
    assert!(
        page.body.contains("Conflict policy saved: HubSpot wins."),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<option value=\"hubspot_wins\" selected>"));
    assert_eq!(stored_policy(&app).await, ConflictPolicy::HubspotWins);
    let api = app
        .expect(
            app.get(&format!(
                "/api/crm/hubspot/connectors/{}",
                app.connector_id()
            )),
            200,
            "connector",
        )
        .await;
    assert_eq!(api["settings"]["conflictPolicy"], "hubspot_wins");

    // The API's refusal, shown on the page; nothing changes.
    let refused = v
        .submit(
            PATH,
            &format!("{PATH}/conflict-policy"),
            &form("loudest_wins"),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("conflictPolicy must be newest_wins, keva_wins or hubspot_wins"),
        "{}",
        refused.body
    );
    assert_eq!(stored_policy(&app).await, ConflictPolicy::HubspotWins);

    // The Company tab has the policy too, and says why it has no Test Mapping.
    let company = v.get(&format!("{PATH}?object=Company")).await;
    assert_eq!(company.status, 200, "{}", company.body);
    assert!(company.body.contains("id=\"conflict_policy\""));
    assert!(company.body.contains("there is no Company preview"));

    // Agents may not.
    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    let forbidden = agent
        .submit(
            "/customers",
            &format!("{PATH}/conflict-policy"),
            &form("keva_wins"),
        )
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert_eq!(stored_policy(&app).await, ConflictPolicy::HubspotWins);
}

const AUTOMAP: &str = "/settings/crm-sync/hubspot/mappings/automap";

/// The review row of `key`.
fn row<'a>(page: &'a Page, key: &str) -> &'a str {
    let start = page
        .body
        .find(&format!("<tr data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no row for {key} in {}", page.body));
    let rest = &page.body[start..];
    &rest[..rest.find("</tr>").expect("row end")]
}

async fn mappings_of(app: &TestApp) -> Vec<keva_core::FieldMapping> {
    app.store
        .mappings(app.connector_id(), ObjectKind::Contact)
        .await
        .unwrap()
        .map(|m| m.mappings)
        .unwrap_or_default()
}

async fn auto_map_suggestions_are_reviewed_and_the_accepted_saved(app: TestApp) {
    let connector = app.connector_id();
    // Only email is mapped: the other built-ins get suggestions.
    app.expect(
        app.put(
            "/api/crm/hubspot/mappings?object=Contact",
            json!({"mappings": [{"kevaField": "email", "hubspotProperties": ["email"],
                "direction": "bidirectional"}]}),
        ),
        200,
        "save mappings",
    )
    .await;
    let api: Value = app.automap_contacts(connector).await;
    let suggestions = api["suggestions"].as_array().unwrap();
    let job = suggestions
        .iter()
        .find(|s| s["key"] == "jobTitle")
        .expect("a jobTitle suggestion");
    assert_eq!(job["property"], "jobtitle", "{api}");

    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let mappings_page = v.get(PATH).await;
    assert!(mappings_page
        .body
        .contains(&format!("action=\"{AUTOMAP}\"")));
    let review = v.get(&format!("{AUTOMAP}?object=Contact")).await;
    assert_eq!(review.status, 200, "{}", review.body);
    // Every suggestion of the API is a row, with its property, confidence, reason.
    for s in suggestions {
        let key = s["key"].as_str().unwrap();
        let r = row(&review, key);
        if let Some(p) = s["property"].as_str() {
            assert!(r.contains(&format!("data-property=\"{p}\"")), "{r}");
        } else {
            assert!(r.contains("No match"), "{r}");
        }
        let confidence = format!("{:.2}", s["confidence"].as_f64().unwrap());
        assert!(
            r.contains(&format!("data-confidence=\"{confidence}\"")),
            "{r}"
        );
        let reason = s["reason"].as_str().unwrap().replace('\'', "&#39;");
        assert!(
            r.contains(&reason) || r.contains(s["reason"].as_str().unwrap()),
            "{r}"
        );
        for a in s["alternatives"].as_array().unwrap() {
            assert!(r.contains(a["property"].as_str().unwrap()), "{r}");
        }
    }
    assert!(
        !review.body.contains("<tr data-key=\"email\""),
        "email is mapped"
    );
    let jr = row(&review, "jobTitle");
    assert!(jr.contains("Job Title"), "the label: {jr}");
    assert!(jr.contains("<option value=\"jobtitle\" selected>"), "{jr}");

    // Accept jobTitle as suggested but To CRM; accept location, changed to city
    // From CRM; reject everything else.
    let csrf = review.csrf();
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("object".into(), "Contact".into()),
    ];
    for s in suggestions {
        let key = s["key"].as_str().unwrap().to_string();
        let (decision, property, direction) = match key.as_str() {
            "jobTitle" => ("accept", "jobtitle".to_string(), "to_crm"),
            "location" => ("accept", "city".to_string(), "from_crm"),
            _ => (
                "reject",
                s["property"].as_str().unwrap_or("").to_string(),
                s["direction"].as_str().unwrap(),
            ),
        };
        form.push(("key".into(), key.clone()));
        form.push((format!("decision.{key}"), decision.into()));
        form.push((format!("property.{key}"), property));
        form.push((format!("direction.{key}"), direction.into()));
    }

    // First a property that does not exist: refused inline, nothing saved, the
    // choices kept.
    let mut wrong = form.clone();
    for (k, val) in wrong.iter_mut() {
        if k == "property.location" {
            *val = "Town".into();
        }
    }
    let before = mappings_of(&app).await;
    let pairs: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = v.post(AUTOMAP, &pairs).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Property doesn&#39;t exist: &#39;Town&#39;")
            || refused.body.contains("Property doesn't exist: 'Town'"),
        "{}",
        refused.body
    );
    assert!(row(&refused, "location").contains("<option value=\"Town\" selected>"));
    assert!(row(&refused, "location").contains("<option value=\"from_crm\" selected>"));
    assert_eq!(mappings_of(&app).await, before, "nothing saved");

    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let saved = v.post(AUTOMAP, &pairs).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = v.get(saved.location()).await;
    assert!(
        page.body
            .contains("Saved 2 accepted mapping(s) from Auto-Map."),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-keva-field=\"jobTitle\""));
    let stored = mappings_of(&app).await;
    assert_eq!(stored.len(), 3, "email kept, two added: {stored:?}");
    let of = |key: &str| {
        stored
            .iter()
            .find(|m| m.keva_field.as_str() == key)
            .unwrap_or_else(|| panic!("{key} in {stored:?}"))
    };
    assert_eq!(of("email").hubspot_properties, ["email"]);
    assert_eq!(of("jobTitle").hubspot_properties, ["jobtitle"]);
    assert_eq!(of("jobTitle").direction, Direction::ToCrm);
    assert_eq!(of("location").hubspot_properties, ["city"]);
    assert_eq!(of("location").direction, Direction::FromCrm);

    // Nothing accepted: nothing changes.
    let review = v.get(&format!("{AUTOMAP}?object=Contact")).await;
    assert!(
        !review.body.contains("<tr data-key=\"jobTitle\""),
        "mapped now"
    );
    let none = v
        .post(
            AUTOMAP,
            &[("csrf", review.csrf().as_str()), ("object", "Contact")],
        )
        .await;
    assert_eq!(none.status, 303);
    assert!(v
        .get(none.location())
        .await
        .body
        .contains("nothing changed"));
    assert_eq!(mappings_of(&app).await, stored);

    // The Company object has its own review.
    let company = v.get(&format!("{AUTOMAP}?object=Company")).await;
    assert_eq!(company.status, 200, "{}", company.body);
    assert!(company.body.contains("Auto-Map Fields · Company"));

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    assert_eq!(
        agent.get(&format!("{AUTOMAP}?object=Contact")).await.status,
        403
    );
    let csrf = agent.get("/customers").await.csrf();
    let forbidden = agent
        .post(
            AUTOMAP,
            &[
                ("csrf", csrf.as_str()),
                ("object", "Contact"),
                ("key", "phone"),
                ("decision.phone", "accept"),
                ("property.phone", "phone"),
                ("direction.phone", "bidirectional"),
            ],
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(mappings_of(&app).await, stored);
}

/// A custom attribute's suggestion is accepted on the review page and saved as
/// `attributes.<key>` (auto-map names attributes by their bare key).
async fn an_accepted_attribute_suggestion_is_saved_as_the_attribute(app: TestApp) {
    app.expect(
        app.post(
            "/api/customer-attributes",
            json!({"key": "website", "label": "Website", "type": "string"}),
        ),
        201,
        "define the attribute",
    )
    .await;
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let review = v.get(&format!("{AUTOMAP}?object=Contact")).await;
    assert_eq!(review.status, 200, "{}", review.body);
    let r = row(&review, "website");
    assert!(r.contains("<option value=\"website\" selected>"), "{r}");
    let csrf = review.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("object", "Contact"),
        ("key", "website"),
        ("decision.website", "accept"),
        ("property.website", "website"),
        ("direction.website", "from_crm"),
    ];
    let saved = v.post(AUTOMAP, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let stored = mappings_of(&app).await;
    let m = stored
        .iter()
        .find(|m| m.keva_field.as_str() == "attributes.website")
        .unwrap_or_else(|| panic!("attributes.website in {stored:?}"));
    assert_eq!(m.hubspot_properties, ["website"]);
    assert_eq!(m.direction, Direction::FromCrm);
}

keva_store::backend_tests!(with = crate::harness::connected;
    mappings_are_added_with_the_apis_validation,
    the_conflict_policy_is_saved_with_the_settings_apis_validation,
    auto_map_suggestions_are_reviewed_and_the_accepted_saved,
    custom_attributes_are_offered_and_mapped,
    an_accepted_attribute_suggestion_is_saved_as_the_attribute,
);
