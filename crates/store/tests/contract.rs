//! The store contract: every case is written once against `&Store` and run on both
//! SQLite and PostgreSQL (each test on its own fresh database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use chrono::{Duration, SubsecRound, Utc};
use keva_store::testing::TestStore;
use keva_store::{
    AuthKind, ConnectorStatus, ConnectorTokens, CustomerPatch, KevaField, NewConnector,
    NewCustomer, Store, StoreError,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    workspaces,
    ensure_workspace_concurrently,
    api_keys,
    customer_insert_and_conflicts,
    customer_lookup,
    customer_update,
    customer_update_email_clash_changes_nothing,
    customer_paging,
    tickets_create_customer_once,
    tickets_concurrent_same_new_email,
    tickets_read_newest_first_within_the_workspace,
    connectors,
    disconnected_is_not_a_settable_status,
    connector_tokens_encrypted_at_rest,
    migrate_is_idempotent,
);

fn customer(email: &str) -> NewCustomer {
    NewCustomer::with_email(email)
}

async fn workspace(store: &Store, name: &str) -> Uuid {
    store
        .create_workspace(name)
        .await
        .expect("create workspace")
        .id
}

// --- workspaces -------------------------------------------------------------

async fn workspaces(ts: TestStore) {
    let store = &*ts;
    let ws = store.create_workspace("acme").await.expect("create");
    assert_eq!(ws.name, "acme");
    assert_eq!(ws.created_at, ws.created_at.trunc_subsecs(3));

    let dup = store.create_workspace("acme").await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("acme")),
        "{dup:?}"
    );

    assert_eq!(
        store.get_workspace(ws.id).await.expect("get"),
        Some(ws.clone())
    );
    assert_eq!(
        store.workspace_by_name("acme").await.expect("by name"),
        Some(ws.clone())
    );
    assert_eq!(
        store.workspace_by_name("other").await.expect("by name"),
        None
    );
    assert_eq!(
        store.get_workspace(Uuid::now_v7()).await.expect("get"),
        None
    );

    // The default phone region: none at first, set, cleared; unknown id.
    assert_eq!(ws.phone_region, None);
    store
        .set_workspace_phone_region(ws.id, Some("GB"))
        .await
        .expect("set region");
    let read = store.get_workspace(ws.id).await.expect("get").expect("ws");
    assert_eq!(read.phone_region.as_deref(), Some("GB"));
    store
        .set_workspace_phone_region(ws.id, None)
        .await
        .expect("clear region");
    let read = store.get_workspace(ws.id).await.expect("get").expect("ws");
    assert_eq!(read.phone_region, None);
    assert!(matches!(
        store
            .set_workspace_phone_region(Uuid::now_v7(), Some("GB"))
            .await,
        Err(StoreError::NotFound)
    ));

    let (same, created) = store
        .ensure_workspace("acme")
        .await
        .expect("ensure existing");
    assert!(!created);
    assert_eq!(same, ws);
    let (fresh, created) = store.ensure_workspace("globex").await.expect("ensure new");
    assert!(created);
    assert_eq!(fresh.name, "globex");
    assert_ne!(fresh.id, ws.id);
    assert_eq!(
        store.ensure_workspace("globex").await.expect("again"),
        (fresh, false)
    );
    ts.finish().await;
}

async fn ensure_workspace_concurrently(ts: TestStore) {
    let store = &*ts;
    let calls = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.ensure_workspace("racy").await })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("ensure"))
        .collect();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let ids: HashSet<Uuid> = results.iter().map(|(w, _)| w.id).collect();
    assert_eq!(ids.len(), 1);
    ts.finish().await;
}

// --- api keys ---------------------------------------------------------------

