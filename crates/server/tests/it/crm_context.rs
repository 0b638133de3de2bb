//! B2B context from HubSpot against the sandbox over HTTP, on both backends: a
//! contact's primary company and deals in two pipelines shown with labels, status
//! and priority (and on the ticket API); edits, stage changes and removed
//! associations, merges and deletions reaching the context by webhook; companies stored once however
//! many customers share them; a batch run's HubSpot calls per customer; and a
//! Company mapping that would write a read-only property refused.

use keva_store::{CrmObject, NewCustomer};
use reqwest::Method;
use serde_json::{json, Value};

use crate::batch_support::test_settings;
use crate::harness::{call, eventually, TestApp};
use crate::webhook_support::deliver_webhooks;

/// The company and deal events the service subscribes to, plus the contact ones.
const EVENT_TYPES: &[&str] = &[
    "contact.creation",
    "contact.deletion",
    "contact.propertyChange",
    "contact.merge",
    "contact.associationChange",
    "company.propertyChange",
    "company.deletion",
    "company.merge",
    "company.associationChange",
    "deal.propertyChange",
    "deal.deletion",
    "deal.merge",
    "deal.associationChange",
];

pub(crate) async fn enable_context(sa: &TestApp) {
    let v = sa
        .expect(
            sa.put(
                "/api/crm/hubspot/context/settings",
                json!({"enabled": true}),
            ),
            200,
            "enable context",
        )
        .await;
    assert_eq!(v["enabled"], true);
    assert_eq!(v["statusRules"]["anyWon"], "customer");
}

/// Creates a HubSpot record through the API; returns its id.
async fn hs_create(sa: &TestApp, object: &str, props: Value) -> String {
    let path = format!("/crm/v3/objects/{object}");
    let v = sa
        .sandbox_ok(Method::POST, &path, Some(json!({"properties": props})), 201)
        .await;
    v["id"].as_str().expect("id").to_string()
}

async fn associate(sa: &TestApp, from: &str, id: &str, to: &str, to_id: &str, type_id: u32) {
    let path = format!("/crm/v4/objects/{from}/{id}/associations/{to}/{to_id}");
    let body = json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]);
    sa.sandbox_ok(Method::PUT, &path, Some(body), 201).await;
}

async fn context(sa: &TestApp, customer: &str) -> (u16, Value) {
    call(sa.get(&format!("/api/customers/{customer}/crm/context"))).await
}

/// The ids of one scenario: a customer linked to a contact whose primary company
/// is Acme Inc, with three deals in two pipelines.
pub(crate) struct Scenario {
    pub(crate) customer: String,
    contact: String,
    pub(crate) company: String,
    renewal: String,
    pilot: String,
}

