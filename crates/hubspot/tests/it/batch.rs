//! Batch endpoints: chunking past 100 inputs, per-item results and errors.

use std::collections::HashSet;

use keva_hubspot::models::{ObjectUpdate, ObjectUpsert};
use keva_hubspot::BatchReadOptions;

use crate::helpers::{contact, props, read_emails_by_email, unlimited};

fn email(i: usize) -> String {
    format!("batch-{i}@example.com")
}

#[tokio::test]
async fn batch_create_read_update_archive_in_chunks() {
    let env = unlimited().await;
    let client = env.client();
    let contacts = client.contacts();

    let inputs: Vec<_> = (0..250).map(|i| contact(&email(i), "B")).collect();
    let created = contacts.batch_create(&inputs).await.unwrap();
    assert!(created.is_complete(), "{:?}", created.errors);
    assert_eq!(created.results.len(), 250);
    let stats = env.stats().await;
    assert_eq!(
        stats["requests"]["POST /crm/v3/objects/contacts/batch/create"], 3,
        "250 inputs = 3 chunks of ≤100"
    );
    assert_eq!(env.sandbox.contact_count(), 250);

    let mut ids: Vec<String> = created.results.iter().map(|o| o.id.clone()).collect();
    ids.push("999999999".into());
    let read = contacts
        .batch_read(
            &ids,
            &BatchReadOptions {
                properties: vec!["email".into()],
                ..BatchReadOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(read.results.len(), 250);
    assert_eq!(read.errors.len(), 1, "the missing id is a per-item error");
    assert_eq!(read.errors[0].category, "OBJECT_NOT_FOUND");
    assert!(read.errors[0].subject_ids().contains(&"999999999"));

    let by_email = contacts
        .batch_read(&[email(3), email(200)], &read_emails_by_email())
        .await
        .unwrap();
    let found: HashSet<_> = by_email
        .results
        .iter()
        .filter_map(|o| o.property("email"))
        .collect();
    assert_eq!(
        found,
        HashSet::from([email(3).as_str(), email(200).as_str()])
    );

    let updates: Vec<_> = created
        .results
        .iter()
        .map(|o| ObjectUpdate {
            id: o.id.clone(),
            properties: props(&[("firstname", "Updated")]),
            id_property: None,
        })
        .collect();
    let updated = contacts.batch_update(&updates).await.unwrap();
    assert!(updated.is_complete());
    assert_eq!(updated.results.len(), 250);
    assert!(updated
        .results
        .iter()
        .all(|o| o.property("firstname") == Some("Updated")));

    let archived = contacts.batch_archive(&ids[..250]).await.unwrap();
    assert!(archived.is_complete());
    assert_eq!(env.sandbox.contact_count(), 0);
}

#[tokio::test]
async fn batch_upsert_creates_and_updates_by_email() {
    let env = unlimited().await;
    let client = env.client();
    let contacts = client.contacts();
    let existing = contacts.create(&contact(&email(1), "Old")).await.unwrap();

    let upserts = vec![
        ObjectUpsert::by_email(email(1), props(&[("firstname", "New")])),
        ObjectUpsert::by_email(email(2), props(&[("firstname", "Fresh")])),
    ];
    let out = contacts.batch_upsert(&upserts).await.unwrap();
    assert!(out.is_complete(), "{:?}", out.errors);
    assert_eq!(out.results.len(), 2);
    let one = out
        .results
        .iter()
        .find(|r| r.object.id == existing.id)
        .expect("existing contact updated in place");
    assert!(!one.new);
    assert_eq!(one.object.property("firstname"), Some("New"));
    let two = out
        .results
        .iter()
        .find(|r| r.object.id != existing.id)
        .unwrap();
    assert!(two.new);
    assert_eq!(env.sandbox.contact_count(), 2);
}

#[tokio::test]
async fn batch_with_an_invalid_item_reports_it() {
    let env = unlimited().await;
    let client = env.client();
    let contacts = client.contacts();
    let a = contacts.create(&contact(&email(1), "A")).await.unwrap();
    let updates = vec![
        ObjectUpdate {
            id: a.id.clone(),
            properties: props(&[("firstname", "ok")]),
            id_property: None,
        },
        ObjectUpdate {
            id: "424242424".into(),
            properties: props(&[("firstname", "nobody")]),
            id_property: None,
        },
    ];
    let out = contacts.batch_update(&updates).await.unwrap();
    let reported = out.errors.len() + out.failed_chunks.len();
    assert_eq!(reported, 1, "exactly the missing record fails: {out:?}");
    assert!(out.results.len() <= 1);
}
