//! *Sync history*: the connector's sync attempts, newest first, filtered by result
//! (synced, failed, conflict, skipped), with each attempt's fields old → new, the
//! error and HubSpot's correlation id; *Retry* on a failed record runs Sync Now
//! for its customer (the customer page's own form). Read through the store query
//! `GET /api/crm/hubspot/history` uses, shown as the API's `HistoryView`.

use axum::extract::{Query, State};
use keva_store::HistoryResult;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, page, Nav};
use super::session::AdminUser;
use crate::api::crm::connector_for;
use crate::api::crm::history::HistoryView;
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path.
pub const PATH: &str = "/settings/sync-history";
const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    pub status: Option<String>,
    pub before: Option<Uuid>,
}

/// One changed field, `field: old → new`, from the stored JSON.
fn change(c: &serde_json::Value) -> Markup {
    let text = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("∅").to_string();
    html! {
        li { (text("field")) " (" (text("direction")) "): " (text("old")) " → " (text("new")) }
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Markup, ConsoleError> {
    let user = &admin.0;
    let ws = user.user.workspace_id;
    let connector = connector_for(&state, ws, None).await?;
    let filter = q.status.as_deref().filter(|s| !s.is_empty());
    let result = match filter {
        None => None,
        Some(s) => Some(HistoryResult::parse(s).ok_or_else(|| {
            ConsoleError::Api(ApiError::Unprocessable(
                "status must be synced, failed, conflict or skipped".into(),
            ))
        })?),
    };
    let entries: Vec<HistoryView> = state
        .store
        .history(ws, connector.id, result, q.before, PAGE_SIZE)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let next = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|h| h.id))
        .flatten();
    let body = html! {
        h1 { "Sync history" }
        nav aria-label="Result" {
            p {
                @for (value, label) in [("", "All"), ("failed", "Failed"), ("conflict", "Conflict"), ("synced", "Synced"), ("skipped", "Skipped")] {
                    @if filter.unwrap_or("") == value { strong aria-current="page" { (label) } }
                    @else { a href={ (PATH) @if !value.is_empty() { "?status=" (value) } } { (label) } }
                    " "
                }
            }
        }
        section {
            @if entries.is_empty() { p.muted { "No sync attempts." } }
            @else {
                div style="overflow-x:auto" {
                    table {
                        thead { tr { th { "When" } th { "Customer" } th { "Result" } th { "Fields" } th { "Error" } th { span.muted { "Action" } } } }
                        tbody {
                            @for h in &entries {
                                tr data-result=(h.result) {
                                    td { (h.created_at.format("%Y-%m-%d %H:%M:%S")) br; span.muted { (h.trigger) ", " (h.direction) } }
                                    td {
                                        @if let Some(c) = h.customer_id { a href={ "/customers/" (c) } { "Customer" } }
                                        @if let Some(id) = &h.hubspot_id { br; span.muted { "contact " (id) } }
                                    }
                                    td { (h.result) }
                                    td {
                                        @if let Some(list) = h.fields.as_array().filter(|l| !l.is_empty()) {
                                            ul { @for c in list { (change(c)) } }
                                        }
                                    }
                                    td {
                                        (h.error.as_deref().unwrap_or(""))
                                        @if let Some(cid) = &h.correlation_id { br; span.muted { "HubSpot correlation id " (cid) } }
                                    }
                                    td {
                                        @if let (Some(c), "failed") = (h.customer_id, h.result.as_str()) {
                                            form.inline method="post" action={ "/customers/" (c) "/sync-now" } {
                                                (csrf_input(&user.csrf))
                                                input type="hidden" name="connector_id" value=(h.connector_id);
                                                button.secondary type="submit" { "Retry" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(before) = next {
                    p { a href={ (PATH) "?before=" (before) @if let Some(f) = filter { "&status=" (f) } } { "Older" } }
                }
            }
        }
    };
    Ok(page(user, "Sync history", Nav::History, body))
}
