//! HubSpot's webhooks v3 management API: `/webhooks/v3/{appId}/settings` and
//! `/webhooks/v3/{appId}/subscriptions` (+ `/{subscriptionId}`, `/batch/update`).
//!
//! HubSpot authenticates these with the developer account (hapikey or a developer
//! token), not a portal token; the sandbox has no developer accounts, so it accepts
//! the calls without credentials and only checks that the app exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{is_known_event_type, Subscription, Throttling};
use crate::control::Control;
use crate::error::{error_response, ErrorResponse};

pub fn router() -> Router<Arc<Control>> {
    Router::new()
        .route(
            "/webhooks/v3/{appId}/settings",
            get(get_settings).put(put_settings).delete(delete_settings),
        )
        .route(
            "/webhooks/v3/{appId}/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/webhooks/v3/{appId}/subscriptions/batch/update",
            post(batch_update),
        )
        .route(
            "/webhooks/v3/{appId}/subscriptions/{subscriptionId}",
            get(get_subscription)
                .patch(patch_subscription)
                .delete(delete_subscription),
        )
}

pub(crate) fn subscription_json(s: &Subscription) -> Value {
    let mut v = json!({
        "id": s.id.to_string(),
        "eventType": s.event_type,
        "active": s.active,
        "createdAt": s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if let Some(p) = &s.property_name {
        v["propertyName"] = json!(p);
    }
    if let Some(u) = s.updated_at {
        v["updatedAt"] = json!(u.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    v
}

/// The `Ok` value, or returns the ready error response from the handler: `?` for
/// handlers that answer with a plain `Response`.
macro_rules! or_respond {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(response) => return *response,
        }
    };
}

/// Parses the app id and checks that the app exists. Errors are ready responses,
/// boxed because responses are large.
fn app_id(control: &Control, raw: &str) -> Result<u64, Box<Response>> {
    let id: u64 = raw.parse().map_err(|_| {
        Box::new(ErrorResponse::validation(format!("Invalid app id: {raw}")).into_response())
    })?;
    if control.tokens.app(id).is_none() {
        return Err(Box::new(
            ErrorResponse::not_found(format!("App {id} not found")).into_response(),
        ));
    }
    Ok(id)
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(
            ErrorResponse::validation(format!("Invalid input JSON on line 1: {e}")).into_response(),
        )
    })
}

/// [`app_id`] then [`parse_body`]: the checks every route with a body starts with.
fn app_and_body<T: for<'de> Deserialize<'de>>(
    control: &Control,
    raw_app: &str,
    body: &Bytes,
) -> Result<(u64, T), Box<Response>> {
    let app = app_id(control, raw_app)?;
    Ok((app, parse_body(body)?))
}

