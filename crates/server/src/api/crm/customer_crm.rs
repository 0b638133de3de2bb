//! `GET /api/customers/{id}/crm`: a customer's HubSpot link per connector (contact
//! id, status and why, last sync) and its recent sync history.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::history::HistoryView;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub connector_id: Uuid,
    pub portal_id: i64,
    pub hubspot_id: Option<String>,
    /// `pending`, `synced`, `failed`, `conflict` or `not_linked`.
    pub status: String,
    pub reason: Option<String>,
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerCrm {
    pub customer_id: Uuid,
    /// The first connected connector's link, for the common one-portal case.
    pub hubspot_id: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub last_sync_at: Option<chrono::DateTime<chrono::Utc>>,
    pub links: Vec<LinkView>,
    /// Newest first.
    pub history: Vec<HistoryView>,
}

#[utoipa::path(get, path = "/api/customers/{id}/crm", tag = "customers",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = CustomerCrm), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn customer_crm(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<CustomerCrm>, ApiError> {
    Ok(Json(crm_view(&state, auth.workspace_id, id).await?))
}

/// A customer's links and recent history (the API and the console's HubSpot
/// panel); `NotFound` for another workspace's customer.
pub(crate) async fn crm_view(
    state: &AppState,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<CustomerCrm, ApiError> {
    let auth_workspace = workspace_id;
    state
        .store
        .get_customer(auth_workspace, id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let mut links = Vec::new();
    let mut connectors = state.store.list_connectors(auth_workspace).await?;
    // Connected portals first: the top-level fields describe the live link.
    connectors.sort_by_key(|c| c.status != keva_store::ConnectorStatus::Connected);
    for c in connectors {
        let link = state.store.get_link(c.id, id).await?;
        links.push(LinkView {
            connector_id: c.id,
            portal_id: c.portal_id,
            hubspot_id: link.as_ref().and_then(|l| l.hubspot_id.clone()),
            status: link
                .as_ref()
                .map_or("not_linked", |l| l.status.as_str())
                .to_string(),
            reason: link.as_ref().and_then(|l| l.status_reason.clone()),
            last_synced_at: link.and_then(|l| l.last_synced_at),
        });
    }
    let history = state
        .store
        .customer_history(auth_workspace, id, 20)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let first = links.first();
    Ok(CustomerCrm {
        customer_id: id,
        hubspot_id: first.and_then(|l| l.hubspot_id.clone()),
        status: first.map_or_else(|| "not_linked".to_string(), |l| l.status.clone()),
        reason: first.and_then(|l| l.reason.clone()),
        last_sync_at: first.and_then(|l| l.last_synced_at),
        links,
        history,
    })
}
