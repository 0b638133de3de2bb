//! *CRM Sync → HubSpot → Webhooks*: the HubSpot app (App ID and client secret; the
//! secret is write-only: the page only says whether one is set, and an empty field
//! keeps the stored one), the target URL to register with HubSpot (with *Copy*),
//! the contact subscriptions with *Check subscriptions* and *Create
//! subscriptions*, and the delivery log (valid or refused with the reason,
//! repeats).
//!
//! Every action is the webhook-settings API's own function (`save_settings`,
//! `subscriptions`, `ensure_subscriptions` in `webhooks::settings`), so the page
//! refuses what the API refuses, with the same message. HubSpot's subscriptions
//! API takes the developer account's API key, which is used for the one request
//! and never stored: that is why the subscription status is shown after a button,
//! not on every visit.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::settings::{
    ensure_subscriptions, save_settings, subscriptions, view_for, AppIdInput, PutWebhookSettings,
    SubscriptionsView,
};

/// This page's path.
pub const PATH: &str = "/settings/crm-sync/hubspot/webhooks";
/// Where the app form posts.
pub const APP_PATH: &str = "/settings/crm-sync/hubspot/webhooks/app";
/// Where *Create subscriptions* posts.
pub const CREATE_PATH: &str = "/settings/crm-sync/hubspot/webhooks/subscriptions";
/// Where *Check subscriptions* posts (a POST only because the key must not end up
/// in a URL, a history or a log).
pub const CHECK_PATH: &str = "/settings/crm-sync/hubspot/webhooks/subscriptions/check";
const LOG_SIZE: u32 = 50;

/// *Copy*: the clipboard API where the browser allows it (secure contexts);
/// otherwise the URL's field is selected so Ctrl+C / ⌘C copies it. Without
/// JavaScript the button stays hidden and the read-only field is still there to
/// select by keyboard.
const COPY_JS: &str = r#"
(function () {
  var button = document.getElementById('copy-target');
  var field = document.getElementById('target-url');
  var said = document.getElementById('copy-status');
  if (!button || !field) return;
  button.hidden = false;
  field.addEventListener('focus', function () { field.select(); });
  button.addEventListener('click', function () {
    function done(text) { said.textContent = text; }
    function fallback() {
      field.focus();
      field.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      done(ok ? 'Copied' : 'Selected: press Ctrl+C (⌘C) to copy');
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done('Copied'); }, fallback);
    } else {
      fallback();
    }
  });
})();
"#;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub saved: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AppForm {
    pub app_id: String,
    /// Empty keeps the stored secret (the API's "omit to keep").
    #[serde(default)]
    pub client_secret: String,
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    pub developer_api_key: String,
}

/// The part of the page a notice belongs to (shown there, next to its form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    App,
    Subscriptions,
}

/// What a request adds to the page besides the stored state.
#[derive(Default)]
struct Extra<'a> {
    notice: Option<(Part, bool, String)>,
    /// The App ID as typed, shown again when it was refused.
    typed_app_id: Option<&'a str>,
    subscriptions: Option<SubscriptionsView>,
}

