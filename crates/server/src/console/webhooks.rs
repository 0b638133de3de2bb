//! *CRM Sync → HubSpot → Webhooks*: the HubSpot app id, whether a client secret is
//! set (it is write-only: never shown), the target URL to register with HubSpot
//! (with a *Copy* button) and the delivery log (valid or refused with the reason,
//! repeats). The settings are the API's own view (`GET /api/crm/hubspot/webhooks`);
//! setting them and creating subscriptions are still done through the API.

use axum::extract::State;
use maud::{html, Markup, PreEscaped};

use super::error::ConsoleError;
use super::layout::{page, Nav};
use super::session::AdminUser;
use crate::state::AppState;
use crate::webhooks::settings::view_for;

/// This page's path.
pub const PATH: &str = "/settings/crm-sync/hubspot/webhooks";
const LOG_SIZE: u32 = 50;

/// The copy button: the only thing it does is put the URL on the clipboard.
const COPY_JS: &str = r#"
document.getElementById('copy-target').addEventListener('click', function () {
  var url = document.getElementById('target-url').textContent;
  if (navigator.clipboard) navigator.clipboard.writeText(url);
  this.textContent = 'Copied';
});
"#;

pub async fn show(State(state): State<AppState>, admin: AdminUser) -> Result<Markup, ConsoleError> {
    let user = &admin.0;
    let ws = user.user.workspace_id;
    let settings = view_for(&state, ws).await?;
    let log = state.store.webhook_log(ws, LOG_SIZE, None).await?;
    let body = html! {
        h1 { "CRM Sync → HubSpot → Webhooks" }
        section {
            dl {
                dt { "App ID" } dd { (settings.app_id.as_deref().unwrap_or("not set")) }
                dt { "Client secret" }
                dd data-secret-source=(settings.secret_source) {
                    @match settings.secret_source.as_str() {
                        "workspace" => "set for this workspace (write-only)",
                        "service" => "the service's HUBSPOT_CLIENT_SECRET (write-only)",
                        _ => "not set",
                    }
                }
                dt { "Target URL" }
                dd {
                    code #target-url { (settings.target_url) } " "
                    button.secondary #copy-target type="button" { "Copy" }
                }
            }
            p.muted { "Register the target URL as your HubSpot app's webhook URL. The app id, client secret and subscriptions are set with PUT /api/crm/hubspot/webhooks and POST /api/crm/hubspot/webhooks/subscriptions." }
        }
        section {
            h2 { "Delivery log" }
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
    Ok(page(user, "Webhooks", Nav::Webhooks, body))
}
