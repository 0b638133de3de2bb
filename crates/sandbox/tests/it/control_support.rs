//! Helpers for the control-plane tests: a sandbox with a chosen `ControlConfig`,
//! raw HTTP calls that keep headers, and a webhook receiver that records what it
//! gets and answers with scripted statuses.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{json, Value};

/// A sandbox with `control` as its control-plane configuration.
pub async fn sandbox(control: ControlConfig) -> RunningSandbox {
    start(SandboxConfig {
        control,
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

/// A control config with no rate limits and fast webhook retries.
pub fn quick_config() -> ControlConfig {
    let mut c = ControlConfig::without_rate_limits();
    c.webhooks.retry_base_ms = 20;
    c.webhooks.retry_max_ms = 200;
    c.webhooks.linger_ms = 30;
    c
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// One call, keeping the headers; the body parsed as JSON when it is JSON.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn call(
    sb: &RunningSandbox,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = client().request(method, format!("{}{}", sb.url(), path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// GET on a HubSpot API route with the sandbox's private-app token.
pub async fn api_get(sb: &RunningSandbox, path: &str) -> Reply {
    call(sb, Some(sb.access_token()), Method::GET, path, None).await
}

pub async fn admin(sb: &RunningSandbox, method: Method, path: &str, body: Option<Value>) -> Reply {
    call(sb, None, method, path, body).await
}

pub fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Asserts HubSpot's error envelope.
/// `GET /oauth/v1/access-tokens/{token}`.
pub async fn access_token_info(sb: &RunningSandbox, token: &str) -> Reply {
    admin(
        sb,
        Method::GET,
        &format!("/oauth/v1/access-tokens/{token}"),
        None,
    )
    .await
}

/// Asserts a 302 to `redirect` and returns the query of its Location.
pub fn redirect_query(resp: &reqwest::Response, redirect: &str) -> HashMap<String, String> {
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location header");
    assert!(location.starts_with(redirect), "{location}");
    let url = reqwest::Url::parse(location).expect("absolute redirect");
    url.query_pairs().into_owned().collect()
}

pub fn assert_hubspot_error(r: &Reply, status: StatusCode, category: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["status"], "error", "{}", r.text);
    assert_eq!(r.body["category"], category, "{}", r.text);
    assert!(r.body["message"].is_string(), "{}", r.text);
    let cid = r.body["correlationId"].as_str().unwrap_or_default();
    assert!(uuid::Uuid::parse_str(cid).is_ok(), "{}", r.text);
}

/// Creates a contact through the API and returns its id.
pub async fn create_contact(sb: &RunningSandbox, email: &str) -> u64 {
    let r = call(
        sb,
        Some(sb.access_token()),
        Method::POST,
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": email, "firstname": "Test"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric id")
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn events(&self) -> Vec<Value> {
        serde_json::from_slice::<Vec<Value>>(&self.body).expect("a JSON array of events")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Statuses (and `Retry-After` seconds) to answer with, in order; 200 once
    /// they run out.
    script: Mutex<VecDeque<(u16, Option<u64>)>>,
}

/// A local webhook target.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    state.got.lock().push(Received { headers, body });
    let (status, retry_after) = state.script.lock().pop_front().unwrap_or((200, None));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut resp = status.into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(
            "retry-after",
            secs.to_string().parse().expect("header value"),
        );
    }
    resp
}

impl Receiver {
    /// Starts a receiver at `http://127.0.0.1:PORT/hubspot/webhook`.
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let app = Router::new()
            .route("/hubspot/webhook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hubspot/webhook"),
            state,
        }
    }

    /// Answers the next requests with these statuses.
    pub fn script(&self, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .extend(statuses.iter().map(|s| (*s, None)));
    }

    /// Answers the next request with 429 and `Retry-After: secs`.
    pub fn throttle_once(&self, secs: u64) {
        self.state.script.lock().push_back((429, Some(secs)));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().clone()
    }

    /// All events received so far, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.received().iter().flat_map(|r| r.events()).collect()
    }

    /// Waits (up to 10 s) until `done` holds for what was received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.received();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for {what}; got {:?}",
            self.received().len()
        );
    }
}

/// Waits until the sandbox reports no pending webhook events.
pub async fn wait_settled(sb: &RunningSandbox) -> Value {
    for _ in 0..500 {
        let r = admin(sb, Method::GET, "/_sandbox/webhooks", None).await;
        if r.body["pending"] == 0 && r.body["matched"].as_u64().unwrap_or(0) > 0 {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("webhook deliveries never settled");
}
