//! HubSpot-shaped error responses, shared by the data and control planes.
//!
//! Every error HubSpot returns carries `status: "error"`, `message`, a fresh
//! `correlationId` and a `category`; some add `subCategory`, `context`, `errors[]`
//! or extra top-level fields (`"error": "CONTACT_EXISTS"`, `policyName`). Clients
//! parse these bodies (e.g. the existing id out of a 409), so their shape matters.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// A HubSpot-shaped error response: the body and its HTTP status. The rarely used parts are boxed so
/// that `Result<_, ErrorResponse>` stays small on the happy path.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub category: String,
    pub message: String,
    pub details: Box<ErrorDetails>,
}

/// The optional parts of an error body.
#[derive(Debug, Clone, Default)]
pub struct ErrorDetails {
    pub sub_category: Option<String>,
    pub context: Option<Map<String, Value>>,
    pub errors: Vec<Value>,
    /// Extra top-level fields, e.g. `"error": "CONTACT_EXISTS"` or `"policyName"`.
    pub extra: Map<String, Value>,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, category: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            category: category.to_string(),
            message: message.into(),
            details: Box::default(),
        }
    }

    /// 400 `VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 `OBJECT_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub fn sub_category(mut self, sub_category: impl Into<String>) -> Self {
        self.details.sub_category = Some(sub_category.into());
        self
    }

    /// Adds `context[key] = values` (HubSpot's context maps hold string lists).
    pub fn context(mut self, key: &str, values: Vec<String>) -> Self {
        let ctx = self.details.context.get_or_insert_with(Map::new);
        ctx.insert(
            key.to_string(),
            Value::Array(values.into_iter().map(Value::String).collect()),
        );
        self
    }

    pub fn error_detail(mut self, detail: Value) -> Self {
        self.details.errors.push(detail);
        self
    }

    pub fn extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.extra.insert(key.to_string(), value.into());
        self
    }

    /// The JSON body, with a new correlation id.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), Value::String("error".into()));
        body.insert("message".into(), Value::String(self.message.clone()));
        body.insert(
            "correlationId".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        body.insert("category".into(), Value::String(self.category.clone()));
        if let Some(sub) = &self.details.sub_category {
            body.insert("subCategory".into(), Value::String(sub.clone()));
        }
        if let Some(ctx) = &self.details.context {
            body.insert("context".into(), Value::Object(ctx.clone()));
        }
        if !self.details.errors.is_empty() {
            body.insert("errors".into(), Value::Array(self.details.errors.clone()));
        }
        for (k, v) in &self.details.extra {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.category,
            self.message
        )
    }
}

impl std::error::Error for ErrorResponse {}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let body = self.body();
        let correlation = body
            .get("correlationId")
            .and_then(Value::as_str)
            .and_then(|c| HeaderValue::from_str(c).ok());
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(c) = correlation {
            response.headers_mut().insert("x-hubspot-correlation-id", c);
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
        response
    }
}

/// A plain HubSpot error response: `{"status":"error","message","correlationId","category"}`.
pub fn error_response(status: StatusCode, category: &str, message: impl Into<String>) -> Response {
    ErrorResponse::new(status, category, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_hubspot_fields_and_extras() {
        let err = ErrorResponse::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            "Contact already exists. Existing ID: 7",
        )
        .extra("error", "CONTACT_EXISTS")
        .context("ids", vec!["7".into()]);
        let body = err.body();
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "CONFLICT");
        assert_eq!(body["error"], "CONTACT_EXISTS");
        assert_eq!(body["context"]["ids"][0], "7");
        let id = body["correlationId"].as_str().unwrap_or_default();
        assert!(uuid::Uuid::parse_str(id).is_ok());
        assert!(body.get("errors").is_none());
    }

    #[test]
    fn extras_never_override_core_fields() {
        let body = ErrorResponse::validation("bad")
            .extra("status", "ok")
            .body();
        assert_eq!(body["status"], "error");
    }
}
