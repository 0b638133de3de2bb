//! The store contract of the sync engine (links, commits, history, the job queue,
//! webhook intake, batch runs): every case is written once against `&Store` and
//! run on both SQLite and PostgreSQL, each on its own fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{Duration, SubsecRound, Utc};
use keva_core::{
    default_contact_mappings, Bases, ConflictPolicy, FieldMapping, JobState, ObjectKind,
    PropertyInfo, SyncDirection, SyncStatus, Trigger,
};
use keva_store::testing::{customer, fixture, private_app_connector as new_connector, Fixture};
use keva_store::testing::{reopen, TestStore};
use keva_store::{
    BatchChunk, BatchCounters, BatchState, ConnectorSettings, CustomerPatch, EnqueueResult,
    HistoryFilter, HistoryResult, Job, KevaField, LinkUpdate, MasterKey, NewCustomer, NewHistory,
    NewJob, NewWebhookEvent, NewWebhookRequest, Store, StoreError, SyncCommit, WebhookIngest,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

keva_store::backend_tests!(
    with = keva_store::testing::test_store;
    connector_settings,
    webhook_settings_sealed,
    mappings_and_property_cache,
    link_status_and_uniqueness,
    unlink_on_deletion_keeps_customer,
    relink_on_merge,
    commit_sync_applies_everything,
    commit_sync_email_conflict_writes_nothing,
    commit_sync_leaves_a_field_edited_since_the_plan,
    history_paging,
    queue_coalescing,
    queue_concurrent_enqueue_coalesces,
    queue_no_double_claim,
    queue_same_key_never_runs_twice,
    queue_same_key_exclusive_under_concurrency,
    queue_lease_expiry_and_dead,
    queue_fencing,
    queue_retry_later,
    queue_retry_later_meets_queued_twin,
    queue_reaper_coalesces_into_twin,
    queue_admin,
    queue_survives_restart,
    webhook_ingest_idempotent,
    webhook_ingest_is_all_or_nothing,
    webhook_log,
    batch_single_active,
    batch_chunk_commit_and_checkpoint,
    customers_by_ids,
    portal_leases,
);

// --- fixtures -----------------------------------------------------------------

fn history(f: &Fixture, customer_id: Option<Uuid>, result: HistoryResult) -> NewHistory {
    NewHistory {
        workspace_id: f.ws,
        connector_id: f.conn,
        customer_id,
        hubspot_id: None,
        trigger: Trigger::Manual,
        direction: SyncDirection::ToCrm,
        fields: json!({"fieldsChanged": []}),
        result,
        error: None,
        correlation_id: None,
    }
}

fn bases(job_title: &str) -> Bases {
    let mut b = Bases::default();
    b.keva.insert(KevaField::JobTitle, Some(job_title.into()));
    b.hubspot.insert("jobtitle".into(), Some(job_title.into()));
    b
}

/// A commit linking `customer_id` to `hubspot_id`, with an optional patch.
fn commit(
    f: &Fixture,
    customer_id: Uuid,
    hubspot_id: &str,
    patch: Option<CustomerPatch>,
) -> SyncCommit {
    SyncCommit {
        workspace_id: f.ws,
        connector_id: f.conn,
        customer_id,
        customer_patch: patch,
        keva_expected: Default::default(),
        link: LinkUpdate {
            hubspot_id: Some(hubspot_id.into()),
            bases: Some(bases("CTO")),
            status: SyncStatus::Synced,
            status_reason: None,
            synced_at: Some(Utc::now()),
        },
        history: NewHistory {
            hubspot_id: Some(hubspot_id.into()),
            ..history(f, Some(customer_id), HistoryResult::Synced)
        },
    }
}

/// Links `customer_id` to `hubspot_id` with a plain commit (`commit`, no patch).
async fn link(store: &Store, f: &Fixture, customer_id: Uuid, hubspot_id: &str) {
    store
        .commit_sync(&commit(f, customer_id, hubspot_id, None))
        .await
        .expect("commit")
        .expect("customer exists");
}

fn job(f: &Fixture, key: &str) -> NewJob {
    f.job(key)
}

/// Enqueues the fixture's job for `key`.
async fn enqueue(store: &Store, f: &Fixture, key: &str) -> EnqueueResult {
    store.enqueue(&job(f, key)).await.expect("enqueue")
}

async fn claim(store: &Store, worker: &str, lease: StdDuration, limit: u32) -> Vec<Job> {
    store.claim(worker, lease, limit).await.expect("claim")
}

/// The fixture workspace's job `id`, which must exist.
async fn job_by_id(store: &Store, f: &Fixture, id: Uuid) -> Job {
    store.get_job(f.ws, id).await.expect("get").expect("exists")
}

const LEASE: StdDuration = StdDuration::from_secs(60);

// --- connectors and settings ----------------------------------------------------

async fn connector_settings(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let other_ws = store.create_workspace("globex").await.expect("ws").id;
    let other = store
        .insert_connector(new_connector(other_ws, 4242))
        .await
        .expect("connector");
    let third = store
        .insert_connector(new_connector(other_ws, 777))
        .await
        .expect("connector");

    let c = store
        .get_connector(f.ws, f.conn)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(c.conflict_policy, ConflictPolicy::NewestWins);
    assert!(!c.import_contacts);
    assert_eq!(c.batch_schedule, None);

    let settings = ConnectorSettings {
        conflict_policy: ConflictPolicy::HubspotWins,
        import_contacts: true,
        batch_schedule: Some("0 3 * * *".into()),
    };
    let updated = store
        .update_connector_settings(f.ws, f.conn, &settings)
        .await
        .expect("update");
    assert_eq!(updated.conflict_policy, ConflictPolicy::HubspotWins);
    assert!(updated.import_contacts);
    assert_eq!(updated.batch_schedule.as_deref(), Some("0 3 * * *"));
    assert_eq!(
        store.get_connector(f.ws, f.conn).await.expect("get"),
        Some(updated.clone())
    );
    let wrong_ws = store
        .update_connector_settings(other_ws, f.conn, &settings)
        .await;
    assert!(
        matches!(wrong_ws, Err(StoreError::NotFound)),
        "{wrong_ws:?}"
    );

    let by_portal = store.connectors_by_portal(4242).await.expect("by portal");
    assert_eq!(
        by_portal.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![f.conn, other.id]
    );
    assert_eq!(by_portal[0], updated);
    assert!(store
        .connectors_by_portal(1)
        .await
        .expect("none")
        .is_empty());
    let all: Vec<Uuid> = store
        .list_all_connectors()
        .await
        .expect("all")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(all, vec![f.conn, other.id, third.id]);
    ts.finish().await;
}

async fn webhook_settings_sealed(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let other = store.create_workspace("globex").await.expect("ws").id;
    assert_eq!(store.webhook_settings(f.ws).await.expect("get"), None);
    assert!(store.webhook_secret(f.ws).await.expect("get").is_none());

    let secret = SecretString::from("client-secret-plaintext-42");
    let s = store
        .set_webhook_settings(f.ws, "app-1", &secret)
        .await
        .expect("set");
    assert_eq!(s.app_id, "app-1");
    assert_eq!(
        store.webhook_settings(f.ws).await.expect("get"),
        Some(s.clone())
    );
    assert_eq!(
        store
            .webhook_secret(f.ws)
            .await
            .expect("secret")
            .expect("set")
            .expose_secret(),
        "client-secret-plaintext-42"
    );
    assert_eq!(store.webhook_settings(other).await.expect("get"), None);

    // At rest the column holds no plaintext.
    let raw: Vec<u8> = match store {
        Store::Sqlite(s) => sqlx::query_scalar("SELECT client_secret FROM webhook_settings")
            .fetch_one(s.pool())
            .await
            .expect("raw"),
        Store::Postgres(p) => sqlx::query_scalar("SELECT client_secret FROM webhook_settings")
            .fetch_one(p.pool())
            .await
            .expect("raw"),
    };
    assert!(!raw.windows(b"plaintext".len()).any(|w| w == b"plaintext"));

    let replaced = store
        .set_webhook_settings(f.ws, "app-2", &SecretString::from("second"))
        .await
        .expect("replace");
    assert_eq!(replaced.app_id, "app-2");
    assert_eq!(replaced.created_at, s.created_at);
    assert_eq!(
        store
            .webhook_secret(f.ws)
            .await
            .expect("secret")
            .expect("set")
            .expose_secret(),
        "second"
    );

    // Another master key cannot open it.
    let stranger = reopen(store, MasterKey::generate()).await;
    let refused = stranger.webhook_secret(f.ws).await;
    assert!(matches!(refused, Err(StoreError::Crypto(_))), "{refused:?}");
    stranger.close().await;

    let unknown = store
        .set_webhook_settings(Uuid::now_v7(), "app", &secret)
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    ts.finish().await;
}

async fn mappings_and_property_cache(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    assert_eq!(
        store
            .mappings(f.conn, ObjectKind::Contact)
            .await
            .expect("get"),
        None
    );
    let defaults = default_contact_mappings();
    let issues = json!([{"field": "notes", "kind": "property_missing"}]);
    store
        .save_mappings(f.conn, ObjectKind::Contact, &defaults, &issues)
        .await
        .expect("save");
    let stored = store
        .mappings(f.conn, ObjectKind::Contact)
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(stored.mappings, defaults);
    assert_eq!(stored.issues, issues);
    assert_eq!(
        store
            .mappings(f.conn, ObjectKind::Company)
            .await
            .expect("get"),
        None
    );

    let fewer: Vec<FieldMapping> = defaults.into_iter().take(2).collect();
    store
        .save_mappings(f.conn, ObjectKind::Contact, &fewer, &json!([]))
        .await
        .expect("overwrite");
    let stored = store
        .mappings(f.conn, ObjectKind::Contact)
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(stored.mappings, fewer);
    assert_eq!(stored.issues, json!([]));

    let missing = store
        .save_mappings(Uuid::now_v7(), ObjectKind::Contact, &fewer, &json!([]))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    assert_eq!(
        store
            .property_cache(f.conn, ObjectKind::Contact)
            .await
            .expect("get"),
        None
    );
    let props = vec![
        PropertyInfo::new("email", "Email", "string", "text"),
        PropertyInfo::new("jobtitle", "Job Title", "string", "text"),
    ];
    let before = Utc::now().trunc_subsecs(3);
    store
        .save_property_cache(f.conn, ObjectKind::Contact, &props)
        .await
        .expect("save");
    let (cached, at) = store
        .property_cache(f.conn, ObjectKind::Contact)
        .await
        .expect("get")
        .expect("cached");
    assert_eq!(cached, props);
    assert!(at >= before);
    store
        .save_property_cache(f.conn, ObjectKind::Contact, &props[..1])
        .await
        .expect("replace");
    let (cached, _) = store
        .property_cache(f.conn, ObjectKind::Contact)
        .await
        .expect("get")
        .expect("cached");
    assert_eq!(cached, props[..1]);
    ts.finish().await;
}

// --- links ------------------------------------------------------------------------

async fn link_status_and_uniqueness(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = customer(store, f.ws, "ann@example.com").await;
    let bob = customer(store, f.ws, "bob@example.com").await;
    assert_eq!(store.get_link(f.conn, ann).await.expect("get"), None);

    let pending = store
        .set_link_status(f.conn, ann, SyncStatus::Pending, None)
        .await
        .expect("create");
    assert_eq!(pending.hubspot_id, None);
    assert_eq!(pending.bases, None);
    assert_eq!(pending.status, SyncStatus::Pending);
    assert_eq!(pending.workspace_id, f.ws);

    link(store, &f, ann, "101").await;
    let linked = store
        .get_link(f.conn, ann)
        .await
        .expect("get")
        .expect("linked");
    assert_eq!(linked.hubspot_id.as_deref(), Some("101"));
    assert_eq!(linked.bases, Some(bases("CTO")));
    assert_eq!(linked.status, SyncStatus::Synced);
    assert!(linked.last_synced_at.is_some());
    assert_eq!(
        store
            .link_by_hubspot_id(f.conn, "101")
            .await
            .expect("by id"),
        Some(linked.clone())
    );

    let many = store
        .links_by_hubspot_ids(f.conn, &["999".into(), "101".into()])
        .await
        .expect("by ids");
    assert_eq!(many, vec![linked.clone()]);
    assert!(store
        .links_by_hubspot_ids(f.conn, &[])
        .await
        .expect("none")
        .is_empty());

    // Only the status changes; the contact and bases stay.
    let failed = store
        .set_link_status(f.conn, ann, SyncStatus::Failed, Some("HubSpot said 500"))
        .await
        .expect("status");
    assert_eq!(failed.hubspot_id.as_deref(), Some("101"));
    assert_eq!(failed.bases, Some(bases("CTO")));
    assert_eq!(failed.status_reason.as_deref(), Some("HubSpot said 500"));
    assert_eq!(failed.last_synced_at, linked.last_synced_at);

    // A second customer on the same contact is refused and nothing of it is written.
    let dup = store.commit_sync(&commit(&f, bob, "101", None)).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(ref m)) if m.contains("101")),
        "{dup:?}"
    );
    assert_eq!(store.get_link(f.conn, bob).await.expect("get"), None);
    assert!(store
        .customer_history(f.ws, bob, 10)
        .await
        .expect("history")
        .is_empty());

    // Unknown customer or a customer of another workspace: NotFound.
    let other_ws = store.create_workspace("globex").await.expect("ws").id;
    let stranger = customer(store, other_ws, "eve@example.com").await;
    for id in [Uuid::now_v7(), stranger] {
        let r = store
            .set_link_status(f.conn, id, SyncStatus::Pending, None)
            .await;
        assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    }
    ts.finish().await;
}

