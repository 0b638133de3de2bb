//! The store contract of several processes on one database: fencing tokens on
//! jobs and batch runs (a superseded claim never writes), the reaper's report of
//! the jobs it kills, portal ownership in the claim, instances, and the recent-
//! enqueue check behind "an isolated edit syncs at once". Each case runs on
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration as StdDuration;

use chrono::Utc;
use keva_core::{Bases, JobState, KevaField, SyncDirection, SyncStatus, Trigger};
use keva_store::testing::TestStore;
use keva_store::testing::{customer, fixture, private_app_connector, Fixture};
use keva_store::{
    BatchChunk, BatchCounters, BatchState, CustomerPatch, HistoryResult, LinkUpdate, NewHistory,
    NewJob, Store, StoreError, SyncCommit,
};
use serde_json::json;
use uuid::Uuid;

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    fencing_a_superseded_job_claim_never_writes,
    fencing_an_expired_job_lease_cannot_commit,
    fencing_relink_unlink_and_history_need_the_current_claim,
    fencing_write_intent_is_fenced_and_cleared_by_the_commit,
    fencing_a_chunks_write_intents_are_recorded_and_read_by_range,
    fencing_reaper_reports_the_jobs_it_kills,
    fencing_batch_takeover_is_compare_and_set,
    fencing_claim_owned_takes_only_owned_portals,
    fencing_instances_and_portal_lease_listing,
    fencing_recent_enqueue_of_a_key,
);

const LEASE: StdDuration = StdDuration::from_secs(60);

async fn connector(store: &Store, ws: Uuid, portal_id: i64) -> Uuid {
    store
        .insert_connector(private_app_connector(ws, portal_id))
        .await
        .expect("connector")
        .id
}

fn job(f: &Fixture, conn: Uuid, key: &str, max_attempts: u32) -> NewJob {
    NewJob {
        max_attempts,
        ..NewJob::new(
            f.ws,
            conn,
            "sync_customer",
            key,
            json!({"customerId": Uuid::nil()}),
            Trigger::ProfileUpdate,
        )
    }
}

/// A commit that sets the customer's job title and links it to contact "501".
fn commit(f: &Fixture, customer_id: Uuid, title: &str) -> SyncCommit {
    let mut bases = Bases::default();
    bases.keva.insert(KevaField::JobTitle, Some(title.into()));
    SyncCommit {
        workspace_id: f.ws,
        connector_id: f.conn,
        customer_id,
        customer_patch: Some(CustomerPatch {
            job_title: Some(title.into()),
            ..CustomerPatch::default()
        }),
        keva_expected: Default::default(),
        link: LinkUpdate {
            hubspot_id: Some("501".into()),
            bases: Some(bases),
            status: SyncStatus::Synced,
            status_reason: None,
            synced_at: Some(Utc::now()),
        },
        history: NewHistory {
            workspace_id: f.ws,
            connector_id: f.conn,
            customer_id: Some(customer_id),
            hubspot_id: Some("501".into()),
            trigger: Trigger::ProfileUpdate,
            direction: SyncDirection::FromCrm,
            fields: json!({"fieldsChanged": ["jobTitle"]}),
            result: HistoryResult::Synced,
            error: None,
            correlation_id: None,
        },
    }
}

async fn history_len(store: &Store, f: &Fixture) -> usize {
    store
        .history(f.ws, f.conn, None, None, 100)
        .await
        .expect("history")
        .len()
}