async fn api_keys(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let hash = [7u8; 32];

    let key = store
        .insert_api_key(ws, "keva_live_ab", &hash)
        .await
        .expect("insert");
    assert_eq!(key.workspace_id, ws);
    assert_eq!(key.prefix, "keva_live_ab");
    assert_eq!(key.last_used_at, None);
    assert_eq!(key.revoked_at, None);

    assert_eq!(
        store.api_key_by_hash(&hash).await.expect("lookup"),
        Some(key.clone())
    );
    assert_eq!(
        store.api_key_by_hash(&[8u8; 32]).await.expect("lookup"),
        None
    );

    let dup = store.insert_api_key(other, "keva_live_zz", &hash).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store
        .insert_api_key(Uuid::now_v7(), "keva_live_qq", &[9u8; 32])
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");

    store.touch_api_key(key.id).await.expect("touch");
    let touched = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("exists");
    let used = touched.last_used_at.expect("last_used_at set by touch");
    assert!(used >= key.created_at);
    assert!(matches!(
        store.touch_api_key(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));

    // Another workspace cannot revoke it, and it stays usable.
    assert!(matches!(
        store.revoke_api_key(other, key.id).await,
        Err(StoreError::NotFound)
    ));
    let still = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(still.revoked_at, None);

    store.revoke_api_key(ws, key.id).await.expect("revoke");
    let revoked = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("still stored");
    let revoked_at = revoked.revoked_at.expect("revoked_at set");
    assert!(revoked.is_revoked());
    store
        .revoke_api_key(ws, key.id)
        .await
        .expect("revoke again");
    let again = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("stored");
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "first revocation time is kept"
    );

    let second = store
        .insert_api_key(ws, "keva_live_cd", &[1u8; 32])
        .await
        .expect("insert");
    let listed = store.list_api_keys(ws).await.expect("list");
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![key.id, second.id]
    );
    assert!(store.list_api_keys(other).await.expect("list").is_empty());
    ts.finish().await;
}

// --- customers --------------------------------------------------------------

async fn customer_insert_and_conflicts(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;

    let ann = store
        .insert_customer(
            ws,
            NewCustomer {
                email: "  Ann@Example.com ".into(),
                name: Some("Ann Lee".into()),
                phone: Some(String::new()),
                company: Some("Acme".into()),
                job_title: Some("CTO".into()),
                location: Some("Berlin".into()),
                notes: Some("VIP".into()),
                attributes: Default::default(),
            },
        )
        .await
        .expect("insert");
    assert_eq!(ann.email, "Ann@Example.com", "trimmed, case kept");
    assert_eq!(ann.workspace_id, ws);
    assert_eq!(ann.phone, None, "empty stored as NULL");
    assert_eq!(ann.job_title.as_deref(), Some("CTO"));
    assert_eq!(ann.created_at, ann.updated_at);
    assert_eq!(
        store.get_customer(ws, ann.id).await.expect("get"),
        Some(ann.clone())
    );

    for dup in ["ann@example.com", "ANN@EXAMPLE.COM", " ann@Example.com\t"] {
        let res = store.insert_customer(ws, customer(dup)).await;
        assert!(
            matches!(res, Err(StoreError::Conflict(ref m)) if m.contains("already exists")),
            "{dup:?}: {res:?}"
        );
    }
    assert_eq!(store.count_customers(ws).await.expect("count"), 1);

    let elsewhere = store
        .insert_customer(other, customer("ann@example.com"))
        .await
        .expect("other ws");
    assert_ne!(elsewhere.id, ann.id);
    assert_eq!(store.count_customers(other).await.expect("count"), 1);

    assert_eq!(store.get_customer(other, ann.id).await.expect("get"), None);
    assert_eq!(
        store.get_customer(ws, elsewhere.id).await.expect("get"),
        None
    );

    let orphan = store
        .insert_customer(Uuid::now_v7(), customer("x@example.com"))
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");

    let times = store.customer_field_times(ws, ann.id).await.expect("times");
    let expected: Vec<KevaField> = vec![
        KevaField::Email,
        KevaField::Name,
        KevaField::Company,
        KevaField::JobTitle,
        KevaField::Location,
        KevaField::Notes,
    ];
    assert_eq!(times.keys().copied().collect::<Vec<_>>(), expected);
    assert!(times.values().all(|t| *t == ann.created_at));
    assert!(matches!(
        store.customer_field_times(other, ann.id).await,
        Err(StoreError::NotFound)
    ));
    ts.finish().await;
}

async fn customer_lookup(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let ann = store
        .insert_customer(ws, customer("Ann.Lee@Example.com"))
        .await
        .expect("insert");

    for query in [
        "ann.lee@example.com",
        "ANN.LEE@EXAMPLE.COM",
        "  Ann.Lee@Example.com \n",
    ] {
        assert_eq!(
            store.customer_by_email(ws, query).await.expect("lookup"),
            Some(ann.clone()),
            "{query:?}"
        );
    }
    assert_eq!(
        store
            .customer_by_email(ws, "ann@example.com")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store
            .customer_by_email(other, "ann.lee@example.com")
            .await
            .expect("lookup"),
        None
    );
    ts.finish().await;
}

