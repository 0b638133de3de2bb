//! Connecting HubSpot with OAuth 2 (authorization-code grant):
//! `POST /api/crm/hubspot/oauth/authorize` hands out HubSpot's consent URL with a
//! fresh state, and the public `GET /integrations/hubspot/callback` finishes the
//! install (state check, code exchange, granted scopes, connector stored or
//! resumed) and sends the browser back to `returnTo` with the result.
//!
//! The state is 256 random bits, stored only as its SHA-256 (hex), bound to the
//! workspace, valid for ten minutes and consumed atomically by the callback (so a
//! replayed or concurrent callback finds nothing). Every failure stores nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use keva_hubspot::oauth::OAuthApp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::config::{ServerConfig, OAUTH_CALLBACK_PATH};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::sync::connect::{connect_oauth, ConnectError};

/// How long an authorize state stays valid.
pub const STATE_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Where the browser goes after the callback when no `returnTo` was given (the
/// console's HubSpot page).
pub const DEFAULT_RETURN_TO: &str = "/settings/integrations/hubspot";

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// A path on this service to send the browser back to (same origin only: it
    /// must start with `/`, not `//`). Default `/settings/integrations/hubspot`.
    #[schema(
        pattern = r"^/([^/\\\s\x00-\x1f\x7f-\x9f][^\\\s\x00-\x1f\x7f-\x9f]*)?$",
        max_length = 2048
    )]
    pub return_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    /// HubSpot's consent page: open it in a browser.
    pub authorize_url: String,
    /// The state carried through HubSpot (single use).
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// What HubSpot appends to the redirect URI.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// `access_denied` when the user clicked Deny.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The callback's result (JSON with `Accept: application/json`; otherwise the same
/// facts go into the redirect's query: `hubspot=connected|error&reason=…`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackResult {
    /// `connected` or `error`.
    pub hubspot: String,
    /// Why it failed: `invalid_state`, `expired_state`, `wrong_person` (a console
    /// connection finished in another person's browser), `access_denied`,
    /// `missing_code`, `code_rejected`, `missing_scopes`, `not_configured`,
    /// `hubspot_unavailable`, `store_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_id: Option<i64>,
    /// The workspace's existing connector for the portal was resumed.
    #[serde(default)]
    pub reconnected: bool,
    /// How many other workspaces have this portal connected (allowed; reported).
    #[serde(default)]
    pub other_workspaces: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_scopes: Vec<String>,
    /// Where a browser is sent (absent for an invalid state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
}

impl CallbackResult {
    fn error(reason: &str, message: impl Into<String>) -> Self {
        Self {
            hubspot: "error".into(),
            reason: Some(reason.into()),
            message: message.into(),
            connector_id: None,
            portal_id: None,
            reconnected: false,
            other_workspaces: 0,
            missing_scopes: Vec::new(),
            redirect_to: None,
        }
    }
}

/// The OAuth app from the configuration, or what to set.
pub fn oauth_app(config: &ServerConfig) -> Result<OAuthApp, ApiError> {
    let (Some(client_id), Some(secret)) = (
        config.hubspot_client_id.as_deref(),
        config.hubspot_client_secret.as_ref(),
    ) else {
        return Err(ApiError::Unavailable(
            "HubSpot OAuth is not configured: set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET \
             (and HUBSPOT_APP_ID, KEVA_PUBLIC_URL) and restart"
                .into(),
        ));
    };
    OAuthApp::new(
        client_id,
        SecretString::from(secret_text(secret)),
        config.oauth_redirect_uri(),
        &config.hubspot_api_base,
        &config.hubspot_authorize_url,
    )
    .map_err(|e| ApiError::Unavailable(format!("HubSpot OAuth is misconfigured: {e}")))
}

fn secret_text(s: &SecretString) -> String {
    use secrecy::ExposeSecret;
    s.expose_secret().to_string()
}