async fn fencing_a_superseded_job_claim_never_writes(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let cu = customer(store, f.ws, "ada@example.com").await;
    let id = store
        .enqueue(&job(&f, f.conn, "customer:1", 8))
        .await
        .expect("enqueue")
        .job_id;
    // The same worker claims twice (a pause past its lease, then the reaper and
    // a new claim): only the fencing token tells the two claims apart.
    let stale = store.claim("w", StdDuration::ZERO, 1).await.expect("claim")[0].lease();
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let fresh = store.claim("w", LEASE, 1).await.expect("claim");
    assert_eq!(fresh[0].id, id);
    let fresh = fresh[0].lease();
    assert_eq!(fresh.owner, stale.owner);
    assert!(fresh.epoch > stale.epoch, "{fresh:?} vs {stale:?}");

    assert!(!store.heartbeat(id, &stale, LEASE).await.expect("heartbeat"));
    assert!(!store
        .retry_later(id, &stale, Utc::now(), Some("x"))
        .await
        .expect("retry"));
    assert!(!store
        .finish(id, &stale, JobState::Succeeded, None)
        .await
        .expect("finish"));
    let refused = store
        .commit_sync_fenced(&commit(&f, cu, "CTO"), &stale)
        .await;
    assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
    let c = store.get_customer(f.ws, cu).await.expect("get").expect("c");
    assert_eq!(c.job_title, None, "the stale commit wrote nothing");
    assert_eq!(store.get_link(f.conn, cu).await.expect("link"), None);
    assert_eq!(history_len(store, &f).await, 0);

    // The current claim writes and ends the job.
    assert!(store.heartbeat(id, &fresh, LEASE).await.expect("heartbeat"));
    store
        .commit_sync_fenced(&commit(&f, cu, "CTO"), &fresh)
        .await
        .expect("commit")
        .expect("customer");
    assert!(store
        .finish(id, &fresh, JobState::Succeeded, None)
        .await
        .expect("finish"));
    let c = store.get_customer(f.ws, cu).await.expect("get").expect("c");
    assert_eq!(c.job_title.as_deref(), Some("CTO"));
    assert_eq!(history_len(store, &f).await, 1);
    // Ended: the lease no longer lets anything through.
    let after = store
        .commit_sync_fenced(&commit(&f, cu, "CEO"), &fresh)
        .await;
    assert!(matches!(after, Err(StoreError::LeaseLost)), "{after:?}");
    ts.finish().await;
}

async fn fencing_an_expired_job_lease_cannot_commit(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let cu = customer(store, f.ws, "ada@example.com").await;
    store
        .enqueue(&job(&f, f.conn, "customer:1", 8))
        .await
        .expect("enqueue");
    // Not reaped or re-claimed yet, but the lease ran out: the reaper may hand
    // the job to another worker at any moment, so the commit is refused.
    let lapsed = store
        .claim("w", StdDuration::from_millis(50), 1)
        .await
        .expect("claim")[0]
        .lease();
    tokio::time::sleep(StdDuration::from_millis(120)).await;
    let refused = store
        .commit_sync_fenced(&commit(&f, cu, "CTO"), &lapsed)
        .await;
    assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
    assert!(!store
        .heartbeat(lapsed.job_id, &lapsed, LEASE)
        .await
        .expect("heartbeat"));
    let c = store.get_customer(f.ws, cu).await.expect("get").expect("c");
    assert_eq!(c.job_title, None);
    ts.finish().await;
}

async fn fencing_relink_unlink_and_history_need_the_current_claim(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let cu = customer(store, f.ws, "ada@example.com").await;
    store
        .commit_sync(&commit(&f, cu, "CTO"))
        .await
        .expect("commit")
        .expect("customer");
    let linked = store.get_link(f.conn, cu).await.expect("link").expect("l");
    assert_eq!(linked.hubspot_id.as_deref(), Some("501"));
    let rows = history_len(store, &f).await;
    let id = store
        .enqueue(&job(&f, f.conn, "contact:501", 8))
        .await
        .expect("enqueue")
        .job_id;
    // A claim that paused past its lease, then the reaper and a new claim.
    let stale = store.claim("w", StdDuration::ZERO, 1).await.expect("claim")[0].lease();
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let fresh = store.claim("w", LEASE, 1).await.expect("claim")[0].lease();
    assert_eq!(fresh.job_id, id);

    let relink = store.relink_fenced(f.conn, "501", "777", &stale).await;
    assert!(matches!(relink, Err(StoreError::LeaseLost)), "{relink:?}");
    let unlink = store
        .unlink_hubspot_fenced(f.conn, "501", SyncStatus::NotLinked, Some("gone"), &stale)
        .await;
    assert!(matches!(unlink, Err(StoreError::LeaseLost)), "{unlink:?}");
    let entry = commit(&f, cu, "CTO").history;
    let history = store.insert_history_fenced(&entry, &stale).await;
    assert!(matches!(history, Err(StoreError::LeaseLost)), "{history:?}");
    assert_eq!(
        store.get_link(f.conn, cu).await.expect("link").as_ref(),
        Some(&linked),
        "the stale claim changed nothing"
    );
    assert_eq!(history_len(store, &f).await, rows);

    // The current claim relinks, records and unlinks.
    let moved = store
        .relink_fenced(f.conn, "501", "777", &fresh)
        .await
        .expect("relink")
        .expect("moved");
    assert_eq!(moved.hubspot_id.as_deref(), Some("777"));
    store
        .insert_history_fenced(&entry, &fresh)
        .await
        .expect("history");
    assert_eq!(history_len(store, &f).await, rows + 1);
    let unlinked = store
        .unlink_hubspot_fenced(f.conn, "777", SyncStatus::NotLinked, Some("gone"), &fresh)
        .await
        .expect("unlink")
        .expect("unlinked");
    assert_eq!(unlinked.hubspot_id, None);
    assert_eq!(unlinked.status, SyncStatus::NotLinked);

    // Once the job ended its claim lets nothing through either.
    assert!(store
        .finish(id, &fresh, JobState::Succeeded, None)
        .await
        .expect("finish"));
    let ended = store.insert_history_fenced(&entry, &fresh).await;
    assert!(matches!(ended, Err(StoreError::LeaseLost)), "{ended:?}");
    assert_eq!(history_len(store, &f).await, rows + 1);
    ts.finish().await;
}

