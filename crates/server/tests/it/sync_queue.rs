//! The durable queue under stress: retries on injected 429/5xx/409, coalescing of
//! bursts, a restart while a job is leased, and two servers sharing one database.

use std::time::{Duration, Instant};

use keva_core::JobState;
use serde_json::json;

use crate::harness::{call, eventually, parts, TestApp, CREATE, UPDATE};

/// Starts a ticket's sync under `faults`, waits until it has failed twice, lifts
/// the faults and expects it to end synced with one contact.
async fn retried_until_synced(app: &TestApp, faults: serde_json::Value, email: &str) {
    app.faults(faults).await;
    let (s, t) = call(app.post("/api/tickets", json!({"email": email, "subject": "hi"}))).await;
    assert_eq!(s, 201, "{t}");
    eventually(20, "a job failed twice and is retried", || async {
        app.jobs_in(None)
            .await
            .iter()
            .any(|j| j.attempts >= 2 && j.last_error.is_some())
    })
    .await;
    let customer = t["customer"]["id"].as_str().unwrap();
    let crm = app.crm(customer).await;
    assert_eq!(crm["status"], "pending", "waiting for a retry: {crm}");
    assert!(
        crm["reason"].as_str().unwrap().starts_with("retrying"),
        "{crm}"
    );
    app.faults(json!({})).await;
    app.settle().await;
    let crm = app.crm(customer).await;
    assert_eq!(crm["status"], "synced", "{crm}");
    let (found, _) = app
        .sb()
        .state()
        .get_contact_by_email(app.sb().portal_id(), email)
        .expect("contact created");
    assert_eq!(crm["hubspotId"], found.to_string());
}

async fn retries_on_429_5xx_and_409(app: TestApp) {
    app.connector().await;
    retried_until_synced(&app, json!({"rate429": 1.0}), "r429@example.com").await;
    retried_until_synced(
        &app,
        json!({"rate500": 0.5, "rate503": 0.5}),
        "r5xx@example.com",
    )
    .await;
    retried_until_synced(&app, json!({"rate409": 1.0}), "r409@example.com").await;
    assert_eq!(app.contact_count(), 3, "no duplicates from the retries");
}

