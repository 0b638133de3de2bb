//! *Sync history*: the connector's sync attempts, newest first, filtered by result
//! (synced, failed, conflict, skipped) and by customer (email or customer id),
//! with each attempt's fields old → new, the error and HubSpot's correlation id;
//! *Retry* on a failed record runs Sync Now for its customer (the customer page's
//! own form). The page is `GET /api/crm/hubspot/history`'s own `history_page`, so
//! a customer the workspace does not have (another workspace's id included) is a
//! 404 here as there, shown with the filter form and no rows.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ConsoleError;
use super::layout::{csrf_input, flash, page, Nav};
use super::session::AdminUser;
use crate::api::crm::history::{history_page, HistoryParams};
use crate::error::ApiError;
use crate::state::AppState;

/// This page's path.
pub const PATH: &str = "/settings/sync-history";
const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    pub status: Option<String>,
    /// A customer id or an email.
    pub customer: Option<String>,
    pub before: Option<Uuid>,
}

impl HistoryQuery {
    /// The API's parameters for this page: a customer given as a UUID is an id,
    /// anything else an email.
    fn params(&self, status: Option<&str>, customer: Option<&str>) -> HistoryParams {
        let id = customer.and_then(|c| Uuid::parse_str(c).ok());
        HistoryParams {
            connector_id: None,
            status: status.map(str::to_string),
            customer_id: id,
            email: customer.filter(|_| id.is_none()).map(str::to_string),
            before: self.before,
            limit: Some(PAGE_SIZE),
        }
    }
}

/// This page's URL with `status` and `customer` (and `before`), for links.
fn href(status: Option<&str>, customer: Option<&str>, before: Option<Uuid>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = status {
        query.append_pair("status", s);
    }
    if let Some(c) = customer {
        query.append_pair("customer", c);
    }
    if let Some(b) = before {
        query.append_pair("before", &b.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        PATH.to_string()
    } else {
        format!("{PATH}?{query}")
    }
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
) -> Result<Response, ConsoleError> {
    let user = &admin.0;
    let ws = user.user.workspace_id;
    let filter = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let customer = q
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (status, notice, entries, next) =
        match history_page(&state, ws, q.params(filter, customer)).await {
            Ok(p) => (StatusCode::OK, None, p.data, p.next_cursor),
            Err(e @ ApiError::NotFound("customer")) => {
                let message = format!(
                    "No customer {:?} in this workspace.",
                    customer.unwrap_or_default()
                );
                (e.status(), Some(message), Vec::new(), None)
            }
            Err(e) => return Err(e.into()),
        };
    let body = html! {
        h1 { "Sync history" }
        nav aria-label="Result" {
            p {
                @for (value, label) in [("", "All"), ("failed", "Failed"), ("conflict", "Conflict"), ("synced", "Synced"), ("skipped", "Skipped")] {
                    @if filter.unwrap_or("") == value { strong aria-current="page" { (label) } }
                    @else { a href=(href(Some(value).filter(|v| !v.is_empty()), customer, None)) { (label) } }
                    " "
                }
            }
        }
        form #customer-filter method="get" action=(PATH) {
            @if let Some(f) = filter { input type="hidden" name="status" value=(f); }
            label for="customer" { "Customer (email or customer id)" }
            input #customer type="text" name="customer" value=(customer.unwrap_or("")) autocomplete="off";
            p {
                button type="submit" { "Filter" }
                @if customer.is_some() { " " a href=(href(filter, None, None)) { "All customers" } }
            }
        }
        @if let Some(message) = &notice { (flash(false, message)) }
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
                    p { a href=(href(filter, customer, Some(before))) { "Older" } }
                }
            }
        }
    };
    Ok((status, page(user, "Sync history", Nav::History, body)).into_response())
}
