//! Single-record endpoints and list paging, for contacts, companies and deals.

use std::collections::HashSet;

use futures::TryStreamExt;
use keva_hubspot::models::ObjectCreate;
use keva_hubspot::{ListOptions, ObjectType, ReadOptions};

use crate::helpers::{contact, props, unlimited};

#[tokio::test]
async fn contact_lifecycle_create_get_update_archive() {
    let env = unlimited().await;
    let client = env.client();
    let contacts = client.contacts();

    let created = contacts
        .create(&contact("Ada.Lovelace+test@example.com", "Ada"))
        .await
        .unwrap();
    assert!(!created.id.is_empty());
    assert!(!created.archived);

    let by_id = contacts
        .get(
            &created.id,
            &ReadOptions::properties(["email", "firstname"]),
        )
        .await
        .unwrap();
    assert_eq!(by_id.id, created.id);
    assert_eq!(by_id.property("firstname"), Some("Ada"));

    // idProperty=email, with '+' and '@' in the path, matched case-insensitively.
    let by_email = contacts
        .get_by_email("ada.lovelace+TEST@example.com", &ReadOptions::default())
        .await
        .unwrap();
    assert_eq!(by_email.id, created.id);

    let updated = contacts
        .update(&created.id, &props(&[("firstname", "Augusta")]))
        .await
        .unwrap();
    assert_eq!(updated.property("firstname"), Some("Augusta"));
    let again = contacts
        .get(&created.id, &ReadOptions::properties(["firstname"]))
        .await
        .unwrap();
    assert_eq!(again.property("firstname"), Some("Augusta"));

    let by_email_update = contacts
        .update_by_email(
            "ada.lovelace+test@example.com",
            &props(&[("lastname", "King")]),
        )
        .await
        .unwrap();
    assert_eq!(by_email_update.id, created.id);

    contacts.archive(&created.id).await.unwrap();
    let gone = contacts
        .get(&created.id, &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    assert!(contacts
        .find_by_email("ada.lovelace+test@example.com", &ReadOptions::default())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn companies_and_deals_use_the_same_code() {
    let env = unlimited().await;
    let client = env.client();
    for (ty, key, value) in [
        (ObjectType::Companies, "name", "Analytical Engines Ltd"),
        (ObjectType::Deals, "dealname", "Difference engine"),
    ] {
        let objects = client.objects(ty);
        let created = objects
            .create(&ObjectCreate::new(props(&[(key, value)])))
            .await
            .unwrap();
        let read = objects
            .get(&created.id, &ReadOptions::properties([key]))
            .await
            .unwrap();
        assert_eq!(read.property(key), Some(value), "{ty}");
        let changed = objects
            .update(&created.id, &props(&[(key, "renamed")]))
            .await
            .unwrap();
        assert_eq!(changed.property(key), Some("renamed"));
        objects.archive(&created.id).await.unwrap();
        assert!(objects
            .get(&created.id, &ReadOptions::default())
            .await
            .unwrap_err()
            .is_not_found());
    }
}

#[tokio::test]
async fn list_pages_through_every_record() {
    let env = unlimited().await;
    env.seed_contacts(345).await;
    let client = env.client();

    let first = client
        .contacts()
        .list_page(&ListOptions {
            limit: Some(100),
            ..ListOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(first.results.len(), 100);
    assert!(first.next_after().is_some());

    let all: Vec<_> = client
        .contacts()
        .list_all(ListOptions {
            limit: Some(100),
            read: ReadOptions::properties(["email"]),
            ..ListOptions::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 345);
    let ids: HashSet<_> = all.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids.len(), 345, "pages must not overlap");
    assert!(all.iter().all(|o| o.property("email").is_some()));
    // Four pages of 100 (the last one partial).
    let stats = env.stats().await;
    assert_eq!(stats["requests"]["GET /crm/v3/objects/contacts"], 5);
}

#[tokio::test]
async fn account_details_name_the_portal_of_a_private_app_token() {
    let env = unlimited().await;
    let details = env.client().account_details().await.unwrap();
    assert_eq!(details.portal_id, env.sandbox.portal_id());
    assert!(details.time_zone.is_some());
}
