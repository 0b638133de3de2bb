//! Signing in and out: the sign-in form (workspace, email, password; attempts
//! rate-limited per account and failures per source address), the one-time sign-in link the CLI and the
//! quickstart print (it can also set a password), and *Sign out*.

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{bare_with, csrf_input, flash};
use super::session::{
    cookie, csrf_for, hash_password, hash_token, mint_token, set_cookie, start_session,
    verify_password, ConsoleUser, SignInRefusal, SourceAddr, PRE_SESSION_COOKIE, SESSION_COOKIE,
};
use crate::api::crm::oauth::valid_return_to;
use crate::state::AppState;

/// The pre-session cookie of this request, or a new one to set.
fn pre_session(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, PRE_SESSION_COOKIE) {
        Some(t) => (t.to_string(), None),
        None => {
            let t = mint_token();
            let set = set_cookie(state, PRE_SESSION_COOKIE, &t, 60 * 60 * 24);
            (t, Some(set))
        }
    }
}

fn with_cookie(status: StatusCode, set: Option<String>, body: Markup) -> Response {
    let mut response = (status, body).into_response();
    if let Some(set) = set {
        if let Ok(v) = set.parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    pub next: Option<String>,
    pub workspace: Option<String>,
}

fn sign_in_form(csrf: &str, next: Option<&str>, workspace: &str, email: &str) -> Markup {
    html! {
        form method="post" action="/sign-in" {
            (csrf_input(csrf))
            @if let Some(next) = next { input type="hidden" name="next" value=(next); }
            label for="workspace" { "Workspace" }
            input #workspace type="text" name="workspace" value=(workspace) required autocomplete="organization";
            label for="email" { "Email" }
            input #email type="email" name="email" value=(email) required autocomplete="username";
            label for="password" { "Password" }
            input #password type="password" name="password" required autocomplete="current-password";
            p { button type="submit" { "Sign in" } }
        }
        p.muted { "No password yet? Ask an admin for a sign-in link (keva-sync user create)." }
    }
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    let (token, set) = pre_session(&state, &headers);
    let next = q.next.as_deref().filter(|n| valid_return_to(n));
    let body = sign_in_form(
        &csrf_for(&token),
        next,
        q.workspace.as_deref().unwrap_or(""),
        "",
    );
    with_cookie(StatusCode::OK, set, bare_with("Sign in", body))
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    pub workspace: String,
    pub email: String,
    pub password: String,
    pub next: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    SourceAddr(source): SourceAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let pre = cookie(&headers, PRE_SESSION_COOKIE).unwrap_or_default();
    let next = form.next.as_deref().filter(|n| valid_return_to(n));
    let again = |status: StatusCode, message: &str| {
        let body = html! {
            (flash(false, message))
            (sign_in_form(&csrf_for(pre), next, &form.workspace, &form.email))
        };
        (status, bare_with("Sign in", body)).into_response()
    };
    if let Err(refusal) = state
        .console
        .allow_sign_in(&form.workspace, &form.email, source)
    {
        tracing::warn!(?refusal, %source, "console sign-in rate-limited");
        let message = match refusal {
            SignInRefusal::Account => {
                "Too many sign-in attempts for this account. Wait a minute and try again."
            }
            SignInRefusal::Address => {
                "Too many failed sign-ins from your network address. Wait a minute and try again."
            }
        };
        let mut response = again(StatusCode::TOO_MANY_REQUESTS, message);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return Ok(response);
    }
    let user = match state.store.workspace_by_name(form.workspace.trim()).await? {
        Some(ws) => state.store.user_by_email(ws.id, &form.email).await?,
        None => None,
    };
    let stored = match &user {
        Some(u) => state.store.user_password_hash(u.id).await?,
        None => None,
    };
    let matched = verify_password(form.password.clone(), stored).await;
    let Some(user) = user.filter(|_| matched) else {
        state.console.sign_in_failed(source);
        return Ok(again(
            StatusCode::UNAUTHORIZED,
            "Wrong workspace, email or password.",
        ));
    };
    let set = start_session(&state, &user).await?;
    let target = next.unwrap_or("/");
    Ok(([(header::SET_COOKIE, set)], Redirect::to(target)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkQuery {
    pub token: Option<String>,
}

/// The link's page: following a link only shows a button, so a mail scanner or
/// link preview that fetches it does not use it up.
pub async fn link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LinkQuery>,
) -> Response {
    let (pre, set) = pre_session(&state, &headers);
    let token = q.token.unwrap_or_default();
    let body = html! {
        p { "This one-time link signs you in to the Keva Sync console." }
        form method="post" action="/sign-in/link" {
            (csrf_input(&csrf_for(&pre)))
            input type="hidden" name="token" value=(token);
            label for="new_password" { "Set a password (optional, at least 10 characters)" }
            input #new_password type="password" name="new_password" autocomplete="new-password";
            p { button type="submit" { "Sign in" } }
        }
    };
    with_cookie(StatusCode::OK, set, bare_with("Sign in with a link", body))
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    pub token: String,
    pub new_password: Option<String>,
}

pub async fn use_link(
    State(state): State<AppState>,
    Form(form): Form<LinkForm>,
) -> Result<Response, ConsoleError> {
    let password = form.new_password.as_deref().filter(|p| !p.is_empty());
    // Checked before the link is used up, so a too-short password costs nothing.
    let password_hash = password.map(hash_password).transpose()?;
    let Some(user) = state
        .store
        .consume_sign_in_link(&hash_token(form.token.trim()))
        .await?
    else {
        return Err(ConsoleError::BadRequest(
            "This sign-in link is unknown, used or expired. Ask an admin for a new one \
             (keva-sync user create prints it)."
                .into(),
        ));
    };
    if let Some(hash) = password_hash {
        state.store.set_user_password(user.id, &hash).await?;
    }
    let set = start_session(&state, &user).await?;
    Ok(([(header::SET_COOKIE, set)], Redirect::to("/")).into_response())
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Result<Response, ConsoleError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.revoke_session(&hash_token(token)).await?;
    }
    tracing::info!(user_id = %user.user.id, "console sign-out");
    let clear = set_cookie(&state, SESSION_COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/sign-in")).into_response())
}