async fn unlink_on_deletion_keeps_customer(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = customer(store, f.ws, "ann@example.com").await;
    link(store, &f, ann, "101").await;
    let unlinked = store
        .unlink_hubspot(
            f.conn,
            "101",
            SyncStatus::NotLinked,
            Some("contact deleted in HubSpot"),
        )
        .await
        .expect("unlink")
        .expect("was linked");
    assert_eq!(unlinked.customer_id, ann);
    assert_eq!(unlinked.hubspot_id, None);
    assert_eq!(unlinked.bases, None);
    assert_eq!(unlinked.status, SyncStatus::NotLinked);
    assert_eq!(
        unlinked.status_reason.as_deref(),
        Some("contact deleted in HubSpot")
    );
    assert!(store.get_customer(f.ws, ann).await.expect("get").is_some());
    assert_eq!(
        store.link_by_hubspot_id(f.conn, "101").await.expect("get"),
        None
    );
    assert_eq!(
        store
            .unlink_hubspot(f.conn, "101", SyncStatus::NotLinked, None)
            .await
            .expect("again"),
        None
    );
    // Restore: the contact can be linked again.
    link(store, &f, ann, "101").await;
    ts.finish().await;
}

async fn relink_on_merge(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = customer(store, f.ws, "ann@example.com").await;
    let bob = customer(store, f.ws, "bob@example.com").await;
    link(store, &f, ann, "101").await;

    let moved = store
        .relink(f.conn, "101", "202")
        .await
        .expect("relink")
        .expect("moved");
    assert_eq!(moved.customer_id, ann);
    assert_eq!(moved.hubspot_id.as_deref(), Some("202"));
    assert_eq!(moved.bases, Some(bases("CTO")));
    assert_eq!(
        store.link_by_hubspot_id(f.conn, "101").await.expect("get"),
        None
    );
    assert_eq!(
        store.relink(f.conn, "101", "303").await.expect("nothing"),
        None
    );

    // Bob's contact 303 is merged into 202, which Ann holds: Bob is unlinked.
    link(store, &f, bob, "303").await;
    let bob_link = store
        .relink(f.conn, "303", "202")
        .await
        .expect("relink")
        .expect("changed");
    assert_eq!(bob_link.customer_id, bob);
    assert_eq!(bob_link.hubspot_id, None);
    assert_eq!(bob_link.bases, None);
    assert_eq!(bob_link.status, SyncStatus::NotLinked);
    assert!(bob_link
        .status_reason
        .as_deref()
        .is_some_and(|r| r.contains("merged") && r.contains("202")));
    let survivor = store
        .link_by_hubspot_id(f.conn, "202")
        .await
        .expect("get")
        .expect("still linked");
    assert_eq!(survivor.customer_id, ann);
    ts.finish().await;
}

