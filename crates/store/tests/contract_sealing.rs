//! Sealed secrets on both backends: bound to their workspace, still readable in the
//! retired v1 format, and re-sealed under a new master key by `reseal_secrets`
//! while a store holding the new and the previous key keeps working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use keva_store::testing::{reopen, seal_v1, TestStore};
use keva_store::{AuthKind, ConnectorTokens, MasterKey, NewConnector, Resealed, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    sealed_tokens_do_not_open_in_another_workspace,
    values_sealed_in_format_v1_still_open,
    rotation_reseals_every_secret_under_the_new_key,
);

fn new_connector(workspace_id: Uuid, portal_id: i64, refresh: bool) -> NewConnector {
    NewConnector {
        workspace_id,
        portal_id,
        auth_kind: if refresh {
            AuthKind::OAuth
        } else {
            AuthKind::PrivateApp
        },
        access_token: SecretString::from(format!("access-{portal_id}")),
        refresh_token: refresh.then(|| SecretString::from(format!("refresh-{portal_id}"))),
        token_expires_at: refresh.then(|| Utc::now() + Duration::minutes(30)),
        scopes: vec!["crm.objects.contacts.read".into()],
    }
}

async fn workspace(store: &Store, name: &str) -> Uuid {
    store.create_workspace(name).await.expect("workspace").id
}

/// Runs `sql` with a byte-string (or NULL) and an id bound as `$1` and `$2`.
async fn exec(store: &Store, sql: &'static str, value: Option<Vec<u8>>, id: Uuid) {
    match store {
        Store::Sqlite(s) => {
            sqlx::query(sql)
                .bind(value)
                .bind(id.hyphenated().to_string())
                .execute(s.write_pool())
                .await
                .expect("raw write");
        }
        Store::Postgres(s) => {
            sqlx::query(sql)
                .bind(value)
                .bind(id)
                .execute(s.pool())
                .await
                .expect("raw write");
        }
    }
}

/// Moves a connector row into another workspace with plain SQL.
async fn move_connector(store: &Store, id: Uuid, to: Uuid) {
    let sql = "UPDATE hubspot_connectors SET workspace_id = $1 WHERE id = $2";
    match store {
        Store::Sqlite(s) => {
            sqlx::query(sql)
                .bind(to.hyphenated().to_string())
                .bind(id.hyphenated().to_string())
                .execute(s.write_pool())
                .await
                .expect("move");
        }
        Store::Postgres(s) => {
            sqlx::query(sql)
                .bind(to)
                .bind(id)
                .execute(s.pool())
                .await
                .expect("move");
        }
    }
}

async fn tokens(store: &Store, ws: Uuid, id: Uuid) -> Result<(String, Option<String>), StoreError> {
    let t = store.connector_tokens(ws, id).await?;
    Ok((
        t.access_token.expose_secret().to_string(),
        t.refresh_token.map(|r| r.expose_secret().to_string()),
    ))
}

async fn secret(store: &Store, ws: Uuid) -> Result<String, StoreError> {
    Ok(store
        .webhook_secret(ws)
        .await?
        .expect("webhook settings")
        .expose_secret()
        .to_string())
}

fn crypto_message<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Crypto(m)) => m,
        other => panic!("expected a Crypto error, got {other:?}"),
    }
}

async fn sealed_tokens_do_not_open_in_another_workspace(ts: TestStore) {
    let store = &*ts;
    let acme = workspace(store, "acme").await;
    let globex = workspace(store, "globex").await;
    let conn = store
        .insert_connector(new_connector(acme, 7, true))
        .await
        .expect("insert");
    assert_eq!(
        tokens(store, acme, conn.id).await.expect("open"),
        ("access-7".into(), Some("refresh-7".into()))
    );
    // The same row (same id, same columns) moved to another workspace: format v1
    // bound only row id and column, so it opened there.
    move_connector(store, conn.id, globex).await;
    let m = crypto_message(tokens(store, globex, conn.id).await);
    assert!(m.contains("access_token"), "{m}");
    assert!(!m.contains("access-7"), "{m}");
    ts.finish().await;
}

