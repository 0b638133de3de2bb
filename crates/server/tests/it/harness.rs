//! `TestApp`: a running service on a fresh database (optionally with an in-process
//! HubSpot sandbox), a client that speaks to it, and the helpers the suites share.
//!
//! ```ignore
//! let app = TestApp::builder(backend).sandbox(true).settings(|s| …).build().await;
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keva_core::JobState;
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use keva_server::config::Settings;
use keva_server::sync::SyncSettings;
use keva_server::{auth, AppState, ServerConfig};
use keva_store::testing::TempGuard;
use keva_store::{Backend, MasterKey, Store};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Writes counted in sandbox stats.
pub const CREATE: &str = "POST /crm/v3/objects/contacts";
pub const UPDATE: &str = "PATCH /crm/v3/objects/contacts/{contactId}";

/// HubSpot's base URL for apps without a sandbox: nothing listens there.
const NO_HUBSPOT: &str = "http://127.0.0.1:9";

type Configure = Box<dyn FnOnce(&mut Settings) + Send>;

/// How a [`TestApp`] is set up; see [`TestApp::builder`].
pub struct TestAppBuilder {
    backend: Backend,
    sandbox: Option<SandboxConfig>,
    connected: bool,
    configure: Vec<Configure>,
}

impl TestAppBuilder {
    /// With a sandbox as HubSpot (without rate limits) and the queue's timings
    /// shortened ([`fast_settings`]).
    pub fn sandbox(self, on: bool) -> Self {
        let config = on.then(|| SandboxConfig {
            control: ControlConfig::without_rate_limits(),
            ..SandboxConfig::default()
        });
        self.sandbox_config(config)
    }

    /// With a sandbox started from `config` (e.g. HubSpot's rate limits on).
    pub fn sandbox_config(mut self, config: impl Into<Option<SandboxConfig>>) -> Self {
        self.sandbox = config.into();
        self
    }

    /// Connects the sandbox portal while building ([`TestApp::connector_id`]).
    pub fn connected(mut self) -> Self {
        self.connected = true;
        self
    }

