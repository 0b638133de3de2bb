//! Batch sync helpers: a `TestApp` whose sandbox has HubSpot's rate limits on, and
//! helpers to seed both sides, start and follow runs, and compare the sides.

use std::sync::Arc;
use std::time::Duration;

use keva_sandbox::server::SandboxConfig;
use keva_server::batch::{self, BatchSettings};
use keva_store::{Backend, BatchRun, NewCustomer};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{eventually, TestApp};

pub const BATCH_READ: &str = "POST /crm/v3/objects/contacts/batch/read";
pub const BATCH_CREATE: &str = "POST /crm/v3/objects/contacts/batch/create";
pub const BATCH_UPDATE: &str = "POST /crm/v3/objects/contacts/batch/update";

/// Settings for tests: quick retries and rechecks.
pub fn test_settings() -> BatchSettings {
    BatchSettings {
        heartbeat: Duration::from_millis(200),
        daily_recheck: Some(Duration::from_millis(300)),
        retry_base: Duration::from_millis(100),
        ..BatchSettings::default()
    }
}

/// Fixture for `backend_tests!(with = …)`: a service whose sandbox has HubSpot's
/// rate limits on, with the portal connected.
pub async fn batch_env(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .sandbox_config(SandboxConfig::default())
        .connected()
        .build()
        .await
}

/// Batch-specific helpers (seeding both sides, runs, comparing the sides).
impl TestApp {
    pub async fn stats(&self) -> Value {
        self.sandbox(Method::GET, "/_sandbox/stats", None).await.1
    }

    pub async fn set_limits(&self, limits: Value) {
        self.sandbox_ok(Method::PUT, "/_sandbox/ratelimits", Some(limits), 200)
            .await;
    }

    /// `n` customers `{prefix}{i}@example.com` named "Given{i} Family{i}", in
    /// creation (= id) order.
    pub async fn seed_customers(&self, prefix: &str, n: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let c = self
                .store
                .insert_customer(
                    self.workspace_id,
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
                    Method::POST,
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
            self.workspace_id,
            self.connector_id(),
            Arc::new(settings),
        )
        .await
        .expect("start batch")
    }

    pub async fn progress(&self, id: Uuid) -> Value {
        let path = format!("/api/crm/hubspot/batch-sync/{id}");
        self.expect(self.get(&path), 200, "batch progress").await
    }

    /// Polls until the run is in one of `states` (60 s at most).
    pub async fn wait_state(&self, id: Uuid, states: &[&str]) -> Value {
        let what = format!("batch {id} to be one of {states:?}");
        eventually(60, &what, || async {
            let p = self.progress(id).await;
            states
                .contains(&p["state"].as_str().unwrap_or_default())
                .then_some(p)
        })
        .await
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
            let (s, b) = self.sandbox(Method::GET, &path, None).await;
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
                .store
                .customers_for_batch(self.workspace_id, self.connector_id(), after, 500)
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
                let name = keva_core::name::join(
                    p["firstname"].as_str().unwrap_or_default(),
                    p["lastname"].as_str().unwrap_or_default(),
                );
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