async fn fencing_write_intent_is_fenced_and_cleared_by_the_commit(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let cu = customer(store, f.ws, "ada@example.com").await;
    let intent = |title: &str| {
        let mut b = Bases::default();
        b.keva.insert(KevaField::JobTitle, Some(title.into()));
        b.hubspot.insert("jobtitle".into(), Some(title.into()));
        b
    };
    let intents = || async { store.write_intents(f.conn, cu).await.expect("read") };
    assert_eq!(intents().await, vec![]);
    // Before a create: the link appears, pending, with no contact and no bases.
    assert!(store
        .record_write_intent(f.conn, cu, &intent("CTO"), None)
        .await
        .expect("intent"));
    let link = store.get_link(f.conn, cu).await.expect("link").expect("l");
    assert_eq!((link.hubspot_id, link.bases), (None, None));
    assert_eq!(link.status, SyncStatus::Pending);
    assert_eq!(intents().await, vec![intent("CTO")]);

    // A superseded claim records nothing; the current one adds its write.
    store
        .enqueue(&job(&f, f.conn, "customer:1", 8))
        .await
        .expect("enqueue");
    let stale = store.claim("w", StdDuration::ZERO, 1).await.expect("claim")[0].lease();
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let fresh = store.claim("w", LEASE, 1).await.expect("claim")[0].lease();
    let refused = store
        .record_write_intent(f.conn, cu, &intent("CEO"), Some(&stale))
        .await;
    assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
    assert_eq!(intents().await, vec![intent("CTO")]);
    assert!(store
        .record_write_intent(f.conn, cu, &intent("CEO"), Some(&fresh))
        .await
        .expect("intent"));
    assert_eq!(intents().await, vec![intent("CTO"), intent("CEO")]);
    // Only the newest few are kept.
    for i in 0..keva_store::MAX_WRITE_INTENTS {
        store
            .record_write_intent(f.conn, cu, &intent(&format!("t{i}")), Some(&fresh))
            .await
            .expect("intent");
    }
    let kept = intents().await;
    assert_eq!(kept.len(), keva_store::MAX_WRITE_INTENTS);
    assert_eq!(kept.first(), Some(&intent("t0")));

    // The commit clears them; on a linked link an intent changes nothing else.
    store
        .commit_sync_fenced(&commit(&f, cu, "CTO"), &fresh)
        .await
        .expect("commit")
        .expect("customer");
    assert_eq!(intents().await, vec![]);
    let linked = store.get_link(f.conn, cu).await.expect("link");
    assert!(store
        .record_write_intent(f.conn, cu, &intent("CFO"), None)
        .await
        .expect("intent"));
    assert_eq!(store.get_link(f.conn, cu).await.expect("link"), linked);
    assert_eq!(intents().await, vec![intent("CFO")]);
    // So do a relink (another contact) and an unlink (the contact is gone).
    store
        .relink(f.conn, "501", "502")
        .await
        .expect("relink")
        .expect("moved");
    assert_eq!(intents().await, vec![]);
    store
        .record_write_intent(f.conn, cu, &intent("CFO"), None)
        .await
        .expect("intent");
    store
        .unlink_hubspot(f.conn, "502", SyncStatus::NotLinked, None)
        .await
        .expect("unlink")
        .expect("unlinked");
    assert_eq!(intents().await, vec![]);
    ts.finish().await;
}

