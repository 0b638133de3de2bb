//! `SyncApp`: a running service whose HubSpot is an in-process sandbox, on a fresh
//! database, with the queue's timings shortened; plus helpers to connect the
//! sandbox portal, wait for jobs to settle and look at the sandbox's side.

use std::ops::Deref;
use std::time::{Duration, Instant};

use keva_core::{JobState, RetryPolicy};
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use keva_server::sync::SyncSettings;
use keva_server::{auth, AppState, ServerConfig};
use keva_store::testing::TempGuard;
use keva_store::{Backend, MasterKey, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{parts, TestApp};

/// Writes counted in sandbox stats.
pub const CREATE: &str = "POST /crm/v3/objects/contacts";
pub const UPDATE: &str = "PATCH /crm/v3/objects/contacts/{contactId}";

pub struct SyncApp {
    pub app: TestApp,
    pub sb: RunningSandbox,
    pub http: reqwest::Client,
    master: MasterKey,
    // Dropped last: the SQLite file must outlive every server on it.
    _guard: Option<TempGuard>,
}

impl Deref for SyncApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Queue timings short enough for tests (retries in ~100 ms, leases of 2 s).
pub fn fast_settings() -> SyncSettings {
    SyncSettings {
        retry: RetryPolicy {
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

impl TestApp {
    /// A service with workers, its HubSpot base URL pointing at a new sandbox.
    pub async fn spawn_with_sandbox(backend: Backend) -> SyncApp {
        let sb = start(SandboxConfig {
            control: ControlConfig::without_rate_limits(),
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts");
        let master = MasterKey::generate();
        // Reopened with a key the test knows, so a "restarted" server can open the
        // sealed tokens.
        let (store, guard) = match backend {
            Backend::Sqlite => {
                let (s, g) = keva_store::testing::sqlite_store().await;
                (
                    keva_store::testing::reopen(&s, master.clone()).await,
                    Some(g),
                )
            }
            Backend::Postgres => {
                let s = keva_store::testing::postgres_store().await;
                (keva_store::testing::reopen(&s, master.clone()).await, None)
            }
        };
        let (workspace_id, key) = auth::create_api_key(&store, "acme").await.expect("api key");
        let app = serve_on(&sb, store, key.plaintext, workspace_id).await;
        SyncApp {
            app,
            sb,
            http: crate::harness::test_client(),
            master,
            _guard: guard,
        }
    }
}

async fn serve_on(sb: &RunningSandbox, store: Store, key: String, workspace_id: Uuid) -> TestApp {
    serve_with(sb, store, key, workspace_id, fast_settings()).await
}

async fn serve_with(
    sb: &RunningSandbox,
    store: Store,
    key: String,
    workspace_id: Uuid,
    settings: SyncSettings,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig::new(addr, sb.url());
    let state = AppState::new(store.clone(), config).with_sync_settings(settings);
    let shutdown = CancellationToken::new();
    tokio::spawn(keva_server::serve(listener, state, shutdown.clone()));
    TestApp::from_parts(format!("http://{addr}"), store, key, workspace_id, shutdown)
}

impl SyncApp {
    /// Another `serve` process on the same database and sandbox (own pools, own
    /// workers), for restart and multi-worker tests.
    pub async fn instance(&self) -> TestApp {
        let store = keva_store::testing::reopen(&self.app.store, self.master.clone()).await;
        serve_on(&self.sb, store, self.app.key.clone(), self.app.workspace_id).await
    }

    /// Like `instance`, with other queue timings (e.g. a longer debounce).
    pub async fn instance_with(&self, settings: SyncSettings) -> TestApp {
        let store = keva_store::testing::reopen(&self.app.store, self.master.clone()).await;
        serve_with(
            &self.sb,
            store,
            self.app.key.clone(),
            self.app.workspace_id,
            settings,
        )
        .await
    }

    /// Stops the server (running jobs are dropped like in a crash) and starts a
    /// new one on the same database.
    pub async fn restart(self) -> SyncApp {
        let next = self.instance().await;
        let SyncApp {
            app,
            sb,
            http,
            master,
            _guard,
        } = self;
        drop(app);
        SyncApp {
            app: next,
            sb,
            http,
            master,
            _guard,
        }
    }

    /// Connects the sandbox portal; returns the connector's JSON.
    pub async fn connect(&self) -> Value {
        let (status, body) = parts(
            self.post(
                "/api/crm/hubspot/connectors",
                json!({"accessToken": self.sb.access_token()}),
            )
            .send()
            .await
            .expect("connect"),
        )
        .await;
        assert_eq!(status, 201, "connect: {body}");
        body
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

    /// Waits until no job is queued or running (30 s at most).
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut quiet = 0;
        loop {
            let busy = self.busy_jobs().await;
            if busy == 0 {
                quiet += 1;
                if quiet >= 3 {
                    return;
                }
            } else {
                quiet = 0;
            }
            assert!(
                Instant::now() < deadline,
                "jobs did not settle ({busy} busy)"
            );
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }

    pub async fn busy_jobs(&self) -> usize {
        let mut n = 0;
        for s in [JobState::Queued, JobState::Running] {
            n += self
                .store
                .list_jobs(self.workspace_id, Some(s), 1000)
                .await
                .expect("list jobs")
                .len();
        }
        n
    }

    pub async fn sandbox(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sb.url()))
            .bearer_auth(self.sb.access_token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        parts(req.send().await.expect("sandbox request")).await
    }

    /// A contact's current properties, as a HubSpot user sees them.
    pub async fn contact(&self, id: &str) -> Value {
        let (s, v) = self
            .sandbox(
                reqwest::Method::GET,
                &format!("/_sandbox/objects/contacts/{id}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "contact {id}: {v}");
        v["properties"].clone()
    }

    /// Edits a contact "as a HubSpot user".
    pub async fn edit_contact(&self, id: &str, props: Value) {
        let (s, v) = self
            .sandbox(
                reqwest::Method::PATCH,
                &format!("/_sandbox/objects/contacts/{id}"),
                Some(json!({ "properties": props })),
            )
            .await;
        assert_eq!(s, 200, "edit contact {id}: {v}");
    }

    /// Creates a contact through HubSpot's API (as another integration would).
    pub async fn hubspot_contact(&self, props: Value) -> String {
        let r = self
            .http
            .post(format!("{}/crm/v3/objects/contacts", self.sb.url()))
            .bearer_auth(self.sb.access_token())
            .json(&json!({ "properties": props }))
            .send()
            .await
            .expect("create contact");
        let (s, v) = parts(r).await;
        assert_eq!(s, 201, "create contact: {v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// Calls of one "METHOD /path/template" the sandbox has answered.
    pub fn calls(&self, key: &str) -> u64 {
        self.sb
            .control()
            .stats
            .snapshot()
            .requests
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_stats(&self) {
        self.sb.control().stats.reset();
    }

    pub async fn faults(&self, settings: Value) {
        let (s, v) = self
            .sandbox(reqwest::Method::PUT, "/_sandbox/faults", Some(settings))
            .await;
        assert_eq!(s, 200, "faults: {v}");
    }

    /// `GET /api/customers/{id}/crm`.
    pub async fn crm(&self, customer: &str) -> Value {
        let (s, v) = parts(
            self.get(&format!("/api/customers/{customer}/crm"))
                .send()
                .await
                .expect("crm"),
        )
        .await;
        assert_eq!(s, 200, "crm: {v}");
        v
    }

    /// The customer's linked contact id (after settling).
    pub async fn contact_id(&self, customer: &str) -> String {
        self.crm(customer).await["hubspotId"]
            .as_str()
            .unwrap_or_else(|| panic!("customer {customer} is not linked"))
            .to_string()
    }

    pub async fn customer(&self, id: &str) -> Value {
        let (s, v) = parts(
            self.get(&format!("/api/customers/{id}"))
                .send()
                .await
                .expect("customer"),
        )
        .await;
        assert_eq!(s, 200, "customer: {v}");
        v
    }

    /// `PATCH /api/customers/{id}`.
    pub async fn edit_customer(&self, id: &str, body: Value) -> Value {
        let (s, v) = parts(
            self.patch(&format!("/api/customers/{id}"), body)
                .send()
                .await
                .expect("edit"),
        )
        .await;
        assert_eq!(s, 200, "edit customer: {v}");
        v
    }

    /// Sync Now; returns status and body.
    pub async fn sync_now(&self, customer: &str, connector: Uuid) -> (u16, Value) {
        parts(
            self.post(
                "/api/crm/hubspot/sync",
                json!({"customerId": customer, "connectorId": connector}),
            )
            .send()
            .await
            .expect("sync now"),
        )
        .await
    }

    /// Live contacts in the sandbox portal.
    pub fn contact_count(&self) -> usize {
        self.sb.contact_count()
    }
}

impl SyncApp {
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

    pub async fn set_policy(&self, connector: Uuid, policy: &str) {
        let (s, v) = parts(
            self.patch(
                &format!("/api/crm/hubspot/connectors/{connector}"),
                json!({ "conflictPolicy": policy }),
            )
            .send()
            .await
            .expect("policy"),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
}