/// Acme Inc (Computer Software, 250 employees); "Renewal 2027" $48,000 in the
/// default pipeline at Contract Sent (90%) and "Pilot" $5,000 won in a "Renewals"
/// pipeline, both on the contact; "Expansion" $20,000 at Negotiation (50%) in
/// Renewals, on the company only.
pub(crate) async fn scenario(sa: &TestApp) -> Scenario {
    let c = sa
        .create_customer(json!({"email": "dana@acme.example", "name": "Dana Scully"}))
        .await;
    let customer = c["id"].as_str().expect("id").to_string();
    sa.settle().await;
    let contact = sa.contact_id(&customer).await;

    let pipeline = sa
        .sandbox_ok(
            Method::POST,
            "/crm/v3/pipelines/deals",
            Some(json!({"label": "Renewals", "displayOrder": 1, "stages": [
                {"label": "Negotiation", "displayOrder": 0,
                 "metadata": {"probability": "0.5", "isClosed": "false"}},
                {"label": "Renewed", "displayOrder": 1,
                 "metadata": {"probability": "1.0", "isClosed": "true"}}]})),
            201,
        )
        .await;
    let pipeline_id = pipeline["id"].as_str().expect("pipeline id").to_string();
    let stage = |i: usize| {
        pipeline["stages"][i]["id"]
            .as_str()
            .expect("stage")
            .to_string()
    };

    let company = hs_create(
        sa,
        "companies",
        json!({"name": "Acme Inc", "domain": "acme.example", "industry": "COMPUTER_SOFTWARE",
               "numberofemployees": "250", "city": "Springfield", "type": "PARTNER"}),
    )
    .await;
    let renewal = hs_create(
        sa,
        "deals",
        json!({"dealname": "Renewal 2027", "amount": "48000", "pipeline": "default",
               "dealstage": "contractsent"}),
    )
    .await;
    let pilot = hs_create(
        sa,
        "deals",
        json!({"dealname": "Pilot", "amount": "5000", "pipeline": pipeline_id,
               "dealstage": stage(1)}),
    )
    .await;
    let expansion = hs_create(
        sa,
        "deals",
        json!({"dealname": "Expansion", "amount": "20000", "pipeline": pipeline_id,
               "dealstage": stage(0)}),
    )
    .await;
    // Primary company (type 1), the contact's two deals (4), the company's deal (342).
    associate(sa, "contacts", &contact, "companies", &company, 1).await;
    associate(sa, "contacts", &contact, "deals", &renewal, 4).await;
    associate(sa, "contacts", &contact, "deals", &pilot, 4).await;
    associate(sa, "companies", &company, "deals", &expansion, 342).await;
    Scenario {
        customer,
        contact,
        company,
        renewal,
        pilot,
    }
}

/// Syncs the customer now (which refreshes its context) and returns the context.
async fn synced_context(sa: &TestApp, customer: &str) -> Value {
    let (s, b) = sa.sync_now(customer, sa.connector_id()).await;
    assert_eq!(s, 200, "{b}");
    let (s, v) = context(sa, customer).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn deal<'a>(ctx: &'a Value, name: &str) -> &'a Value {
    ctx["deals"]
        .as_array()
        .expect("deals")
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no deal {name} in {ctx}"))
}

const EXPECTED_AI_CONTEXT: &str = "Acme Inc · Computer Software · 250 employees · \
    Open: Renewal 2027, $48,000, Contract Sent (90%); Expansion, $20,000, Negotiation (50%) · \
    Won: Pilot, $5,000";

