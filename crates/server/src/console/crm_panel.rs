//! The HubSpot panel beside a customer's profile and a ticket: link status, the
//! contact id (linking to the contact in HubSpot), last sync, *Sync Now* with its
//! outcome, the recent history, and the CRM context (the customer's company and
//! deals, read-only). One component for both pages, fed by the API's own
//! functions: `crm_view` (`GET /api/customers/{id}/crm`), `context_view`
//! (`GET /api/customers/{id}/crm/context`) and Sync Now's `run` and `outcome`.
//!
//! *Sync Now* answers with a redirect (post, redirect, get) so a reload does not
//! sync again: the page it lands on names the job or the time the sync started,
//! and the outcome is read back from the store (history, job, link). Nothing of
//! the outcome travels in the address, so a crafted link cannot put words on the
//! page.
//!
//! The context panel reads only what was stored at the last sync ("as of"), so a
//! HubSpot outage never breaks the page: it says so and shows the last reading.

use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use keva_core::context::{format_money, ContextDeal};
use keva_core::JobState;
use keva_store::{ConnectorStatus, Customer};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash};
use super::session::ConsoleUser;
use crate::api::crm::customer_crm::{crm_view, CustomerCrm};
use crate::api::crm::sync_now::{outcome, run, SyncNow, SyncRequest};
use crate::context::{context_view, ContextView};
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::SyncOutcome;

/// Where a *Sync Now* redirect lands: the page's own query. Values that do not
/// parse are ignored (the page shows no outcome), never an error.
#[derive(Debug, Default, Deserialize)]
pub struct SyncQuery {
    /// The connector of a finished Sync Now.
    pub sync_connector: Option<String>,
    /// When that Sync Now started (epoch milliseconds).
    pub sync_since: Option<String>,
    /// The job of a Sync Now still queued when it answered.
    pub sync_job: Option<String>,
}

/// The *Sync Now* form's fields.
#[derive(Debug, Deserialize)]
pub struct SyncForm {
    pub connector_id: String,
}

/// "not_linked" → "Not linked".
pub fn status_label(status: &str) -> String {
    let mut s = status.replace('_', " ");
    if let Some(first) = s.get(0..1) {
        let upper = first.to_uppercase();
        s.replace_range(0..1, &upper);
    }
    s
}

fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

/// *Sync Now* for `customer`, then back to `back` (the profile or the ticket)
/// with what the outcome is to be read from.
pub async fn sync_now(
    state: &AppState,
    user: &ConsoleUser,
    customer: &Customer,
    form: &SyncForm,
    back: &str,
) -> Result<Response, ConsoleError> {
    let connector_id =
        Uuid::parse_str(&form.connector_id).map_err(|_| ApiError::NotFound("connector"))?;
    let request = SyncRequest {
        customer_id: customer.id,
        connector_id,
    };
    // A little before `run` enqueues: the outcome is the history written since.
    let started = Utc::now();
    let target = match run(state, user.user.workspace_id, &request).await? {
        SyncNow::Done(_) => format!(
            "{back}?sync_connector={connector_id}&sync_since={}",
            started.timestamp_millis()
        ),
        SyncNow::Pending(job) => format!("{back}?sync_job={}", job.id),
    };
    Ok(Redirect::to(&target).into_response())
}

fn outcome_notice(o: &SyncOutcome) -> (bool, String) {
    let status = o.status.as_str();
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
    (status == "synced", text)
}

