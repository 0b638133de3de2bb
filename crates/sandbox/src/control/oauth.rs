//! HubSpot's OAuth v1 endpoints and the consent page.
//!
//! `GET /oauth/authorize` checks `client_id` and `redirect_uri` (an unknown client
//! or unregistered redirect URI gets an error page, never a redirect) and renders a
//! page listing the requested `scope` and `optional_scope`, with a portal chooser
//! and Approve / Deny buttons. Approve redirects (302) to
//! `redirect_uri?code=…&state=…`; Deny to
//! `redirect_uri?error=access_denied&error_description=…&state=…`.
//! `DELETE /oauth/v1/refresh-tokens/{token}` revokes a refresh token, and
//! `DELETE /appinstalls/v3/external-install` uninstalls the calling app from the
//! token's portal.
//! `POST /oauth/v1/token` exchanges codes and refresh tokens (form-encoded), and
//! answers errors the way HubSpot does: 400 with `status` set to `BAD_AUTH_CODE`,
//! `BAD_REFRESH_TOKEN`, `BAD_CLIENT_ID`… plus the RFC 6749 `error` fields.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use serde_json::json;

use super::auth::{
    AccessTokenInfo, App, GrantError, IssuedTokens, TokenKind, DEFAULT_SCOPES, SANDBOX_USER,
    SANDBOX_USER_ID,
};
use super::Control;
use crate::error::error_response;

pub fn router() -> Router<Arc<Control>> {
    Router::new()
        .route("/oauth/authorize", get(authorize_page))
        .route("/oauth/authorize/approve", post(approve))
        .route("/oauth/authorize/deny", post(deny))
        .route("/appinstalls/v3/external-install", delete(uninstall))
        .route("/oauth/v1/token", post(token))
        .route("/oauth/v1/access-tokens/{token}", get(access_token_info))
        .route(
            "/oauth/v1/refresh-tokens/{token}",
            get(refresh_token_info).delete(revoke_refresh_token),
        )
}

fn hub_domain(portal_id: u64) -> String {
    format!("sandbox-{portal_id}.keva-sandbox.local")
}

/// Text safe to put in HTML text and double-quoted attributes.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p id=\"error\">{}</p></body></html>",
        escape_html(message)
    );
    (status, Html(body)).into_response()
}

/// A space-separated scope list (`+` already decoded), duplicates dropped.
fn scope_list(q: &HashMap<String, String>, key: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in q
        .get(key)
        .map(String::as_str)
        .unwrap_or_default()
        .split_whitespace()
    {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}

/// The required scopes (`scope`; the sandbox's defaults when it names none) and
/// the optional ones (`optional_scope`, minus any already required).
fn requested_scopes(q: &HashMap<String, String>) -> (Vec<String>, Vec<String>) {
    let mut required = scope_list(q, "scope");
    if required.is_empty() {
        required = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
    }
    let mut optional = scope_list(q, "optional_scope");
    optional.retain(|s| !required.contains(s));
    (required, optional)
}

/// The app behind `client_id`, if `redirect_uri` is a URL it registered; otherwise
/// the error page HubSpot shows instead of redirecting.
/// Boxed: a response is large next to the app.
fn checked_client(c: &Control, client_id: &str, redirect_uri: &str) -> Result<App, Box<Response>> {
    let Some(app) = c.tokens.app_by_client_id(client_id) else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Unknown or missing client_id.",
        )));
    };
    if reqwest::Url::parse(redirect_uri).is_err()
        || !(app.redirect_uris.is_empty() || app.redirect_uris.iter().any(|u| u == redirect_uri))
    {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Missing or unregistered redirect_uri: it does not match the app's registered redirect URL.",
        )));
    }
    Ok(app)
}

fn scope_items(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape_html(s)))
        .collect()
}

