//! *Jobs* over HTTP, on both backends: a job that died (its worker vanished on its
//! last attempt) is listed as dead with its attempts and last error; *Retry* queues
//! it again and the workers finish it; the filters; an agent gets 403.

use std::time::Duration;

use keva_core::JobState;
use keva_store::UserRole;
use serde_json::json;

use crate::console_support::signed_in;
use crate::harness::{eventually, TestApp};

const PATH: &str = "/settings/jobs";

async fn a_dead_job_is_listed_and_retried(app: TestApp) {
    let connector = app.connector().await;
    let c = app.stored_customer("ghost@example.com").await;
    let mut job = keva_store::NewJob::new(
        app.workspace_id,
        connector,
        "sync_customer",
        format!("customer:{connector}:{}", c.id),
        json!({"customerId": c.id}),
        keva_core::Trigger::Manual,
    );
    job.max_attempts = 1;
    app.store.enqueue(&job).await.unwrap();
    // A worker that claims its last attempt and dies at once (zero lease).
    let claimed = app.store.claim("ghost", Duration::ZERO, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].id;
    eventually(10, "the reaper ended the job", || async {
        app.store
            .get_job(app.workspace_id, id)
            .await
            .unwrap()
            .unwrap()
            .state
            == JobState::Dead
    })
    .await;

    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(&format!("{PATH}?state=dead")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("data-job-id=\"{id}\" data-state=\"dead\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("1 / 1"));
    assert!(page.body.contains("lease expired"), "{}", page.body);
    let queued = v.get(&format!("{PATH}?state=queued")).await;
    assert!(!queued.body.contains(&id.to_string()));

    let retried = v
        .submit(PATH, &format!("{PATH}/retry"), &[("id", &id.to_string())])
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    eventually(20, "the retried job succeeds", || async {
        app.store
            .get_job(app.workspace_id, id)
            .await
            .unwrap()
            .unwrap()
            .state
            == JobState::Succeeded
    })
    .await;
    // Retrying a job that is not dead is a 404.
    let again = v
        .submit(PATH, &format!("{PATH}/retry"), &[("id", &id.to_string())])
        .await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(v.get(&format!("{PATH}?state=bogus")).await.status, 400);

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    assert_eq!(agent.get(PATH).await.status, 403);
}

keva_store::backend_tests!(with = crate::harness::sandboxed;
    a_dead_job_is_listed_and_retried
);
