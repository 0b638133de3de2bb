//! `POST /api/tickets`: a support ticket arrives; an unknown sender becomes a customer.
//!
//! Finding-or-creating the customer and storing the ticket happen in one store
//! transaction, so two tickets racing from the same new address make one customer.
//! The customer's sync is then enqueued (search-or-create in HubSpot).
//!
//! A ticket may carry custom `attributes` for its sender, checked like the
//! customer API's (422 naming the attribute, and then no ticket is stored either)
//! and merged into the customer, new or existing.

use axum::extract::State;
use axum::http::StatusCode;
use keva_core::{CustomerPatch, Trigger};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::attribute_values::WorkspaceAttributes;
use crate::api::customers::{parse_email, CustomerView};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;
use crate::sync::jobs::enqueue_customer_sync;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTicket {
    /// The sender's email address.
    #[schema(format = "email")]
    pub email: String,
    pub name: Option<String>,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub subject: String,
    /// Custom attribute values for the sender, merged into the customer.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub subject: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreated {
    pub ticket: TicketView,
    pub customer: CustomerView,
    /// True when this ticket's sender was not a customer yet.
    pub customer_created: bool,
    /// The customer's HubSpot company and deals as last read (null until context
    /// is on and the customer has been synced); see `/api/customers/{id}/crm/context`.
    #[schema(value_type = Option<Object>)]
    pub crm_context: Option<crate::context::ContextView>,
}

#[utoipa::path(post, path = "/api/tickets", tag = "tickets",
    request_body = CreateTicket, security(("api_key" = [])),
    responses((status = 201, body = TicketCreated), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_ticket(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<CreateTicket>,
) -> Result<(StatusCode, Json<TicketCreated>), ApiError> {
    let email = parse_email(&body.email)?;
    let subject = body.subject.trim();
    if subject.is_empty() {
        return Err(ApiError::Unprocessable("subject must not be empty".into()));
    }
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let attrs = WorkspaceAttributes::load(&state, auth.workspace_id).await?;
    let attributes = attrs.check(body.attributes.as_ref())?;
    let (ticket, mut customer, created) = state
        .store
        .create_ticket(auth.workspace_id, email.as_str(), name, subject)
        .await?;
    if !attributes.is_empty() {
        let patch = CustomerPatch {
            attributes,
            ..CustomerPatch::default()
        };
        customer = state
            .store
            .update_customer(auth.workspace_id, customer.id, &patch)
            .await?
            .ok_or(ApiError::NotFound("customer"))?;
    }
    enqueue_customer_sync(&state, auth.workspace_id, customer.id, Trigger::Ticket).await?;
    let crm_context = crate::context::context_view(&state, auth.workspace_id, customer.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(TicketCreated {
            ticket: TicketView {
                id: ticket.id,
                customer_id: ticket.customer_id,
                subject: ticket.subject,
                created_at: ticket.created_at,
            },
            customer: attrs.view(customer),
            customer_created: created,
            crm_context,
        }),
    ))
}