async fn authorize_page(
    State(c): State<Arc<Control>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let client_id = q.get("client_id").map(String::as_str).unwrap_or_default();
    let redirect_uri = q
        .get("redirect_uri")
        .map(String::as_str)
        .unwrap_or_default();
    let app = match checked_client(&c, client_id, redirect_uri) {
        Ok(app) => app,
        Err(page) => return *page,
    };
    let portals = c.tokens.portals();
    if portals.is_empty() {
        return error_page(StatusCode::BAD_REQUEST, "The sandbox has no portals yet.");
    }
    let (required, optional) = requested_scopes(&q);
    let options: String = portals
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{p}\">Portal {p} ({})</option>",
                hub_domain(*p)
            )
        })
        .collect();
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape_html(value)
        )
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connect {app_name}</title></head>\
         <body><h1>Connect {app_name} to a sandbox portal</h1>\
         <p>The app is requesting these scopes:</p><ul id=\"scopes\">{required_items}</ul>\
         <p>And these optional scopes, granted where the portal allows them:</p>\
         <ul id=\"optional-scopes\">{optional_items}</ul>\
         <form method=\"post\" action=\"/oauth/authorize/approve\">\
         <label for=\"portal_id\">Choose a portal</label> \
         <select id=\"portal_id\" name=\"portal_id\">{options}</select>\
         {h_client}{h_redirect}{h_scope}{h_optional}{h_state}\
         <button type=\"submit\" id=\"approve\" name=\"decision\" value=\"approve\">Approve</button> \
         <button type=\"submit\" id=\"deny\" name=\"decision\" value=\"deny\" \
         formaction=\"/oauth/authorize/deny\">Deny</button></form></body></html>",
        app_name = escape_html(&app.name),
        required_items = scope_items(&required),
        optional_items = scope_items(&optional),
        h_client = hidden("client_id", client_id),
        h_redirect = hidden("redirect_uri", redirect_uri),
        h_scope = hidden("scope", &required.join(" ")),
        h_optional = hidden("optional_scope", &optional.join(" ")),
        h_state = q
            .get("state")
            .map(|s| hidden("state", s))
            .unwrap_or_default(),
    );
    Html(body).into_response()
}