fn subscriptions_table(view: &SubscriptionsView) -> Markup {
    html! {
        table #subscriptions data-all-active=(view.all_active) {
            thead { tr { th { "Event" } th { "Property" } th { "Subscription ID" } th { "Status" } } }
            tbody {
                @for s in &view.subscriptions {
                    @let status = match (&s.id, s.active) {
                        (Some(_), true) => "active",
                        (Some(_), false) => "paused",
                        (None, _) => "missing",
                    };
                    tr data-event=(s.event_type) data-status=(status) {
                        td { code { (s.event_type) } }
                        td { (if s.property_name == "*" { "every property" } else { s.property_name.as_str() }) }
                        td { (s.id.as_deref().unwrap_or("—")) }
                        td {
                            @match status {
                                "active" => span.status-connected { "Active" },
                                "paused" => span.status-error { "Paused" },
                                _ => span.status-disconnected { "Missing" },
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &AdminUser,
    status: StatusCode,
    extra: Extra<'_>,
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    let ws = user.user.workspace_id;
    let settings = view_for(state, ws).await?;
    let log = state.store.webhook_log(ws, LOG_SIZE, None).await?;
    let app_id = extra
        .typed_app_id
        .or(settings.app_id.as_deref())
        .unwrap_or("");
    let notice = |part: Part| {
        html! {
            @if let Some((at, ok, message)) = &extra.notice {
                @if *at == part { (flash(*ok, message)) }
            }
        }
    };
    let body = html! {
        h1 { "CRM Sync → HubSpot → Webhooks" }
        section #app aria-labelledby="app-heading" {
            h2 #app-heading { "HubSpot app" }
            (notice(Part::App))
            dl {
                dt { "App ID" } dd data-app-id=(settings.app_id.as_deref().unwrap_or("")) { (settings.app_id.as_deref().unwrap_or("not set")) }
                dt { "Client secret" }
                dd data-secret-source=(settings.secret_source) {
                    @match settings.secret_source.as_str() {
                        "workspace" => "secret set for this workspace (write-only)",
                        "service" => "the service's HUBSPOT_CLIENT_SECRET (write-only)",
                        _ => "not set",
                    }
                }
            }
            // The fragment brings the browser back to this form's answer.
            form method="post" action={ (APP_PATH) "#app" } {
                (csrf_input(&user.csrf))
                label for="app_id" { "App ID" }
                input #app_id type="text" name="app_id" value=(app_id) required inputmode="numeric" autocomplete="off";
                label for="client_secret" { "Client secret" }
                input #client_secret type="password" name="client_secret" autocomplete="off" aria-describedby="client-secret-help";
                p #client-secret-help .muted {
                    // The service-wide secret is not this workspace's to keep: saving
                    // the app needs a secret of its own then.
                    @if settings.secret_source == "workspace" { "Leave empty to keep the secret that is set." }
                    @else { "From your HubSpot app's Auth page; it verifies HubSpot's signatures." }
                }
                p { button type="submit" { "Save" } }
            }
        }
        section aria-labelledby="target-heading" {
            h2 #target-heading { "Target URL" }
            label for="target-url" { "Register this URL as your HubSpot app's webhook target URL" }
            input #target-url type="text" readonly value=(settings.target_url);
            " "
            button.secondary #copy-target type="button" hidden { "Copy" }
            " "
            span #copy-status role="status" {}
        }
        section #subscriptions-part aria-labelledby="subscriptions-heading" {
            h2 #subscriptions-heading { "Subscriptions" }
            (notice(Part::Subscriptions))
            p.muted { "HubSpot's subscriptions API takes your developer account's API key: it is used for this one request and never stored." }
            @if let Some(view) = &extra.subscriptions { (subscriptions_table(view)) }
            form method="post" action={ (CREATE_PATH) "#subscriptions-part" } {
                (csrf_input(&user.csrf))
                label for="developer_api_key" { "Developer API key" }
                input #developer_api_key type="password" name="developer_api_key" required autocomplete="off";
                p {
                    button type="submit" { "Create subscriptions" } " "
                    button.secondary type="submit" formaction={ (CHECK_PATH) "#subscriptions-part" } { "Check subscriptions" }
                }
            }
        }
        section aria-labelledby="log-heading" {
            h2 #log-heading { "Delivery log" }
            @if log.is_empty() { p.muted { "No deliveries yet." } }
            @else {
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "Received" } th { "Portal" } th { "Events" } th { "Valid" } th { "Repeats" } } }
                        tbody {
                            @for r in &log {
                                tr data-valid=(r.valid) {
                                    td { (r.received_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                                    td { (r.portal_id.map(|p| p.to_string()).unwrap_or_default()) }
                                    td { (r.event_count) }
                                    td {
                                        @if r.valid { "valid" }
                                        @else { "refused: " (r.reject_reason.as_deref().unwrap_or("unknown")) }
                                    }
                                    td { (r.duplicates) }
                                }
                            }
                        }
                    }
                }
            }
        }
        script { (PreEscaped(COPY_JS)) }
    };
    Ok((status, page(user, "Webhooks", Nav::Webhooks, body)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<PageQuery>,
) -> Result<Response, ConsoleError> {
    let notice = q
        .saved
        .is_some()
        .then(|| (Part::App, true, "Saved the webhook app.".to_string()));
    let extra = Extra {
        notice,
        ..Extra::default()
    };
    render(&state, &admin, StatusCode::OK, extra).await
}

/// Whether an API failure is the user's to fix (shown on the page) rather than ours.
fn shown_inline(e: &ApiError) -> bool {
    matches!(e, ApiError::Unprocessable(_) | ApiError::Unavailable(_))
}

/// *Save*: the API's `PUT /api/crm/hubspot/webhooks`; a refusal is shown on the
/// page with the App ID as typed, and nothing is stored.
pub async fn save_app(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<AppForm>,
) -> Result<Response, ConsoleError> {
    let secret = form.client_secret.trim();
    let body = PutWebhookSettings {
        app_id: AppIdInput::Text(form.app_id.clone()),
        client_secret: (!secret.is_empty()).then(|| secret.to_string()),
        allow_legacy_signatures: None,
    };
    match save_settings(&state, admin.0.user.workspace_id, body).await {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}?saved=1#app")).into_response()),
        Err(e) if shown_inline(&e) => {
            let extra = Extra {
                notice: Some((Part::App, false, format!("Not saved: {e}."))),
                typed_app_id: Some(form.app_id.as_str()),
                ..Extra::default()
            };
            render(&state, &admin, e.status(), extra).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn show_subscriptions(
    state: &AppState,
    admin: &AdminUser,
    result: Result<SubscriptionsView, ApiError>,
) -> Result<Response, ConsoleError> {
    match result {
        Ok(view) => {
            let missing = view.subscriptions.iter().filter(|s| !s.active).count();
            let notice = if view.all_active {
                (
                    Part::Subscriptions,
                    true,
                    "Every subscription is active.".to_string(),
                )
            } else {
                (
                    Part::Subscriptions,
                    false,
                    format!(
                        "{missing} of {} subscriptions are missing or paused: Create subscriptions adds and activates them.",
                        view.subscriptions.len()
                    ),
                )
            };
            let extra = Extra {
                notice: Some(notice),
                subscriptions: Some(view),
                ..Extra::default()
            };
            render(state, admin, StatusCode::OK, extra).await
        }
        Err(e) if shown_inline(&e) => {
            let extra = Extra {
                notice: Some((Part::Subscriptions, false, format!("Subscriptions: {e}."))),
                ..Extra::default()
            };
            render(state, admin, e.status(), extra).await
        }
        Err(e) => Err(e.into()),
    }
}

/// *Create subscriptions*: the API's `POST …/webhooks/subscriptions`.
pub async fn create_subscriptions(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<KeyForm>,
) -> Result<Response, ConsoleError> {
    let ws = admin.0.user.workspace_id;
    let result = ensure_subscriptions(&state, ws, &form.developer_api_key).await;
    show_subscriptions(&state, &admin, result).await
}

/// *Check subscriptions*: the API's `GET …/webhooks/subscriptions`.
pub async fn check_subscriptions(
    State(state): State<AppState>,
    admin: AdminUser,
    Form(form): Form<KeyForm>,
) -> Result<Response, ConsoleError> {
    let ws = admin.0.user.workspace_id;
    let result = subscriptions(&state, ws, &form.developer_api_key).await;
    show_subscriptions(&state, &admin, result).await
}
