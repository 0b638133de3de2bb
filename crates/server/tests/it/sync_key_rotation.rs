//! A master-key rotation with the service running: an instance given the new key and
//! the old one as previous keeps syncing with tokens sealed under the old key, the
//! store re-seals them, and afterwards the new key alone serves while the old key
//! alone no longer opens them.

use keva_store::{MasterKey, StoreError};
use serde_json::json;

use crate::harness::TestApp;

keva_store::backend_tests!(with = crate::harness::sandboxed;
    the_service_keeps_syncing_through_a_master_key_rotation,
);

async fn the_service_keeps_syncing_through_a_master_key_rotation(app: TestApp) {
    let connector = app.connector().await;
    app.settle().await;
    let old = app.store.master_key().clone();
    let new = MasterKey::generate();

    // Restarted with the new key current and the old one previous.
    let during = app.instance_with_key(new.clone().with_previous(&old)).await;
    drop(app);
    let customer = during
        .synced_customer(json!({"email": "during@example.com"}))
        .await;
    assert_eq!(during.crm(&customer).await["status"], "synced");

    let done = during.store.reseal_secrets(100).await.expect("reseal");
    assert_eq!((done.connectors, done.connectors_current), (1, 0));

    // After the rotation the new key alone is enough.
    let after = during.instance_with_key(new).await;
    drop(during);
    let customer = after
        .synced_customer(json!({"email": "after@example.com"}))
        .await;
    assert_eq!(after.crm(&customer).await["status"], "synced");
    after.contact_id(&customer).await;

    // An instance still on the old key alone cannot open the token any more.
    let stale = keva_store::testing::reopen(&after.store, old).await;
    let res = stale.connector_tokens(after.workspace_id, connector).await;
    assert!(
        matches!(res, Err(StoreError::Crypto(_))),
        "{:?}",
        res.map(|_| ())
    );
    stale.close().await;
}