async fn ten_quick_edits_make_one_update(app: TestApp) {
    app.connector().await;
    let customer = app
        .synced_customer(json!({"email": "burst@example.com"}))
        .await;
    let id = app.contact_id(&customer).await;
    // Edits arrive through a server whose debounce surely covers the burst, even
    // on a loaded machine (either server's worker may then run the job).
    let slow = app
        .instance_with(|s| s.sync.debounce = Duration::from_secs(5))
        .await;
    app.reset_stats();
    let started = Instant::now();
    for i in 0..10 {
        let r = slow
            .patch(
                &format!("/api/customers/{customer}"),
                json!({"jobTitle": format!("title {i}")}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the burst outlasted the debounce"
    );
    app.settle().await;
    // The burst's first edit may go out at once (if the customer's last sync
    // was longer than a debounce ago); the rest coalesce into one update.
    assert!(app.calls(UPDATE) <= 2, "{} updates", app.calls(UPDATE));
    assert_eq!(app.contact(&id).await["jobtitle"], "title 9");
}

async fn an_isolated_edit_is_sent_at_once(app: TestApp) {
    app.connector().await;
    // A debounce far longer than the wait below: only an undebounced job fits.
    let slow = app
        .instance_with(|s| s.sync.debounce = Duration::from_secs(30))
        .await;
    let c = app.stored_customer("alone@example.com").await;
    let r = slow
        .patch(
            &format!("/api/customers/{}", c.id),
            json!({"jobTitle": "first"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    eventually(10, "the isolated edit reached HubSpot", || async {
        app.crm(&c.id.to_string()).await["status"] == "synced"
    })
    .await;
    let id = app.contact_id(&c.id.to_string()).await;
    assert_eq!(app.contact(&id).await["jobtitle"], "first");

    // An edit right after it waits for the debounce (and coalesces with more).
    let r = slow
        .patch(
            &format!("/api/customers/{}", c.id),
            json!({"jobTitle": "second"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let queued = app.jobs_in(Some(JobState::Queued)).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(
        queued[0].run_at > chrono::Utc::now() + chrono::Duration::seconds(20),
        "the follow-up edit is debounced: {:?}",
        queued[0].run_at
    );
}

async fn the_reaper_records_a_last_attempt_as_failed(app: TestApp) {
    // A connector no instance may own (in error), then an instance whose workers
    // claim only the portals it owns: only the "ghost" worker below claims its job.
    let connector = app
        .store
        .insert_connector(keva_store::testing::private_app_connector(
            app.workspace_id,
            999,
        ))
        .await
        .unwrap()
        .id;
    app.store
        .set_connector_status(connector, keva_store::ConnectorStatus::Error, None)
        .await
        .unwrap();
    let owner = app
        .instance_with(|s| s.cluster.portal_ownership = true)
        .await;
    drop(app);
    let app = owner;
    let c = app.stored_customer("ghost@example.com").await;
    let job = app.single_attempt_job(connector, c.id);
    app.store.enqueue(&job).await.unwrap();
    // A worker that claims its last attempt and dies at once (zero lease).
    // (Eventually: the database clock may not have passed the job's run_at yet.)
    eventually(10, "the ghost claims the job", || async {
        app.store
            .claim("ghost", Duration::ZERO, 1)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    eventually(10, "the reaper ended the job", || async {
        app.crm(&c.id.to_string()).await["status"] == "failed"
    })
    .await;
    let crm = app.crm(&c.id.to_string()).await;
    let reason = crm["reason"].as_str().unwrap();
    assert!(reason.contains("lease expired on attempt 1 of 1"), "{crm}");
    assert_eq!(crm["history"][0]["result"], "failed", "{crm}");
    let job = app.jobs_in(None).await.remove(0);
    assert_eq!(job.state, JobState::Dead, "{job:?}");
}

async fn instances_own_portals_and_hand_them_over_on_stop(app: TestApp) {
    let own = |s: &mut keva_server::config::Settings| {
        s.cluster.portal_ownership = true;
        s.cluster.portal_lease = Duration::from_secs(12);
    };
    let first = app.instance_with(own).await;
    let second = app.instance_with(own).await;
    // `app` claims any portal's jobs (no ownership): leave the work to the owners.
    drop(app);
    let portal = i64::try_from(first.sb().portal_id()).unwrap();
    first.connector().await;
    eventually(10, "one instance owns the portal", || async {
        first.state.cluster.owns(portal) != second.state.cluster.owns(portal)
    })
    .await;
    let ids = tickets_from_new_senders([&first, &second], "own", 6).await;
    let (owner, other) = if first.state.cluster.owns(portal) {
        (first, second)
    } else {
        (second, first)
    };
    other.settle().await;
    for id in &ids {
        assert_eq!(other.crm(id).await["status"], "synced");
    }
    assert_eq!(other.contact_count(), 6, "one contact each");
    // A graceful stop releases the portal: the other takes it at its next round
    // (every 4 s). The owner renewed at most 4 s before the stop, so its lease
    // alone would have kept the portal from the other for at least 8 s more.
    let started = Instant::now();
    drop(owner);
    eventually(15, "the other instance owns the portal", || async {
        other.state.cluster.owns(portal)
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "hand-over took {took:?}: the lease expired instead of being released"
    );
}

async fn restart_mid_job_loses_and_duplicates_nothing(app: TestApp) {
    app.connector().await;
    // Slow HubSpot down so the job is surely running (leased) when the server dies.
    app.faults(json!({"latencyMs": 1500})).await;
    let c = app
        .create_customer(json!({"email": "crash@example.com", "name": "Crash Test"}))
        .await;
    let customer = c["id"].as_str().unwrap().to_string();
    eventually(20, "the job is running", || async {
        !app.jobs_in(Some(JobState::Running)).await.is_empty()
    })
    .await;
    let app = app.restart().await;
    app.faults(json!({})).await;
    app.settle().await;
    let crm = app.crm(&customer).await;
    assert_eq!(crm["status"], "synced", "{crm}");
    assert_eq!(app.contact_count(), 1, "no duplicate contact");
    let id = crm["hubspotId"].as_str().unwrap();
    let p = app.contact(id).await;
    assert_eq!(
        (p["firstname"].as_str(), p["lastname"].as_str()),
        (Some("Crash"), Some("Test"))
    );
    assert!(
        app.calls(CREATE) <= 2,
        "at most the interrupted create and its rerun"
    );
}

async fn two_servers_share_the_queue(app: TestApp) {
    app.connector().await;
    let second = app.instance().await;
    let ids = tickets_from_new_senders([&app, &second], "user", 24).await;
    app.settle().await;
    assert_eq!(
        app.contact_count(),
        24,
        "one contact per customer, none duplicated"
    );
    assert_eq!(app.calls(CREATE), 24, "each create sent once");
    let jobs = app
        .store
        .list_jobs(app.workspace_id, None, 100)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 24);
    for j in &jobs {
        assert_eq!(j.state, JobState::Succeeded, "{j:?}");
        assert_eq!(j.attempts, 1, "each job ran once: {j:?}");
    }
    for id in &ids {
        assert_eq!(app.crm(id).await["status"], "synced");
    }
}

async fn dead_after_max_attempts_with_the_reason(app: TestApp) {
    let connector = app.connector().await;
    let c = app.stored_customer("doomed@example.com").await;
    app.faults(json!({"rate503": 1.0})).await;
    let mut job = keva_store::NewJob::new(
        app.workspace_id,
        connector,
        "sync_customer",
        format!("customer:{connector}:{}", c.id),
        json!({"customerId": c.id}),
        keva_core::Trigger::Manual,
    );
    job.max_attempts = 2;
    let queued = app.store.enqueue(&job).await.unwrap();
    app.settle().await;
    app.faults(json!({})).await;
    let job = app
        .store
        .get_job(app.workspace_id, queued.job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Dead, "{job:?}");
    assert_eq!(job.attempts, 2);
    let reason = job.last_error.unwrap();
    assert!(
        reason.contains("gave up after 2 attempts") && reason.contains("503"),
        "{reason}"
    );
    let crm = app.crm(&c.id.to_string()).await;
    assert_eq!(crm["status"], "failed", "{crm}");
    assert_eq!(crm["reason"], reason.as_str());
    let h = &crm["history"][0];
    assert_eq!(h["result"], "failed");
    assert!(
        h["correlationId"].as_str().is_some_and(|id| id.len() == 36),
        "{h}"
    );
    assert_eq!(app.contact_count(), 0);
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    dead_after_max_attempts_with_the_reason,
    retries_on_429_5xx_and_409,
    ten_quick_edits_make_one_update,
    an_isolated_edit_is_sent_at_once,
    the_reaper_records_a_last_attempt_as_failed,
    instances_own_portals_and_hand_them_over_on_stop,
    restart_mid_job_loses_and_duplicates_nothing,
    two_servers_share_the_queue,
);

/// `n` tickets from new senders `{prefix}{i}@example.com`, sent to the two
/// servers in turn; the ids of the customers they created.
async fn tickets_from_new_senders(servers: [&TestApp; 2], prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = servers[i % 2]
            .post(
                "/api/tickets",
                json!({"email": format!("{prefix}{i}@example.com"), "subject": "hi"}),
            )
            .send()
            .await
            .unwrap();
        let (s, t) = parts(r).await;
        assert_eq!(s, 201, "{t}");
        ids.push(t["customer"]["id"].as_str().unwrap().to_string());
    }
    ids
}
