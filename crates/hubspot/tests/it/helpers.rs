//! Starting a sandbox and a client pointed at it.

use std::collections::BTreeMap;
use std::time::Duration;

use keva_hubspot::models::ObjectCreate;
use keva_hubspot::{BatchReadOptions, Credentials, HubspotClient, RateLimitConfig, RetryConfig};
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;

pub struct Env {
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
}

/// A sandbox without rate limits (functional tests).
pub async fn unlimited() -> Env {
    with_control(ControlConfig::without_rate_limits()).await
}

pub async fn with_control(control: ControlConfig) -> Env {
    let sandbox = start(SandboxConfig {
        control,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    Env {
        sandbox,
        http: reqwest::Client::new(),
    }
}

/// A budget so large the client never waits (the sandbox has no limits).
pub fn no_client_limits() -> RateLimitConfig {
    RateLimitConfig {
        max: 1_000_000,
        search_per_second: 1_000_000,
        ..RateLimitConfig::default()
    }
}

/// Short waits so fault tests finish quickly.
pub fn fast_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 12,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_millis(200),
    }
}

impl Env {
    pub fn url(&self) -> String {
        self.sandbox.url()
    }

    /// A private-app client for the default portal.
    pub fn client(&self) -> HubspotClient {
        self.client_with(no_client_limits(), fast_retries())
    }

    pub fn client_with(&self, limits: RateLimitConfig, retry: RetryConfig) -> HubspotClient {
        HubspotClient::builder(Credentials::PrivateApp(SecretString::from(
            self.sandbox.access_token().to_string(),
        )))
        .base_url(self.url())
        .portal_id(self.sandbox.portal_id())
        .rate_limit(limits)
        .retry(retry)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client builds")
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, format!("{}{}", self.url(), path))
            .json(&body)
            .send()
            .await
            .expect("admin call");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn seed_contacts(&self, n: usize) {
        self.admin(
            reqwest::Method::POST,
            "/_sandbox/seed",
            serde_json::json!({ "contacts": n }),
        )
        .await;
    }

    pub async fn faults(&self, body: Value) {
        self.admin(reqwest::Method::PUT, "/_sandbox/faults", body)
            .await;
    }

    pub async fn stats(&self) -> Value {
        self.admin(reqwest::Method::GET, "/_sandbox/stats", Value::Null)
            .await
    }
}

pub fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn contact(email: &str, first: &str) -> ObjectCreate {
    ObjectCreate::new(props(&[("email", email), ("firstname", first)]))
}

/// Batch-read options that look contacts up by email and return just the email.
pub fn read_emails_by_email() -> BatchReadOptions {
    BatchReadOptions {
        properties: vec!["email".into()],
        id_property: Some("email".into()),
        ..BatchReadOptions::default()
    }
}
