//! The console's start page: who is signed in, in which workspace, and where to
//! go (settings only for admins).

use axum::extract::State;
use maud::{html, Markup};

use super::error::ConsoleError;
use super::layout::{page, Nav};
use super::session::ConsoleUser;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    let workspace = state
        .store
        .get_workspace(user.user.workspace_id)
        .await?
        .map(|w| w.name)
        .unwrap_or_default();
    let body = html! {
        h1 { "Keva Sync console" }
        section {
            dl {
                dt { "Workspace" } dd data-workspace=(workspace) { (workspace) }
                dt { "Signed in as" } dd { (user.user.email) }
                dt { "Role" } dd { (user.user.role) }
            }
            p { a href=(super::customers::PATH) { "Customers" } }
            @if user.is_admin() {
                ul {
                    li { a href=(super::integrations::PATH) { "Settings → Integrations → HubSpot" } }
                    li { a href=(super::mappings::PATH) { "Settings → CRM Sync → HubSpot → Field Mappings" } }
                    li { a href=(super::batch::PATH) { "Settings → CRM Sync → HubSpot → Run Batch Sync" } }
                    li { a href=(super::webhooks::PATH) { "Settings → CRM Sync → HubSpot → Webhooks" } }
                    li { a href=(super::history::PATH) { "Sync history" } }
                    li { a href=(super::jobs::PATH) { "Jobs" } }
                }
            } @else {
                p.muted { "Agents see customers and tickets; settings are for admins." }
            }
        }
    };
    Ok(page(&user, "Home", Nav::Home, body))
}