/// A 302 to `redirect_uri` with `params` and the request's `state` appended.
fn redirect_with(target: &str, params: &[(&str, &str)], state: Option<&String>) -> Response {
    let Ok(mut target) = reqwest::Url::parse(target) else {
        return error_page(StatusCode::BAD_REQUEST, "Missing or invalid redirect_uri.");
    };
    {
        let mut pairs = target.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
        if let Some(state) = state {
            pairs.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// The Deny button: back to the app with `error=access_denied`, nothing granted.
async fn deny(State(c): State<Arc<Control>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if let Err(page) = checked_client(&c, get("client_id"), get("redirect_uri")) {
        return *page;
    }
    redirect_with(
        get("redirect_uri"),
        &[
            ("error", "access_denied"),
            (
                "error_description",
                "The user denied the app access to the portal.",
            ),
        ],
        f.get("state"),
    )
}

async fn approve(
    State(c): State<Arc<Control>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if get("decision") == "deny" {
        return deny(State(c), Form(f)).await;
    }
    if let Err(page) = checked_client(&c, get("client_id"), get("redirect_uri")) {
        return *page;
    }
    let Ok(portal_id) = get("portal_id").parse::<u64>() else {
        return error_page(StatusCode::BAD_REQUEST, "Choose a portal.");
    };
    if !c.tokens.portals().contains(&portal_id) {
        return error_page(StatusCode::BAD_REQUEST, "Unknown portal.");
    }
    let (required, optional) = requested_scopes(&f);
    let scopes = required.into_iter().chain(optional).collect();
    let code = match c
        .tokens
        .approve(get("client_id"), get("redirect_uri"), portal_id, scopes)
    {
        Ok(code) => code,
        Err(GrantError::BadRedirectUri) => {
            return error_page(StatusCode::BAD_REQUEST, "Unregistered redirect_uri.")
        }
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "Unknown client_id."),
    };
    redirect_with(
        get("redirect_uri"),
        &[("code", code.as_str())],
        f.get("state"),
    )
}

/// HubSpot's token-endpoint error: 400 with `status` naming the problem.
fn grant_error(status: &str, oauth_error: &str, message: &str) -> Response {
    let body = json!({
        "status": status,
        "message": message,
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "error": oauth_error,
        "error_description": message,
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn grant_error_response(e: GrantError) -> Response {
    match e {
        GrantError::BadClientId => grant_error(
            "BAD_CLIENT_ID",
            "invalid_client",
            "missing or unknown client id",
        ),
        GrantError::BadClientSecret => grant_error(
            "BAD_CLIENT_SECRET",
            "invalid_client",
            "missing or invalid client secret",
        ),
        GrantError::BadAuthCode => grant_error(
            "BAD_AUTH_CODE",
            "invalid_grant",
            "missing or unknown auth code",
        ),
        GrantError::BadRedirectUri => grant_error(
            "BAD_REDIRECT_URI",
            "invalid_grant",
            "redirect_uri does not match the one used to obtain the code",
        ),
        GrantError::BadRefreshToken => grant_error(
            "BAD_REFRESH_TOKEN",
            "invalid_grant",
            "refresh token is invalid, expired or revoked",
        ),
    }
}

fn issued_json(t: IssuedTokens) -> Response {
    Json(json!({
        "access_token": t.access_token,
        "refresh_token": t.refresh_token,
        "expires_in": t.expires_in_secs,
        "token_type": "bearer",
        "token_use": "access_token",
        "hub_id": t.portal_id,
        "user_id": SANDBOX_USER_ID,
        "scopes": t.scopes,
    }))
    .into_response()
}

async fn token(State(c): State<Arc<Control>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let result = match get("grant_type") {
        "authorization_code" => c.tokens.exchange_code(
            get("client_id"),
            get("client_secret"),
            get("redirect_uri"),
            get("code"),
        ),
        "refresh_token" => {
            c.tokens
                .refresh(get("client_id"), get("client_secret"), get("refresh_token"))
        }
        _ => {
            return grant_error(
                "BAD_GRANT_TYPE",
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )
        }
    };
    match result {
        Ok(t) => issued_json(t),
        Err(e) => grant_error_response(e),
    }
}

fn token_info_json(token: &str, i: &AccessTokenInfo) -> serde_json::Value {
    json!({
        "token": token,
        "user": SANDBOX_USER,
        "hub_domain": hub_domain(i.portal_id),
        "hub_id": i.portal_id,
        "app_id": i.app_id,
        // Private-app tokens never expire; report a year, as a number is required.
        "expires_in": i.expires_in_secs.unwrap_or(365 * 24 * 3600),
        "user_id": SANDBOX_USER_ID,
        "token_type": "access",
        "scopes": i.scopes,
        "is_private_distribution": i.kind == TokenKind::PrivateApp,
    })
}

async fn access_token_info(State(c): State<Arc<Control>>, Path(token): Path<String>) -> Response {
    match c.tokens.access_token_info(&token) {
        Some(info) => Json(token_info_json(&token, &info)).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Access token not found or expired",
        ),
    }
}

async fn refresh_token_info(State(c): State<Arc<Control>>, Path(token): Path<String>) -> Response {
    match c.tokens.refresh_token_info(&token) {
        Some(g) => Json(json!({
            "token": token,
            "user": SANDBOX_USER,
            "hub_domain": hub_domain(g.portal_id),
            "hub_id": g.portal_id,
            "client_id": g.client_id,
            "user_id": SANDBOX_USER_ID,
            "scopes": g.scopes,
            "token_type": "refresh",
        }))
        .into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Refresh token not found",
        ),
    }
}

async fn revoke_refresh_token(
    State(c): State<Arc<Control>>,
    Path(token): Path<String>,
) -> Response {
    if c.tokens.revoke_refresh_token(&token) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error_response(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Refresh token not found",
        )
    }
}

/// `DELETE /appinstalls/v3/external-install` with the portal's access token: the
/// app uninstalls itself (204); its tokens for that portal stop working.
async fn uninstall(State(c): State<Arc<Control>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default();
    match c.tokens.authenticate(token) {
        Ok(a) => {
            c.tokens.uninstall(a.context.app_id, a.context.portal_id);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => error_response(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_attribute_breakers() {
        assert_eq!(
            escape_html("\"><script>&'"),
            "&quot;&gt;&lt;script&gt;&amp;&#39;"
        );
    }
}