/// The outcome a *Sync Now* redirect points at, read back from the store; `None`
/// when the query names none (or something of another customer or workspace).
pub async fn sync_notice(
    state: &AppState,
    user: &ConsoleUser,
    customer_id: Uuid,
    q: &SyncQuery,
) -> Result<Option<(bool, String)>, ConsoleError> {
    let ws = user.user.workspace_id;
    let done = |connector_id: Uuid, since: DateTime<Utc>| async move {
        let request = SyncRequest {
            customer_id,
            connector_id,
        };
        Ok::<_, ConsoleError>(Some(outcome_notice(
            &outcome(state, ws, &request, since).await?,
        )))
    };
    if let (Some(c), Some(ms)) = (q.sync_connector.as_deref(), q.sync_since.as_deref()) {
        let since = ms.parse().ok().and_then(DateTime::from_timestamp_millis);
        let (Ok(c), Some(since)) = (Uuid::parse_str(c), since) else {
            return Ok(None);
        };
        if state.store.get_connector(ws, c).await?.is_none() {
            return Ok(None);
        }
        return done(c, since).await;
    }
    let Some(job_id) = q.sync_job.as_deref().and_then(|j| Uuid::parse_str(j).ok()) else {
        return Ok(None);
    };
    let Some(mut job) = state.store.get_job(ws, job_id).await? else {
        return Ok(None);
    };
    let of_customer = job.payload.get("customerId").and_then(|v| v.as_str())
        == Some(customer_id.to_string().as_str());
    if !of_customer {
        return Ok(None);
    }
    let since = job.created_at;
    // A job folded into a queued twin finishes when the twin does.
    while let (JobState::Succeeded, Some(twin)) = (job.state, job.coalesced_into) {
        match state.store.get_job(ws, twin).await? {
            Some(t) if t.id != job.id => job = t,
            _ => break,
        }
    }
    match job.state {
        JobState::Succeeded | JobState::Failed | JobState::Dead => {
            done(job.connector_id, since).await
        }
        _ => Ok(Some(match &job.last_error {
            // Tried and failed so far: HubSpot's answer is the news.
            Some(e) => (
                false,
                format!(
                    "Sync Now has not reached HubSpot yet: {}. It is retried (job {}, attempt {} of {}); reload to see the outcome.",
                    e.trim_end_matches('.'),
                    job.id,
                    job.attempts,
                    job.max_attempts
                ),
            ),
            None => (
                true,
                format!(
                    "Sync Now is queued (job {}, {}); it runs when HubSpot allows. Reload to see the outcome.",
                    job.id,
                    job.state.as_str()
                ),
            ),
        })),
    }
}

/// The panel for `customer`: `sync_action` is where its *Sync Now* posts.
pub async fn panel(
    state: &AppState,
    user: &ConsoleUser,
    customer: &Customer,
    sync_action: &str,
    notice: Option<(bool, String)>,
) -> Result<Markup, ConsoleError> {
    let ws = user.user.workspace_id;
    let crm = crm_view(state, ws, customer.id).await?;
    let context = context_panel(state, ws, customer.id, &crm).await?;
    Ok(html! {
        section.hubspot-panel aria-label="HubSpot" {
            h2 { "HubSpot" }
            @if let Some((ok, message)) = &notice { (flash(*ok, message)) }
            (link_panel(user, &crm, sync_action))
            (context)
            (history(&crm))
        }
    })
}

fn link_panel(user: &ConsoleUser, crm: &CustomerCrm, sync_action: &str) -> Markup {
    let link = crm.links.first();
    html! {
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
                    Some(t) => (when(t)),
                    None => span.muted { "Never" },
                }
            }
        }
        @match link {
            Some(l) => form method="post" action=(sync_action) {
                (csrf_input(&user.csrf))
                input type="hidden" name="connector_id" value=(l.connector_id);
                button type="submit" { "Sync Now" }
            },
            None => p.muted { "HubSpot is not connected." },
        }
    }
}