async fn customer_update(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let ann = store
        .insert_customer(
            ws,
            NewCustomer {
                email: "ann@example.com".into(),
                name: Some("Ann".into()),
                phone: Some("+49 30 1234".into()),
                ..NewCustomer::default()
            },
        )
        .await
        .expect("insert");
    let before = store.customer_field_times(ws, ann.id).await.expect("times");

    // Field times have millisecond precision; make sure the update is later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let patch = CustomerPatch {
        name: Some("Ann".into()),              // same value: not a change
        phone: Some(String::new()),            // cleared
        company: Some("Acme".into()),          // new value
        email: Some("ANN@example.com".into()), // new spelling
        ..CustomerPatch::default()
    };
    let updated = store
        .update_customer(ws, ann.id, &patch)
        .await
        .expect("update")
        .expect("found");
    assert_eq!(updated.name.as_deref(), Some("Ann"));
    assert_eq!(updated.phone, None);
    assert_eq!(updated.company.as_deref(), Some("Acme"));
    assert_eq!(updated.email, "ANN@example.com");
    assert!(updated.updated_at > ann.updated_at);
    assert_eq!(updated.created_at, ann.created_at);
    assert_eq!(
        store.get_customer(ws, ann.id).await.expect("get"),
        Some(updated.clone())
    );

    let after = store.customer_field_times(ws, ann.id).await.expect("times");
    assert_eq!(
        after[&KevaField::Name],
        before[&KevaField::Name],
        "unchanged field keeps its time"
    );
    for changed in [KevaField::Phone, KevaField::Company, KevaField::Email] {
        assert_eq!(after[&changed], updated.updated_at, "{changed:?}");
    }
    assert!(!after.contains_key(&KevaField::Notes));

    // A patch that changes nothing leaves the row alone.
    let noop = CustomerPatch {
        company: Some("Acme".into()),
        ..CustomerPatch::default()
    };
    let same = store
        .update_customer(ws, ann.id, &noop)
        .await
        .expect("update")
        .expect("found");
    assert_eq!(same, updated);
    assert_eq!(
        store.customer_field_times(ws, ann.id).await.expect("times"),
        after
    );

    // Lookups follow the new email; another workspace cannot update.
    assert_eq!(
        store
            .customer_by_email(ws, "ann@EXAMPLE.com")
            .await
            .expect("lookup")
            .map(|c| c.id),
        Some(ann.id)
    );
    assert_eq!(
        store
            .update_customer(other, ann.id, &patch)
            .await
            .expect("update"),
        None
    );
    assert_eq!(
        store
            .update_customer(ws, Uuid::now_v7(), &patch)
            .await
            .expect("update"),
        None
    );
    ts.finish().await;
}

async fn customer_update_email_clash_changes_nothing(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let ann = store
        .insert_customer(ws, customer("ann@example.com"))
        .await
        .expect("insert");
    let bob = store
        .insert_customer(ws, customer("bob@example.com"))
        .await
        .expect("insert");
    let times = store.customer_field_times(ws, bob.id).await.expect("times");

    let patch = CustomerPatch {
        email: Some(" ANN@example.com".into()),
        name: Some("Bob".into()),
        ..CustomerPatch::default()
    };
    let res = store.update_customer(ws, bob.id, &patch).await;
    assert!(
        matches!(res, Err(StoreError::Conflict(ref m)) if m.contains("ANN@example.com")),
        "{res:?}"
    );
    assert_eq!(
        store.get_customer(ws, bob.id).await.expect("get"),
        Some(bob.clone())
    );
    assert_eq!(
        store.customer_field_times(ws, bob.id).await.expect("times"),
        times
    );
    assert_eq!(
        store.get_customer(ws, ann.id).await.expect("get"),
        Some(ann)
    );

    // The store still works after the failed transaction.
    let ok = CustomerPatch {
        name: Some("Bob".into()),
        ..CustomerPatch::default()
    };
    let bob2 = store
        .update_customer(ws, bob.id, &ok)
        .await
        .expect("update")
        .expect("found");
    assert_eq!(bob2.name.as_deref(), Some("Bob"));
    ts.finish().await;
}

