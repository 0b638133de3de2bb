//! *Tickets* (newest first) and a ticket's page: the ticket, and beside it the
//! HubSpot panel of its customer (`crm_panel`, the same component as the
//! customer's profile, *Sync Now* included). Open to agents and admins; another
//! workspace's ticket is a 404, as in the API.

use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use keva_store::{Customer, Ticket};
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
pub const PATH: &str = "/tickets";
const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub before: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let ws = user.user.workspace_id;
    let tickets = state.store.list_tickets(ws, q.before, PAGE_SIZE).await?;
    let mut ids: Vec<Uuid> = tickets.iter().map(|t| t.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let customers = state.store.customers_by_ids(ws, &ids).await?;
    let email = |id: Uuid| {
        customers
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.email.as_str())
    };
    let next = (tickets.len() == PAGE_SIZE as usize)
        .then(|| tickets.last().map(|t| t.id))
        .flatten();
    let body = html! {
        h1 { "Tickets" }
        section {
            @if tickets.is_empty() { p.muted { "No tickets yet." } }
            @else {
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "Subject" } th { "Customer" } th { "Created" } } }
                        tbody {
                            @for t in &tickets {
                                tr data-ticket-id=(t.id) {
                                    td { a href={ (PATH) "/" (t.id) } { (t.subject) } }
                                    td {
                                        a href={ (super::customers::PATH) "/" (t.customer_id) } {
                                            (email(t.customer_id).unwrap_or("(customer)"))
                                        }
                                    }
                                    td { (t.created_at.format("%Y-%m-%d %H:%M")) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = next { p { a href={ (PATH) "?before=" (before) } { "Older tickets" } } }
        }
    };
    Ok(page(&user, "Tickets", Nav::Tickets, body))
}

/// The workspace's ticket `id` and its customer; `NotFound` otherwise.
async fn ticket(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
) -> Result<(Ticket, Customer), ConsoleError> {
    let ws = user.user.workspace_id;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("ticket"))?;
    let t = state
        .store
        .get_ticket(ws, id)
        .await?
        .ok_or(ApiError::NotFound("ticket"))?;
    let c = state
        .store
        .get_customer(ws, t.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    Ok((t, c))
}

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<SyncQuery>,
) -> Result<Markup, ConsoleError> {
    let (t, c) = ticket(&state, &user, &id).await?;
    let notice = crm_panel::sync_notice(&state, &user, c.id, &q).await?;
    let action = format!("{PATH}/{}/sync-now", t.id);
    let hubspot = crm_panel::panel(&state, &user, &c, &action, notice).await?;
    let body = html! {
        p { a href=(PATH) { "← Tickets" } }
        h1 { (t.subject) }
        div.with-sidebar {
            section aria-label="Ticket" {
                dl {
                    dt { "Subject" } dd { (t.subject) }
                    dt { "From" }
                    dd {
                        a href={ (super::customers::PATH) "/" (c.id) } {
                            (c.name.as_deref().unwrap_or(&c.email))
                        }
                        @if c.name.is_some() { " " span.muted { "<" (c.email) ">" } }
                    }
                    dt { "Created" }
                    dd { time datetime=(t.created_at.to_rfc3339()) { (t.created_at.format("%Y-%m-%d %H:%M:%S UTC")) } }
                    @if let Some(v) = &c.company { dt { "Company" } dd { (v) } }
                }
            }
            aside { (hubspot) }
        }
    };
    Ok(page(&user, "Ticket", Nav::Tickets, body))
}

/// *Sync Now* from a ticket: the ticket's customer, then back to the ticket.
pub async fn sync_now(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<SyncForm>,
) -> Result<Response, ConsoleError> {
    let (t, c) = ticket(&state, &user, &id).await?;
    crm_panel::sync_now(&state, &user, &c, &form, &format!("{PATH}/{}", t.id)).await
}