async fn get_settings(State(c): State<Arc<Control>>, Path(app): Path<String>) -> Response {
    let app = or_respond!(app_id(&c, &app));
    match c.webhooks.settings(app) {
        Some(s) => Json(s).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("No webhook settings found for app {app}"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SettingsChange {
    target_url: Option<String>,
    throttling: Option<Throttling>,
}

async fn put_settings(
    State(c): State<Arc<Control>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let (app, req): (u64, SettingsChange) = or_respond!(app_and_body(&c, &app, &body));
    let Some(target_url) = req.target_url.filter(|u| reqwest::Url::parse(u).is_ok()) else {
        return ErrorResponse::validation("targetUrl must be a valid URL")
            .context("targetUrl", vec![])
            .into_response();
    };
    let Some(throttling) = req.throttling else {
        return ErrorResponse::validation("throttling is required").into_response();
    };
    if throttling.max_concurrent_requests == 0 {
        return ErrorResponse::validation("throttling.maxConcurrentRequests must be at least 1")
            .into_response();
    }
    Json(c.webhooks.set_settings(app, target_url, throttling)).into_response()
}

async fn delete_settings(State(c): State<Arc<Control>>, Path(app): Path<String>) -> Response {
    match app_id(&c, &app) {
        Ok(app) => {
            c.webhooks.clear_settings(app);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => *r,
    }
}

async fn list_subscriptions(State(c): State<Arc<Control>>, Path(app): Path<String>) -> Response {
    match app_id(&c, &app) {
        Ok(app) => {
            let results: Vec<Value> = c
                .webhooks
                .subscriptions(app)
                .iter()
                .map(subscription_json)
                .collect();
            Json(json!({ "results": results })).into_response()
        }
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionCreate {
    event_type: Option<String>,
    property_name: Option<String>,
    active: Option<bool>,
}

async fn create_subscription(
    State(c): State<Arc<Control>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let (app, req): (u64, SubscriptionCreate) = or_respond!(app_and_body(&c, &app, &body));
    let Some(event_type) = req.event_type.filter(|t| is_known_event_type(t)) else {
        return ErrorResponse::validation("eventType is missing or not a supported event type")
            .into_response();
    };
    if req.property_name.is_some() && !event_type.ends_with(".propertyChange") {
        return ErrorResponse::validation("propertyName is only allowed for propertyChange events")
            .into_response();
    }
    let sub = c.webhooks.create_subscription(
        app,
        event_type,
        req.property_name,
        req.active.unwrap_or(false),
    );
    (StatusCode::CREATED, Json(subscription_json(&sub))).into_response()
}

fn parse_sub_id(raw: &str) -> Option<u64> {
    raw.parse().ok()
}

fn sub_not_found(id: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        format!("Subscription {id} not found"),
    )
}

async fn get_subscription(
    State(c): State<Arc<Control>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let app = or_respond!(app_id(&c, &app));
    match parse_sub_id(&id).and_then(|i| c.webhooks.subscription(app, i)) {
        Some(s) => Json(subscription_json(&s)).into_response(),
        None => sub_not_found(&id),
    }
}

#[derive(Deserialize)]
struct SubscriptionPatch {
    active: Option<bool>,
}

async fn patch_subscription(
    State(c): State<Arc<Control>>,
    Path((app, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (app, req): (u64, SubscriptionPatch) = or_respond!(app_and_body(&c, &app, &body));
    let Some(sid) = parse_sub_id(&id) else {
        return sub_not_found(&id);
    };
    let current = match c.webhooks.subscription(app, sid) {
        Some(s) => s,
        None => return sub_not_found(&id),
    };
    let active = req.active.unwrap_or(current.active);
    match c.webhooks.set_active(app, sid, active) {
        Some(s) => Json(subscription_json(&s)).into_response(),
        None => sub_not_found(&id),
    }
}

async fn delete_subscription(
    State(c): State<Arc<Control>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let app = or_respond!(app_id(&c, &app));
    match parse_sub_id(&id) {
        Some(sid) if c.webhooks.delete_subscription(app, sid) => {
            StatusCode::NO_CONTENT.into_response()
        }
        _ => sub_not_found(&id),
    }
}

#[derive(Deserialize)]
struct BatchUpdate {
    inputs: Vec<BatchUpdateInput>,
}

#[derive(Deserialize)]
struct BatchUpdateInput {
    id: u64,
    active: bool,
}

async fn batch_update(
    State(c): State<Arc<Control>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let (app, req): (u64, BatchUpdate) = or_respond!(app_and_body(&c, &app, &body));
    let started = Utc::now();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in req.inputs {
        match c.webhooks.set_active(app, input.id, input.active) {
            Some(s) => results.push(subscription_json(&s)),
            None => missing.push(input.id.to_string()),
        }
    }
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = json!({
        "status": "COMPLETE",
        "results": results,
        "requestedAt": ts(started),
        "startedAt": ts(started),
        "completedAt": ts(Utc::now()),
    });
    if missing.is_empty() {
        return Json(out).into_response();
    }
    let errors: Vec<Value> = missing
        .iter()
        .map(|id| {
            json!({
                "status": "error",
                "category": "SUBSCRIPTION_ID_NOT_FOUND",
                "message": format!("Failed to find subscriptions by id `{id}`."),
                "context": { "subscriptionIds": [id] },
                "errors": [],
                "links": {},
            })
        })
        .collect();
    out["numErrors"] = json!(errors.len());
    out["errors"] = json!(errors);
    (StatusCode::MULTI_STATUS, Json(out)).into_response()
}
