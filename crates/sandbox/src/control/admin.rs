//! The control plane's `/_sandbox/` endpoints (never HubSpot paths): stats, faults,
//! rate limits, the webhook shortcut, extra apps, the scopes an app or portal can
//! grant, and uninstalls "by the user" (which revoke the app's tokens).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::FaultSettings;
use super::ratelimit::RateLimitSettings;
use super::webhooks::CONTACT_EVENT_TYPES;
use super::Control;
use crate::error::ErrorResponse;

pub fn router() -> Router<Arc<Control>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/faults", get(get_faults).put(put_faults))
        .route("/_sandbox/ratelimits", get(get_limits).put(put_limits))
        .route("/_sandbox/webhooks", get(get_webhooks).put(put_webhooks))
        .route("/_sandbox/apps", get(list_apps).post(create_app))
        .route("/_sandbox/apps/{appId}/scopes", put(put_app_scopes))
        .route(
            "/_sandbox/apps/{appId}/installs/{portalId}",
            delete(uninstall_app),
        )
        .route(
            "/_sandbox/portals/{portalId}/scopes",
            put(put_portal_scopes),
        )
}

/// Parses a JSON body (empty means `{}`); the error is a ready 400 response,
/// boxed because responses are large.
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Box<Response>> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        Box::new(ErrorResponse::validation(format!("Invalid input JSON: {e}")).into_response())
    })
}

async fn stats(State(c): State<Arc<Control>>) -> Response {
    Json(c.stats.snapshot()).into_response()
}

async fn reset_stats(State(c): State<Arc<Control>>) -> Response {
    c.stats.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(c): State<Arc<Control>>) -> Response {
    Json(c.faults.settings()).into_response()
}

async fn put_faults(State(c): State<Arc<Control>>, body: Bytes) -> Response {
    let settings: FaultSettings = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match c.faults.set(settings) {
        Ok(()) => Json(c.faults.settings()).into_response(),
        Err(e) => ErrorResponse::validation(e).into_response(),
    }
}

async fn get_limits(State(c): State<Arc<Control>>) -> Response {
    Json(c.limiter.settings()).into_response()
}

/// Fields left out keep their current value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitsChange {
    enabled: Option<bool>,
    ten_second: Option<u32>,
    interval_ms: Option<u64>,
    daily: Option<u64>,
    search_per_second: Option<u32>,
}

async fn put_limits(State(c): State<Arc<Control>>, body: Bytes) -> Response {
    let ch: LimitsChange = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let cur = c.limiter.settings();
    let next = RateLimitSettings {
        enabled: ch.enabled.unwrap_or(cur.enabled),
        ten_second: ch.ten_second.unwrap_or(cur.ten_second),
        interval_ms: ch.interval_ms.unwrap_or(cur.interval_ms).max(1),
        daily: ch.daily.unwrap_or(cur.daily),
        search_per_second: ch.search_per_second.unwrap_or(cur.search_per_second),
    };
    c.limiter.set_settings(next);
    // New limits start from empty windows, so a test sees exactly what it set.
    c.limiter.reset();
    Json(next).into_response()
}

fn webhooks_view(c: &Control) -> Value {
    let default_app = c.tokens.default_app_id();
    let apps: Vec<Value> = c
        .webhooks
        .all_settings()
        .into_iter()
        .map(|(app_id, s)| {
            json!({
                "appId": app_id,
                "targetUrl": s.target_url,
                "throttling": s.throttling,
                "subscriptions": c.webhooks.subscriptions(app_id).len(),
            })
        })
        .collect();
    let opts = c.webhooks.options();
    let counters = c.webhooks.counters();
    json!({
        "appId": default_app,
        "targetUrl": c.webhooks.settings(default_app).map(|s| s.target_url),
        "duplicateRate": opts.duplicate_rate,
        "reorder": opts.reorder,
        "maxRetries": opts.max_retries,
        "retryBaseMs": opts.retry_base_ms,
        "timeoutMs": opts.timeout_ms,
        "lingerMs": opts.linger_ms,
        "maxBatch": opts.max_batch,
        "apps": apps,
        "matched": counters.matched,
        "delivered": counters.delivered,
        "failed": counters.failed,
        "pending": counters.pending,
        "attempts": counters.attempts,
        "retries": counters.retries,
        "duplicates": counters.duplicates,
        "batchesDelivered": counters.batches_delivered,
    })
}

async fn get_webhooks(State(c): State<Arc<Control>>) -> Response {
    Json(webhooks_view(&c)).into_response()
}

/// The sandbox shortcut: point an app (default: the default app) at a URL,
/// optionally choose its client secret (the signing key), tune delivery, and
/// subscribe it to every contact event.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhooksChange {
    target_url: Option<String>,
    app_id: Option<u64>,
    client_secret: Option<String>,
    duplicate_rate: Option<f64>,
    reorder: Option<bool>,
    max_retries: Option<u32>,
    retry_base_ms: Option<u64>,
    timeout_ms: Option<u64>,
    linger_ms: Option<u64>,
    max_batch: Option<usize>,
    max_concurrent_requests: Option<u32>,
    sign_raw_uri: Option<bool>,
    /// Subscription types to turn on instead of the contact ones (e.g. the
    /// `company.*` and `deal.*` events a CRM-context integration listens to).
    event_types: Option<Vec<String>>,
}