// --- sync commits and history ---------------------------------------------------------

async fn commit_sync_applies_everything(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = store
        .insert_customer(
            f.ws,
            NewCustomer {
                name: Some("Ann".into()),
                phone: Some("555".into()),
                ..NewCustomer::with_email("ann@example.com")
            },
        )
        .await
        .expect("insert");
    let times_before = store
        .customer_field_times(f.ws, ann.id)
        .await
        .expect("times");

    let patch = CustomerPatch {
        job_title: Some("CTO".into()),
        phone: Some(String::new()),
        name: Some("Ann".into()),
        ..CustomerPatch::default()
    };
    let mut c = commit(&f, ann.id, "101", Some(patch));
    c.history.direction = SyncDirection::FromCrm;
    c.history.fields = json!({"fieldsChanged": [{"field": "jobTitle", "new": "CTO"}]});
    let after = store
        .commit_sync(&c)
        .await
        .expect("commit")
        .expect("customer exists");
    assert_eq!(after.job_title.as_deref(), Some("CTO"));
    assert_eq!(after.phone, None);
    assert_eq!(
        store.get_customer(f.ws, ann.id).await.expect("get"),
        Some(after.clone())
    );
    let times = store
        .customer_field_times(f.ws, ann.id)
        .await
        .expect("times");
    assert_eq!(times[&KevaField::Name], times_before[&KevaField::Name]);
    assert!(times[&KevaField::JobTitle] >= times_before[&KevaField::Email]);
    assert!(times.contains_key(&KevaField::Phone));

    let link = store
        .get_link(f.conn, ann.id)
        .await
        .expect("get")
        .expect("linked");
    assert_eq!(link.hubspot_id.as_deref(), Some("101"));
    assert_eq!(link.status, SyncStatus::Synced);

    let h = store
        .customer_history(f.ws, ann.id, 10)
        .await
        .expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].direction, SyncDirection::FromCrm);
    assert_eq!(h[0].result, HistoryResult::Synced);
    assert_eq!(h[0].fields, c.history.fields);
    assert_eq!(h[0].hubspot_id.as_deref(), Some("101"));

    // A commit without a patch keeps last_synced_at when none is given.
    let mut quiet = commit(&f, ann.id, "101", None);
    quiet.link.synced_at = None;
    quiet.link.status = SyncStatus::Conflict;
    let same = store
        .commit_sync(&quiet)
        .await
        .expect("commit")
        .expect("exists");
    assert_eq!(same, after);
    let link2 = store
        .get_link(f.conn, ann.id)
        .await
        .expect("get")
        .expect("linked");
    assert_eq!(link2.last_synced_at, link.last_synced_at);
    assert_eq!(link2.status, SyncStatus::Conflict);

    // An unknown customer: nothing written.
    let ghost = Uuid::now_v7();
    assert_eq!(
        store
            .commit_sync(&commit(&f, ghost, "999", None))
            .await
            .expect("no customer"),
        None
    );
    assert_eq!(
        store.link_by_hubspot_id(f.conn, "999").await.expect("get"),
        None
    );
    ts.finish().await;
}

/// A plan read Ann's title as "CEO" and pulls HubSpot's "CTO"; an edit to
/// "Founder" landed before the commit. The commit keeps the edit (and writes
/// the rest: the phone it expected unchanged, the link, the history row).
async fn commit_sync_leaves_a_field_edited_since_the_plan(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = store
        .insert_customer(
            f.ws,
            NewCustomer {
                job_title: Some("CEO".into()),
                phone: Some("555".into()),
                ..NewCustomer::with_email("ann@example.com")
            },
        )
        .await
        .expect("insert");
    let mut c = commit(
        &f,
        ann.id,
        "101",
        Some(CustomerPatch {
            job_title: Some("CTO".into()),
            phone: Some("556".into()),
            ..CustomerPatch::default()
        }),
    );
    c.keva_expected = [
        (KevaField::JobTitle, Some("CEO".to_string())),
        (KevaField::Phone, Some("555".to_string())),
    ]
    .into();
    store
        .update_customer(
            f.ws,
            ann.id,
            &CustomerPatch {
                job_title: Some("Founder".into()),
                ..CustomerPatch::default()
            },
        )
        .await
        .expect("edit");
    let after = store
        .commit_sync(&c)
        .await
        .expect("commit")
        .expect("customer exists");
    assert_eq!(
        after.job_title.as_deref(),
        Some("Founder"),
        "the edit stays"
    );
    assert_eq!(
        after.phone.as_deref(),
        Some("556"),
        "the unedited field is written"
    );
    let link = store
        .get_link(f.conn, ann.id)
        .await
        .expect("link")
        .expect("l");
    assert_eq!(link.hubspot_id.as_deref(), Some("101"));
    let rows = store.customer_history(f.ws, ann.id, 10).await.expect("h");
    assert_eq!(rows.len(), 1);

    // Expecting what is there, the patch is written.
    let mut again = commit(
        &f,
        ann.id,
        "101",
        Some(CustomerPatch {
            job_title: Some("CTO".into()),
            ..CustomerPatch::default()
        }),
    );
    again.keva_expected = [(KevaField::JobTitle, Some("Founder".to_string()))].into();
    let after = store
        .commit_sync(&again)
        .await
        .expect("commit")
        .expect("customer exists");
    assert_eq!(after.job_title.as_deref(), Some("CTO"));
    ts.finish().await;
}