async fn customer_paging(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            store
                .insert_customer(ws, customer(&format!("c{i}@example.com")))
                .await
                .expect("insert")
                .id,
        );
    }
    store
        .insert_customer(other, customer("c0@example.com"))
        .await
        .expect("other ws");
    ids.sort();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_customers(ws, after, 3).await.expect("page");
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        assert!(page.iter().all(|c| c.workspace_id == ws));
        after = page.last().map(|c| c.id);
        seen.extend(page.into_iter().map(|c| c.id));
    }
    assert_eq!(seen, ids);
    assert_eq!(store.count_customers(ws).await.expect("count"), 7);
    assert_eq!(
        store
            .list_customers(ws, None, 0)
            .await
            .expect("empty")
            .len(),
        0
    );
    assert_eq!(
        store
            .list_customers(ws, Some(ids[5]), 10)
            .await
            .expect("tail")
            .len(),
        1
    );
    ts.finish().await;
}

// --- tickets ----------------------------------------------------------------

async fn tickets_create_customer_once(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let (t1, c1, created1) = store
        .create_ticket(ws, " New@Example.com ", Some("Nina"), "Cannot log in")
        .await
        .expect("first ticket");
    assert!(created1);
    assert_eq!(c1.email, "New@Example.com");
    assert_eq!(c1.name.as_deref(), Some("Nina"));
    assert_eq!(t1.customer_id, c1.id);
    assert_eq!(t1.workspace_id, ws);
    assert_eq!(t1.subject, "Cannot log in");

    let (t2, c2, created2) = store
        .create_ticket(ws, "new@example.com", Some("Other Name"), "Again")
        .await
        .expect("second ticket");
    assert!(!created2);
    assert_eq!(c2, c1, "existing customer is reused unchanged");
    assert_eq!(t2.customer_id, c1.id);
    assert_ne!(t2.id, t1.id);
    assert_eq!(store.count_customers(ws).await.expect("count"), 1);

    // Tickets do not cross workspaces.
    let other = workspace(store, "globex").await;
    let (_, c3, created3) = store
        .create_ticket(other, "new@example.com", None, "Hi")
        .await
        .expect("other");
    assert!(created3);
    assert_ne!(c3.id, c1.id);
    assert_eq!(c3.name, None);
    ts.finish().await;
}

async fn tickets_read_newest_first_within_the_workspace(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let (t, _, _) = store
            .create_ticket(
                ws,
                &format!("t{i}@example.com"),
                None,
                &format!("ticket {i}"),
            )
            .await
            .expect("ticket");
        made.push(t);
    }
    let (theirs, _, _) = store
        .create_ticket(other, "t0@example.com", None, "theirs")
        .await
        .expect("their ticket");

    let first = store.list_tickets(ws, None, 3).await.expect("first page");
    let subjects: Vec<&str> = first.iter().map(|t| t.subject.as_str()).collect();
    assert_eq!(subjects, ["ticket 4", "ticket 3", "ticket 2"]);
    let rest = store
        .list_tickets(ws, first.last().map(|t| t.id), 3)
        .await
        .expect("next page");
    let subjects: Vec<&str> = rest.iter().map(|t| t.subject.as_str()).collect();
    assert_eq!(subjects, ["ticket 1", "ticket 0"]);

    assert_eq!(
        store.get_ticket(ws, made[2].id).await.expect("get"),
        Some(made[2].clone())
    );
    assert_eq!(store.get_ticket(ws, theirs.id).await.expect("get"), None);
    assert_eq!(
        store.list_tickets(other, None, 10).await.expect("theirs"),
        vec![theirs]
    );
    ts.finish().await;
}

async fn tickets_concurrent_same_new_email(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let calls = (0..20).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_ticket(ws, "rush@example.com", Some("Rush"), &format!("ticket {i}"))
                .await
        })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("create_ticket"))
        .collect();
    assert_eq!(results.iter().filter(|(_, _, created)| *created).count(), 1);
    let customers: HashSet<Uuid> = results.iter().map(|(_, c, _)| c.id).collect();
    assert_eq!(customers.len(), 1);
    let tickets: HashSet<Uuid> = results.iter().map(|(t, _, _)| t.id).collect();
    assert_eq!(tickets.len(), 20);
    assert_eq!(store.count_customers(ws).await.expect("count"), 1);
    ts.finish().await;
}

// --- connectors -------------------------------------------------------------

fn new_connector(workspace_id: Uuid, portal_id: i64) -> NewConnector {
    NewConnector {
        workspace_id,
        portal_id,
        auth_kind: AuthKind::OAuth,
        access_token: SecretString::from("access-token-plaintext-1234"),
        refresh_token: Some(SecretString::from("refresh-token-plaintext-5678")),
        token_expires_at: Some(Utc::now() + Duration::minutes(30)),
        scopes: vec![
            "crm.objects.contacts.read".into(),
            "crm.objects.contacts.write".into(),
        ],
    }
}