async fn put_webhooks(State(c): State<Arc<Control>>, body: Bytes) -> Response {
    let ch: WebhooksChange = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let app_id = ch.app_id.unwrap_or_else(|| c.tokens.default_app_id());
    if c.tokens.app(app_id).is_none() {
        return ErrorResponse::not_found(format!("App {app_id} not found")).into_response();
    }
    if let Some(rate) = ch.duplicate_rate {
        if !(0.0..=1.0).contains(&rate) {
            return ErrorResponse::validation("duplicateRate must be between 0 and 1")
                .into_response();
        }
    }
    if let Some(url) = &ch.target_url {
        if reqwest::Url::parse(url).is_err() {
            return ErrorResponse::validation("targetUrl must be a valid URL").into_response();
        }
    }
    if let Some(secret) = ch.client_secret.filter(|s| !s.is_empty()) {
        c.tokens.set_client_secret(app_id, secret);
    }
    let mut opts = c.webhooks.options();
    opts.duplicate_rate = ch.duplicate_rate.unwrap_or(opts.duplicate_rate);
    opts.reorder = ch.reorder.unwrap_or(opts.reorder);
    opts.max_retries = ch.max_retries.unwrap_or(opts.max_retries);
    opts.retry_base_ms = ch.retry_base_ms.unwrap_or(opts.retry_base_ms);
    opts.timeout_ms = ch.timeout_ms.unwrap_or(opts.timeout_ms);
    opts.linger_ms = ch.linger_ms.unwrap_or(opts.linger_ms);
    opts.max_batch = ch.max_batch.unwrap_or(opts.max_batch).clamp(1, 100);
    opts.sign_raw_uri = ch.sign_raw_uri.unwrap_or(opts.sign_raw_uri);
    c.webhooks.set_options(opts);
    if let Some(url) = ch.target_url {
        let mut throttling = c
            .webhooks
            .settings(app_id)
            .map(|s| s.throttling)
            .unwrap_or_default();
        if let Some(n) = ch.max_concurrent_requests {
            throttling.max_concurrent_requests = n.max(1);
        }
        c.webhooks.set_settings(app_id, url, throttling);
        match &ch.event_types {
            Some(types) => {
                let types: Vec<&str> = types.iter().map(String::as_str).collect();
                c.webhooks.subscribe_all(app_id, &types);
            }
            None => {
                c.webhooks.subscribe_all(app_id, CONTACT_EVENT_TYPES);
            }
        }
    }
    Json(webhooks_view(&c)).into_response()
}

async fn list_apps(State(c): State<Arc<Control>>) -> Response {
    let apps: Vec<Value> = c
        .tokens
        .apps()
        .into_iter()
        .map(|a| {
            json!({
                "appId": a.credentials.app_id,
                "clientId": a.credentials.client_id,
                "name": a.name,
                "redirectUris": a.redirect_uris,
                "installedPortals": a.installed_portals,
                "grantableScopes": a.grantable_scopes,
            })
        })
        .collect();
    Json(json!({ "results": apps })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppCreate {
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Portals to install the app on right away (skipping the consent page).
    #[serde(default)]
    install_on: Vec<u64>,
    /// The only scopes the app can be granted (default: any).
    #[serde(default)]
    grantable_scopes: Option<Vec<String>>,
}

async fn create_app(State(c): State<Arc<Control>>, body: Bytes) -> Response {
    let req: AppCreate = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let name = req.name.unwrap_or_else(|| "Sandbox app".to_string());
    let creds = c.tokens.register_app(name, req.redirect_uris);
    if req.grantable_scopes.is_some() {
        c.tokens.set_app_scopes(creds.app_id, req.grantable_scopes);
    }
    for portal in &req.install_on {
        c.tokens.install_app(creds.app_id, *portal);
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "appId": creds.app_id,
            "clientId": creds.client_id,
            "clientSecret": creds.client_secret,
        })),
    )
        .into_response()
}

/// `{"scopes": [...]}` restricts what can be granted; `{"scopes": null}` lifts it.
#[derive(Deserialize)]
struct ScopesChange {
    scopes: Option<Vec<String>>,
}

async fn put_app_scopes(
    State(c): State<Arc<Control>>,
    Path(app_id): Path<u64>,
    body: Bytes,
) -> Response {
    let ch: ScopesChange = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !c.tokens.set_app_scopes(app_id, ch.scopes.clone()) {
        return ErrorResponse::not_found(format!("App {app_id} not found")).into_response();
    }
    Json(json!({ "appId": app_id, "grantableScopes": ch.scopes })).into_response()
}

async fn put_portal_scopes(
    State(c): State<Arc<Control>>,
    Path(portal_id): Path<u64>,
    body: Bytes,
) -> Response {
    let ch: ScopesChange = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !c.tokens.portals().contains(&portal_id) {
        return ErrorResponse::not_found(format!("No portal {portal_id} in this sandbox"))
            .into_response();
    }
    c.tokens.set_portal_scopes(portal_id, ch.scopes);
    Json(json!({
        "portalId": portal_id,
        "grantableScopes": c.tokens.portal_scopes(portal_id),
    }))
    .into_response()
}

/// The user uninstalls the app from the portal in HubSpot: its refresh tokens are
/// revoked (the next refresh gets `BAD_REFRESH_TOKEN`) and its access tokens die.
async fn uninstall_app(
    State(c): State<Arc<Control>>,
    Path((app_id, portal_id)): Path<(u64, u64)>,
) -> Response {
    match c.tokens.uninstall(app_id, portal_id) {
        Some(revoked) => Json(json!({
            "appId": app_id,
            "portalId": portal_id,
            "revokedRefreshTokens": revoked,
        }))
        .into_response(),
        None => ErrorResponse::not_found(format!("App {app_id} not found")).into_response(),
    }
}