fn history(crm: &CustomerCrm) -> Markup {
    html! {
        @if !crm.history.is_empty() {
            h3 { "Recent history" }
            div style="overflow-x:auto" {
                table data-history-count=(crm.history.len()) {
                    thead { tr { th { "When" } th { "Trigger" } th { "Direction" } th { "Result" } th { "Error" } } }
                    tbody {
                        @for h in &crm.history {
                            tr data-history-id=(h.id) {
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

/// What the CRM context part says before any company or deal can be shown.
enum ContextState {
    NotConnected,
    NotLinked,
    Off,
    NotReadYet,
    Unreadable,
    Read(Box<ContextView>, Option<String>),
}

async fn context_state(
    state: &AppState,
    workspace_id: Uuid,
    customer_id: Uuid,
    crm: &CustomerCrm,
) -> Result<ContextState, ConsoleError> {
    let Some(link) = crm.links.first() else {
        return Ok(ContextState::NotConnected);
    };
    // A failure to read the stored context leaves the rest of the page usable.
    let view = match context_view(state, workspace_id, customer_id).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, %customer_id, "reading the CRM context for the console");
            return Ok(ContextState::Unreadable);
        }
    };
    let Some(view) = view else {
        if link.hubspot_id.is_none() {
            return Ok(ContextState::NotLinked);
        }
        let settings = crate::context::settings::load(state, link.connector_id).await?;
        return Ok(if settings.enabled {
            ContextState::NotReadYet
        } else {
            ContextState::Off
        });
    };
    // Shown from the store; say when HubSpot could not refresh it now.
    let connector = state
        .store
        .get_connector(workspace_id, view.connector_id)
        .await?;
    let unreachable = connector.and_then(|c| match c.status {
        ConnectorStatus::Connected => None,
        ConnectorStatus::Disconnected => Some("HubSpot is disconnected".to_string()),
        _ => Some(match c.status_reason {
            Some(r) => format!("HubSpot cannot be reached: {r}"),
            None => "HubSpot cannot be reached".to_string(),
        }),
    });
    Ok(ContextState::Read(Box::new(view), unreachable))
}

async fn context_panel(
    state: &AppState,
    workspace_id: Uuid,
    customer_id: Uuid,
    crm: &CustomerCrm,
) -> Result<Markup, ConsoleError> {
    let s = context_state(state, workspace_id, customer_id, crm).await?;
    let (kind, body) = match s {
        ContextState::NotConnected => (
            "not_connected",
            html! { p.muted { "HubSpot is not connected." } },
        ),
        ContextState::NotLinked => (
            "not_linked",
            html! {
                p.muted { "Not linked to a HubSpot contact yet: Sync Now links it and reads its company and deals." }
            },
        ),
        ContextState::Off => (
            "off",
            html! {
                p.muted { "CRM context is off for this portal. An admin turns it on with "
                    code { "PUT /api/crm/hubspot/context/settings" } "." }
            },
        ),
        ContextState::NotReadYet => (
            "not_read",
            html! {
                p.muted { "No company or deals read yet: Sync Now reads them." }
            },
        ),
        ContextState::Unreadable => (
            "unreadable",
            html! {
                p.muted { "The CRM context could not be read just now; try again in a moment." }
            },
        ),
        ContextState::Read(view, unreachable) => {
            ("read", context_read(&view, unreachable.as_deref()))
        }
    };
    Ok(html! {
        div.crm-context data-context=(kind) {
            h3 { "Company and deals" }
            (body)
        }
    })
}

fn context_read(v: &ContextView, unreachable: Option<&str>) -> Markup {
    html! {
        p.muted {
            "As of " span data-fetched-at=(v.fetched_at.to_rfc3339()) { (when(v.fetched_at)) }
            @if let Some(why) = unreachable { span data-unreachable { " · " (why) ": this is what was last read." } }
        }
        dl {
            dt { "Company" }
            dd {
                @match &v.company {
                    Some(c) => {
                        @let name = c.name.clone().unwrap_or_else(|| format!("Company {}", c.id));
                        @match &c.url {
                            Some(u) => a data-company-id=(c.id) href=(u) rel="noopener" target="_blank" { (name) },
                            None => span data-company-id=(c.id) { (name) },
                        }
                    },
                    None => span.muted data-company-id="" { "No company in HubSpot" },
                }
            }
            @if let Some(c) = &v.company {
                @if let Some(d) = &c.domain { dt { "Domain" } dd { (d) } }
                @if let Some(i) = &c.industry { dt { "Industry" } dd { (i) } }
                @if let Some(w) = &c.website { dt { "Website" } dd { (w) } }
                @if let Some(n) = c.employee_count { dt { "Employees" } dd { (n) } }
                @for (name, value) in &c.fields { dt { (name) } dd { (value) } }
            }
            dt { "Status" } dd data-customer-status=(v.status.as_str()) { (status_label(v.status.as_str())) }
            dt { "Priority" } dd data-priority=(v.priority) { (v.priority) " / 100" }
        }
        @if v.deals.is_empty() {
            p.muted { "No deals." }
        } @else {
            ul.deals { @for d in &v.deals { (deal_item(d)) } }
        }
    }
}

fn deal_item(d: &ContextDeal) -> Markup {
    let name = d.name.clone().unwrap_or_else(|| format!("Deal {}", d.id));
    // HubSpot sends close dates as date-times; the day is what an agent needs.
    let close = d.close_date.as_deref().map(|c| {
        DateTime::parse_from_rfc3339(c)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|_| c.to_string())
    });
    // A list rather than a table: it fits the narrow sidebar beside a ticket.
    html! {
        li data-deal-id=(d.id) {
            @match &d.url {
                Some(u) => a href=(u) rel="noopener" target="_blank" { (name) },
                None => strong { (name) },
            }
            @if let Some(p) = &d.pipeline { " " span.muted { "· " (p) } }
            br;
            span data-stage=[d.stage.as_deref()] {
                (d.stage.as_deref().unwrap_or("No stage"))
                @if let Some(p) = d.probability { " (" (format!("{:.0}", p * 100.0)) "%)" }
            }
            @if let Some(a) = d.amount { " · " span data-amount { (format_money(a, &d.currency)) } }
            @if let Some(c) = close { " · closes " span data-close-date { (c) } }
            " · " span data-deal-state=(d.state.as_str()) { (status_label(d.state.as_str())) }
        }
    }
}
