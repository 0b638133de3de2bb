//! Property test: random interleavings of Keva edits (through the API) and HubSpot
//! edits (as a HubSpot user), with syncs in between, always end with both sides
//! holding equal mapped values and one contact per customer.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::harness::TestApp;

#[derive(Debug, Clone)]
enum Op {
    /// A Keva edit: field, value.
    Keva(&'static str, String),
    /// A HubSpot edit: property, value.
    Hubspot(&'static str, String),
    /// What the webhook intake would enqueue after HubSpot edits.
    Inbound,
    /// Let queued jobs run.
    Settle,
}

/// Keva field ↔ HubSpot property pairs the test edits (bidirectional mappings).
const PAIRS: [(&str, &str); 4] = [
    ("phone", "phone"),
    ("company", "company"),
    ("jobTitle", "jobtitle"),
    ("notes", "notes"),
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Z][a-z]{1,5}( [A-Z][a-z]{1,5})?", Just(String::new()),]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..PAIRS.len(), value()).prop_map(|(i, v)| Op::Keva(PAIRS[i].0, v)),
        3 => (0..PAIRS.len(), value()).prop_map(|(i, v)| Op::Hubspot(PAIRS[i].1, v)),
        1 => "[A-Z][a-z]{1,5} [A-Z][a-z]{1,5}".prop_map(|v| Op::Keva("name", v)),
        1 => Just(Op::Inbound),
        2 => Just(Op::Settle),
    ]
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().trim().to_string()
}

async fn run(app: TestApp, ops: Vec<Op>) {
    let connector = app.connector().await;
    let customer = app
        .synced_customer(
            json!({"email": "prop@example.com", "name": "Start Name", "company": "Init"}),
        )
        .await;
    let id = app.contact_id(&customer).await;
    for op in ops {
        match op {
            Op::Keva(field, v) => {
                app.edit_customer(&customer, json!({ field: v })).await;
            }
            Op::Hubspot(prop, v) => app.edit_contact(&id, json!({ prop: v })).await,
            Op::Inbound => app.inbound(connector, &id).await,
            Op::Settle => app.settle().await,
        }
    }
    // Whatever happened, a sync from each side's trigger converges.
    app.settle().await;
    app.inbound(connector, &id).await;
    let (s, o) = app.sync_now(&customer, connector).await;
    assert_eq!(s, 200, "{o}");
    app.settle().await;

    let c = app.customer(&customer).await;
    let p = app.contact(&id).await;
    for (field, prop) in PAIRS {
        assert_eq!(
            text(&c[field]),
            text(&p[prop]),
            "{field} vs {prop}: {c} / {p}"
        );
    }
    let joined = [text(&p["firstname"]), text(&p["lastname"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(text(&c["name"]), joined, "name: {c} / {p}");
    assert_eq!(text(&c["email"]).to_lowercase(), text(&p["email"]));
    assert_eq!(app.contact_count(), 1, "no duplicate contact");
    // Converged means stable: another sync changes nothing.
    let (_, o) = app.sync_now(&customer, connector).await;
    assert_eq!(o["direction"], "none", "{o}");
}

fn check(backend: keva_store::Backend, ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move { run(crate::harness::sandboxed(backend).await, ops).await });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 8,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sqlite_interleavings_converge(ops in prop::collection::vec(op(), 1..8)) {
        check(keva_store::Backend::Sqlite, ops);
    }

    #[test]
    fn postgres_interleavings_converge(ops in prop::collection::vec(op(), 1..8)) {
        check(keva_store::Backend::Postgres, ops);
    }
}
