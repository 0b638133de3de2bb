//! Batch sync against the sandbox over HTTP (rate limits on), on both backends:
//! chunking and call counts, per-item failures, the daily-limit pause, cancel,
//! resume after a kill, and live syncs during a batch.

use std::sync::Arc;
use std::time::Duration;

use keva_core::{FieldMapping, KevaField, ObjectKind, PropertyInfo};
use keva_server::batch::{self, BatchHooks, BatchSettings};
use keva_store::NewCustomer;
use reqwest::Method;
use serde_json::json;

use crate::batch_support::{calls, test_settings, BATCH_CREATE, BATCH_READ, BATCH_UPDATE};
use crate::harness::{call, eventually, TestApp};

async fn api_start(env: &TestApp) -> uuid::Uuid {
    let (s, b) = call(env.post(
        "/api/crm/hubspot/batch-sync",
        json!({"connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["batch"]["state"], "running");
    b["batch"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

async fn chunking_uses_a_few_batch_calls_per_hundred(env: TestApp) {
    let ids = env.seed_customers("c", 250).await;
    // 100 of them already exist in HubSpot, with another company.
    let existing: Vec<_> = (0..250)
        .step_by(5)
        .chain((1..250).step_by(5).take(50))
        .map(|i| {
            json!({"email": format!("c{i}@example.com"), "firstname": format!("Given{i}"),
                         "lastname": format!("Family{i}")})
        })
        .collect();
    assert_eq!(existing.len(), 100);
    env.seed_contacts(existing).await;
    env.reset_stats();

    let id = api_start(&env).await;
    let p = env.wait_state(id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["total"], 250);
    assert_eq!(p["processed"], 250);
    assert_eq!(p["created"], 150);
    assert_eq!(p["linked"], 100);
    assert_eq!(p["failed"], 0);
    assert!(p["finishedAt"].is_string());

    let stats = env.stats().await;
    let total = stats["total"].as_u64().expect("total");
    // 3 chunks × (read by email + create) + updates of the linked ones' company.
    assert_eq!(calls(&stats, BATCH_CREATE), 3, "{stats}");
    assert_eq!(calls(&stats, BATCH_READ), 3, "{stats}");
    assert_eq!(
        calls(&stats, BATCH_UPDATE),
        3,
        "the linked ones get their company: {stats}"
    );
    assert!(
        total as f64 / 250.0 <= 0.04,
        "{total} calls for 250 customers: {stats}"
    );
    assert_eq!(stats["rateLimited"], 0);
    assert_eq!(env.sb().contact_count(), 250);
    env.assert_sides_equal(&[]).await;

    // A second run finds everything in agreement: reads only, nothing written.
    env.reset_stats();
    let id2 = api_start(&env).await;
    let p = env.wait_state(id2, &["done", "failed"]).await;
    assert_eq!(p["unchanged"], 250, "{p}");
    let stats = env.stats().await;
    assert_eq!(calls(&stats, BATCH_READ), 3, "{stats}");
    assert_eq!(calls(&stats, BATCH_CREATE) + calls(&stats, BATCH_UPDATE), 0);
    let history = env
        .store
        .customer_history(env.workspace_id, ids[0], 10)
        .await
        .expect("history");
    assert_eq!(
        history.len(),
        1,
        "an unchanged customer gets no new history row"
    );

    // Another workspace cannot see the run.
    let other = env.key_for("other").await;
    let r = env
        .get_as(&other, &format!("/api/crm/hubspot/batch-sync/{id}"))
        .await;
    assert_eq!(r.status(), 404);
}

async fn per_item_errors_fail_only_their_customer(env: TestApp) {
    let ws = env.workspace_id;
    let store = &env.store;
    // A mapping to a property the cached list has but the portal lacks.
    let mut mappings = keva_core::default_contact_mappings();
    mappings.push(FieldMapping::new(
        KevaField::JobTitle,
        &["ghost_title"],
        keva_core::Direction::ToCrm,
    ));
    mappings
        .retain(|m| !(m.keva_field == KevaField::JobTitle && m.hubspot_properties == ["jobtitle"]));
    store
        .save_mappings(
            env.connector_id(),
            ObjectKind::Contact,
            &mappings,
            &json!([]),
        )
        .await
        .expect("mappings");
    let (mut props, _) = store
        .property_cache(env.connector_id(), ObjectKind::Contact)
        .await
        .expect("cache")
        .expect("cached at connect");
    props.push(PropertyInfo::new("ghost_title", "Ghost", "string", "text"));
    store
        .save_property_cache(env.connector_id(), ObjectKind::Contact, &props)
        .await
        .expect("cache");

    env.seed_customers("ok", 30).await;
    let bad_email = store
        .insert_customer(ws, NewCustomer::with_email("not-an-email"))
        .await
        .expect("insert");
    let insert =
        |c: NewCustomer| async move { store.insert_customer(ws, c).await.expect("insert") };
    let ghost = insert(NewCustomer {
        job_title: Some("CTO".into()),
        ..NewCustomer::with_email("ghost@example.com")
    })
    .await;
    let racer = insert(NewCustomer {
        name: Some("Race Condition".into()),
        ..NewCustomer::with_email("racer@example.com")
    })
    .await;

    // Between our read by email and our create, someone creates racer@ in HubSpot.
    let url = env.sb().url();
    let token = env.sb().access_token().to_string();
    let hook: batch::CreateHook = Arc::new(move |emails: Vec<String>| {
        let (url, token) = (url.clone(), token.clone());
        Box::pin(async move {
            if emails.iter().any(|e| e == "racer@example.com") {
                let r = reqwest::Client::new()
                    .post(format!("{url}/crm/v3/objects/contacts"))
                    .bearer_auth(token)
                    .json(
                        &json!({"properties": {"email": "racer@example.com", "firstname": "Race"}}),
                    )
                    .send()
                    .await
                    .expect("create racer");
                assert_eq!(r.status(), 201);
            }
        })
    });
    let settings = BatchSettings {
        hooks: BatchHooks {
            before_create: Some(hook),
            ..BatchHooks::default()
        },
        ..test_settings()
    };
    let (run, _) = env.start(settings).await;
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["processed"], 33);
    assert_eq!(p["failed"], 2, "invalid email and unknown property: {p}");
    assert_eq!(p["created"], 30);
    assert_eq!(p["linked"], 1, "the 409 links: {p}");

    for (customer, why) in [(bad_email.id, "invalid email"), (ghost.id, "ghost_title")] {
        let h = store
            .customer_history(ws, customer, 5)
            .await
            .expect("history");
        assert_eq!(h[0].result, keva_store::HistoryResult::Failed);
        let error = h[0].error.as_deref().unwrap_or_default();
        assert!(error.contains(why), "{h:?}");
    }
    let link = store
        .get_link(env.connector_id(), racer.id)
        .await
        .expect("link")
        .expect("linked");
    let contacts = env.contacts_by_email().await;
    assert_eq!(
        link.hubspot_id.as_deref(),
        contacts["racer@example.com"]["id"].as_str()
    );
    let h = store
        .customer_history(ws, racer.id, 5)
        .await
        .expect("history");
    assert!(
        h[0].fields.to_string().contains("Duplicate contact"),
        "{h:?}"
    );
    assert!(
        !contacts.contains_key("not-an-email"),
        "an invalid email never reaches HubSpot"
    );
    assert!(!contacts.contains_key("ghost@example.com"));
    assert_eq!(contacts.len(), 31);
}

async fn pauses_on_the_daily_limit_and_resumes(env: TestApp) {
    env.seed_customers("d", 250).await;
    env.set_limits(json!({"daily": 3})).await;
    env.reset_stats();
    let (run, _) = env.start(test_settings()).await;
    let p = env.wait_state(run.id, &["paused", "done", "failed"]).await;
    assert_eq!(p["state"], "paused", "{p}");
    assert!(
        p["pauseReason"]
            .as_str()
            .unwrap_or_default()
            .contains("daily"),
        "{p}"
    );
    assert!(p["resumeAt"].is_string(), "{p}");
    assert!(p["processed"].as_u64().expect("processed") < 250);
    assert_eq!(
        env.progress(run.id).await["state"],
        "paused",
        "stays paused"
    );

    env.set_limits(json!({"daily": 250000})).await;
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["processed"], 250);
    assert_eq!(p["created"], 250);
    assert!(p["pauseReason"].is_null());
    assert_eq!(env.sb().contact_count(), 250, "no contact created twice");
    env.assert_sides_equal(&[]).await;
}

async fn pauses_before_the_daily_limit_leaving_live_syncs_their_reserve(env: TestApp) {
    env.seed_customers("r", 300).await;
    // 60 calls today; the batch leaves 20 % (12) to live syncs.
    env.set_limits(json!({"daily": 60})).await;
    env.reset_stats();
    let settings = BatchSettings {
        chunk_size: 10,
        daily_recheck: None,
        ..test_settings()
    };
    let (run, _) = env.start(settings).await;
    let p = env.wait_state(run.id, &["paused", "done", "failed"]).await;
    assert_eq!(p["state"], "paused", "{p}");
    let reason = p["pauseReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("daily API limit is nearly used up") && reason.contains("live syncs"),
        "{p}"
    );
    assert!(p["resumeAt"].is_string(), "{p}");
    let processed = p["processed"].as_u64().expect("processed");
    assert!(processed > 0 && processed < 300, "{p}");
    let stats = env.stats().await;
    assert_eq!(stats["rateLimited"], 0, "paused before the limit: {stats}");
    let used = stats["total"].as_u64().expect("total");
    assert!(used <= 60 - 12, "the reserve is left: {used} calls used");

    // A live sync gets its calls from the reserve; the batch stays paused.
    let live = env
        .create_customer(json!({"email": "live@example.com", "name": "Live Person"}))
        .await;
    let (s, b) = call(env.post(
        "/api/crm/hubspot/sync",
        json!({"customerId": live["id"], "connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 200, "Sync Now within the reserve: {b}");
    assert!(b["contactId"].is_string(), "{b}");
    assert_eq!(env.progress(run.id).await["state"], "paused");

    // The limit is raised: the next live sync's answer says so, and the batch
    // resumes without waiting for the day to end.
    env.set_limits(json!({"daily": 250000})).await;
    let (s, b) = call(env.post(
        "/api/crm/hubspot/sync",
        json!({"customerId": live["id"], "connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 200, "{b}");
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    // The live customer too, created after the batch started (already linked).
    assert_eq!(p["processed"], 301, "{p}");
    assert_eq!(p["created"], 300, "{p}");
    assert!(p["pauseReason"].is_null(), "{p}");
    assert_eq!(env.stats().await["rateLimited"], 0);
    assert_eq!(env.sb().contact_count(), 301, "no contact created twice");
    env.assert_sides_equal(&[]).await;
}

async fn cancel_stops_after_the_current_chunk(env: TestApp) {
    env.seed_customers("x", 600).await;
    let (s, _) = env
        .sandbox(
            Method::PUT,
            "/_sandbox/faults",
            Some(json!({"latencyMs": 150})),
        )
        .await;
    assert_eq!(s, 200);
    let id = api_start(&env).await;
    let (s, b) = call(env.post(
        "/api/crm/hubspot/batch-sync",
        json!({"connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 409, "one batch per connector: {b}");
    eventually(60, "the first chunk is recorded", || async {
        env.progress(id).await["processed"].as_u64().unwrap_or(0) >= 100
    })
    .await;
    let r = env
        .delete(&format!("/api/crm/hubspot/batch-sync/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    let p = env.wait_state(id, &["cancelled"]).await;
    // The runner finishes and records the chunk in progress, then returns: once
    // it no longer runs here, nothing more can be written for this run.
    eventually(30, "the cancelled run's runner returns", || async {
        !batch::is_running_here(id)
    })
    .await;
    let after = env.progress(id).await;
    assert_eq!(after["state"], "cancelled");
    let processed = after["processed"].as_u64().expect("processed");
    assert!(processed < 600, "stopped after the current chunk: {after}");
    assert_eq!(
        env.progress(id).await["processed"],
        processed,
        "nothing after the cancel"
    );
    assert_eq!(
        env.sb().contact_count() as u64,
        processed,
        "every created contact is recorded: {p}"
    );
    let r = env
        .delete(&format!("/api/crm/hubspot/batch-sync/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 409, "already ended");
    // A new run may start and finishes the rest.
    env.sandbox(Method::PUT, "/_sandbox/faults", Some(json!({})))
        .await;
    let id2 = api_start(&env).await;
    let p = env.wait_state(id2, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(env.sb().contact_count(), 600);
}

/// Test settings whose run stops as a kill -9 would after HubSpot got chunk
/// `n`'s writes and before its commit.
fn killed_before_committing_chunk(n: u64) -> BatchSettings {
    BatchSettings {
        hooks: BatchHooks {
            crash_before_commit: Some(n),
            ..BatchHooks::default()
        },
        ..test_settings()
    }
}

async fn resumes_after_a_kill_without_duplicates(env: TestApp) {
    env.seed_customers("k", 250).await;
    let (run, task) = env.start(killed_before_committing_chunk(1)).await;
    task.await.expect("runner task");
    // Killed after HubSpot got chunk 1's creates and before its commit.
    let p = env.progress(run.id).await;
    assert_eq!(p["state"], "running", "{p}");
    assert_eq!(p["processed"], 100, "only chunk 0 was committed");
    assert_eq!(
        env.sb().contact_count(),
        200,
        "chunk 1 was created in HubSpot"
    );

    let taken = batch::schedule::resume_stale(&env.state, &Arc::new(test_settings()), true)
        .await
        .expect("resume");
    assert_eq!(taken, 1);
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["processed"], 250);
    assert_eq!(p["created"], 150, "{p}");
    assert_eq!(p["linked"], 100, "chunk 1 found by email and linked: {p}");
    assert_eq!(env.sb().contact_count(), 250, "no contact created twice");
    env.assert_sides_equal(&[]).await;
}

/// A batch killed between its HubSpot update and the chunk's commit, then a
/// Keva edit of one of that chunk's customers, then the resumed run: the write
/// intents the chunk recorded let the rerun see the landed update as its own,
/// so the edit is sent to HubSpot. Without them both sides look changed since
/// the link's bases, and under "HubSpot wins" the edit would be overwritten.
async fn a_keva_edit_after_a_killed_chunk_write_is_kept(env: TestApp) {
    let ids = env.seed_customers("w", 150).await;
    let (run, task) = env.start(test_settings()).await;
    task.await.expect("runner task");
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    patch_connector(&env, json!({"conflictPolicy": "hubspot_wins"})).await;
    for id in &ids {
        env.store
            .update_customer(
                env.workspace_id,
                *id,
                &keva_core::CustomerPatch {
                    job_title: Some("Batch Title".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("edit");
    }
    let (run, task) = env.start(killed_before_committing_chunk(1)).await;
    task.await.expect("runner task");
    let edited = ids[120];
    let contact = env
        .store
        .get_link(env.connector_id(), edited)
        .await
        .expect("link")
        .and_then(|l| l.hubspot_id)
        .expect("linked by the first run");
    let (s, c) = env
        .sandbox(
            Method::GET,
            &format!("/crm/v3/objects/contacts/{contact}?properties=jobtitle"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        c["properties"]["jobtitle"], "Batch Title",
        "chunk 1's update reached HubSpot before the kill"
    );
    env.store
        .update_customer(
            env.workspace_id,
            edited,
            &keva_core::CustomerPatch {
                job_title: Some("Edited Meanwhile".into()),
                ..Default::default()
            },
        )
        .await
        .expect("edit");

    let taken = batch::schedule::resume_stale(&env.state, &Arc::new(test_settings()), true)
        .await
        .expect("resume");
    assert_eq!(taken, 1);
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(
        p["conflicts"], 0,
        "the landed write is ours, not a conflict: {p}"
    );
    let customer = env
        .store
        .get_customer(env.workspace_id, edited)
        .await
        .expect("customer")
        .expect("exists");
    assert_eq!(customer.job_title.as_deref(), Some("Edited Meanwhile"));
    let link = env
        .store
        .get_link(env.connector_id(), edited)
        .await
        .expect("link")
        .expect("linked");
    assert_eq!(link.status, keva_core::SyncStatus::Synced, "{link:?}");
    env.assert_sides_equal(&[]).await;
}

/// A Keva edit that lands while a chunk is in flight (after the chunk planned
/// to pull HubSpot's value into the field, before its commit) stays: the
/// commit leaves a field that no longer holds what the plan read, and the next
/// sync sends the edit to HubSpot. (Seen under load: a live edit raced the
/// batch's first link of the same customer and was lost on both sides.)
async fn a_keva_edit_during_a_chunk_is_not_overwritten(env: TestApp) {
    patch_connector(&env, json!({"conflictPolicy": "hubspot_wins"})).await;
    let store = env.store.clone();
    let ws = env.workspace_id;
    let found = store
        .insert_customer(
            ws,
            NewCustomer {
                job_title: Some("Keva Title".into()),
                ..NewCustomer::with_email("found@example.com")
            },
        )
        .await
        .expect("insert");
    env.seed_contacts(vec![
        json!({"email": "found@example.com", "jobtitle": "CRM Title"}),
    ])
    .await;
    // A customer to create, so the chunk's create hook runs: after the found
    // customer's plan (pull "CRM Title"), before the chunk's commit.
    env.seed_customers("new", 1).await;
    let hook: batch::CreateHook = Arc::new(move |_emails: Vec<String>| {
        let store = store.clone();
        Box::pin(async move {
            store
                .update_customer(
                    ws,
                    found.id,
                    &keva_core::CustomerPatch {
                        job_title: Some("Edited Mid-Chunk".into()),
                        ..Default::default()
                    },
                )
                .await
                .expect("edit");
        })
    });
    let settings = BatchSettings {
        hooks: BatchHooks {
            before_create: Some(hook),
            ..BatchHooks::default()
        },
        ..test_settings()
    };
    let (run, _) = env.start(settings).await;
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    let after = env
        .store
        .get_customer(ws, found.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(after.job_title.as_deref(), Some("Edited Mid-Chunk"), "{p}");
    // The next sync (the edit's own, here Sync Now) sends it to HubSpot.
    let (s, b) = call(env.post(
        "/api/crm/hubspot/sync",
        json!({"customerId": found.id, "connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 200, "{b}");
    let contact = b["contactId"].as_str().expect("contact id");
    let (s, c) = env
        .sandbox(
            Method::GET,
            &format!("/crm/v3/objects/contacts/{contact}?properties=jobtitle"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["properties"]["jobtitle"], "Edited Mid-Chunk", "{b}");
    env.assert_sides_equal(&[]).await;
}

async fn live_syncs_proceed_during_a_batch(env: TestApp) {
    env.seed_customers("l", 1500).await;
    // A small window makes the batch wait on the limiter most of the time.
    env.set_limits(json!({"tenSecond": 10, "intervalMs": 1000}))
        .await;
    env.sandbox(
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"latencyMs": 40})),
    )
    .await;
    let id = api_start(&env).await;
    let live = env
        .create_customer(json!({"email": "live@example.com", "name": "Live Person"}))
        .await;
    let p = env.progress(id).await;
    assert_eq!(p["state"], "running", "the batch is still running: {p}");
    let (s, b) = call(env.post(
        "/api/crm/hubspot/sync",
        json!({"customerId": live["id"], "connectorId": env.connector_id()}),
    ))
    .await;
    assert_eq!(s, 200, "Sync Now completes during the batch: {b}");
    assert!(b["contactId"].is_string(), "{b}");
    let p = env.progress(id).await;
    assert_eq!(
        p["state"], "running",
        "…while the batch was still running: {p}"
    );
    let p = env.wait_state(id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    let stats = env.stats().await;
    assert_eq!(stats["rateLimited"], 0, "no 429 caused by us: {stats}");
    env.set_limits(json!({"tenSecond": 100, "intervalMs": 10000}))
        .await;
    env.assert_sides_equal(&[]).await;
}

async fn patch_connector(env: &TestApp, body: serde_json::Value) {
    let (s, b) = call(env.patch(
        &format!("/api/crm/hubspot/connectors/{}", env.connector_id()),
        body,
    ))
    .await;
    assert_eq!(s, 200, "{b}");
}

async fn imports_contacts_missing_in_keva(env: TestApp) {
    patch_connector(&env, json!({"importContacts": true})).await;
    env.seed_customers("keva", 10).await;
    let hubspot_only: Vec<_> = (0..20)
        .map(|i| json!({"email": format!("hs{i}@example.com"), "firstname": "Hub", "lastname": format!("Spot{i}"), "company": "Imported Inc"}))
        .chain(std::iter::once(json!({"email": "keva3@example.com", "firstname": "Given3", "lastname": "Family3"})))
        .collect();
    env.seed_contacts(hubspot_only).await;
    let id = api_start(&env).await;
    let p = env.wait_state(id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["created"], 9, "{p}");
    assert_eq!(p["linked"], 21, "1 found by email + 20 imported: {p}");
    assert_eq!(
        env.store
            .count_customers(env.workspace_id)
            .await
            .expect("count"),
        30
    );
    let c = env
        .store
        .customer_by_email(env.workspace_id, "hs7@example.com")
        .await
        .expect("lookup")
        .expect("imported");
    assert_eq!(c.name.as_deref(), Some("Hub Spot7"));
    assert_eq!(c.company.as_deref(), Some("Imported Inc"));
    assert_eq!(
        env.sb().contact_count(),
        30,
        "importing creates nothing in HubSpot"
    );
    env.assert_sides_equal(&[]).await;
}

async fn a_schedule_starts_a_run(env: TestApp) {
    env.seed_customers("s", 5).await;
    // Every second (croner's optional seconds field).
    patch_connector(&env, json!({"batchSchedule": "* * * * * *"})).await;
    let settings = Arc::new(BatchSettings {
        schedule_tick: Duration::from_millis(200),
        ..test_settings()
    });
    let stop = tokio_util::sync::CancellationToken::new();
    let task = batch::schedule::start_background(env.state.clone(), settings, stop.clone());
    let run = eventually(20, "a scheduled run starts", || async {
        env.store
            .list_batches(env.workspace_id, env.connector_id(), 10)
            .await
            .expect("list")
            .into_iter()
            .next()
    })
    .await;
    stop.cancel();
    task.await.expect("scheduler");
    let p = env.wait_state(run.id, &["done", "failed"]).await;
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["created"], 5);
    assert_eq!(env.sb().contact_count(), 5);
}

keva_store::backend_tests!(with = crate::batch_support::batch_env;
    chunking_uses_a_few_batch_calls_per_hundred,
    per_item_errors_fail_only_their_customer,
    pauses_on_the_daily_limit_and_resumes,
    pauses_before_the_daily_limit_leaving_live_syncs_their_reserve,
    cancel_stops_after_the_current_chunk,
    resumes_after_a_kill_without_duplicates,
    a_keva_edit_after_a_killed_chunk_write_is_kept,
    a_keva_edit_during_a_chunk_is_not_overwritten,
    live_syncs_proceed_during_a_batch,
    imports_contacts_missing_in_keva,
    a_schedule_starts_a_run,
);