/// SHA-256 hex of a state (what is stored).
pub fn hash_state(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Some(path)` if `return_to` is a same-origin path.
pub fn valid_return_to(return_to: &str) -> bool {
    return_to.starts_with('/')
        && !return_to.starts_with("//")
        && !return_to.contains('\\')
        && return_to.len() <= 2048
        && !return_to
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
}

/// Starts an install for `workspace_id`: stores a new state and returns the
/// consent URL (the handler and the quickstart).
/// Starts a connection: a fresh state (bound to `person` when a console user
/// clicked Connect) and HubSpot's authorize URL.
pub async fn begin_authorize(
    state: &AppState,
    workspace_id: Uuid,
    person: Option<Uuid>,
    return_to: Option<String>,
) -> Result<AuthorizeResponse, ApiError> {
    if let Some(r) = &return_to {
        if !valid_return_to(r) {
            return Err(ApiError::Unprocessable(
                "returnTo must be a path on this service (starting with a single /)".into(),
            ));
        }
    }
    let app = oauth_app(&state.config)?;
    let raw: [u8; 32] = rand::random();
    let oauth_state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let expires_at = Utc::now() + STATE_TTL;
    state
        .store
        .insert_oauth_state(
            &hash_state(&oauth_state),
            workspace_id,
            return_to.as_deref(),
            expires_at,
            person,
        )
        .await?;
    let scopes: Vec<&str> = state
        .config
        .oauth_scopes
        .iter()
        .map(String::as_str)
        .collect();
    let optional: Vec<&str> = state
        .config
        .oauth_optional_scopes
        .iter()
        .map(String::as_str)
        .collect();
    let url = app.authorize_url(&scopes, &optional, &oauth_state);
    Ok(AuthorizeResponse {
        authorize_url: url.to_string(),
        state: oauth_state,
        expires_at,
    })
}

#[utoipa::path(post, path = "/api/crm/hubspot/oauth/authorize", tag = "crm",
    request_body(content = Option<AuthorizeRequest>, description = "optional"), security(("api_key" = [])),
    responses(
        (status = 200, body = AuthorizeResponse, description = "open authorizeUrl in a browser"),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "returnTo is not a same-origin path"),
        (status = 503, body = ErrorBody, description = "OAuth is not configured (says what to set)")))]
pub async fn authorize(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Bytes,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    let req: AuthorizeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AuthorizeRequest::default()
    } else {
        let value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
        crate::extract::from_object(value)?
    };
    Ok(Json(
        begin_authorize(&state, auth.workspace_id, None, req.return_to).await?,
    ))
}

#[utoipa::path(get, path = "/integrations/hubspot/callback", tag = "crm",
    params(CallbackQuery),
    responses(
        (status = 303, description = "back to returnTo with ?hubspot=connected|error&reason=…"),
        (status = 200, body = CallbackResult, description = "connected (Accept: application/json)"),
        (status = 400, description = "unknown, expired or reused state; denied; code rejected; missing scopes (JSON with Accept: application/json, otherwise a page)",
            content((CallbackResult = "application/json"), (String = "text/html"))),
        (status = 503, description = "HubSpot unavailable or OAuth not configured (JSON with Accept: application/json, otherwise a page)",
            content((CallbackResult = "application/json"), (String = "text/html")))))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let Some(raw_state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return invalid_state(json, "invalid_state", "the callback has no state");
    };
    let hash = hash_state(raw_state);
    let stored = match state.store.consume_oauth_state(&hash).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "could not read the OAuth state");
            return invalid_state(json, "store_failed", "the state could not be checked");
        }
    };
    let Some(stored) =
        stored.filter(|s| constant_time_eq(s.state_hash.as_bytes(), hash.as_bytes()))
    else {
        return invalid_state(
            json,
            "invalid_state",
            "unknown or already used state: start the connection again",
        );
    };
    if stored.is_expired(Utc::now()) {
        return invalid_state(
            json,
            "expired_state",
            "the connection attempt expired (10 minutes): start it again",
        );
    }
    if let Some(person) = stored.user_id {
        // Started from the console: only that person's signed-in browser may finish
        // it, so a link someone else started cannot connect their portal to us.
        let session =
            crate::console::session::cookie(&headers, crate::console::session::SESSION_COOKIE);
        let signed_in = match session {
            Some(token) => state
                .store
                .session_user(&crate::console::session::hash_token(token))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        if signed_in.is_none_or(|u| u.id != person) {
            return invalid_state(
                json,
                "wrong_person",
                "this connection was started by someone else: sign in and click Connect yourself",
            );
        }
    }
    let return_to = stored
        .return_to
        .clone()
        .unwrap_or_else(|| DEFAULT_RETURN_TO.to_string());
    let (status, mut result) = finish(&state, stored.workspace_id, &q).await;
    let target = redirect_target(&return_to, &result);
    result.redirect_to = Some(target.clone());
    if json {
        (status, axum::Json(result)).into_response()
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response()
    }
}

/// Everything after a valid state: denial, code exchange, scopes, the connector.
async fn finish(
    state: &AppState,
    workspace_id: Uuid,
    q: &CallbackQuery,
) -> (StatusCode, CallbackResult) {
    let bad = StatusCode::BAD_REQUEST;
    if let Some(error) = q.error.as_deref() {
        return if error == "access_denied" {
            (
                bad,
                CallbackResult::error(
                    "access_denied",
                    "You denied access in HubSpot; nothing was connected.",
                ),
            )
        } else {
            let detail = q.error_description.as_deref().unwrap_or(error);
            (
                bad,
                CallbackResult::error(
                    "hubspot_error",
                    format!("HubSpot did not authorize: {detail}"),
                ),
            )
        };
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return (
            bad,
            CallbackResult::error("missing_code", "HubSpot sent no authorization code"),
        );
    };
    let app = match oauth_app(&state.config) {
        Ok(app) => app,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                CallbackResult::error("not_configured", e.to_string()),
            )
        }
    };
    let install = match app.install(code).await {
        Ok(i) => i,
        Err(e) if e.api().is_some_and(|a| (400..500).contains(&a.status)) => {
            return (
                bad,
                CallbackResult::error(
                    "code_rejected",
                    format!(
                        "HubSpot rejected the authorization code ({e}): start the connection again"
                    ),
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "OAuth code exchange failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                CallbackResult::error(
                    "hubspot_unavailable",
                    format!("HubSpot could not be reached to finish the connection: {e}"),
                ),
            );
        }
    };
    let missing: Vec<String> = state
        .config
        .oauth_scopes
        .iter()
        .filter(|s| !install.scopes.contains(s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        // Nothing is kept: give the grant back (best effort).
        if let Err(e) = app
            .revoke_refresh_token(&install.tokens.refresh_token)
            .await
        {
            tracing::warn!(error = %e, "could not revoke an insufficient grant");
        }
        let mut r = CallbackResult::error(
            "missing_scopes",
            format!(
                "HubSpot granted too few scopes; missing: {}. Nothing was connected.",
                missing.join(", ")
            ),
        );
        r.portal_id = i64::try_from(install.hub_id).ok();
        r.missing_scopes = missing;
        return (bad, r);
    }
    match connect_oauth(state, workspace_id, install).await {
        Ok(done) => {
            let mut message = if done.reconnected {
                format!("HubSpot portal {} reconnected", done.connector.portal_id)
            } else {
                format!("HubSpot portal {} connected", done.connector.portal_id)
            };
            if done.other_workspaces > 0 {
                message.push_str(&format!(
                    "; note: {} other workspace(s) also sync this portal",
                    done.other_workspaces
                ));
            }
            (
                StatusCode::OK,
                CallbackResult {
                    hubspot: "connected".into(),
                    reason: None,
                    message,
                    connector_id: Some(done.connector.id),
                    portal_id: Some(done.connector.portal_id),
                    reconnected: done.reconnected,
                    other_workspaces: done.other_workspaces,
                    missing_scopes: Vec::new(),
                    redirect_to: None,
                },
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store the OAuth connector");
            let status = match e {
                ConnectError::Sync(ref s) if s.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (
                status,
                CallbackResult::error("store_failed", "the connector could not be stored"),
            )
        }
    }
}

/// `return_to` with `hubspot=…` (and `reason`, `connectorId`, `portalId`) appended.
fn redirect_target(return_to: &str, r: &CallbackResult) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("hubspot", &r.hubspot);
    if let Some(reason) = &r.reason {
        q.append_pair("reason", reason);
    }
    if let Some(id) = r.connector_id {
        q.append_pair("connectorId", &id.to_string());
    }
    if let Some(p) = r.portal_id {
        q.append_pair("portalId", &p.to_string());
    }
    if !r.missing_scopes.is_empty() {
        q.append_pair("missingScopes", &r.missing_scopes.join(" "));
    }
    if r.other_workspaces > 0 {
        q.append_pair("otherWorkspaces", &r.other_workspaces.to_string());
    }
    let sep = if return_to.contains('?') { '&' } else { '?' };
    format!("{return_to}{sep}{}", q.finish())
}

/// 400 for a state that is missing, unknown, reused or expired (nothing to
/// redirect to: the state carried `returnTo`).
fn invalid_state(json: bool, reason: &str, message: &str) -> Response {
    let status = if reason == "store_failed" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    if json {
        return (status, axum::Json(CallbackResult::error(reason, message))).into_response();
    }
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>HubSpot connection failed</title></head>\
         <body><h1>HubSpot connection failed</h1><p id=\"reason\">{}</p><p>{}</p>\
         <p><a href=\"{DEFAULT_RETURN_TO}\">Back to the HubSpot settings</a></p></body></html>",
        escape(reason),
        escape(message)
    );
    (status, Html(page)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The callback path (`KEVA_PUBLIC_URL` + this is the redirect URI).
pub const CALLBACK_PATH: &str = OAUTH_CALLBACK_PATH;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_be_a_same_origin_path() {
        assert!(valid_return_to("/settings/integrations/hubspot"));
        assert!(valid_return_to("/a?b=c"));
        for bad in [
            "//evil.com",
            "https://evil.com",
            "evil",
            "/\\evil.com",
            "",
            "/a b",
        ] {
            assert!(!valid_return_to(bad), "{bad}");
        }
    }

    #[test]
    fn states_are_hashed_and_compared_in_constant_time() {
        let h = hash_state("abc");
        assert_eq!(h.len(), 64);
        assert!(constant_time_eq(h.as_bytes(), hash_state("abc").as_bytes()));
        assert!(!constant_time_eq(
            h.as_bytes(),
            hash_state("abd").as_bytes()
        ));
    }

    #[test]
    fn redirect_appends_the_result() {
        let r = CallbackResult::error("access_denied", "x");
        assert_eq!(
            redirect_target("/s", &r),
            "/s?hubspot=error&reason=access_denied"
        );
        assert_eq!(
            redirect_target("/s?x=1", &r),
            "/s?x=1&hubspot=error&reason=access_denied"
        );
    }
}
