//! *Customers* and a customer's profile with the HubSpot panel (`crm_panel`: link
//! status, contact id, last sync, *Sync Now* with its outcome, recent history,
//! company and deals). Open to agents and admins; another workspace's customer is
//! a 404, as in the API.

use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use keva_store::Customer;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::crm_panel::{self, SyncForm, SyncQuery};
use super::error::ConsoleError;
use super::layout::{page, Nav};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The list's path.
pub const PATH: &str = "/customers";
const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub after: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let customers = state
        .store
        .list_customers(user.user.workspace_id, q.after, PAGE_SIZE)
        .await?;
    let total = state.store.count_customers(user.user.workspace_id).await?;
    let next = (customers.len() == PAGE_SIZE as usize)
        .then(|| customers.last().map(|c| c.id))
        .flatten();
    let body = html! {
        h1 { "Customers" }
        p.muted { (total) " customers" }
        section {
            div style="overflow-x:auto" {
                table {
                    thead { tr { th { "Email" } th { "Name" } th { "Company" } } }
                    tbody {
                        @for c in &customers {
                            tr {
                                td { a href={ (PATH) "/" (c.id) } { (c.email) } }
                                td { (c.name.as_deref().unwrap_or("")) }
                                td { (c.company.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
            @if let Some(after) = next { p { a href={ (PATH) "?after=" (after) } { "Next page" } } }
        }
    };
    Ok(page(&user, "Customers", Nav::Customers, body))
}

/// The workspace's customer `id`; `NotFound` for another workspace's or a malformed id.
pub(super) async fn customer(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
) -> Result<Customer, ConsoleError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("customer"))?;
    Ok(state
        .store
        .get_customer(user.user.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?)
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    c: &Customer,
    notice: Option<(bool, String)>,
) -> Result<Markup, ConsoleError> {
    let action = format!("{PATH}/{}/sync-now", c.id);
    let hubspot = crm_panel::panel(state, user, c, &action, notice).await?;
    let body = html! {
        p { a href=(PATH) { "← Customers" } }
        h1 { (c.name.as_deref().unwrap_or(&c.email)) }
        section {
            dl {
                dt { "Email" } dd { (c.email) }
                @if let Some(v) = &c.company { dt { "Company" } dd { (v) } }
                @if let Some(v) = &c.job_title { dt { "Job title" } dd { (v) } }
                @if let Some(v) = &c.phone { dt { "Phone" } dd { (v) } }
                @if let Some(v) = &c.location { dt { "Location" } dd { (v) } }
            }
        }
        (hubspot)
    };
    Ok(page(user, "Customer", Nav::Customers, body))
}

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<SyncQuery>,
) -> Result<Markup, ConsoleError> {
    let c = customer(&state, &user, &id).await?;
    let notice = crm_panel::sync_notice(&state, &user, c.id, &q).await?;
    render(&state, &user, &c, notice).await
}

/// *Sync Now*: runs, then redirects to the profile, which shows the outcome.
pub async fn sync_now(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<SyncForm>,
) -> Result<Response, ConsoleError> {
    let c = customer(&state, &user, &id).await?;
    crm_panel::sync_now(&state, &user, &c, &form, &format!("{PATH}/{}", c.id)).await
}