async fn a_contact_with_a_company_and_three_deals_gets_labels_status_and_priority(sa: TestApp) {
    let s = scenario(&sa).await;
    // Off by default: a sync reads no context.
    let (st, b) = sa.sync_now(&s.customer, sa.connector_id()).await;
    assert_eq!(st, 200, "{b}");
    let (st, v) = context(&sa, &s.customer).await;
    assert_eq!(st, 404, "{v}");

    enable_context(&sa).await;
    let ctx = synced_context(&sa, &s.customer).await;
    println!("aiContext: {}", ctx["aiContext"]);
    assert_eq!(ctx["company"]["id"], s.company.as_str());
    assert_eq!(ctx["company"]["name"], "Acme Inc");
    assert_eq!(ctx["company"]["industry"], "Computer Software");
    assert_eq!(ctx["company"]["employeeCount"], 250);
    assert_eq!(ctx["deals"].as_array().map(Vec::len), Some(3), "{ctx}");
    let renewal = deal(&ctx, "Renewal 2027");
    assert_eq!(renewal["pipeline"], "Sales Pipeline");
    assert_eq!(renewal["stage"], "Contract Sent");
    assert_eq!(renewal["probability"], 0.9);
    assert_eq!(renewal["state"], "open");
    assert_eq!(renewal["amount"], 48000.0);
    let pilot = deal(&ctx, "Pilot");
    assert_eq!(
        (&pilot["pipeline"], &pilot["stage"]),
        (&json!("Renewals"), &json!("Renewed"))
    );
    assert_eq!(pilot["state"], "won");
    let expansion = deal(&ctx, "Expansion");
    assert_eq!(expansion["stage"], "Negotiation");
    assert_eq!(expansion["state"], "open");
    // A won deal makes a customer; W = 48,000 × 0.9 + 20,000 × 0.5 = 53,200 →
    // round(100 · 53,200 / 63,200) = 84.
    assert_eq!(ctx["status"], "customer");
    assert_eq!(ctx["priority"], 84);
    assert_eq!(ctx["aiContext"], EXPECTED_AI_CONTEXT);
    assert!(ctx["fetchedAt"].is_string());

    // The ticket API carries the same context for the ticket's customer.
    let t = sa
        .expect(
            sa.post(
                "/api/tickets",
                json!({"email": "dana@acme.example", "subject": "Invoice question"}),
            ),
            201,
            "ticket",
        )
        .await;
    assert_eq!(t["crmContext"]["aiContext"], EXPECTED_AI_CONTEXT);
    assert_eq!(t["crmContext"]["priority"], 84);

    // Admins may show more company properties; enumeration values by label.
    let (st, b) = call(sa.put(
        "/api/crm/hubspot/context/settings",
        json!({"enabled": true, "companyProperties": ["cty"]}),
    ))
    .await;
    assert_eq!(st, 422, "{b}");
    assert!(b.to_string().contains("use city"), "{b}");
    sa.expect(
        sa.put(
            "/api/crm/hubspot/context/settings",
            json!({"enabled": true, "companyProperties": ["city", "type"]}),
        ),
        200,
        "company properties",
    )
    .await;
    let ctx = synced_context(&sa, &s.customer).await;
    assert_eq!(ctx["company"]["fields"]["city"], "Springfield", "{ctx}");
    assert_eq!(ctx["company"]["fields"]["type"], "Partner", "{ctx}");

    // Status rules are per connector.
    sa.expect(
        sa.put(
            "/api/crm/hubspot/context/settings",
            json!({"enabled": true, "statusRules": {"anyWon": "prospect"}}),
        ),
        200,
        "rules",
    )
    .await;
    let (_, v) = context(&sa, &s.customer).await;
    assert_eq!(v["status"], "prospect");
    let (st, _) = call(sa.put(
        "/api/crm/hubspot/context/settings",
        json!({"enabled": true, "statusRules": {"anyWon": "vip"}}),
    ))
    .await;
    assert!(st == 400 || st == 422, "an unknown status is refused: {st}");
}

