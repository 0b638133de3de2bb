//! `BatchEnv`: a running service whose HubSpot is an in-process sandbox with
//! HubSpot's rate limits on, plus the `AppState` the service runs with (so tests
//! can start runs with test hooks) and helpers to seed both sides and compare them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use keva_server::batch::{self, BatchSettings};
use keva_server::{auth, AppState, ServerConfig};
use keva_store::testing::TempGuard;
use keva_store::{Backend, BatchRun, NewCustomer};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{parts, TestApp};
use crate::sync_harness::fast_settings;

pub const BATCH_READ: &str = "POST /crm/v3/objects/contacts/batch/read";
pub const BATCH_CREATE: &str = "POST /crm/v3/objects/contacts/batch/create";
pub const BATCH_UPDATE: &str = "POST /crm/v3/objects/contacts/batch/update";

pub struct BatchEnv {
    pub app: TestApp,
    pub sb: RunningSandbox,
    pub state: AppState,
    pub connector_id: Uuid,
    pub http: reqwest::Client,
    _guard: Option<TempGuard>,
}

/// Declares `sqlite` and `postgres` variants of `case(env: BatchEnv)`.
#[macro_export]
macro_rules! batch_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::batch_support::BatchEnv::spawn(keva_store::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::batch_support::BatchEnv::spawn(keva_store::Backend::Postgres).await).await
                }
            )*
        }
    };
}

/// Settings for tests: quick retries and rechecks.
pub fn test_settings() -> BatchSettings {
    BatchSettings {
        heartbeat: Duration::from_millis(200),
        daily_recheck: Some(Duration::from_millis(300)),
        retry_base: Duration::from_millis(100),
        ..BatchSettings::default()
    }
}

impl BatchEnv {
    pub async fn spawn(backend: Backend) -> BatchEnv {
        let sb = start(SandboxConfig::default())
            .await
            .expect("sandbox starts");
        let (store, guard) = match backend {
            Backend::Sqlite => {
                let (s, g) = keva_store::testing::sqlite_store().await;
                (s, Some(g))
            }
            Backend::Postgres => (keva_store::testing::postgres_store().await, None),
        };
        let (workspace_id, key) = auth::create_api_key(&store, "acme").await.expect("key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = AppState::new(store.clone(), ServerConfig::new(addr, sb.url()))
            .with_sync_settings(fast_settings());
        let shutdown = CancellationToken::new();
        tokio::spawn(keva_server::serve(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        let app = TestApp::from_parts(
            format!("http://{addr}"),
            store,
            key.plaintext,
            workspace_id,
            shutdown,
        );
        let (status, body) = parts(
            app.post(
                "/api/crm/hubspot/connectors",
                json!({"accessToken": sb.access_token()}),
            )
            .send()
            .await
            .expect("connect"),
        )
        .await;
        assert_eq!(status, 201, "connect: {body}");
        let connector_id = body["id"].as_str().expect("id").parse().expect("uuid");
        BatchEnv {
            app,
            sb,
            state,
            connector_id,
            http: crate::harness::test_client(),
            _guard: guard,
        }
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

    pub async fn reset_stats(&self) {
        let (s, _) = self
            .sandbox(reqwest::Method::POST, "/_sandbox/stats/reset", None)
            .await;
        assert_eq!(s, 204);
    }

    pub async fn stats(&self) -> Value {
        self.sandbox(reqwest::Method::GET, "/_sandbox/stats", None)
            .await
            .1
    }

    pub async fn set_limits(&self, limits: Value) {
        let (s, b) = self
            .sandbox(reqwest::Method::PUT, "/_sandbox/ratelimits", Some(limits))
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// `n` customers `{prefix}{i}@example.com` named "Given{i} Family{i}", in
    /// creation (= id) order.
    pub async fn seed_customers(&self, prefix: &str, n: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let c = self
                .app
                .store
                .insert_customer(
                    self.app.workspace_id,
                    NewCustomer {
                        email: format!("{prefix}{i}@example.com"),
                        name: Some(format!("Given{i} Family{i}")),
                        company: Some("Acme".into()),
                        ..NewCustomer::default()
                    },
                )
                .await
                .expect("insert customer");
            ids.push(c.id);
        }
        ids
    }

    /// Contacts created in the sandbox directly (as if they pre-existed).
    pub async fn seed_contacts(&self, contacts: Vec<Value>) {
        for chunk in contacts.chunks(100) {
            let inputs: Vec<Value> = chunk.iter().map(|p| json!({"properties": p})).collect();
            let (s, b) = self
                .sandbox(
                    reqwest::Method::POST,
                    "/crm/v3/objects/contacts/batch/create",
                    Some(json!({"inputs": inputs})),
                )
                .await;
            assert!(s == 201 || s == 200, "seed contacts: {s} {b}");
        }
    }

    /// Starts a run with `settings` (hooks included) in the service's state.
    pub async fn start(&self, settings: BatchSettings) -> (BatchRun, tokio::task::JoinHandle<()>) {
        batch::start(
            &self.state,
            self.app.workspace_id,
            self.connector_id,
            Arc::new(settings),
        )
        .await
        .expect("start batch")
    }

    pub async fn progress(&self, id: Uuid) -> Value {
        let (s, b) = parts(
            self.app
                .get(&format!("/api/crm/hubspot/batch-sync/{id}"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// Polls until the run is in one of `states` (60 s at most).
    pub async fn wait_state(&self, id: Uuid, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let p = self.progress(id).await;
            if states.contains(&p["state"].as_str().unwrap_or_default()) {
                return p;
            }
            assert!(Instant::now() < deadline, "batch stuck: {p}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every live contact of the sandbox portal, by lower-cased email.
    pub async fn contacts_by_email(&self) -> std::collections::HashMap<String, Value> {
        let mut out = std::collections::HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let mut path =
                "/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname,company"
                    .to_string();
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let (s, b) = self.sandbox(reqwest::Method::GET, &path, None).await;
            assert_eq!(s, 200, "{b}");
            for c in b["results"].as_array().expect("results") {
                let email = c["properties"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                assert!(
                    out.insert(email.clone(), c.clone()).is_none(),
                    "duplicate contact for {email}"
                );
            }
            match b["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => return out,
            }
        }
    }

    /// Asserts every customer with a valid email is linked to the contact with its
    /// email and that both hold the same name and company.
    pub async fn assert_sides_equal(&self, skip: &[Uuid]) {
        let contacts = self.contacts_by_email().await;
        let mut after = None;
        loop {
            let rows = self
                .app
                .store
                .customers_for_batch(self.app.workspace_id, self.connector_id, after, 500)
                .await
                .expect("customers");
            let Some(last) = rows.last() else { return };
            after = Some(last.0.id);
            for (c, link, _) in &rows {
                if skip.contains(&c.id) {
                    continue;
                }
                let contact = contacts
                    .get(&c.email.to_lowercase())
                    .unwrap_or_else(|| panic!("no contact for {}", c.email));
                let link = link.as_ref().expect("linked");
                assert_eq!(
                    link.hubspot_id.as_deref(),
                    contact["id"].as_str(),
                    "{}",
                    c.email
                );
                let p = &contact["properties"];
                let name = [p["firstname"].as_str(), p["lastname"].as_str()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                assert_eq!(c.name.as_deref().unwrap_or_default(), name, "{}", c.email);
                assert_eq!(c.company.as_deref(), p["company"].as_str(), "{}", c.email);
            }
        }
    }
}

/// The number of requests to `route` in a stats snapshot.
pub fn calls(stats: &Value, route: &str) -> u64 {
    stats["requests"][route].as_u64().unwrap_or(0)
}
