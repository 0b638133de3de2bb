//! *Customers* and a customer's profile with the HubSpot panel: link status, the
//! contact id (linking to the contact in HubSpot), last sync, *Sync Now* with its
//! outcome, and the recent history. Open to agents and admins; another
//! workspace's customer is a 404, as in the API. The panel and *Sync Now* are the
//! API's own `crm_view` and `sync_now::run`.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keva_store::Customer;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::ConsoleUser;
use crate::api::crm::customer_crm::{crm_view, CustomerCrm};
use crate::api::crm::sync_now::{run, SyncNow, SyncRequest};
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

async fn customer(
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

fn status_label(status: &str) -> String {
    let mut s = status.replace('_', " ");
    if let Some(first) = s.get(0..1) {
        let upper = first.to_uppercase();
        s.replace_range(0..1, &upper);
    }
    s
}

fn panel(user: &ConsoleUser, c: &Customer, crm: &CustomerCrm) -> Markup {
    let link = crm.links.first();
    html! {
        section aria-label="HubSpot" {
            h2 { "HubSpot" }
            dl {
                dt { "Link status" }
                dd data-link-status=(crm.status) {
                    (status_label(&crm.status))
                    @if let Some(r) = &crm.reason { " — " (r) }
                }
                dt { "Contact ID" }
                dd {
                    @match (link, &crm.hubspot_id) {
                        (Some(l), Some(id)) => a data-contact-id=(id) rel="noopener" target="_blank"
                            href={ "https://app.hubspot.com/contacts/" (l.portal_id) "/record/0-1/" (id) } { (id) },
                        _ => span.muted { "Not linked" },
                    }
                }
                dt { "Last sync" }
                dd {
                    @match crm.last_sync_at {
                        Some(t) => time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) },
                        None => span.muted { "Never" },
                    }
                }
            }
            @match link {
                Some(l) => form method="post" action={ (PATH) "/" (c.id) "/sync-now" } {
                    (csrf_input(&user.csrf))
                    input type="hidden" name="connector_id" value=(l.connector_id);
                    button type="submit" { "Sync Now" }
                },
                None => p.muted { "HubSpot is not connected." },
            }
            @if !crm.history.is_empty() {
                h2 { "Recent history" }
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "When" } th { "Trigger" } th { "Direction" } th { "Result" } th { "Error" } } }
                        tbody {
                            @for h in &crm.history {
                                tr {
                                    td { (h.created_at.format("%Y-%m-%d %H:%M:%S")) }
                                    td { (h.trigger) }
                                    td { (h.direction) }
                                    td { (h.result) }
                                    td { (h.error.as_deref().unwrap_or("")) }
                                }
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
    user: &ConsoleUser,
    c: &Customer,
    notice: Option<(bool, String)>,
) -> Result<Markup, ConsoleError> {
    let crm = crm_view(state, user.user.workspace_id, c.id).await?;
    let body = html! {
        p { a href=(PATH) { "← Customers" } }
        h1 { (c.name.as_deref().unwrap_or(&c.email)) }
        @if let Some((ok, message)) = &notice { (flash(*ok, message)) }
        section {
            dl {
                dt { "Email" } dd { (c.email) }
                @if let Some(v) = &c.company { dt { "Company" } dd { (v) } }
                @if let Some(v) = &c.job_title { dt { "Job title" } dd { (v) } }
                @if let Some(v) = &c.phone { dt { "Phone" } dd { (v) } }
                @if let Some(v) = &c.location { dt { "Location" } dd { (v) } }
            }
        }
        (panel(user, c, &crm))
    };
    Ok(page(user, "Customer", Nav::Customers, body))
}

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let c = customer(&state, &user, &id).await?;
    render(&state, &user, &c, None).await
}

#[derive(Debug, Deserialize)]
pub struct SyncForm {
    pub connector_id: String,
}

/// *Sync Now*: the outcome (or that it is queued) shown on the profile.
pub async fn sync_now(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<SyncForm>,
) -> Result<Response, ConsoleError> {
    let c = customer(&state, &user, &id).await?;
    let connector_id =
        Uuid::parse_str(&form.connector_id).map_err(|_| ApiError::NotFound("connector"))?;
    let request = SyncRequest {
        customer_id: c.id,
        connector_id,
    };
    let notice = match run(&state, user.user.workspace_id, &request).await {
        Ok(SyncNow::Done(o)) => {
            let status = o.status.as_str();
            let ok = status == "synced";
            let mut text = format!("Sync Now: {}", status_label(status));
            if let Some(id) = &o.contact_id {
                text.push_str(&format!(", contact {id}"));
            }
            if !o.fields_changed.is_empty() {
                text.push_str(&format!(", {} field(s) changed", o.fields_changed.len()));
            }
            if let Some(r) = &o.reason {
                text.push_str(&format!(" — {r}"));
            }
            for w in &o.warnings {
                text.push_str(&format!("; warning: {}", w.message));
            }
            (ok, text)
        }
        Ok(SyncNow::Pending(job)) => (
            true,
            format!(
                "Sync Now is queued (job {}, {}); it runs when HubSpot allows.",
                job.id, job.state
            ),
        ),
        Err(e @ (ApiError::Internal(_) | ApiError::NotFound(_))) => return Err(e.into()),
        Err(e) => (false, format!("Sync Now failed: {e}")),
    };
    let page = render(&state, &user, &c, Some(notice)).await?;
    Ok((StatusCode::OK, page).into_response())
}