async fn hubspot_edits_and_removed_associations_reach_the_context_by_webhook(sa: TestApp) {
    let s = scenario(&sa).await;
    enable_context(&sa).await;
    deliver_webhooks(&sa, json!({"eventTypes": EVENT_TYPES})).await;
    let ctx = synced_context(&sa, &s.customer).await;
    assert_eq!(ctx["company"]["industry"], "Computer Software");

    // A HubSpot user changes the company's industry and a deal's stage.
    let path = format!("/_sandbox/objects/companies/{}", s.company);
    sa.sandbox_ok(
        Method::PATCH,
        &path,
        Some(json!({"properties": {"industry": "BANKING"}})),
        200,
    )
    .await;
    let path = format!("/_sandbox/objects/deals/{}", s.renewal);
    sa.sandbox_ok(
        Method::PATCH,
        &path,
        Some(json!({"properties": {"dealstage": "closedwon"}})),
        200,
    )
    .await;
    let ctx = eventually(10, "the edits reach the context", || async {
        let (_, v) = context(&sa, &s.customer).await;
        (v["company"]["industry"] == "Banking" && deal(&v, "Renewal 2027")["state"] == "won")
            .then_some(v)
    })
    .await;
    assert_eq!(deal(&ctx, "Renewal 2027")["stage"], "Closed Won");
    // Only Expansion is open now: W = 10,000 → 50.
    assert_eq!(ctx["priority"], 50);

    // The Pilot deal's association with the contact is removed.
    let path = format!(
        "/crm/v4/objects/contacts/{}/associations/deals/{}",
        s.contact, s.pilot
    );
    sa.sandbox_ok(Method::DELETE, &path, None, 204).await;
    eventually(10, "the removed deal leaves the context", || async {
        let (_, v) = context(&sa, &s.customer).await;
        let names: Vec<&str> = v["deals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str())
            .collect();
        !names.contains(&"Pilot") && names.contains(&"Expansion")
    })
    .await;

    // The company is merged into another in HubSpot: the context follows the survivor.
    let survivor = hs_create(&sa, "companies", json!({"name": "Acme Holdings"})).await;
    sa.sandbox_ok(
        Method::POST,
        "/_sandbox/objects/companies/merge",
        Some(json!({"primaryObjectId": survivor, "objectIdToMerge": s.company})),
        200,
    )
    .await;
    eventually(
        10,
        "the context follows the merged company's survivor",
        || async {
            let (_, v) = context(&sa, &s.customer).await;
            v["company"]["id"] == survivor.as_str() && v["company"]["name"] == "Acme Holdings"
        },
    )
    .await;

    // The company is deleted in HubSpot: gone from the context.
    let path = format!("/crm/v3/objects/companies/{survivor}");
    sa.sandbox_ok(Method::DELETE, &path, None, 204).await;
    eventually(10, "the deleted company leaves the context", || async {
        let (_, v) = context(&sa, &s.customer).await;
        v["company"].is_null()
    })
    .await;
}

async fn a_company_mapping_to_a_read_only_property_cannot_write_it(sa: TestApp) {
    let put = |direction: &str| {
        sa.put(
            "/api/crm/hubspot/mappings?object=Company",
            json!({"mappings": [{"kevaField": "company", "hubspotProperties": ["createdate"],
                                 "direction": direction}]}),
        )
    };
    let (s, b) = call(put("to_crm")).await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("read-only"), "{b}");
    let (s, b) = call(put("from_crm")).await;
    assert_eq!(s, 200, "reading a read-only property is fine: {b}");
}

/// `n` customers and their contacts (matching, so the batch only links them), each
/// contact's primary company one of 20, each company with two deals.
async fn shared_companies(env: &TestApp, n: usize) {
    for i in 0..n {
        env.store
            .insert_customer(
                env.workspace_id,
                NewCustomer {
                    email: format!("p{i}@example.com"),
                    name: Some(format!("Given{i} Family{i}")),
                    company: Some("Acme".into()),
                    ..NewCustomer::default()
                },
            )
            .await
            .expect("insert customer");
    }
    let batch = |object: &str, inputs: Vec<Value>| {
        let path = format!("/crm/v3/objects/{object}/batch/create");
        async move {
            let mut ids = Vec::new();
            for chunk in inputs.chunks(100) {
                let (s, b) = env
                    .sandbox(Method::POST, &path, Some(json!({"inputs": chunk})))
                    .await;
                assert!(s == 201 || s == 200, "{path}: {s} {b}");
                let mut got: Vec<(String, String)> = b["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .map(|r| {
                        let key = r["properties"]["email"]
                            .as_str()
                            .or(r["properties"]["name"].as_str())
                            .or(r["properties"]["dealname"].as_str())
                            .unwrap_or_default()
                            .to_string();
                        (key, r["id"].as_str().expect("id").to_string())
                    })
                    .collect();
                ids.append(&mut got);
            }
            ids
        }
    };
    let contacts: Vec<Value> = (0..n)
        .map(|i| {
            json!({"properties": {"email": format!("p{i}@example.com"),
                "firstname": format!("Given{i}"), "lastname": format!("Family{i}"),
                "company": "Acme"}})
        })
        .collect();
    let mut contacts = batch("contacts", contacts).await;
    contacts.sort_by_key(|(email, _)| {
        email
            .trim_start_matches('p')
            .trim_end_matches("@example.com")
            .parse::<usize>()
            .unwrap_or(0)
    });
    let companies: Vec<Value> = (0..20)
        .map(|i| json!({"properties": {"name": format!("Company {i:02}"), "industry": "BANKING"}}))
        .collect();
    let mut companies = batch("companies", companies).await;
    companies.sort();
    let deals: Vec<Value> = (0..40)
        .map(|i| {
            json!({"properties": {"dealname": format!("Deal {i:02}"), "amount": "1000",
                "pipeline": "default", "dealstage": "qualifiedtobuy"}})
        })
        .collect();
    let mut deals = batch("deals", deals).await;
    deals.sort();
    let pairs = |from: Vec<(String, String)>| -> Vec<Value> {
        from.into_iter()
            .map(|(a, b)| json!({"from": {"id": a}, "to": {"id": b}}))
            .collect()
    };
    let contact_company: Vec<(String, String)> = contacts
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (c.clone(), companies[i % 20].1.clone()))
        .collect();
    let company_deal: Vec<(String, String)> = deals
        .iter()
        .enumerate()
        .map(|(i, (_, d))| (companies[i % 20].1.clone(), d.clone()))
        .collect();
    for (path, inputs) in [
        ("contacts/companies", pairs(contact_company)),
        ("companies/deals", pairs(company_deal)),
    ] {
        for chunk in inputs.chunks(100) {
            let path = format!("/crm/v4/associations/{path}/batch/associate/default");
            let (s, b) = env
                .sandbox(Method::POST, &path, Some(json!({"inputs": chunk})))
                .await;
            assert_eq!(s, 200, "{path}: {b}");
        }
    }
}