async fn commit_sync_email_conflict_writes_nothing(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = customer(store, f.ws, "ann@example.com").await;
    customer(store, f.ws, "taken@example.com").await;
    link(store, &f, ann, "101").await;
    let customer_before = store.get_customer(f.ws, ann).await.expect("get");
    let link_before = store.get_link(f.conn, ann).await.expect("get");
    let history_before = store.customer_history(f.ws, ann, 10).await.expect("h");

    let mut c = commit(
        &f,
        ann,
        "101",
        Some(CustomerPatch {
            email: Some("Taken@Example.com".into()),
            company: Some("Acme".into()),
            ..CustomerPatch::default()
        }),
    );
    c.link.bases = Some(bases("CEO"));
    let r = store.commit_sync(&c).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(ref m)) if m.contains("Taken@Example.com")),
        "{r:?}"
    );
    assert_eq!(
        store.get_customer(f.ws, ann).await.expect("get"),
        customer_before
    );
    assert_eq!(store.get_link(f.conn, ann).await.expect("get"), link_before);
    assert_eq!(
        store.customer_history(f.ws, ann, 10).await.expect("h"),
        history_before
    );
    ts.finish().await;
}

async fn history_paging(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let ann = customer(store, f.ws, "ann@example.com").await;
    let bob = customer(store, f.ws, "bob@example.com").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (who, result) = if i % 2 == 0 {
            (ann, HistoryResult::Synced)
        } else {
            (bob, HistoryResult::Failed)
        };
        let mut h = history(&f, Some(who), result);
        if result == HistoryResult::Failed {
            h.error = Some(format!("HubSpot 500 #{i}"));
            h.correlation_id = Some(format!("corr-{i}"));
        }
        let entry = store.insert_history(&h).await.expect("insert");
        assert_eq!(entry.result, result);
        assert_eq!(entry.correlation_id, h.correlation_id);
        ids.push(entry.id);
    }
    let newest_first: Vec<Uuid> = ids.iter().rev().copied().collect();

    let ann_h = store.customer_history(f.ws, ann, 10).await.expect("ann");
    assert_eq!(ann_h.len(), 4);
    assert!(ann_h.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(
        store
            .customer_history(f.ws, ann, 2)
            .await
            .expect("ann")
            .len(),
        2
    );

    let page1 = store
        .history(f.ws, f.conn, None, None, 3)
        .await
        .expect("page 1");
    let page2 = store
        .history(f.ws, f.conn, None, Some(page1[2].id), 3)
        .await
        .expect("page 2");
    let page3 = store
        .history(f.ws, f.conn, None, Some(page2[2].id), 3)
        .await
        .expect("page 3");
    let all: Vec<Uuid> = page1
        .iter()
        .chain(&page2)
        .chain(&page3)
        .map(|h| h.id)
        .collect();
    assert_eq!(all, newest_first);

    let failed = store
        .history(f.ws, f.conn, Some(HistoryResult::Failed), None, 10)
        .await
        .expect("failed");
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|h| h.result == HistoryResult::Failed
        && h.customer_id == Some(bob)
        && h.error.is_some()));

    // One customer's attempts, alone or with a result; paged like the rest.
    let of = |customer_id, result| HistoryFilter {
        result,
        customer_id: Some(customer_id),
    };
    let anns = store
        .history_filtered(f.ws, f.conn, of(ann, None), None, 10)
        .await
        .expect("ann's");
    let ann_ids: Vec<Uuid> = newest_first
        .iter()
        .copied()
        .filter(|id| anns.iter().any(|h| h.id == *id))
        .collect();
    assert_eq!(anns.len(), 4);
    assert!(anns.iter().all(|h| h.customer_id == Some(ann)));
    assert_eq!(anns.iter().map(|h| h.id).collect::<Vec<_>>(), ann_ids);
    let older = store
        .history_filtered(f.ws, f.conn, of(ann, None), Some(anns[1].id), 10)
        .await
        .expect("ann's older");
    assert_eq!(older.iter().map(|h| h.id).collect::<Vec<_>>(), ann_ids[2..]);
    assert!(store
        .history_filtered(f.ws, f.conn, of(ann, Some(HistoryResult::Failed)), None, 10)
        .await
        .expect("ann's failed")
        .is_empty());
    assert_eq!(
        store
            .history_filtered(f.ws, f.conn, of(bob, Some(HistoryResult::Failed)), None, 10)
            .await
            .expect("bob's failed")
            .len(),
        3
    );

    let other = store.create_workspace("globex").await.expect("ws").id;
    assert!(store
        .history(other, f.conn, None, None, 10)
        .await
        .expect("other")
        .is_empty());
    assert!(store
        .history_filtered(other, f.conn, of(ann, None), None, 10)
        .await
        .expect("other's view of ann")
        .is_empty());
    ts.finish().await;
}

// --- job queue --------------------------------------------------------------------

async fn queue_coalescing(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let later = Utc::now() + Duration::hours(1);
    let first = store
        .enqueue(&NewJob {
            run_at: Some(later),
            ..job(&f, "customer:1")
        })
        .await
        .expect("enqueue");
    assert!(!first.coalesced);
    for i in 0..9 {
        let r = store
            .enqueue(&NewJob {
                payload: json!({ "edit": i }),
                ..job(&f, "customer:1")
            })
            .await
            .expect("enqueue");
        assert!(r.coalesced);
        assert_eq!(r.job_id, first.job_id);
    }
    let other = store.enqueue(&job(&f, "customer:2")).await.expect("other");
    assert!(!other.coalesced);

    let queued = store
        .list_jobs(f.ws, Some(JobState::Queued), 100)
        .await
        .expect("list");
    assert_eq!(queued.len(), 2);
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 2);
    let j = job_by_id(store, &f, first.job_id).await;
    // The earlier run time wins; the first payload is kept.
    assert!(j.run_at < later);
    assert_eq!(j.payload, json!({ "key": "customer:1" }));
    assert_eq!(j.attempts, 0);

    // The same key on another connector is another job.
    let conn2 = store
        .insert_connector(new_connector(f.ws, 9999))
        .await
        .expect("connector")
        .id;
    let r = store
        .enqueue(&NewJob {
            connector_id: conn2,
            ..job(&f, "customer:1")
        })
        .await
        .expect("enqueue");
    assert!(!r.coalesced);
    ts.finish().await;
}

async fn queue_concurrent_enqueue_coalesces(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let tasks = (0..10).map(|_| {
        let store = store.clone();
        let j = job(&f, "contact:4242:7");
        tokio::spawn(async move { store.enqueue(&j).await })
    });
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("enqueue"))
        .collect();
    assert_eq!(results.iter().filter(|r| !r.coalesced).count(), 1);
    let ids: HashSet<Uuid> = results.iter().map(|r| r.job_id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 1);
    ts.finish().await;
}

async fn queue_no_double_claim(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let mut all = HashSet::new();
    for i in 0..50 {
        all.insert(
            store
                .enqueue(&job(&f, &format!("customer:{i}")))
                .await
                .expect("enqueue")
                .job_id,
        );
    }
    // Two of the four workers use a second store on the same database, as a
    // second process would.
    let second = reopen(store, MasterKey::generate()).await;
    let tasks = (0..4).map(|w| {
        let store = if w % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let got = store.claim(&worker, LEASE, 3).await.expect("claim");
                if got.is_empty() {
                    break;
                }
                assert!(got.len() <= 3, "claim respects its limit");
                for j in got {
                    assert_eq!(j.lease_owner.as_deref(), Some(worker.as_str()));
                    assert_eq!(j.state, JobState::Running);
                    assert_eq!(j.attempts, 1);
                    mine.push(j.id);
                }
            }
            mine
        })
    });
    let mut counts: HashMap<Uuid, usize> = HashMap::new();
    for ids in futures::future::join_all(tasks).await {
        for id in ids.expect("task") {
            *counts.entry(id).or_default() += 1;
        }
    }
    second.close().await;
    assert_eq!(counts.len(), 50, "every job claimed");
    assert!(counts.values().all(|&n| n == 1), "no job claimed twice");
    assert_eq!(counts.keys().copied().collect::<HashSet<_>>(), all);
    assert_eq!(
        store.count_jobs(JobState::Running).await.expect("count"),
        50
    );
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 0);
    ts.finish().await;
}

