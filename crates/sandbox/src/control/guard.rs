//! The middleware in front of every HubSpot API route: count, inject faults,
//! authenticate, rate-limit, and add the `X-HubSpot-RateLimit-*` headers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{AuthFailure, TokenKind};
use super::faults::Injected;
use super::ratelimit::{Budget, Decision, Policy, RequestKey};
use super::Control;
use crate::error::ErrorResponse;

/// Applied with `route_layer(from_fn_with_state(control, hubspot_api_guard))`, so
/// that `MatchedPath` is known. On success the handler finds an `AuthContext`
/// among the request extensions.
pub async fn hubspot_api_guard(
    State(control): State<Arc<Control>>,
    mut req: Request,
    next: Next,
) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    control
        .stats
        .record(&format!("{} {}", req.method(), template));
    let is_search = template.ends_with("/search");

    let (latency_ms, fault) = control.faults.draw();
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    if fault == Some(Injected::Drop) {
        control.stats.record_fault();
        return dropped_connection();
    }

    let auth = match bearer(req.headers()) {
        None => Err(AuthFailure::Missing),
        Some(token) => control.tokens.authenticate(token),
    };
    let auth = match auth {
        Ok(a) => a,
        Err(f) => return unauthorized(f),
    };

    let decision = control.limiter.check(RequestKey {
        app_id: auth.context.app_id,
        portal_id: auth.context.portal_id,
        daily_applies: auth.kind == TokenKind::PrivateApp,
        is_search,
    });
    let budget = match decision {
        Decision::Unlimited => None,
        Decision::Allowed(b) => Some(b),
        Decision::Limited(policy, b) => {
            control.stats.record_rate_limited();
            let mut resp = too_many_requests(policy);
            if !is_search {
                add_rate_headers(resp.headers_mut(), &b);
            }
            return resp;
        }
    };

    if let Some(Injected::Status(status)) = fault {
        control.stats.record_fault();
        if status == StatusCode::TOO_MANY_REQUESTS {
            control.stats.record_rate_limited();
        }
        return injected(status);
    }

    req.extensions_mut().insert(auth.context);
    let mut resp = next.run(req).await;
    if let (Some(b), false) = (budget, is_search) {
        add_rate_headers(resp.headers_mut(), &b);
    }
    resp
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// HubSpot's 401s, all with category `INVALID_AUTHENTICATION`.
fn unauthorized(failure: AuthFailure) -> Response {
    let message = match failure {
        AuthFailure::Missing => "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".to_string(),
        AuthFailure::Unknown => "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".to_string(),
        AuthFailure::Expired { ago_ms } => format!(
            "The OAuth token used to make this call expired {} minute(s) ago.",
            ago_ms / 60_000
        ),
    };
    ErrorResponse::new(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message).into_response()
}

/// HubSpot's 429 body: `errorType`, `policyName` and `requestId` next to the usual fields.
pub(crate) fn too_many_requests(policy: Policy) -> Response {
    ErrorResponse::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITS",
        policy.message(),
    )
    .extra("errorType", "RATE_LIMIT")
    .extra("policyName", policy.name())
    .extra("requestId", uuid::Uuid::new_v4().to_string())
    .into_response()
}

fn add_rate_headers(headers: &mut HeaderMap, b: &Budget) {
    let mut set = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(name, v);
        }
    };
    set("x-hubspot-ratelimit-max", b.max.to_string());
    set("x-hubspot-ratelimit-remaining", b.remaining.to_string());
    set(
        "x-hubspot-ratelimit-interval-milliseconds",
        b.interval_ms.to_string(),
    );
    if let Some((limit, remaining)) = b.daily {
        set("x-hubspot-ratelimit-daily", limit.to_string());
        set("x-hubspot-ratelimit-daily-remaining", remaining.to_string());
    }
}

fn injected(status: StatusCode) -> Response {
    match status {
        StatusCode::TOO_MANY_REQUESTS => too_many_requests(Policy::TenSecondlyRolling),
        StatusCode::CONFLICT => ErrorResponse::new(
            status,
            "CONFLICT",
            "The request conflicts with the current state of the target resource. Please retry.",
        )
        .into_response(),
        StatusCode::BAD_GATEWAY => ErrorResponse::new(
            status,
            "BAD_GATEWAY",
            "The upstream service did not respond in time. Please retry.",
        )
        .into_response(),
        StatusCode::SERVICE_UNAVAILABLE => ErrorResponse::new(
            status,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable. Please retry.",
        )
        .into_response(),
        _ => ErrorResponse::new(
            status,
            "INTERNAL_ERROR",
            "An internal error occurred. Please retry.",
        )
        .into_response(),
    }
}

/// A response whose body fails at once: hyper aborts the connection, so the
/// client sees the connection drop instead of a complete answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox fault injection: connection dropped",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(failing))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
