//! A sandbox per test and a small JSON HTTP helper.

use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, RunningSandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub struct Env {
    pub sb: RunningSandbox,
    pub http: reqwest::Client,
}

pub async fn env() -> Env {
    env_with(0).await
}

/// A sandbox with rate limits off, seeded with `contacts` contacts.
pub async fn env_with(contacts: usize) -> Env {
    let config = SandboxConfig {
        seed_contacts: contacts,
        control: ControlConfig::without_rate_limits(),
        ..Default::default()
    };
    let sb = start(config).await.expect("sandbox starts");
    Env {
        sb,
        http: reqwest::Client::new(),
    }
}

impl Env {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(self.sb.access_token(), method, path, body)
            .await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.sb.url(), path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a contact and returns its id.
    pub async fn contact(&self, email: &str, first: &str) -> String {
        let (s, v) = self
            .post(
                "/crm/v3/objects/contacts",
                json!({"properties": {"email": email, "firstname": first}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn company(&self, name: &str) -> String {
        let (s, v) = self
            .post(
                "/crm/v3/objects/companies",
                json!({"properties": {"name": name}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }
}

/// Asserts HubSpot's error envelope and returns it.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, category: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["category"], category, "{body}");
    assert!(body["message"].is_string(), "{body}");
    let cid = body["correlationId"].as_str().unwrap_or_default();
    assert_eq!(cid.len(), 36, "correlationId is a uuid: {body}");
}

/// The `id`s of a list response's `results`, in order.
pub fn result_ids(v: &Value) -> Vec<&str> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}
