//! Bad days: a request that outlives the timeout is answered 408, one API
//! key cannot have more than its share in flight (429 with `Retry-After`),
//! `/metrics` can move to its own address, and retention prunes what only grows.
//!
//! A request is held "in flight" by sending its headers and only part of its body,
//! over a raw socket: the handler has authenticated and waits for the rest.

use std::time::Duration;

use keva_core::{SyncDirection, Trigger};
use keva_server::retention::{self, RetentionSettings};
use keva_store::{Backend, HistoryResult, NewHistory};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::harness::{call, eventually, TestApp};
use crate::webhook_support::private_connector;

keva_store::backend_tests!(
    a_key_with_too_much_in_flight_gets_429_and_other_keys_do_not,
    a_request_outliving_the_timeout_gets_408_in_the_api_error_shape,
    metrics_move_to_their_own_address,
    retention_prunes_history_and_counts_it,
);

/// A service allowing one request in flight per key and `timeout` per request,
/// with `/metrics` on its own port.
async fn limited(backend: Backend, timeout: Duration) -> TestApp {
    let metrics = free_port().await;
    TestApp::builder(backend)
        .settings(move |s| {
            s.per_key_concurrency = 1;
            s.server.request_timeout = timeout;
            s.server.metrics_listen = Some(metrics);
        })
        .build()
        .await
}

async fn free_port() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Opens a `POST /api/customers` with `key` that promises 100 bytes of body and
/// sends 10: the service waits for the rest.
async fn held_request(app: &TestApp, key: &str) -> TcpStream {
    let addr = app.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/customers HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    s
}

async fn list_customers(app: &TestApp, key: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/api/customers", app.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn a_key_with_too_much_in_flight_gets_429_and_other_keys_do_not(backend: Backend) {
    // The held request must outlive every wait below, or its deadline frees the slot
    // before a loaded machine gets the second request in.
    let app = limited(backend, Duration::from_secs(300)).await;
    let held = held_request(&app, &app.key).await;
    // Send nothing else with the key until the held request has its slot: a
    // request sent right after it may be served first and refuse the held one.
    eventually(10, "the held request has its slot", || async {
        app.state.key_concurrency.tracked_keys() == 1
    })
    .await;
    let refused = list_customers(&app, &app.key).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");

    // Another key of the same workspace has its own slots.
    let other = app.key_for("acme").await;
    assert_eq!(list_customers(&app, &other).await.status(), 200);

    // The client goes away: its slot comes back.
    drop(held);
    eventually(10, "the key is served again", || async {
        list_customers(&app, &app.key).await.status() == 200
    })
    .await;
}

async fn a_request_outliving_the_timeout_gets_408_in_the_api_error_shape(backend: Backend) {
    let app = limited(backend, Duration::from_secs(2)).await;
    let mut held = held_request(&app, &app.key).await;
    let mut response = Vec::new();
    // The service answers and closes; the outer bound only keeps a broken
    // service from hanging the test.
    tokio::time::timeout(Duration::from_secs(20), held.read_to_end(&mut response))
        .await
        .expect("the service answers the stalled request")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""code":"request_timeout""#), "{text}");

    // Nothing was created, and the key's slot was given back.
    let (status, list) = call(
        app.http
            .get(format!("{}/api/customers", app.url))
            .bearer_auth(&app.key),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
}

async fn metrics_move_to_their_own_address(backend: Backend) {
    let app = limited(backend, Duration::from_secs(30)).await;
    let metrics = app.state.config.metrics_listen.unwrap();
    let (status, _) = call(app.http.get(format!("{}/metrics", app.url))).await;
    assert_eq!(status, 404, "not beside the API");
    let r = eventually(10, "the metrics address answers", || async {
        app.http
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .ok()
    })
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    let (status, _) = call(app.http.get(format!("http://{metrics}/api/customers"))).await;
    assert_eq!(status, 404, "the API is not on the metrics address");
}

async fn retention_prunes_history_and_counts_it(backend: Backend) {
    let app = limited(backend, Duration::from_secs(30)).await;
    let connector = private_connector(&app.store, app.workspace_id, 4242).await;
    let entry = |n: usize| NewHistory {
        workspace_id: app.workspace_id,
        connector_id: connector.id,
        customer_id: None,
        hubspot_id: Some(n.to_string()),
        trigger: Trigger::Manual,
        direction: SyncDirection::ToCrm,
        fields: serde_json::json!({}),
        result: HistoryResult::Synced,
        error: None,
        correlation_id: None,
    };
    for n in 0..7 {
        app.store.insert_history(&entry(n)).await.unwrap();
    }
    let keep_nothing = RetentionSettings {
        history: Some(Duration::ZERO),
        batch: 3,
        ..RetentionSettings::default()
    };
    // The cutoff is "now": wait for the clock to pass the last insert's millisecond.
    let last = chrono::Utc::now().timestamp_millis();
    eventually(5, "the clock moves on", || async {
        chrono::Utc::now().timestamp_millis() > last
    })
    .await;
    let pruned = retention::prune_once(&app.store, &keep_nothing, &CancellationToken::new())
        .await
        .unwrap();
    let history = pruned
        .iter()
        .find(|(what, _)| *what == keva_store::Retained::History)
        .map(|(_, n)| *n);
    assert_eq!(history, Some(7), "in batches of 3: 3 + 3 + 1");
    let left = app
        .store
        .history(app.workspace_id, connector.id, None, None, 100)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // The counter shows on the metrics address.
    let metrics = app.state.config.metrics_listen.unwrap();
    let text = eventually(10, "the metrics address answers", || async {
        let r = app
            .http
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .ok()?;
        r.text().await.ok()
    })
    .await;
    let line = text
        .lines()
        .find(|l| l.starts_with("keva_retention_pruned_total{kind=\"history\"}"))
        .unwrap_or_else(|| panic!("no history counter in:\n{text}"));
    assert!(line.ends_with(" 7"), "{line}");
}
