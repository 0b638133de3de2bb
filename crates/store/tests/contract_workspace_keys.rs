//! The database itself keeps a link, job, batch run or history row inside its
//! connector's workspace (migration 0015's composite keys), and the migration keeps
//! the rows it rebuilds. Rows are written with raw SQL, bypassing every Rust check,
//! on both SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keva_core::{SyncDirection, SyncStatus, Trigger};
use keva_store::testing::{customer, test_store, test_store_migrated_to, workspace_with_connector};
use keva_store::{Backend, HistoryResult, NewHistory, Store};
use uuid::Uuid;

keva_store::backend_tests!(
    rows_naming_another_workspaces_connector_are_refused,
    rebuilt_tables_keep_their_rows,
);

/// The last migration before the composite keys.
const BEFORE_COMPOSITE_KEYS: i64 = 14;

/// One row of each table that names a connector, for `ws` and `connector`, as raw
/// SQL with literal values (the same text runs on both backends).
fn raw_rows(ws: Uuid, connector: Uuid, customer: Uuid) -> [(&'static str, String); 4] {
    let now = "2026-01-01T00:00:00.000Z";
    [
        (
            "crm_links",
            format!(
                "INSERT INTO crm_links (connector_id, customer_id, workspace_id, status, updated_at) \
                 VALUES ('{connector}', '{customer}', '{ws}', 'pending', '{now}')"
            ),
        ),
        (
            "sync_jobs",
            format!(
                "INSERT INTO sync_jobs (id, workspace_id, connector_id, kind, coalesce_key, payload, \
                 trigger, state, max_attempts, run_at, created_at, updated_at) VALUES ('{}', '{ws}', \
                 '{connector}', 'reconcile_customer', 'k-{customer}', '{{}}', 'manual', 'queued', 5, \
                 '{now}', '{now}', '{now}')",
                Uuid::now_v7()
            ),
        ),
        (
            "batch_runs",
            format!(
                "INSERT INTO batch_runs (id, workspace_id, connector_id, state, counters, started_at, \
                 updated_at) VALUES ('{}', '{ws}', '{connector}', 'done', '{{}}', '{now}', '{now}')",
                Uuid::now_v7()
            ),
        ),
        (
            "sync_history",
            format!(
                "INSERT INTO sync_history (id, workspace_id, connector_id, customer_id, trigger, \
                 direction, fields, result, created_at) VALUES ('{}', '{ws}', '{connector}', \
                 '{customer}', 'manual', 'none', '{{}}', 'skipped', '{now}')",
                Uuid::now_v7()
            ),
        ),
    ]
}

async fn execute(store: &Store, sql: String) -> Result<(), sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql);
    match store {
        Store::Sqlite(s) => sqlx::query(sql).execute(s.pool()).await.map(drop),
        Store::Postgres(s) => sqlx::query(sql).execute(s.pool()).await.map(drop),
    }
}

async fn rows_naming_another_workspaces_connector_are_refused(backend: Backend) {
    let ts = test_store(backend).await;
    let store = &*ts;
    let (ws_a, conn_a) = workspace_with_connector(store, "acme", 4242).await;
    let (_ws_b, conn_b) = workspace_with_connector(store, "globex", 4343).await;
    let cust_a = customer(store, ws_a, "ada@example.com").await;

    for (table, sql) in raw_rows(ws_a, conn_b, cust_a) {
        let refused = execute(store, sql).await;
        let err = refused.expect_err(&format!(
            "{table}: a row of workspace acme naming globex's connector must be refused"
        ));
        assert!(
            err.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation()),
            "{table}: refused by the foreign key, not by anything else: {err}"
        );
    }
    // The same rows naming the workspace's own connector are fine: the refusals
    // above are about the workspace, not about the statements.
    for (table, sql) in raw_rows(ws_a, conn_a, cust_a) {
        execute(store, sql)
            .await
            .unwrap_or_else(|e| panic!("{table}: own connector accepted: {e}"));
    }
    ts.finish().await;
}

async fn rebuilt_tables_keep_their_rows(backend: Backend) {
    let ts = test_store_migrated_to(backend, BEFORE_COMPOSITE_KEYS).await;
    let store = &*ts;
    let (ws, conn) = workspace_with_connector(store, "acme", 4242).await;
    let cust = customer(store, ws, "ada@example.com").await;
    let link = store
        .set_link_status(conn, cust, SyncStatus::Failed, Some("HubSpot said no"))
        .await
        .expect("link");
    let job = keva_store::NewJob::new(
        ws,
        conn,
        "reconcile_customer",
        "customer-key",
        serde_json::json!({ "key": "customer-key" }),
        Trigger::ProfileUpdate,
    );
    let job = store.enqueue(&job).await.expect("job").job_id;
    let batch = store.start_batch(ws, conn, 7).await.expect("batch");
    let history = store
        .insert_history(&NewHistory {
            workspace_id: ws,
            connector_id: conn,
            customer_id: Some(cust),
            hubspot_id: Some("126".into()),
            trigger: Trigger::Manual,
            direction: SyncDirection::ToCrm,
            fields: serde_json::json!({ "fieldsChanged": [] }),
            result: HistoryResult::Synced,
            error: None,
            correlation_id: None,
        })
        .await
        .expect("history");

    store.migrate().await.expect("migrate over existing rows");

    assert_eq!(
        store.get_link(conn, cust).await.expect("read link"),
        Some(link),
        "the link survives"
    );
    let kept = store
        .get_job(ws, job)
        .await
        .expect("read job")
        .expect("job");
    assert_eq!(kept.coalesce_key, "customer-key");
    assert_eq!(
        store.get_batch(ws, batch.id).await.expect("read batch"),
        Some(batch.clone()),
        "the batch run survives"
    );
    assert_eq!(
        store
            .history(ws, conn, None, None, 10)
            .await
            .expect("read history"),
        vec![history],
        "the history survives"
    );
    // The rebuilt tables' unique indexes are back: a second active batch of the
    // connector and a second queued job of the key are still refused/coalesced.
    assert!(
        store.start_batch(ws, conn, 1).await.is_err(),
        "one active batch per connector"
    );
    let again = keva_store::NewJob::new(
        ws,
        conn,
        "reconcile_customer",
        "customer-key",
        serde_json::json!({ "key": "customer-key" }),
        Trigger::ProfileUpdate,
    );
    let again = store.enqueue(&again).await.expect("enqueue again");
    assert!(again.coalesced && again.job_id == job, "{again:?}");
    ts.finish().await;
}