async fn queue_same_key_never_runs_twice(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let first = enqueue(store, &f, "customer:1").await;
    let claimed = store.claim("w1", LEASE, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first.job_id);

    // A change arriving while the job runs gets its own queued job...
    let second = enqueue(store, &f, "customer:1").await;
    assert!(!second.coalesced);
    assert_ne!(second.job_id, first.job_id);
    // ...that no one may claim while the first runs, but other keys go ahead.
    enqueue(store, &f, "customer:2").await;
    let other = store.claim("w2", LEASE, 10).await.expect("claim");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].coalesce_key, "customer:2");
    assert!(claim(store, "w2", LEASE, 10).await.is_empty());

    assert!(store
        .finish(first.job_id, "w1", JobState::Succeeded, None)
        .await
        .expect("finish"));
    let next = store.claim("w2", LEASE, 10).await.expect("claim");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, second.job_id);
    let done = job_by_id(store, &f, first.job_id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert!(done.finished_at.is_some());
    assert_eq!(done.lease_owner, None);
    ts.finish().await;
}

/// Four workers claim jobs of three keys while every run enqueues a follow-up for
/// its own key (an edit arriving mid-run): no key is ever held by two runs.
async fn queue_same_key_exclusive_under_concurrency(ts: TestStore) {
    let store = &*ts;
    let f = Arc::new(fixture(store).await);
    for k in 0..3 {
        store
            .enqueue(&job(&f, &format!("customer:{k}")))
            .await
            .expect("enqueue");
    }
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let budget = Arc::new(AtomicI64::new(30));
    let enqueued = Arc::new(AtomicUsize::new(3));
    let tasks = (0..4).map(|w| {
        let (store, f, running, budget, enqueued) = (
            store.clone(),
            f.clone(),
            running.clone(),
            budget.clone(),
            enqueued.clone(),
        );
        tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut runs = 0usize;
            for _ in 0..100_000 {
                let got = store.claim(&worker, LEASE, 2).await.expect("claim");
                if got.is_empty() {
                    let busy = store.count_jobs(JobState::Queued).await.expect("count")
                        + store.count_jobs(JobState::Running).await.expect("count");
                    if budget.load(Ordering::SeqCst) <= 0 && busy == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                for j in got {
                    let fresh = running.lock().expect("lock").insert(j.coalesce_key.clone());
                    assert!(fresh, "two runs of {} at once", j.coalesce_key);
                    if budget.fetch_sub(1, Ordering::SeqCst) > 0 {
                        let r = store
                            .enqueue(&job(&f, &j.coalesce_key))
                            .await
                            .expect("enqueue");
                        if !r.coalesced {
                            enqueued.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // The run's "work": a few round trips, while the others claim.
                    for _ in 0..3 {
                        store.get_job(f.ws, j.id).await.expect("get");
                    }
                    running.lock().expect("lock").remove(&j.coalesce_key);
                    assert!(store
                        .finish(j.id, &worker, JobState::Succeeded, None)
                        .await
                        .expect("finish"));
                    runs += 1;
                }
            }
            runs
        })
    });
    let runs: usize = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .sum();
    let enqueued = enqueued.load(Ordering::SeqCst);
    assert!(enqueued > 3);
    assert_eq!(runs, enqueued, "every enqueued job ran exactly once");
    assert_eq!(
        store.count_jobs(JobState::Succeeded).await.expect("count"),
        enqueued as u64
    );
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 0);
    ts.finish().await;
}

async fn queue_lease_expiry_and_dead(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let id = store
        .enqueue(&NewJob {
            max_attempts: 2,
            ..job(&f, "customer:1")
        })
        .await
        .expect("enqueue")
        .job_id;
    // A zero lease is expired as soon as it is granted.
    let c = claim(store, "w1", StdDuration::ZERO, 1).await;
    assert_eq!(c.len(), 1);
    assert!(!store.heartbeat(id, "w1", LEASE).await.expect("heartbeat"));
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.lease_owner, None);
    assert_eq!(j.last_error.as_deref(), Some("lease expired"));

    let c = claim(store, "w2", StdDuration::ZERO, 1).await;
    assert_eq!(c[0].attempts, 2);
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Dead);
    assert_eq!(j.attempts, 2);
    assert!(j.finished_at.is_some());
    assert!(store.claim("w3", LEASE, 1).await.expect("claim").is_empty());
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 0);

    // A live lease is not reaped.
    enqueue(store, &f, "customer:2").await;
    let live = store.claim("w4", LEASE, 1).await.expect("claim");
    assert_eq!(live.len(), 1);
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 0);
    assert!(store
        .heartbeat(live[0].id, "w4", LEASE)
        .await
        .expect("heartbeat"));
    assert!(!store
        .heartbeat(live[0].id, "intruder", LEASE)
        .await
        .expect("heartbeat"));
    ts.finish().await;
}

async fn queue_fencing(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let id = enqueue(store, &f, "customer:1").await.job_id;
    claim(store, "old", StdDuration::ZERO, 1).await;
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let taken = store.claim("new", LEASE, 1).await.expect("claim");
    assert_eq!(taken[0].id, id);

    assert!(!store
        .finish(id, "old", JobState::Succeeded, None)
        .await
        .expect("finish"));
    assert!(!store
        .retry_later(id, "old", Utc::now(), Some("x"))
        .await
        .expect("retry"));
    assert!(!store.heartbeat(id, "old", LEASE).await.expect("heartbeat"));
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Running);
    assert_eq!(j.lease_owner.as_deref(), Some("new"));

    assert!(store
        .finish(id, "new", JobState::Failed, Some("HubSpot 400"))
        .await
        .expect("finish"));
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Failed);
    assert_eq!(j.last_error.as_deref(), Some("HubSpot 400"));
    // Finishing twice does nothing.
    assert!(!store
        .finish(id, "new", JobState::Succeeded, None)
        .await
        .expect("finish"));
    let bad = store.finish(id, "new", JobState::Queued, None).await;
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
    ts.finish().await;
}

async fn queue_retry_later(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let id = enqueue(store, &f, "customer:1").await.job_id;
    store.claim("w1", LEASE, 1).await.expect("claim");
    let later = Utc::now() + Duration::hours(1);
    assert!(store
        .retry_later(id, "w1", later, Some("429"))
        .await
        .expect("retry"));
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.run_at, later.trunc_subsecs(3));
    assert_eq!(j.attempts, 1);
    assert_eq!(j.last_error.as_deref(), Some("429"));
    assert_eq!(j.lease_owner, None);
    // Not due yet.
    assert!(store.claim("w2", LEASE, 1).await.expect("claim").is_empty());
    // A new edit pulls it forward instead of adding a job.
    let r = enqueue(store, &f, "customer:1").await;
    assert!(r.coalesced);
    assert_eq!(r.job_id, id);
    let again = store.claim("w2", LEASE, 1).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    ts.finish().await;
}

