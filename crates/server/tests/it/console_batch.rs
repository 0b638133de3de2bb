//! *Run Batch Sync* over HTTP, on both backends, against the sandbox: start a run,
//! follow its JSON progress to `done`, see it among the past runs; *Cancel* of an
//! ended run is refused with the API's 409; another workspace's run is a 404; an
//! agent gets 403. (The live bar itself: `console_browser`.)

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
