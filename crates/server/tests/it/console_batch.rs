//! *Run Batch Sync* over HTTP, on both backends, against the sandbox: start a run,
//! follow its JSON progress to `done`, see it among the past runs; *Cancel* of an
//! ended run is refused with the API's 409; another workspace's run is a 404; an
//! agent gets 403. The schedule: an invalid cron expression refused in the form
//! with nothing saved, a valid one saved with its next run shown, switched off.
//! (The live bar itself: `console_browser`.)

use keva_store::UserRole;
use serde_json::Value;

use crate::console_support::signed_in;
use crate::harness::{eventually, TestApp};

const PATH: &str = "/settings/crm-sync/hubspot/batch-sync";

async fn a_batch_sync_runs_to_done_from_the_console(app: TestApp) {
    app.seed_customers("batch", 30).await;
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(PATH).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Run Batch Sync"));

    let started = v.submit(PATH, &format!("{PATH}/start"), &[]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let run = started.location().split("run=").nth(1).unwrap().to_string();
    let page = v.get(started.location()).await;
    assert!(page.body.contains("id=\"batch-bar\""), "{}", page.body);
    assert!(page.body.contains(&format!("{PATH}/{run}/progress")));

    let progress_path = format!("{PATH}/{run}/progress");
    let cookie = v.cookie_header();
    let url = format!("{}{progress_path}", app.url);
    let last: Value = eventually(60, "the run is done", || {
        let req = app.http.get(&url).header("cookie", &cookie);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let json: Value = r.json().await.unwrap();
            (json["state"] == "done").then_some(json)
        }
    })
    .await;
    assert_eq!(last["processed"], last["total"]);
    assert_eq!(last["total"], 30);
    assert_eq!(last["created"], 30);

    let page = v.get(PATH).await;
    assert!(page.body.contains("Past runs"));
    assert!(page.body.contains(&format!("?run={run}")));
    let refused = v.submit(PATH, &format!("{PATH}/{run}/cancel"), &[]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);

    assert_eq!(
        v.get(&format!("{PATH}/{}/progress", uuid::Uuid::now_v7()))
            .await
            .status,
        404
    );
    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    assert_eq!(agent.get(PATH).await.status, 403);
    assert_eq!(agent.get(&progress_path).await.status, 403);
}

keva_store::backend_tests!(with = crate::harness::connected;
    a_batch_sync_runs_to_done_from_the_console
);

/// The connector's stored schedule.
async fn stored_schedule(app: &TestApp) -> Option<String> {
    app.store
        .get_connector(app.workspace_id, app.connector_id())
        .await
        .unwrap()
        .unwrap()
        .batch_schedule
}

/// The next 02:00 UTC strictly after `now`.
fn next_two_am(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let today = now.date_naive().and_hms_opt(2, 0, 0).unwrap().and_utc();
    if today > now {
        today
    } else {
        today + chrono::TimeDelta::days(1)
    }
}

async fn the_batch_schedule_is_set_shown_and_switched_off(app: TestApp) {
    let schedule_path = format!("{PATH}/schedule");
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let page = v.get(PATH).await;
    assert!(page.body.contains("No schedule"), "{}", page.body);

    // Refused as the connectors API refuses it, shown in the form, nothing saved.
    let bad = v
        .submit(PATH, &schedule_path, &[("schedule", "61 * * * *")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("invalid batch schedule"), "{}", bad.body);
    assert!(bad.body.contains("value=\"61 * * * *\""), "as typed");
    assert_eq!(stored_schedule(&app).await, None);

    let saved = v
        .submit(PATH, &schedule_path, &[("schedule", " 0 2 * * * ")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(stored_schedule(&app).await.as_deref(), Some("0 2 * * *"));
    let before = chrono::Utc::now();
    let page = v.get(saved.location()).await;
    let after = chrono::Utc::now();
    assert!(page.body.contains("Saved the schedule."), "{}", page.body);
    let shown = page
        .body
        .split("id=\"next-run\" datetime=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no next run in {}", page.body));
    let shown = chrono::DateTime::parse_from_rfc3339(shown)
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(
        shown == next_two_am(before) || shown == next_two_am(after),
        "next run {shown}"
    );
    // The API shows what the console saved.
    let api = app
        .expect(
            app.get(&format!(
                "/api/crm/hubspot/connectors/{}",
                app.connector_id()
            )),
            200,
            "connector",
        )
        .await;
    assert_eq!(api["settings"]["batchSchedule"], "0 2 * * *");

    // A wrong one now keeps the saved one.
    let bad = v
        .submit(PATH, &schedule_path, &[("schedule", "every night")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(stored_schedule(&app).await.as_deref(), Some("0 2 * * *"));

    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    let refused = agent.submit("/", &schedule_path, &[("schedule", "")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(stored_schedule(&app).await.as_deref(), Some("0 2 * * *"));

    let off = v.submit(PATH, &schedule_path, &[("schedule", "")]).await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(stored_schedule(&app).await, None);
    let page = v.get(off.location()).await;
    assert!(page.body.contains("Switched the schedule off."));
    assert!(!page.body.contains("id=\"next-run\""));
}

mod schedule {
    keva_store::backend_tests!(with = crate::harness::connected;
        the_batch_schedule_is_set_shown_and_switched_off
    );
    use super::*;
}
