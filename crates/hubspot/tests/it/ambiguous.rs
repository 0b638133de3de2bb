//! Creates whose response is lost *after* HubSpot applied them (a proxy forwards the
//! request, then answers 502). The client must find the record instead of creating
//! it twice; for object types without a unique key it must not retry blindly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use keva_hubspot::models::ObjectCreate;
use keva_hubspot::{Credentials, HubspotClient};
use secrecy::SecretString;

use crate::helpers::{contact, fast_retries, no_client_limits, props, unlimited, Env};

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// How many more create responses to lose after forwarding.
    lose_creates: AtomicUsize,
    /// Lose them by stalling past the client's timeout instead of answering 502.
    stall: bool,
}

async fn forward(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let mut out = p
        .http
        .request(parts.method.clone(), format!("{}{path}{query}", p.upstream))
        .body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await.expect("upstream answers");
    let is_create = parts.method == "POST"
        && (path.ends_with("/objects/contacts")
            || path.ends_with("/objects/companies")
            || path.ends_with("/batch/create"));
    if is_create
        && resp.status().is_success()
        && p.lose_creates
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        if p.stall {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from("upstream connect error"))
            .expect("response");
    }
    let mut builder = Response::builder().status(resp.status().as_u16());
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    builder.body(Body::from(bytes)).expect("response")
}

async fn start_proxy(env: &Env, lose: usize) -> String {
    start_proxy_with(env, lose, false).await
}

async fn start_proxy_with(env: &Env, lose: usize, stall: bool) -> String {
    let proxy = Arc::new(Proxy {
        upstream: env.url(),
        http: reqwest::Client::new(),
        lose_creates: AtomicUsize::new(lose),
        stall,
    });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn client_via(env: &Env, url: String) -> HubspotClient {
    HubspotClient::builder(Credentials::PrivateApp(SecretString::from(
        env.sandbox.access_token().to_string(),
    )))
    .base_url(url)
    .timeout(std::time::Duration::from_millis(500))
    .rate_limit(no_client_limits())
    .retry(fast_retries())
    .build()
    .unwrap()
}

fn count(stats: &serde_json::Value, key: &str) -> u64 {
    stats["requests"][key].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn lost_contact_create_is_found_not_duplicated() {
    let env = unlimited().await;
    let client = client_via(&env, start_proxy(&env, 1).await);
    let created = client
        .contacts()
        .create(&contact("lost@example.com", "Lost"))
        .await
        .expect("the contact is returned despite the lost response");
    assert_eq!(created.property("email"), Some("lost@example.com"));
    assert_eq!(env.sandbox.contact_count(), 1);
    let stats = env.stats().await;
    assert_eq!(count(&stats, "POST /crm/v3/objects/contacts"), 1, "{stats}");
    assert!(count(&stats, "GET /crm/v3/objects/contacts/{contactId}") >= 1);
}

#[tokio::test]
async fn timed_out_contact_create_is_found_not_duplicated() {
    let env = unlimited().await;
    let client = client_via(&env, start_proxy_with(&env, 1, true).await);
    let created = client
        .contacts()
        .create(&contact("slow@example.com", "Slow"))
        .await
        .expect("the contact is returned after the timeout");
    assert_eq!(created.property("email"), Some("slow@example.com"));
    assert_eq!(env.sandbox.contact_count(), 1);
    assert_eq!(
        count(&env.stats().await, "POST /crm/v3/objects/contacts"),
        1
    );
}

#[tokio::test]
async fn lost_batch_create_chunk_is_completed_without_duplicates() {
    let env = unlimited().await;
    let client = client_via(&env, start_proxy(&env, 1).await);
    let inputs: Vec<_> = (0..150)
        .map(|i| contact(&format!("lost-{i}@example.com"), "L"))
        .collect();
    let out = client.contacts().batch_create(&inputs).await.unwrap();
    assert!(out.is_complete(), "{out:?}");
    assert_eq!(out.results.len(), 150);
    assert_eq!(env.sandbox.contact_count(), 150);
    let stats = env.stats().await;
    assert_eq!(
        count(&stats, "POST /crm/v3/objects/contacts/batch/create"),
        2,
        "the lost chunk was read back, not re-sent: {stats}"
    );
}

#[tokio::test]
async fn lost_company_create_is_not_retried_blindly() {
    let env = unlimited().await;
    let client = client_via(&env, start_proxy(&env, 1).await);
    let err = client
        .companies()
        .create(&ObjectCreate::new(props(&[("name", "Once Ltd")])))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_ambiguous());
    assert_eq!(
        env.sandbox.state().count(
            env.sandbox.portal_id(),
            keva_sandbox::portal::ObjectType::Companies
        ),
        1
    );
}