async fn run_batch(env: &TestApp) -> Value {
    let (run, task) = env.start(test_settings()).await;
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    let _ = task.await;
    assert_eq!(p["state"], "done", "{p}");
    p
}

async fn five_hundred_customers_sharing_twenty_companies_store_twenty(env: TestApp) {
    shared_companies(&env, 500).await;
    enable_context(&env).await;
    let p = run_batch(&env).await;
    assert_eq!(p["linked"], 500, "{p}");
    let companies = env
        .store
        .count_crm_records(env.connector_id(), CrmObject::Company)
        .await
        .expect("count");
    assert_eq!(companies, 20);
    let deals = env
        .store
        .count_crm_records(env.connector_id(), CrmObject::Deal)
        .await
        .expect("count");
    assert_eq!(deals, 40);
}

async fn a_batch_of_two_thousand_with_context_stays_within_the_call_budget(env: TestApp) {
    shared_companies(&env, 2000).await;
    enable_context(&env).await;
    // The seeding's calls leave the rate-limit windows as they were set: empty.
    env.set_limits(json!({"enabled": true})).await;
    env.reset_stats();
    let p = run_batch(&env).await;
    assert_eq!(p["processed"], 2000, "{p}");
    let stats = env.stats().await;
    let total = stats["total"].as_u64().expect("total");
    let per_customer = total as f64 / 2000.0;
    println!(
        "batch with context: {total} HubSpot calls for 2000 customers = {per_customer:.4} per customer, {} × 429",
        stats["rateLimited"]
    );
    assert!(per_customer <= 0.06, "{total} calls: {stats}");
    assert_eq!(stats["rateLimited"], 0, "{stats}");
    assert_eq!(
        env.store
            .count_crm_records(env.connector_id(), CrmObject::Company)
            .await
            .expect("count"),
        20
    );
    // Every customer has its company and the company's two deals.
    let customer = env
        .store
        .customers_for_batch(env.workspace_id, env.connector_id(), None, 1)
        .await
        .expect("customers")
        .remove(0)
        .0;
    let (s, v) = context(&env, &customer.id.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["deals"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["status"], "prospect");
}

// One fixture for all: the sandbox with HubSpot's rate limits on, portal connected.
keva_store::backend_tests!(with = crate::batch_support::batch_env;
    a_contact_with_a_company_and_three_deals_gets_labels_status_and_priority,
    hubspot_edits_and_removed_associations_reach_the_context_by_webhook,
    a_company_mapping_to_a_read_only_property_cannot_write_it,
    five_hundred_customers_sharing_twenty_companies_store_twenty,
    a_batch_of_two_thousand_with_context_stays_within_the_call_budget,
);
