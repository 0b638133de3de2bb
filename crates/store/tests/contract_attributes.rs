//! The store contract for custom attribute definitions, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keva_store::testing::TestStore;
use keva_store::{AttributeUpdate, NewAttribute, StoreError};

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    attribute_definitions,
    attribute_unknown_workspace_and_keys,
);

fn new(key: &str, kind: &str, options: &[&str]) -> NewAttribute {
    NewAttribute {
        key: key.into(),
        label: key.to_uppercase(),
        kind: kind.into(),
        description: None,
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

async fn attribute_definitions(ts: TestStore) {
    let store = &*ts;
    let ws = store.create_workspace("acme").await.unwrap().id;
    let other = store.create_workspace("globex").await.unwrap().id;

    let plan = store
        .create_attribute(ws, &new("plan", "enum", &["free", "pro"]))
        .await
        .unwrap();
    assert_eq!(plan.key, "plan");
    assert_eq!(plan.kind, "enum");
    assert_eq!(plan.options, ["free", "pro"]);
    assert_eq!(plan.retired_at, None);
    store
        .create_attribute(ws, &new("mrr", "number", &[]))
        .await
        .unwrap();
    let dup = store
        .create_attribute(ws, &new("plan", "string", &[]))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("plan")),
        "{dup:?}"
    );
    // Keys are per workspace.
    store
        .create_attribute(other, &new("plan", "string", &[]))
        .await
        .unwrap();

    let listed = store.list_attributes(ws, false).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["mrr", "plan"]
    );
    assert_eq!(
        store.attribute(ws, "plan").await.unwrap(),
        Some(plan.clone())
    );
    assert_eq!(store.attribute(other, "mrr").await.unwrap(), None);

    let updated = store
        .update_attribute(
            ws,
            "plan",
            &AttributeUpdate {
                label: "Plan".into(),
                description: Some("Billing plan".into()),
                options: vec!["free".into(), "pro".into(), "enterprise".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.label, "Plan");
    assert_eq!(updated.kind, "enum");
    assert_eq!(updated.options, ["free", "pro", "enterprise"]);
    assert_eq!(updated.description.as_deref(), Some("Billing plan"));
    assert_eq!(store.attribute(ws, "plan").await.unwrap(), Some(updated));

    let retired = store.retire_attribute(ws, "mrr").await.unwrap();
    let first = retired.retired_at.expect("retired");
    let again = store.retire_attribute(ws, "mrr").await.unwrap();
    assert_eq!(again.retired_at, Some(first), "the first retirement stays");
    assert_eq!(store.list_attributes(ws, false).await.unwrap().len(), 1);
    assert_eq!(store.list_attributes(ws, true).await.unwrap().len(), 2);
    let reuse = store.create_attribute(ws, &new("mrr", "string", &[])).await;
    assert!(matches!(reuse, Err(StoreError::Conflict(_))), "{reuse:?}");
    assert_eq!(store.list_attributes(other, true).await.unwrap().len(), 1);
}

async fn attribute_unknown_workspace_and_keys(ts: TestStore) {
    let store = &*ts;
    let ws = store.create_workspace("acme").await.unwrap().id;
    let missing = store
        .create_attribute(uuid::Uuid::new_v4(), &new("plan", "string", &[]))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let update = AttributeUpdate {
        label: "x".into(),
        description: None,
        options: Vec::new(),
    };
    assert!(matches!(
        store.update_attribute(ws, "nope", &update).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.retire_attribute(ws, "nope").await,
        Err(StoreError::NotFound)
    ));
}
