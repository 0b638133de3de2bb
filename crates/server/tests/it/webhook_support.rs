//! Helpers for the webhook tests: a workspace with a connector on a portal and a
//! webhook app, and a sender that signs deliveries the way HubSpot does.

use chrono::{DateTime, Utc};
use keva_hubspot::signature::{sign_v1, sign_v2, sign_v3};
use keva_store::{AuthKind, Connector, NewConnector, Store};
use reqwest::Response;
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::TestApp;

pub const PORTAL: u64 = 62515;
pub const APP_ID: u64 = 777;
pub const SECRET: &str = "test-client-secret-1234";
pub const PATH: &str = "/api/webhooks/hubspot";

/// Connects `portal` to the app's workspace (a fake token: these tests never call
/// HubSpot) and sets the workspace's webhook app.
pub async fn connect(app: &TestApp, portal: u64) -> Connector {
    let c = private_connector(&app.store, app.workspace_id, portal).await;
    app.store
        .set_webhook_settings(
            app.workspace_id,
            &APP_ID.to_string(),
            &SecretString::from(SECRET),
        )
        .await
        .expect("set webhook settings");
    c
}

/// One `contact.propertyChange` event as HubSpot sends it.
pub fn change(event_id: u64, object_id: u64, property: &str, value: &str) -> Value {
    json!({
        "eventId": event_id, "subscriptionId": 11, "portalId": PORTAL, "appId": APP_ID,
        "occurredAt": Utc::now().timestamp_millis(), "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM_UI",
        "sourceId": "userId:1", "propertyName": property, "propertyValue": value
    })
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// How a request is signed.
#[derive(Debug, Clone, Copy)]
pub enum Sign {
    V3 { timestamp_ms: i64 },
    V2,
    V1,
    None,
}

/// A private-app connector with a fake token (these tests never call HubSpot).
pub async fn private_connector(
    store: &keva_store::Store,
    workspace: Uuid,
    portal: u64,
) -> Connector {
    let new = NewConnector {
        workspace_id: workspace,
        portal_id: portal as i64,
        auth_kind: AuthKind::PrivateApp,
        access_token: SecretString::from("pat-test-not-used"),
        refresh_token: None,
        token_expires_at: None,
        scopes: vec![],
    };
    store.insert_connector(new).await.expect("insert connector")
}

/// Posts `body` signed with v3 at the current time.
pub async fn post_v3(app: &TestApp, body: &[u8], secret: &str) -> Response {
    let sign = Sign::V3 {
        timestamp_ms: now_ms(),
    };
    post_signed(app, body, secret, sign).await
}

/// Posts `body` to the receiver, signed with `secret` over the URI the service
/// considers public.
pub async fn post_signed(app: &TestApp, body: &[u8], secret: &str, sign: Sign) -> Response {
    let uri = format!("{}{PATH}", app.url);
    let mut req = app
        .http
        .post(&uri)
        .header("content-type", "application/json")
        .body(body.to_vec());
    match sign {
        Sign::V3 { timestamp_ms } => {
            let ts = timestamp_ms.to_string();
            req = req
                .header(
                    "X-HubSpot-Signature-v3",
                    sign_v3(secret, "POST", &uri, body, &ts),
                )
                .header("X-HubSpot-Request-Timestamp", ts);
        }
        Sign::V2 => {
            req = req
                .header("X-HubSpot-Signature", sign_v2(secret, "POST", &uri, body))
                .header("X-HubSpot-Signature-Version", "v2");
        }
        Sign::V1 => {
            req = req
                .header("X-HubSpot-Signature", sign_v1(secret, body))
                .header("X-HubSpot-Signature-Version", "v1");
        }
        Sign::None => {}
    }
    req.send().await.expect("send webhook")
}

/// Posts a batch signed v3 with the workspace's secret, now.
pub async fn post_batch(app: &TestApp, batch: &Value) -> Response {
    post_signed(
        app,
        batch.to_string().as_bytes(),
        SECRET,
        Sign::V3 {
            timestamp_ms: now_ms(),
        },
    )
    .await
}

/// Stored events of a contact.
pub async fn stored_events(store: &Store, connector: Uuid, object_id: u64) -> Vec<i64> {
    store
        .contact_events_since(
            connector,
            &object_id.to_string(),
            DateTime::<Utc>::UNIX_EPOCH,
        )
        .await
        .expect("read events")
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

/// Jobs of the workspace (any state) as (kind, coalesce key).
pub async fn jobs(app: &TestApp) -> Vec<(String, String)> {
    let mut v: Vec<_> = app
        .store
        .list_jobs(app.workspace_id, None, 1000)
        .await
        .expect("list jobs")
        .into_iter()
        .map(|j| (j.kind, j.coalesce_key))
        .collect();
    v.sort();
    v
}

/// The workspace's webhook log, newest first, through the API.
pub async fn log(app: &TestApp) -> Vec<Value> {
    let r = app
        .get("/api/crm/hubspot/webhooks/log?limit=100")
        .send()
        .await
        .expect("get log");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("log json");
    body["data"].as_array().expect("data").clone()
}

/// Points the sandbox's app at the service's receiver and gives the workspace the
/// app's id and secret; `options` adds sandbox delivery settings (duplicateRate, …).
pub async fn deliver_webhooks(sa: &TestApp, options: Value) {
    let app =
        json!({"appId": sa.sb().app_id().to_string(), "clientSecret": sa.sb().client_secret()});
    sa.expect(
        sa.put("/api/crm/hubspot/webhooks", app),
        200,
        "put webhook settings",
    )
    .await;
    let mut body = json!({
        "targetUrl": format!("{}{PATH}", sa.url),
        "retryBaseMs": 50, "retryMaxMs": 500, "lingerMs": 20,
    });
    if let (Some(b), Some(o)) = (body.as_object_mut(), options.as_object()) {
        b.extend(o.clone());
    }
    sa.sandbox_ok(reqwest::Method::PUT, "/_sandbox/webhooks", Some(body), 200)
        .await;
}

/// The sandbox's webhook counters (`delivered`, `duplicates`, `pending`, …).
pub async fn sandbox_webhooks(sa: &TestApp) -> Value {
    sa.sandbox_ok(reqwest::Method::GET, "/_sandbox/webhooks", None, 200)
        .await
}
