//! Webhooks v3 subscriptions API (developer credentials via `hapikey`).

use keva_hubspot::models::SubscriptionCreate;
use secrecy::SecretString;

use crate::helpers::unlimited;

#[tokio::test]
async fn subscriptions_create_list_update_delete() {
    let env = unlimited().await;
    let client = env.client();
    let api = client.webhooks(
        env.sandbox.app_id(),
        SecretString::from("developer-key".to_string()),
    );
    let created = api
        .create(&SubscriptionCreate {
            event_type: "contact.propertyChange".into(),
            property_name: Some("email".into()),
            active: false,
        })
        .await
        .unwrap();
    assert_eq!(created.event_type, "contact.propertyChange");
    assert_eq!(created.property_name.as_deref(), Some("email"));
    assert!(!created.active);

    let creation = api
        .create(&SubscriptionCreate {
            event_type: "contact.creation".into(),
            property_name: None,
            active: true,
        })
        .await
        .unwrap();
    let listed = api.list().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|s| s.id.clone()).collect();
    assert!(ids.contains(&created.id) && ids.contains(&creation.id));

    let activated = api.set_active(&created.id, true).await.unwrap();
    assert!(activated.active);
    assert!(api.get(&created.id).await.unwrap().active);

    let paused = api
        .batch_set_active(&[(created.id.clone(), false), (creation.id.clone(), false)])
        .await
        .unwrap();
    assert!(paused.is_complete());
    assert_eq!(paused.results.len(), 2);
    assert!(paused.results.iter().all(|s| !s.active));
    assert!(!api.get(&creation.id).await.unwrap().active);

    api.delete(&created.id).await.unwrap();
    assert!(api.get(&created.id).await.unwrap_err().is_not_found());
    assert!(!api.list().await.unwrap().iter().any(|s| s.id == created.id));
}