async fn values_sealed_in_format_v1_still_open(ts: TestStore) {
    let key = MasterKey::generate();
    let store = &reopen(&ts, key.clone()).await;
    let ws = workspace(store, "acme").await;
    let conn = store
        .insert_connector(new_connector(ws, 7, true))
        .await
        .expect("insert");
    store
        .set_webhook_settings(ws, "app-1", &SecretString::from("whsec"))
        .await
        .expect("webhook settings");
    // Rewrite the columns as a database from before format v2 holds them.
    let v1 =
        |row: Uuid, column: &str, text: &str| Some(seal_v1(&key, row, column, text.as_bytes()));
    exec(
        store,
        "UPDATE hubspot_connectors SET access_token = $1 WHERE id = $2",
        v1(conn.id, "access_token", "old-access"),
        conn.id,
    )
    .await;
    exec(
        store,
        "UPDATE hubspot_connectors SET refresh_token = $1 WHERE id = $2",
        v1(conn.id, "refresh_token", "old-refresh"),
        conn.id,
    )
    .await;
    exec(
        store,
        "UPDATE webhook_settings SET client_secret = $1 WHERE workspace_id = $2",
        v1(ws, "webhook_settings.client_secret", "old-whsec"),
        ws,
    )
    .await;
    assert_eq!(
        tokens(store, ws, conn.id).await.expect("v1 tokens open"),
        ("old-access".into(), Some("old-refresh".into()))
    );
    assert_eq!(
        secret(store, ws).await.expect("v1 secret opens"),
        "old-whsec"
    );
    // Still bound to row and column: a v1 value in the wrong column does not open.
    exec(
        store,
        "UPDATE hubspot_connectors SET refresh_token = $1 WHERE id = $2",
        v1(conn.id, "access_token", "old-access"),
        conn.id,
    )
    .await;
    crypto_message(tokens(store, ws, conn.id).await);
    store.close().await;
    ts.finish().await;
}

async fn rotation_reseals_every_secret_under_the_new_key(ts: TestStore) {
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let before = reopen(&ts, old.clone()).await;
    let acme = workspace(&before, "acme").await;
    let globex = workspace(&before, "globex").await;
    let mut conns = Vec::new();
    for (ws, portal, refresh) in [(acme, 1, true), (acme, 2, false), (globex, 3, true)] {
        let c = before
            .insert_connector(new_connector(ws, portal, refresh))
            .await
            .expect("insert");
        conns.push((ws, c.id, portal, refresh));
    }
    // One connector still in format v1, as an old database holds it.
    let (ws0, id0, _, _) = conns[0];
    exec(
        &before,
        "UPDATE hubspot_connectors SET access_token = $1 WHERE id = $2",
        Some(seal_v1(&old, id0, "access_token", b"access-1")),
        id0,
    )
    .await;
    for ws in [acme, globex] {
        before
            .set_webhook_settings(ws, "app", &SecretString::from(format!("whsec-{ws}")))
            .await
            .expect("webhook settings");
    }

    // An instance restarted with the new key and the old one as previous reads
    // everything and writes under the new key.
    let during = reopen(&ts, new.clone().with_previous(&old)).await;
    for &(ws, id, portal, refresh) in &conns {
        let (access, r) = tokens(&during, ws, id).await.expect("open during rotation");
        assert_eq!(access, format!("access-{portal}"));
        assert_eq!(r, refresh.then(|| format!("refresh-{portal}")));
    }
    let (ws2, id2, _, _) = conns[2];
    during
        .update_connector_tokens(
            id2,
            &ConnectorTokens {
                access_token: SecretString::from("access-3b"),
                refresh_token: Some(SecretString::from("refresh-3b")),
                expires_at: None,
            },
        )
        .await
        .expect("refresh during rotation");
    assert_eq!(
        secret(&during, acme).await.expect("secret"),
        format!("whsec-{acme}")
    );

    // Pages of two rows, so paging is exercised.
    let done = during.reseal_secrets(2).await.expect("reseal");
    assert_eq!(
        done,
        Resealed {
            connectors: 2,
            connectors_current: 1,
            webhook_secrets: 2,
            webhook_secrets_current: 0,
        }
    );
    // Idempotent: nothing left to do.
    let again = during.reseal_secrets(100).await.expect("reseal again");
    assert_eq!(
        again,
        Resealed {
            connectors: 0,
            connectors_current: 3,
            webhook_secrets: 0,
            webhook_secrets_current: 2,
        }
    );

    // The new key alone opens everything; the old key alone nothing, and says why.
    let after = reopen(&ts, new.clone()).await;
    assert_eq!(
        tokens(&after, ws0, id0).await.expect("new key"),
        ("access-1".into(), Some("refresh-1".into()))
    );
    assert_eq!(
        tokens(&after, conns[1].0, conns[1].1)
            .await
            .expect("new key"),
        ("access-2".into(), None)
    );
    assert_eq!(
        tokens(&after, ws2, id2).await.expect("new key"),
        ("access-3b".into(), Some("refresh-3b".into()))
    );
    for ws in [acme, globex] {
        assert_eq!(
            secret(&after, ws).await.expect("new key"),
            format!("whsec-{ws}")
        );
    }
    for &(ws, id, _, _) in &conns {
        let m = crypto_message(tokens(&before, ws, id).await);
        assert!(m.contains(&new.id().to_string()), "{m}");
    }
    for ws in [acme, globex] {
        crypto_message(secret(&before, ws).await);
    }
    for s in [before, during, after] {
        s.close().await;
    }
    ts.finish().await;
}
