//! `TestApp`: a running service on a fresh database, and a client that speaks to it.

use keva_server::{auth, AppState, ServerConfig};
use keva_store::{Backend, Store};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct TestApp {
    pub url: String,
    pub store: Store,
    pub key: String,
    pub workspace_id: Uuid,
    pub http: Client,
    shutdown: CancellationToken,
    _guard: Option<keva_store::testing::TempGuard>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let (store, guard) = match backend {
            Backend::Sqlite => {
                let (s, g) = keva_store::testing::sqlite_store().await;
                (s, Some(g))
            }
            Backend::Postgres => (keva_store::testing::postgres_store().await, None),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ServerConfig::new(addr, "http://127.0.0.1:9");
        let shutdown = CancellationToken::new();
        let state = AppState::new(store.clone(), config);
        tokio::spawn(keva_server::serve(listener, state, shutdown.clone()));
        let (workspace_id, key) = auth::create_api_key(&store, "acme").await.unwrap();
        TestApp {
            url: format!("http://{addr}"),
            store,
            key: key.plaintext,
            workspace_id,
            http: test_client(),
            shutdown,
            _guard: guard,
        }
    }

    /// A key for another workspace (created if new).
    pub async fn key_for(&self, workspace: &str) -> String {
        auth::create_api_key(&self.store, workspace)
            .await
            .unwrap()
            .1
            .plaintext
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
    }
    pub fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
    }
    pub fn patch(&self, path: &str, body: Value) -> RequestBuilder {
        self.http
            .patch(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
    }

    /// Creates a customer and returns its JSON.
    pub async fn create_customer(&self, body: Value) -> Value {
        let r = self.post("/api/customers", body).send().await.unwrap();
        assert_eq!(r.status(), 201, "create customer");
        r.json().await.unwrap()
    }
}

/// Status and JSON body of a response (Null when the body is not JSON).
pub async fn parts(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts the API's one error shape and returns the code.
pub fn error_code(body: &Value) -> &str {
    let code = body["error"]["code"].as_str().expect("error.code");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error.message present: {body}"
    );
    code
}

impl TestApp {
    /// A `TestApp` around a server started elsewhere (see `sync_harness.rs`, which
    /// starts servers on a shared database and sandbox).
    pub fn from_parts(
        url: String,
        store: Store,
        key: String,
        workspace_id: Uuid,
        shutdown: CancellationToken,
    ) -> TestApp {
        TestApp {
            url,
            store,
            key,
            workspace_id,
            http: test_client(),
            shutdown,
            _guard: None,
        }
    }

    pub fn put(&self, path: &str, body: Value) -> RequestBuilder {
        self.http
            .put(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
    }
}

/// The HTTP client tests use. No idle-connection reuse: several tests send bodies the
/// server refuses unread (413), after which the server closes that connection; a
/// pooled client could pick the closing connection for its next request.
pub fn test_client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client")
}

/// Sends a request whose body the server refuses before reading it (413 on the
/// declared length). The server answers and closes without draining the body, so
/// the client can hit the closed socket while still writing; that race belongs to
/// the transport, not to the server's answer, so the send is retried (a few times)
/// until the answer is read.
pub async fn send_refused_body(req: RequestBuilder) -> Response {
    let mut last = None;
    for _ in 0..5 {
        let attempt = req.try_clone().expect("a cloneable body");
        match attempt.send().await {
            Ok(r) => return r,
            Err(e) => last = Some(e),
        }
    }
    panic!("no answer to an oversized request: {last:?}");
}