async fn queue_retry_later_meets_queued_twin(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let id = enqueue(store, &f, "customer:1").await.job_id;
    store.claim("w1", LEASE, 1).await.expect("claim");
    let twin = enqueue(store, &f, "customer:1").await;
    assert!(!twin.coalesced);

    assert!(store
        .retry_later(id, "w1", Utc::now() + Duration::hours(1), Some("429"))
        .await
        .expect("retry"));
    let j = job_by_id(store, &f, id).await;
    assert_eq!(j.state, JobState::Succeeded);
    assert_eq!(
        j.last_error,
        Some(format!("coalesced into {}", twin.job_id))
    );
    assert_eq!(j.coalesced_into, Some(twin.job_id));
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 1);

    // The reaper does the same for an expired job with a queued twin.
    let t = claim(store, "w2", StdDuration::ZERO, 1).await;
    assert_eq!(t[0].id, twin.job_id);
    let third = enqueue(store, &f, "customer:1").await;
    assert!(!third.coalesced);
    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let t = job_by_id(store, &f, twin.job_id).await;
    assert_eq!(t.state, JobState::Succeeded);
    assert_eq!(t.coalesced_into, Some(third.job_id));
    assert!(t
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains(&third.job_id.to_string())));
    let q = store
        .list_jobs(f.ws, Some(JobState::Queued), 10)
        .await
        .expect("list");
    assert_eq!(
        q.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![third.job_id]
    );
    ts.finish().await;
}

/// A running job whose lease expired while a job with its key was queued ends
/// `succeeded`, and names the twin in `coalesced_into` (its `last_error` starts
/// with "lease expired", so reading the twin back from the text does not work).
async fn queue_reaper_coalesces_into_twin(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let expired = enqueue(store, &f, "customer:7").await.job_id;
    let claimed = claim(store, "w1", StdDuration::ZERO, 1).await;
    assert_eq!(claimed[0].id, expired);
    let twin = enqueue(store, &f, "customer:7").await;
    assert!(!twin.coalesced, "a running key gets a queued twin");
    let other = enqueue(store, &f, "customer:8").await.job_id;

    assert_eq!(store.reap_expired_leases().await.expect("reap"), 1);
    let j = job_by_id(store, &f, expired).await;
    assert_eq!(j.state, JobState::Succeeded);
    assert_eq!(j.coalesced_into, Some(twin.job_id));
    assert_eq!(j.lease_owner, None);
    assert!(j.finished_at.is_some());
    assert_eq!(
        j.last_error,
        Some(format!("lease expired; coalesced into {}", twin.job_id))
    );
    for id in [twin.job_id, other] {
        let q = job_by_id(store, &f, id).await;
        assert_eq!(q.state, JobState::Queued);
        assert_eq!(q.coalesced_into, None, "only the ended job names a twin");
    }
    ts.finish().await;
}

async fn queue_admin(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let other = store.create_workspace("globex").await.expect("ws").id;
    let id = store
        .enqueue(&NewJob {
            max_attempts: 1,
            ..job(&f, "customer:1")
        })
        .await
        .expect("enqueue")
        .job_id;
    assert_eq!(store.get_job(other, id).await.expect("get"), None);
    assert_eq!(store.retry_dead(f.ws, id).await.expect("not dead"), None);

    store.claim("w", StdDuration::ZERO, 1).await.expect("claim");
    store.reap_expired_leases().await.expect("reap");
    assert_eq!(store.count_jobs(JobState::Dead).await.expect("count"), 1);
    let dead = store
        .list_jobs(f.ws, Some(JobState::Dead), 10)
        .await
        .expect("list");
    assert_eq!(dead.len(), 1);
    assert!(store
        .list_jobs(other, None, 10)
        .await
        .expect("list")
        .is_empty());

    assert_eq!(store.retry_dead(other, id).await.expect("other ws"), None);
    let revived = store
        .retry_dead(f.ws, id)
        .await
        .expect("retry")
        .expect("was dead");
    assert_eq!(revived.state, JobState::Queued);
    assert_eq!(revived.attempts, 0);
    assert_eq!(revived.finished_at, None);
    assert_eq!(store.claim("w", LEASE, 1).await.expect("claim").len(), 1);

    // Retrying a dead job whose key is queued again is a Conflict.
    let a = store
        .enqueue(&NewJob {
            max_attempts: 1,
            ..job(&f, "customer:2")
        })
        .await
        .expect("enqueue")
        .job_id;
    store.claim("w", StdDuration::ZERO, 5).await.expect("claim");
    store.reap_expired_leases().await.expect("reap");
    enqueue(store, &f, "customer:2").await;
    let r = store.retry_dead(f.ws, a).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    let all = store.list_jobs(f.ws, None, 10).await.expect("list");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(store.list_jobs(f.ws, None, 1).await.expect("list").len(), 1);
    ts.finish().await;
}

async fn queue_survives_restart(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let id = enqueue(store, &f, "customer:1").await.job_id;
    let running = enqueue(store, &f, "customer:2").await.job_id;
    let claimed = claim(store, "before-restart", StdDuration::ZERO, 1).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    store.close().await;

    let restarted = reopen(store, MasterKey::generate()).await;
    let j = restarted
        .get_job(f.ws, id)
        .await
        .expect("get")
        .expect("survived");
    assert_eq!(j.state, JobState::Running);
    assert_eq!(restarted.reap_expired_leases().await.expect("reap"), 1);
    let got: HashSet<Uuid> = claim(&restarted, "after-restart", LEASE, 10)
        .await
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(got, HashSet::from([id, running]));
    restarted.close().await;
    ts.finish().await;
}

// --- webhooks ----------------------------------------------------------------------

fn event(f: &Fixture, event_id: i64, object_id: &str, minutes_ago: i64) -> NewWebhookEvent {
    NewWebhookEvent {
        event_id,
        portal_id: 4242,
        connector_id: Some(f.conn),
        workspace_id: Some(f.ws),
        object_id: object_id.into(),
        subscription_type: "contact.propertyChange".into(),
        occurred_at: Utc::now() - Duration::minutes(minutes_ago),
        payload: json!({ "eventId": event_id, "objectId": object_id }),
    }
}

fn delivery(f: &Fixture) -> WebhookIngest {
    WebhookIngest {
        request: NewWebhookRequest {
            workspace_id: Some(f.ws),
            portal_id: Some(4242),
            event_count: 3,
            valid: true,
            reject_reason: None,
            duplicates: 0,
        },
        events: vec![
            event(f, 1, "7", 3),
            event(f, 2, "7", 2),
            event(f, 3, "8", 1),
        ],
        jobs: vec![
            NewJob {
                trigger: Trigger::Webhook,
                ..job(f, "contact:4242:7")
            },
            NewJob {
                trigger: Trigger::Webhook,
                ..job(f, "contact:4242:8")
            },
        ],
    }
}

async fn webhook_ingest_idempotent(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let first = store.ingest_webhook(&delivery(&f)).await.expect("ingest");
    assert_eq!(
        (
            first.inserted,
            first.duplicates,
            first.jobs_enqueued,
            first.jobs_coalesced
        ),
        (3, 0, 2, 0)
    );
    let again = store.ingest_webhook(&delivery(&f)).await.expect("ingest");
    assert_eq!(
        (
            again.inserted,
            again.duplicates,
            again.jobs_enqueued,
            again.jobs_coalesced
        ),
        (0, 3, 0, 0)
    );
    let queued = store
        .list_jobs(f.ws, Some(JobState::Queued), 10)
        .await
        .expect("list");
    assert_eq!(queued.len(), 2);

    // A delivery with one new event and one old one: the new one coalesces.
    let mut mixed = delivery(&f);
    mixed.events = vec![event(&f, 3, "8", 1), event(&f, 4, "8", 0)];
    mixed.jobs.truncate(1);
    let m = store.ingest_webhook(&mixed).await.expect("ingest");
    assert_eq!(
        (m.inserted, m.duplicates, m.jobs_enqueued, m.jobs_coalesced),
        (1, 1, 0, 1)
    );
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 2);

    let log = store.webhook_log(f.ws, 10, None).await.expect("log");
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].id, m.request_id);
    assert_eq!(log[0].duplicates, 1);
    assert_eq!(log[1].duplicates, 3);
    assert_eq!(log[2].duplicates, 0);
    assert!(log.iter().all(|r| r.valid && r.portal_id == Some(4242)));

    let since = store
        .contact_events_since(f.conn, "7", Utc::now() - Duration::minutes(10))
        .await
        .expect("events");
    assert_eq!(
        since.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(since[0].payload, json!({ "eventId": 1, "objectId": "7" }));
    let recent = store
        .contact_events_since(f.conn, "8", Utc::now() - Duration::seconds(30))
        .await
        .expect("events");
    assert_eq!(
        recent.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        vec![4]
    );
    ts.finish().await;
}

