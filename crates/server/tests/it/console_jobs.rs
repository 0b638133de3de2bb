//! *Jobs* over HTTP, on both backends: a job that died (HubSpot failed its last
//! attempt) is listed as dead with its attempts and last error; *Retry* queues it
//! again and the workers finish it; the filters; an agent gets 403.

use keva_core::JobState;
use keva_store::UserRole;
use serde_json::json;

use crate::console_support::signed_in;
use crate::harness::{eventually, TestApp};

const PATH: &str = "/settings/jobs";

async fn state_of(app: &TestApp, id: uuid::Uuid) -> JobState {
    let job = app.store.get_job(app.workspace_id, id).await.unwrap();
    job.expect("the job exists").state
}

async fn a_dead_job_is_listed_and_retried(app: TestApp) {
    let connector = app.connector().await;
    let c = app.stored_customer("ghost@example.com").await;
    let job = app.single_attempt_job(connector, c.id);
    // HubSpot fails every call: the job's one attempt fails and it dies.
    app.faults(json!({"rate500": 1.0})).await;
    let id = app.store.enqueue(&job).await.unwrap().job_id;
    eventually(20, "the job died", || async {
        state_of(&app, id).await == JobState::Dead
    })
    .await;
    app.faults(json!({})).await;

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
    assert!(page.body.contains("500"), "the last error: {}", page.body);
    let queued = v.get(&format!("{PATH}?state=queued")).await;
    assert!(!queued.body.contains(&id.to_string()));

    let retried = v
        .submit(PATH, &format!("{PATH}/retry"), &[("id", &id.to_string())])
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    eventually(20, "the retried job succeeds", || async {
        state_of(&app, id).await == JobState::Succeeded
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