async fn connectors(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let other = workspace(store, "globex").await;
    let new = new_connector(ws, 4242);
    let conn = store.insert_connector(new.clone()).await.expect("insert");
    assert_eq!(conn.workspace_id, ws);
    assert_eq!(conn.portal_id, 4242);
    assert_eq!(conn.auth_kind, AuthKind::OAuth);
    assert_eq!(conn.status, ConnectorStatus::Connected);
    assert_eq!(conn.status_reason, None);
    assert_eq!(conn.scopes, new.scopes);
    assert_eq!(
        conn.token_expires_at,
        new.token_expires_at.map(|t| t.trunc_subsecs(3))
    );
    assert_eq!(conn.last_sync_at, None);
    assert!(!format!("{conn:?}").contains("plaintext"));

    assert_eq!(
        store.get_connector(ws, conn.id).await.expect("get"),
        Some(conn.clone())
    );
    assert_eq!(
        store.get_connector(other, conn.id).await.expect("get"),
        None
    );
    assert_eq!(
        store.list_connectors(ws).await.expect("list"),
        vec![conn.clone()]
    );
    assert!(store.list_connectors(other).await.expect("list").is_empty());

    let dup = store.insert_connector(new_connector(ws, 4242)).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("4242")),
        "{dup:?}"
    );
    let mut private = new_connector(other, 4242);
    private.auth_kind = AuthKind::PrivateApp;
    private.refresh_token = None;
    private.token_expires_at = None;
    let private = store
        .insert_connector(private)
        .await
        .expect("same portal, other workspace");
    assert_eq!(private.auth_kind, AuthKind::PrivateApp);
    let ptokens = store
        .connector_tokens(other, private.id)
        .await
        .expect("tokens");
    assert!(ptokens.refresh_token.is_none());
    assert_eq!(ptokens.expires_at, None);

    let tokens = store.connector_tokens(ws, conn.id).await.expect("tokens");
    assert_eq!(
        tokens.access_token.expose_secret(),
        "access-token-plaintext-1234"
    );
    assert_eq!(
        tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_string())
            .as_deref(),
        Some("refresh-token-plaintext-5678")
    );
    assert_eq!(tokens.expires_at, conn.token_expires_at);
    assert!(matches!(
        store.connector_tokens(other, conn.id).await,
        Err(StoreError::NotFound)
    ));

    // Token refresh.
    let expires = Utc::now() + Duration::hours(6);
    let refreshed = ConnectorTokens {
        access_token: SecretString::from("access-token-v2"),
        refresh_token: Some(SecretString::from("refresh-token-v2")),
        expires_at: Some(expires),
    };
    store
        .update_connector_tokens(conn.id, &refreshed)
        .await
        .expect("update tokens");
    let tokens = store.connector_tokens(ws, conn.id).await.expect("tokens");
    assert_eq!(tokens.access_token.expose_secret(), "access-token-v2");
    assert_eq!(
        tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_string())
            .as_deref(),
        Some("refresh-token-v2")
    );
    assert_eq!(tokens.expires_at, Some(expires.trunc_subsecs(3)));
    assert_eq!(
        store
            .get_connector(ws, conn.id)
            .await
            .expect("get")
            .expect("found")
            .token_expires_at,
        Some(expires.trunc_subsecs(3))
    );
    assert!(matches!(
        store
            .update_connector_tokens(Uuid::now_v7(), &refreshed)
            .await,
        Err(StoreError::NotFound)
    ));

    // Status and last sync.
    store
        .set_connector_status(
            conn.id,
            ConnectorStatus::NeedsReconnection,
            Some("refresh token revoked"),
        )
        .await
        .expect("status");
    let c = store
        .get_connector(ws, conn.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(c.status, ConnectorStatus::NeedsReconnection);
    assert_eq!(c.status_reason.as_deref(), Some("refresh token revoked"));
    store
        .set_connector_status(conn.id, ConnectorStatus::Connected, None)
        .await
        .expect("status");
    let c = store
        .get_connector(ws, conn.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(c.status, ConnectorStatus::Connected);
    assert_eq!(c.status_reason, None);
    assert!(matches!(
        store
            .set_connector_status(Uuid::now_v7(), ConnectorStatus::Error, None)
            .await,
        Err(StoreError::NotFound)
    ));

    store.touch_connector_sync(conn.id).await.expect("touch");
    let c = store
        .get_connector(ws, conn.id)
        .await
        .expect("get")
        .expect("found");
    let synced = c.last_sync_at.expect("last_sync_at set");
    assert!(synced >= conn.created_at);
    assert!(matches!(
        store.touch_connector_sync(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
    ts.finish().await;
}

async fn disconnected_is_not_a_settable_status(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let conn = store
        .insert_connector(new_connector(ws, 1))
        .await
        .expect("insert");
    // Before the typed refusal, this reached the database and failed its CHECK
    // with a bare database error.
    let refused = store
        .set_connector_status(conn.id, ConnectorStatus::Disconnected, Some("by hand"))
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::StatusNotSettable(ConnectorStatus::Disconnected))
        ),
        "{refused:?}"
    );
    let message = refused.expect_err("refused").to_string();
    assert!(message.contains("disconnect_connector"), "{message}");
    let c = store
        .get_connector(ws, conn.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(c.status, ConnectorStatus::Connected, "nothing written");
    assert_eq!(c.status_reason, None);
    assert_eq!(c.disconnected_at, None);
    // The real way to disconnect still works and reads back as disconnected.
    let d = store
        .disconnect_connector(ws, conn.id)
        .await
        .expect("disconnect");
    assert_eq!(d.status, ConnectorStatus::Disconnected);
    ts.finish().await;
}

/// Reads the raw token columns with plain SQL.
async fn raw_tokens(store: &Store, id: Uuid) -> (Vec<u8>, Option<Vec<u8>>) {
    const SQL: &str = "SELECT access_token, refresh_token FROM hubspot_connectors WHERE id = $1";
    match store {
        Store::Sqlite(s) => sqlx::query_as(SQL)
            .bind(id.hyphenated().to_string())
            .fetch_one(s.pool())
            .await
            .expect("raw read"),
        Store::Postgres(s) => sqlx::query_as(SQL)
            .bind(id)
            .fetch_one(s.pool())
            .await
            .expect("raw read"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn connector_tokens_encrypted_at_rest(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    let conn = store
        .insert_connector(new_connector(ws, 1))
        .await
        .expect("insert");
    let (access, refresh) = raw_tokens(store, conn.id).await;
    let refresh = refresh.expect("refresh token stored");
    assert!(!contains(&access, b"access-token-plaintext-1234"));
    assert!(!contains(&refresh, b"refresh-token-plaintext-5678"));
    assert!(!contains(&access, b"plaintext") && !contains(&refresh, b"plaintext"));
    assert!(
        access.len() > "access-token-plaintext-1234".len(),
        "carries nonce and tag"
    );

    store
        .update_connector_tokens(
            conn.id,
            &ConnectorTokens {
                access_token: SecretString::from("rotated-secret-access"),
                refresh_token: None,
                expires_at: None,
            },
        )
        .await
        .expect("update");
    let (access2, refresh2) = raw_tokens(store, conn.id).await;
    assert!(!contains(&access2, b"rotated-secret-access"));
    assert_ne!(access2, access);
    assert_eq!(refresh2, None);

    // A sealed value moved into another row does not open there.
    let other = store
        .insert_connector(new_connector(ws, 2))
        .await
        .expect("insert");
    match store {
        Store::Sqlite(s) => {
            sqlx::query("UPDATE hubspot_connectors SET access_token = $1 WHERE id = $2")
                .bind(access2.clone())
                .bind(other.id.hyphenated().to_string())
                .execute(s.write_pool())
                .await
                .expect("swap");
        }
        Store::Postgres(s) => {
            sqlx::query("UPDATE hubspot_connectors SET access_token = $1 WHERE id = $2")
                .bind(access2.clone())
                .bind(other.id)
                .execute(s.pool())
                .await
                .expect("swap");
        }
    }
    let res = store.connector_tokens(ws, other.id).await;
    assert!(
        matches!(res, Err(StoreError::Crypto(_))),
        "{:?}",
        res.map(|_| ())
    );
    ts.finish().await;
}

// --- migrations -------------------------------------------------------------

async fn migrate_is_idempotent(ts: TestStore) {
    let store = &*ts;
    let ws = workspace(store, "acme").await;
    store
        .insert_customer(ws, customer("keep@example.com"))
        .await
        .expect("insert");
    store.migrate().await.expect("second migrate");
    store.migrate().await.expect("third migrate");
    store.ping().await.expect("ping");
    assert_eq!(store.count_customers(ws).await.expect("count"), 1);
    ts.finish().await;
}