async fn fencing_a_chunks_write_intents_are_recorded_and_read_by_range(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let other = connector(store, f.ws, 9_002).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(customer(store, f.ws, &format!("r{i}@example.com")).await);
    }
    let intent = |title: &str| {
        let mut b = Bases::default();
        b.hubspot.insert("jobtitle".into(), Some(title.into()));
        b
    };
    // A chunk of the middle two, plus one on another connector.
    store
        .record_write_intents(f.conn, &[(ids[1], intent("A")), (ids[2], intent("B"))])
        .await
        .expect("intents");
    store
        .record_write_intents(f.conn, &[(ids[2], intent("C"))])
        .await
        .expect("intents");
    store
        .record_write_intents(other, &[(ids[1], intent("X"))])
        .await
        .expect("intents");
    store
        .record_write_intents(f.conn, &[])
        .await
        .expect("nothing to record");
    let found = store
        .write_intents_in_range(f.conn, ids[0], ids[3])
        .await
        .expect("read");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[&ids[1]], vec![intent("A")]);
    assert_eq!(found[&ids[2]], vec![intent("B"), intent("C")]);
    assert_eq!(
        store.write_intents(f.conn, ids[2]).await.expect("one"),
        vec![intent("B"), intent("C")]
    );
    let narrow = store
        .write_intents_in_range(f.conn, ids[2], ids[3])
        .await
        .expect("read");
    assert_eq!(narrow.keys().collect::<Vec<_>>(), vec![&ids[2]]);
    ts.finish().await;
}

async fn fencing_reaper_reports_the_jobs_it_kills(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let last = store
        .enqueue(&job(&f, f.conn, "customer:1", 1))
        .await
        .expect("enqueue")
        .job_id;
    let again = store
        .enqueue(&job(&f, f.conn, "customer:2", 5))
        .await
        .expect("enqueue")
        .job_id;
    store.claim("w", StdDuration::ZERO, 2).await.expect("claim");
    let reaped = store.reap_expired_jobs().await.expect("reap");
    assert_eq!(reaped.changed, 2);
    assert_eq!(reaped.dead.len(), 1, "{reaped:?}");
    let dead = &reaped.dead[0];
    assert_eq!(dead.id, last);
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("lease expired on attempt 1 of 1")
    );
    let requeued = store.get_job(f.ws, again).await.expect("get").expect("job");
    assert_eq!(requeued.state, JobState::Queued);
    ts.finish().await;
}

async fn fencing_batch_takeover_is_compare_and_set(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(customer(store, f.ws, &format!("c{i}@example.com")).await);
    }
    let run = store.start_batch(f.ws, f.conn, 3).await.expect("start");
    assert_eq!(run.owner, None);
    let a = store
        .claim_batch(run.id, "a", StdDuration::from_millis(300))
        .await
        .expect("claim")
        .expect("free");
    assert!(store
        .claim_batch(run.id, "b", LEASE)
        .await
        .expect("claim")
        .is_none());
    assert!(store
        .heartbeat_batch(&a, StdDuration::from_millis(300))
        .await
        .expect("beat"));
    let chunk = |lease, checkpoint, customer| BatchChunk {
        run_id: run.id,
        checkpoint,
        counters_delta: BatchCounters {
            processed: 1,
            ..BatchCounters::default()
        },
        commits: vec![commit(&f, customer, "CTO")],
        lease,
    };
    store
        .commit_batch_chunk(&chunk(Some(a.clone()), ids[0], ids[0]))
        .await
        .expect("a commits while it holds the run");

    // a stops renewing (paused); once its lease is over b takes the run.
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    let b = store
        .claim_batch(run.id, "b", LEASE)
        .await
        .expect("claim")
        .expect("expired");
    assert!(b.epoch > a.epoch);
    // a resumes: nothing it does goes through.
    assert!(!store.heartbeat_batch(&a, LEASE).await.expect("beat"));
    let stale = store
        .commit_batch_chunk(&chunk(Some(a.clone()), ids[1], ids[1]))
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    let stale = store
        .set_batch_state_fenced(&a, BatchState::Failed, Some("stale"), None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    let c1 = store
        .get_customer(f.ws, ids[1])
        .await
        .expect("get")
        .expect("c");
    assert_eq!(c1.job_title, None, "the stale chunk wrote nothing");

    // b moves forward; never backwards.
    let done = store
        .commit_batch_chunk(&chunk(Some(b.clone()), ids[2], ids[1]))
        .await
        .expect("b commits");
    assert_eq!(done.run.checkpoint, Some(ids[2]));
    assert_eq!(done.run.counters.processed, 2);
    let back = store
        .commit_batch_chunk(&chunk(Some(b.clone()), ids[0], ids[0]))
        .await;
    assert!(matches!(back, Err(StoreError::Conflict(_))), "{back:?}");

    // Released (graceful stop): another process takes it at once.
    assert!(store.release_batch(&b).await.expect("release"));
    let c = store
        .claim_batch(run.id, "c", LEASE)
        .await
        .expect("claim")
        .expect("released");
    let ended = store
        .set_batch_state_fenced(&c, BatchState::Done, None, None)
        .await
        .expect("done");
    assert_eq!(ended.state, BatchState::Done);
    assert!(store
        .claim_batch(run.id, "d", LEASE)
        .await
        .expect("claim")
        .is_none());
    ts.finish().await;
}