async fn webhook_ingest_is_all_or_nothing(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let mut bad = delivery(&f);
    // The last event and its job name a connector that does not exist: the whole
    // delivery fails. (A job is enqueued only for a connector that got a new event.)
    let missing = Uuid::now_v7();
    bad.events[2].connector_id = Some(missing);
    bad.jobs[1].connector_id = missing;
    let r = store.ingest_webhook(&bad).await;
    assert!(r.is_err(), "{r:?}");
    assert!(store
        .webhook_log(f.ws, 10, None)
        .await
        .expect("log")
        .is_empty());
    assert!(store
        .contact_events_since(f.conn, "7", Utc::now() - Duration::hours(1))
        .await
        .expect("events")
        .is_empty());
    assert_eq!(store.count_jobs(JobState::Queued).await.expect("count"), 0);
    // The same delivery, fixed, goes in whole.
    let ok = store.ingest_webhook(&delivery(&f)).await.expect("ingest");
    assert_eq!((ok.inserted, ok.jobs_enqueued), (3, 2));
    ts.finish().await;
}

async fn webhook_log(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = store
            .log_webhook_request(&NewWebhookRequest {
                workspace_id: Some(f.ws),
                portal_id: Some(4242),
                event_count: i,
                valid: i % 2 == 0,
                reject_reason: (i % 2 == 1).then(|| "signature mismatch".to_string()),
                duplicates: 0,
            })
            .await
            .expect("log");
        ids.push(r.id);
    }
    // Unknown portal: logged without a workspace, in no workspace's log.
    store
        .log_webhook_request(&NewWebhookRequest {
            portal_id: Some(1),
            reject_reason: Some("unknown portal".into()),
            ..NewWebhookRequest::default()
        })
        .await
        .expect("log");
    let page1 = store.webhook_log(f.ws, 3, None).await.expect("log");
    let page2 = store
        .webhook_log(f.ws, 3, Some(page1[2].id))
        .await
        .expect("log");
    let got: Vec<Uuid> = page1.iter().chain(&page2).map(|r| r.id).collect();
    assert_eq!(got, ids.iter().rev().copied().collect::<Vec<_>>());
    let rejected = page1.iter().find(|r| !r.valid).expect("a rejected one");
    assert_eq!(
        rejected.reject_reason.as_deref(),
        Some("signature mismatch")
    );
    assert_eq!(page1[0].event_count, 4);
    ts.finish().await;
}

// --- batch runs -------------------------------------------------------------------

async fn batch_single_active(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let run = store.start_batch(f.ws, f.conn, 10).await.expect("start");
    assert_eq!(run.state, BatchState::Running);
    assert_eq!(run.counters.total, 10);
    assert_eq!(run.checkpoint, None);
    assert_eq!(
        store.active_batch(f.conn).await.expect("active"),
        Some(run.clone())
    );

    let dup = store.start_batch(f.ws, f.conn, 10).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let resume = Utc::now() + Duration::hours(3);
    let paused = store
        .set_batch_state(
            run.id,
            BatchState::Paused,
            Some("daily limit reached"),
            Some(resume),
        )
        .await
        .expect("pause");
    assert_eq!(paused.state, BatchState::Paused);
    assert_eq!(paused.pause_reason.as_deref(), Some("daily limit reached"));
    assert_eq!(paused.resume_at, Some(resume.trunc_subsecs(3)));
    assert_eq!(paused.finished_at, None);
    let dup = store.start_batch(f.ws, f.conn, 10).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(store.list_active_batches().await.expect("active").len(), 1);

    let resumed = store
        .set_batch_state(run.id, BatchState::Running, None, None)
        .await
        .expect("resume");
    assert_eq!(resumed.pause_reason, None);
    let cancelled = store
        .set_batch_state(run.id, BatchState::Cancelled, Some("by user"), None)
        .await
        .expect("cancel");
    assert!(cancelled.finished_at.is_some());
    assert_eq!(cancelled.error.as_deref(), Some("by user"));
    assert_eq!(store.active_batch(f.conn).await.expect("active"), None);
    let ended = store
        .set_batch_state(run.id, BatchState::Running, None, None)
        .await;
    assert!(matches!(ended, Err(StoreError::Conflict(_))), "{ended:?}");
    let unknown = store
        .set_batch_state(Uuid::now_v7(), BatchState::Done, None, None)
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");

    let next = store
        .start_batch(f.ws, f.conn, 5)
        .await
        .expect("start again");
    assert_ne!(next.id, run.id);
    let other_ws = store.create_workspace("globex").await.expect("ws").id;
    assert_eq!(store.get_batch(other_ws, next.id).await.expect("get"), None);
    let wrong = store.start_batch(other_ws, f.conn, 5).await;
    assert!(matches!(wrong, Err(StoreError::NotFound)), "{wrong:?}");
    let listed = store.list_batches(f.ws, f.conn, 10).await.expect("list");
    assert_eq!(
        listed.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![next.id, run.id]
    );
    ts.finish().await;
}

