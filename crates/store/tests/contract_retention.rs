//! Retention on both backends: `prune` deletes only what is older than the cutoff,
//! in batches of at most its limit, and never a job that has not finished.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use keva_core::{JobState, SyncDirection, Trigger};
use keva_store::testing::TestStore;
use keva_store::testing::{fixture, Fixture};
use keva_store::{HistoryResult, NewHistory, NewWebhookRequest, Retained, Store};
use serde_json::json;
use uuid::Uuid;

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    prunes_only_rows_older_than_the_cutoff_in_batches,
    keeps_unfinished_jobs_and_recently_finished_ones,
);

/// A cutoff in a millisecond of its own (ids and times are millisecond-precise):
/// rows written before are strictly older, rows written after strictly newer.
async fn cutoff_now() -> DateTime<Utc> {
    let next_ms = |after: DateTime<Utc>| async move {
        while Utc::now().timestamp_millis() <= after.timestamp_millis() {
            tokio::task::yield_now().await;
        }
        Utc::now()
    };
    let cutoff = next_ms(Utc::now()).await;
    next_ms(cutoff).await;
    cutoff
}

async fn add_history(store: &Store, f: &Fixture) -> Uuid {
    store
        .insert_history(&NewHistory {
            workspace_id: f.ws,
            connector_id: f.conn,
            customer_id: None,
            hubspot_id: None,
            trigger: Trigger::Manual,
            direction: SyncDirection::ToCrm,
            fields: json!({}),
            result: HistoryResult::Synced,
            error: None,
            correlation_id: None,
        })
        .await
        .expect("history")
        .id
}

async fn log_request(store: &Store, f: &Fixture) -> Uuid {
    store
        .log_webhook_request(&NewWebhookRequest {
            workspace_id: Some(f.ws),
            portal_id: Some(4242),
            event_count: 1,
            valid: false,
            reject_reason: Some("bad signature".into()),
            duplicates: 0,
        })
        .await
        .expect("log")
        .id
}

async fn prunes_only_rows_older_than_the_cutoff_in_batches(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    for _ in 0..5 {
        add_history(store, &f).await;
        log_request(store, &f).await;
    }
    let cutoff = cutoff_now().await;
    let kept_history = add_history(store, &f).await;
    let kept_request = log_request(store, &f).await;

    // Batches of two: 2, 2, 1, then nothing.
    let mut batches = Vec::new();
    loop {
        let n = store
            .prune(Retained::History, cutoff, 2)
            .await
            .expect("prune");
        batches.push(n);
        if n < 2 {
            break;
        }
    }
    assert_eq!(batches, vec![2, 2, 1]);
    let left = store
        .history(f.ws, f.conn, None, None, 100)
        .await
        .expect("history");
    assert_eq!(
        left.iter().map(|h| h.id).collect::<Vec<_>>(),
        [kept_history]
    );

    assert_eq!(
        store
            .prune(Retained::WebhookRequests, cutoff, 100)
            .await
            .expect("prune"),
        5
    );
    let log = store.webhook_log(f.ws, 100, None).await.expect("log");
    assert_eq!(log.iter().map(|r| r.id).collect::<Vec<_>>(), [kept_request]);
    ts.finish().await;
}

async fn keeps_unfinished_jobs_and_recently_finished_ones(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let job = |key: &str| f.job(key);
    let lease = Duration::from_secs(60);
    // Finished before the cutoff: pruned.
    let old_done = store
        .enqueue(&job("customer:1"))
        .await
        .expect("enqueue")
        .job_id;
    let claimed = store.claim("w1", lease, 10).await.expect("claim");
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [old_done]);
    assert!(store
        .finish(old_done, "w1", JobState::Succeeded, None)
        .await
        .expect("finish"));
    // Created before the cutoff: one never finishes, one finishes after it.
    let unfinished = store
        .enqueue(&job("customer:2"))
        .await
        .expect("enqueue")
        .job_id;
    let late = store
        .enqueue(&job("customer:3"))
        .await
        .expect("enqueue")
        .job_id;
    let cutoff = cutoff_now().await;
    let claimed = store.claim("w1", lease, 10).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    assert!(store
        .finish(late, "w1", JobState::Dead, Some("gave up"))
        .await
        .expect("finish"));

    assert_eq!(
        store
            .prune(Retained::FinishedJobs, cutoff, 100)
            .await
            .expect("prune"),
        1
    );
    assert!(store.get_job(f.ws, old_done).await.expect("get").is_none());
    for id in [unfinished, late] {
        assert!(
            store.get_job(f.ws, id).await.expect("get").is_some(),
            "job {id} is kept"
        );
    }
    ts.finish().await;
}