async fn fencing_claim_owned_takes_only_owned_portals(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let other = connector(store, f.ws, 7).await;
    let mine = store
        .enqueue(&job(&f, f.conn, "customer:1", 8))
        .await
        .expect("enqueue")
        .job_id;
    let theirs = store
        .enqueue(&job(&f, other, "customer:1", 8))
        .await
        .expect("enqueue")
        .job_id;
    assert!(store
        .acquire_portal_lease(4242, "a", LEASE)
        .await
        .expect("lease"));
    assert_claims_nothing(store, "b").await;
    let got = store.claim_owned("a", LEASE, 10, "a").await.expect("claim");
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![mine]);
    // An expired portal lease owns nothing.
    assert!(store
        .acquire_portal_lease(7, "b", StdDuration::ZERO)
        .await
        .expect("lease"));
    assert_claims_nothing(store, "b").await;
    assert!(store
        .acquire_portal_lease(7, "b", LEASE)
        .await
        .expect("lease"));
    let got = store.claim_owned("b", LEASE, 10, "b").await.expect("claim");
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![theirs]);
    ts.finish().await;
}

async fn fencing_instances_and_portal_lease_listing(ts: TestStore) {
    let store = &*ts;
    assert_eq!(
        store.instance_heartbeat("a", LEASE).await.expect("beat"),
        vec!["a".to_string()]
    );
    assert_eq!(
        store.instance_heartbeat("b", LEASE).await.expect("beat"),
        vec!["a".to_string(), "b".to_string()]
    );
    store
        .instance_heartbeat("c", StdDuration::ZERO)
        .await
        .expect("beat");
    assert_eq!(
        store.instance_heartbeat("a", LEASE).await.expect("beat"),
        vec!["a".to_string(), "b".to_string()],
        "c's heartbeat has run out"
    );
    store.remove_instance("b").await.expect("remove");
    assert_eq!(
        store.instance_heartbeat("a", LEASE).await.expect("beat"),
        vec!["a".to_string()]
    );

    for (portal, owner) in [(1, "a"), (2, "a"), (3, "b")] {
        assert!(store
            .acquire_portal_lease(portal, owner, LEASE)
            .await
            .expect("lease"));
    }
    assert!(store
        .acquire_portal_lease(4, "b", StdDuration::ZERO)
        .await
        .expect("lease"));
    assert_eq!(
        store.live_portal_leases().await.expect("leases"),
        vec![(1, "a".into()), (2, "a".into()), (3, "b".into())]
    );
    assert_eq!(store.release_portal_leases("a").await.expect("release"), 2);
    assert_eq!(
        store.live_portal_leases().await.expect("leases"),
        vec![(3, "b".into())]
    );
    let now = store.database_now().await.expect("now");
    assert!((now - Utc::now()).num_seconds().abs() < 5, "{now}");
    ts.finish().await;
}

async fn fencing_recent_enqueue_of_a_key(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let window = StdDuration::from_millis(300);
    assert!(!store
        .key_enqueued_within(f.conn, "customer:1", window)
        .await
        .expect("recent"));
    store
        .enqueue(&job(&f, f.conn, "customer:1", 8))
        .await
        .expect("enqueue");
    assert!(store
        .key_enqueued_within(f.conn, "customer:1", window)
        .await
        .expect("recent"));
    assert!(!store
        .key_enqueued_within(f.conn, "customer:2", window)
        .await
        .expect("other key"));
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    assert!(!store
        .key_enqueued_within(f.conn, "customer:1", window)
        .await
        .expect("window over"));
    ts.finish().await;
}

/// `owner` claims no job: it owns no portal with work.
async fn assert_claims_nothing(store: &Store, owner: &str) {
    let got = store
        .claim_owned(owner, LEASE, 10, owner)
        .await
        .expect("claim");
    assert!(got.is_empty(), "{owner} claimed {got:?}");
}