async fn batch_chunk_commit_and_checkpoint(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(customer(store, f.ws, &format!("c{i}@example.com")).await);
    }
    // c1 already linked before the batch.
    store
        .commit_sync(&commit(&f, ids[1], "501", None))
        .await
        .expect("link");
    let run = store.start_batch(f.ws, f.conn, 5).await.expect("start");

    let page = store
        .customers_for_batch(f.ws, f.conn, None, 3)
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|(c, _, _)| c.id).collect::<Vec<_>>(),
        ids[..3]
    );
    assert_eq!(page[0].1, None);
    let link1 = page[1].1.as_ref().expect("c1 linked");
    assert_eq!(link1.hubspot_id.as_deref(), Some("501"));
    assert_eq!(link1.bases, Some(bases("CTO")));
    assert!(page[0].2.contains_key(&KevaField::Email));

    let mut c0 = commit(
        &f,
        ids[0],
        "500",
        Some(CustomerPatch {
            company: Some("Acme".into()),
            ..CustomerPatch::default()
        }),
    );
    c0.history.trigger = Trigger::Batch;
    // c2's patch takes c3's email: refused, recorded, the chunk goes on.
    let mut c2 = commit(
        &f,
        ids[2],
        "502",
        Some(CustomerPatch {
            email: Some("c3@example.com".into()),
            ..CustomerPatch::default()
        }),
    );
    c2.history.trigger = Trigger::Batch;
    let delta = BatchCounters {
        processed: 3,
        created: 2,
        unchanged: 1,
        ..BatchCounters::default()
    };
    let out = store
        .commit_batch_chunk(&BatchChunk {
            run_id: run.id,
            checkpoint: ids[2],
            counters_delta: delta,
            commits: vec![c0, c2],
            lease: None,
        })
        .await
        .expect("chunk");
    assert_eq!(out.run.checkpoint, Some(ids[2]));
    assert_eq!(
        out.run.counters,
        BatchCounters {
            total: 5,
            processed: 3,
            created: 2,
            unchanged: 1,
            failed: 1,
            ..BatchCounters::default()
        }
    );
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].0, ids[2]);
    assert!(out.failed[0].1.contains("c3@example.com"));

    let c0_after = store
        .get_customer(f.ws, ids[0])
        .await
        .expect("get")
        .expect("c0");
    assert_eq!(c0_after.company.as_deref(), Some("Acme"));
    assert_eq!(
        store
            .get_link(f.conn, ids[0])
            .await
            .expect("link")
            .expect("c0 linked")
            .hubspot_id
            .as_deref(),
        Some("500")
    );
    // The refused customer keeps its email, but its new contact id is kept, so a
    // resumed batch never creates that contact again.
    let c2_after = store
        .get_customer(f.ws, ids[2])
        .await
        .expect("get")
        .expect("c2");
    assert_eq!(c2_after.email, "c2@example.com");
    let c2_link = store
        .get_link(f.conn, ids[2])
        .await
        .expect("link")
        .expect("c2");
    assert_eq!(c2_link.hubspot_id.as_deref(), Some("502"));
    assert_eq!(c2_link.status, SyncStatus::Failed);
    assert_eq!(c2_link.bases, None);
    let c2_hist = store.customer_history(f.ws, ids[2], 5).await.expect("h");
    assert_eq!(c2_hist.len(), 1);
    assert_eq!(c2_hist[0].result, HistoryResult::Failed);
    assert_eq!(c2_hist[0].trigger, Trigger::Batch);
    assert!(c2_hist[0]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("c3@example.com")));
    assert_eq!(
        store.customer_history(f.ws, ids[0], 5).await.expect("h")[0].result,
        HistoryResult::Synced
    );

    // Resuming from the stored checkpoint continues after it.
    let run = store
        .get_batch(f.ws, run.id)
        .await
        .expect("get")
        .expect("exists");
    let rest = store
        .customers_for_batch(f.ws, f.conn, run.checkpoint, 100)
        .await
        .expect("rest");
    assert_eq!(
        rest.iter().map(|(c, _, _)| c.id).collect::<Vec<_>>(),
        ids[3..]
    );

    // A second chunk adds to the counters.
    let out = store
        .commit_batch_chunk(&BatchChunk {
            run_id: run.id,
            checkpoint: ids[4],
            counters_delta: BatchCounters {
                processed: 2,
                linked: 2,
                ..BatchCounters::default()
            },
            commits: vec![
                commit(&f, ids[3], "503", None),
                commit(&f, ids[4], "504", None),
            ],
            lease: None,
        })
        .await
        .expect("chunk 2");
    assert_eq!(out.run.counters.processed, 5);
    assert_eq!(out.run.counters.linked, 2);
    assert_eq!(out.run.counters.failed, 1);
    assert!(out.failed.is_empty());
    assert_eq!(out.run.checkpoint, Some(ids[4]));

    // A contact linked elsewhere is refused too, without losing the customer's link.
    let out = store
        .commit_batch_chunk(&BatchChunk {
            run_id: run.id,
            checkpoint: ids[4],
            counters_delta: BatchCounters::default(),
            commits: vec![commit(&f, ids[4], "503", None)],
            lease: None,
        })
        .await
        .expect("chunk 3");
    assert_eq!(out.failed.len(), 1);
    let l4 = store
        .get_link(f.conn, ids[4])
        .await
        .expect("link")
        .expect("c4");
    assert_eq!(l4.hubspot_id.as_deref(), Some("504"));
    assert_eq!(l4.status, SyncStatus::Failed);

    // Any other error fails the whole chunk: nothing of it is written.
    let before = store
        .get_batch(f.ws, run.id)
        .await
        .expect("get")
        .expect("run");
    let good = commit(
        &f,
        ids[0],
        "500",
        Some(CustomerPatch {
            company: Some("Changed".into()),
            ..CustomerPatch::default()
        }),
    );
    let mut broken = commit(&f, ids[3], "503", None);
    broken.connector_id = Uuid::now_v7();
    broken.history.connector_id = broken.connector_id;
    let r = store
        .commit_batch_chunk(&BatchChunk {
            run_id: run.id,
            checkpoint: ids[3],
            counters_delta: BatchCounters {
                processed: 2,
                ..BatchCounters::default()
            },
            commits: vec![good, broken],
            lease: None,
        })
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(
        store
            .get_batch(f.ws, run.id)
            .await
            .expect("get")
            .expect("run"),
        before
    );
    assert_eq!(
        store
            .get_customer(f.ws, ids[0])
            .await
            .expect("get")
            .expect("c0")
            .company
            .as_deref(),
        Some("Acme")
    );

    let missing = store
        .commit_batch_chunk(&BatchChunk {
            run_id: Uuid::now_v7(),
            checkpoint: ids[0],
            counters_delta: BatchCounters::default(),
            commits: vec![],
            lease: None,
        })
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    ts.finish().await;
}

async fn customers_by_ids(ts: TestStore) {
    let store = &*ts;
    let f = fixture(store).await;
    let a = customer(store, f.ws, "a@example.com").await;
    let b = customer(store, f.ws, "b@example.com").await;
    let c = customer(store, f.ws, "c@example.com").await;
    let other = store.create_workspace("globex").await.expect("ws").id;
    let stranger = customer(store, other, "x@example.com").await;
    let got = store
        .customers_by_ids(f.ws, &[c, a, Uuid::now_v7(), stranger])
        .await
        .expect("by ids");
    assert_eq!(got.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a, c]);
    assert!(store
        .customers_by_ids(f.ws, &[])
        .await
        .expect("empty")
        .is_empty());
    let by_map: BTreeMap<Uuid, String> = store
        .customers_by_ids(f.ws, &[b])
        .await
        .expect("one")
        .into_iter()
        .map(|c| (c.id, c.email))
        .collect();
    assert_eq!(by_map[&b], "b@example.com");
    ts.finish().await;
}

async fn portal_leases(ts: TestStore) {
    let store = &*ts;
    assert!(store
        .acquire_portal_lease(4242, "proc-a", LEASE)
        .await
        .expect("acquire"));
    assert!(!store
        .acquire_portal_lease(4242, "proc-b", LEASE)
        .await
        .expect("held by a"));
    assert!(store
        .acquire_portal_lease(4242, "proc-a", LEASE)
        .await
        .expect("renew"));
    assert!(store
        .acquire_portal_lease(7, "proc-b", LEASE)
        .await
        .expect("another portal"));
    assert!(!store
        .release_portal_lease(4242, "proc-b")
        .await
        .expect("not b's"));
    assert!(store
        .release_portal_lease(4242, "proc-a")
        .await
        .expect("release"));
    assert!(store
        .acquire_portal_lease(4242, "proc-b", StdDuration::ZERO)
        .await
        .expect("free"));
    // b's zero lease has expired: a takes over.
    assert!(store
        .acquire_portal_lease(4242, "proc-a", LEASE)
        .await
        .expect("take over"));
    assert!(!store
        .acquire_portal_lease(4242, "proc-b", LEASE)
        .await
        .expect("a holds it"));
    ts.finish().await;
}