    /// Changes the service's settings before its state is built.
    pub fn settings(mut self, f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub async fn build(self) -> TestApp {
        let sandbox = match self.sandbox {
            Some(config) => Some(Arc::new(start(config).await.expect("sandbox starts"))),
            None => None,
        };
        // Reopened with a key the test knows, so another instance can open the
        // sealed tokens.
        let master = MasterKey::generate();
        let (first, guard) = keva_store::testing::store_for(self.backend).await;
        let store = keva_store::testing::reopen(&first, master.clone()).await;
        first.close().await;
        let (workspace_id, key) = auth::create_api_key(&store, "acme").await.expect("api key");
        let mut app = TestApp::serve(
            Shared {
                sandbox,
                master,
                _guard: Arc::new(guard),
            },
            store,
            key.plaintext,
            workspace_id,
            self.configure,
        )
        .await;
        if self.connected {
            app.connector = Some(app.connector().await);
        }
        app
    }
}

/// What every instance of one test's service shares: the sandbox and the database.
#[derive(Clone)]
struct Shared {
    sandbox: Option<Arc<RunningSandbox>>,
    master: MasterKey,
    // Dropped last: the SQLite file must outlive every server on it.
    _guard: Arc<TempGuard>,
}

pub struct TestApp {
    pub url: String,
    pub store: Store,
    pub key: String,
    pub workspace_id: Uuid,
    pub http: Client,
    /// The state the service runs with (tests start batch runs or schedulers on it).
    pub state: AppState,
    connector: Option<Uuid>,
    shutdown: CancellationToken,
    shared: Shared,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Queue timings short enough for tests (retries in ~100 ms, leases of 2 s).
pub fn fast_settings() -> SyncSettings {
    SyncSettings {
        retry: keva_core::RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            jitter_fraction: 0.0,
            max_attempts: 10,
        },
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(50),
        debounce: Duration::from_millis(300),
        concurrency: 4,
        sync_now_wait: Duration::from_secs(10),
        reap_every: Duration::from_millis(200),
    }
}

/// Fixtures for `keva_store::backend_tests!(with = …)`.
pub async fn plain(backend: Backend) -> TestApp {
    TestApp::builder(backend).build().await
}

pub async fn sandboxed(backend: Backend) -> TestApp {
    TestApp::builder(backend).sandbox(true).build().await
}

/// A sandbox and a connector to it.
pub async fn connected(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .sandbox(true)
        .connected()
        .build()
        .await
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            sandbox: None,
            connected: false,
            configure: Vec::new(),
        }
    }

    async fn serve(
        shared: Shared,
        store: Store,
        key: String,
        workspace_id: Uuid,
        configure: Vec<Configure>,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hubspot = shared
            .sandbox
            .as_ref()
            .map_or_else(|| NO_HUBSPOT.to_string(), |sb| sb.url());
        let mut settings = Settings::new(ServerConfig::new(addr, hubspot));
        if shared.sandbox.is_some() {
            settings.sync = fast_settings();
        }
        for f in configure {
            f(&mut settings);
        }
        let state = AppState::new(store.clone(), settings);
        let shutdown = CancellationToken::new();
        tokio::spawn(keva_server::serve(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        TestApp {
            url: format!("http://{addr}"),
            store,
            key,
            workspace_id,
            http: test_client(),
            state,
            connector: None,
            shutdown,
            shared,
        }
    }

    /// Another `serve` process on the same database and sandbox (own pools, own
    /// workers), for restart and multi-worker tests.
    pub async fn instance(&self) -> TestApp {
        self.instance_with(|_| {}).await
    }

    /// Like `instance`, with other settings (e.g. a longer debounce).
    pub async fn instance_with(&self, f: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
        let store = keva_store::testing::reopen(&self.store, self.shared.master.clone()).await;
        let mut app = TestApp::serve(
            self.shared.clone(),
            store,
            self.key.clone(),
            self.workspace_id,
            vec![Box::new(f)],
        )
        .await;
        app.connector = self.connector;
        app
    }

    /// Another instance whose store seals and opens with `key` (which may carry
    /// previous keys), as after a restart with other master-key settings.
    pub async fn instance_with_key(&self, key: MasterKey) -> TestApp {
        let store = keva_store::testing::reopen(&self.store, key).await;
        let mut app = TestApp::serve(
            self.shared.clone(),
            store,
            self.key.clone(),
            self.workspace_id,
            Vec::new(),
        )
        .await;
        app.connector = self.connector;
        app
    }

    /// Stops the server (running jobs are dropped like in a crash) and starts a
    /// new one on the same database.
    pub async fn restart(self) -> TestApp {
        let next = self.instance().await;
        drop(self);
        next
    }

    /// The sandbox standing in for HubSpot (built with `.sandbox(…)`).
    pub fn sb(&self) -> &RunningSandbox {
        self.shared
            .sandbox
            .as_deref()
            .expect("this TestApp has no sandbox: build it with .sandbox(true)")
    }

    /// The connector made by `.connected()`.
    pub fn connector_id(&self) -> Uuid {
        self.connector
            .expect("this TestApp is not connected: build it with .connected()")
    }

    /// A key for another workspace (created if new).
    pub async fn key_for(&self, workspace: &str) -> String {
        auth::create_api_key(&self.store, workspace)
            .await
            .unwrap()
            .1
            .plaintext
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key)
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }
    pub fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.request(Method::POST, path).json(&body)
    }
    pub fn patch(&self, path: &str, body: Value) -> RequestBuilder {
        self.request(Method::PATCH, path).json(&body)
    }
    pub fn put(&self, path: &str, body: Value) -> RequestBuilder {
        self.request(Method::PUT, path).json(&body)
    }

    /// GET without credentials (public routes); status and JSON body.
    pub async fn public_get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.url)).send().await;
        parts(r.unwrap_or_else(|e| panic!("GET {path}: {e}"))).await
    }

    /// GET with another API key (e.g. another workspace's).
    pub async fn get_as(&self, key: &str, path: &str) -> Response {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key);
        r.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A customer written straight to the store (no API validation, no sync job).
    /// The workspace's connectors, in any state.
    pub async fn connector_count(&self) -> usize {
        let all = self.store.list_connectors(self.workspace_id).await;
        all.expect("list connectors").len()
    }

    /// `customer`'s sync job on `connector` with a single attempt (tests that
    /// make a job die).
    pub fn single_attempt_job(&self, connector: Uuid, customer: Uuid) -> keva_store::NewJob {
        let mut job = keva_store::NewJob::new(
            self.workspace_id,
            connector,
            "sync_customer",
            format!("customer:{connector}:{customer}"),
            serde_json::json!({ "customerId": customer }),
            keva_core::Trigger::Manual,
        );
        job.max_attempts = 1;
        job
    }

    pub async fn stored_customer(&self, email: &str) -> keva_store::Customer {
        let new = keva_store::NewCustomer::with_email(email);
        let c = self.store.insert_customer(self.workspace_id, new).await;
        c.unwrap_or_else(|e| panic!("insert customer {email}: {e}"))
    }

    /// The id of the workspace named `name` (e.g. one made by `key_for`).
    pub async fn workspace_id_of(&self, name: &str) -> Uuid {
        let ws = self.store.workspace_by_name(name).await.unwrap();
        ws.unwrap_or_else(|| panic!("no workspace {name:?}")).id
    }

    /// Sends a request and asserts its status; returns the JSON body.
    pub async fn expect(&self, req: RequestBuilder, status: u16, what: &str) -> Value {
        let (s, v) = parts(req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"))).await;
        assert_eq!(s, status, "{what}: {v}");
        v
    }

    /// Creates a customer and returns its JSON.
    pub async fn create_customer(&self, body: Value) -> Value {
        self.expect(self.post("/api/customers", body), 201, "create customer")
            .await
    }

    /// Connects the sandbox portal; returns the connector's JSON.
    pub async fn connect(&self) -> Value {
        let body = json!({"accessToken": self.sb().access_token()});
        self.expect(
            self.post("/api/crm/hubspot/connectors", body),
            201,
            "connect",
        )
        .await
    }

    /// Connects and returns the connector id.
    pub async fn connector(&self) -> Uuid {
        let c = self.connect().await;
        c["id"]
            .as_str()
            .expect("connector id")
            .parse()
            .expect("uuid")
    }

    /// Waits until no job is queued or running for three polls in a row (30 s at most).
    pub async fn settle(&self) {
        let quiet = std::sync::atomic::AtomicU32::new(0);
        eventually(30, "jobs settle (none queued or running)", || async {
            use std::sync::atomic::Ordering::SeqCst;
            if self.busy_jobs().await == 0 {
                quiet.fetch_add(1, SeqCst) + 1 >= 3
            } else {
                quiet.store(0, SeqCst);
                false
            }
        })
        .await;
    }

    pub async fn busy_jobs(&self) -> usize {
        let mut n = 0;
        for s in [JobState::Queued, JobState::Running] {
            n += self.jobs_in(Some(s)).await.len();
        }
        n
    }

    /// The workspace's jobs in `state` (any state when `None`).
    pub async fn jobs_in(&self, state: Option<JobState>) -> Vec<keva_store::Job> {
        self.store
            .list_jobs(self.workspace_id, state, 1000)
            .await
            .expect("list jobs")
    }

    /// A request to the sandbox's API, with the portal's token.
    pub async fn sandbox(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sb().url()))
            .bearer_auth(self.sb().access_token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        call(req).await
    }

    /// A sandbox request that must answer `status`; returns the body.
    pub async fn sandbox_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let (s, v) = self.sandbox(method, path, body).await;
        assert_eq!(s, status, "sandbox {path}: {v}");
        v
    }

    /// A contact's current properties, as a HubSpot user sees them.
    pub async fn contact(&self, id: &str) -> Value {
        let path = format!("/_sandbox/objects/contacts/{id}");
        self.sandbox_ok(Method::GET, &path, None, 200).await["properties"].clone()
    }

    /// Edits a contact "as a HubSpot user".
    pub async fn edit_contact(&self, id: &str, props: Value) {
        let path = format!("/_sandbox/objects/contacts/{id}");
        let body = json!({ "properties": props });
        self.sandbox_ok(Method::PATCH, &path, Some(body), 200).await;
    }

    /// Creates a contact through HubSpot's API (as another integration would).
    pub async fn hubspot_contact(&self, props: Value) -> String {
        let body = json!({ "properties": props });
        let v = self
            .sandbox_ok(Method::POST, "/crm/v3/objects/contacts", Some(body), 201)
            .await;
        v["id"].as_str().expect("id").to_string()
    }

    /// Calls of one "METHOD /path/template" the sandbox has answered.
    pub fn calls(&self, key: &str) -> u64 {
        self.sb()
            .control()
            .stats
            .snapshot()
            .requests
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_stats(&self) {
        self.sb().control().stats.reset();
    }

    pub async fn faults(&self, settings: Value) {
        self.sandbox_ok(Method::PUT, "/_sandbox/faults", Some(settings), 200)
            .await;
    }

    /// `GET /api/customers/{id}/crm`.
    pub async fn crm(&self, customer: &str) -> Value {
        let path = format!("/api/customers/{customer}/crm");
        self.expect(self.get(&path), 200, "crm").await
    }

    /// The customer's linked contact id (after settling).
    pub async fn contact_id(&self, customer: &str) -> String {
        self.crm(customer).await["hubspotId"]
            .as_str()
            .unwrap_or_else(|| panic!("customer {customer} is not linked"))
            .to_string()
    }

    pub async fn customer(&self, id: &str) -> Value {
        let path = format!("/api/customers/{id}");
        self.expect(self.get(&path), 200, "customer").await
    }

    /// `PATCH /api/customers/{id}`.
    pub async fn edit_customer(&self, id: &str, body: Value) -> Value {
        let path = format!("/api/customers/{id}");
        self.expect(self.patch(&path, body), 200, "edit customer")
            .await
    }

    /// Sync Now; returns status and body.
    pub async fn sync_now(&self, customer: &str, connector: Uuid) -> (u16, Value) {
        let body = json!({"customerId": customer, "connectorId": connector});
        call(self.post("/api/crm/hubspot/sync", body)).await
    }

    /// Live contacts in the sandbox portal.
    pub fn contact_count(&self) -> usize {
        self.sb().contact_count()
    }

    /// Enqueues what the webhook intake would for a change of contact `id`.
    pub async fn inbound(&self, connector: Uuid, id: &str) {
        self.store
            .enqueue(&keva_store::NewJob::new(
                self.workspace_id,
                connector,
                "inbound_contact",
                format!("contact:{connector}:{id}"),
                json!({ "objectId": id }),
                keva_core::Trigger::Webhook,
            ))
            .await
            .expect("enqueue inbound");
        self.settle().await;
    }

    /// Creates a customer through the API, waits for its sync, returns its id.
    pub async fn synced_customer(&self, body: Value) -> String {
        let c = self.create_customer(body).await;
        self.settle().await;
        c["id"].as_str().expect("id").to_string()
    }

    /// The newest history entry of a customer.
    pub async fn last_history(&self, customer: &str) -> Value {
        self.crm(customer).await["history"][0].clone()
    }

    /// `POST /api/crm/hubspot/automap` for the connector's contacts (200).
    pub async fn automap_contacts(&self, connector: Uuid) -> Value {
        self.expect(
            self.post(
                "/api/crm/hubspot/automap",
                json!({"connectorId": connector, "object": "contacts"}),
            ),
            200,
            "automap",
        )
        .await
    }

    pub async fn set_policy(&self, connector: Uuid, policy: &str) {
        let path = format!("/api/crm/hubspot/connectors/{connector}");
        let body = json!({ "conflictPolicy": policy });
        self.expect(self.patch(&path, body), 200, "policy").await;
    }
}

/// What an [`eventually`] check returns: `true`, or `Some(value)`, when done.
pub trait Done {
    type Value;
    fn done(self) -> Option<Self::Value>;
}

impl Done for bool {
    type Value = ();
    fn done(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Done for Option<T> {
    type Value = T;
    fn done(self) -> Option<T> {
        self
    }
}

/// Polls `check` every 20 ms until it returns `true` (or `Some(v)`, then returns
/// `v`); panics naming `what` when `secs` pass first.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F) -> <Fut::Output as Done>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Done,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await.done() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Status and JSON body of a response (Null when the body is not JSON).
/// Sends a request; its status and JSON body.
pub async fn call(req: RequestBuilder) -> (u16, Value) {
    parts(
        req.send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}")),
    )
    .await
}

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
