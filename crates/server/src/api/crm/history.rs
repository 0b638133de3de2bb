//! `GET /api/crm/hubspot/history`: a connector's sync attempts, newest first,
//! optionally only those of one result and/or one customer (by id or email),
//! paged with `before`. The console's *Sync history* page calls `history_page`.

use axum::extract::State;
use keva_store::{HistoryEntry, HistoryFilter, HistoryResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::connector_for;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

/// One sync attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub id: Uuid,
    pub connector_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub hubspot_id: Option<String>,
    /// `ticket`, `profile_update`, `webhook`, `manual` or `batch`.
    pub trigger: String,
    /// `to_crm`, `from_crm`, `both` or `none`.
    pub direction: String,
    /// `synced`, `failed`, `conflict` or `skipped`.
    pub result: String,
    /// `{fieldsChanged:[{field, property, direction, old, new}], conflicts, warnings, status, reason}`.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub error: Option<String>,
    /// HubSpot's correlationId of the failing call, for support.
    pub correlation_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<HistoryEntry> for HistoryView {
    fn from(h: HistoryEntry) -> Self {
        Self {
            id: h.id,
            connector_id: h.connector_id,
            customer_id: h.customer_id,
            hubspot_id: h.hubspot_id,
            trigger: h.trigger.as_str().to_string(),
            direction: h.direction.as_str().to_string(),
            result: h.result.as_str().to_string(),
            fields: h.fields,
            error: h.error,
            correlation_id: h.correlation_id,
            created_at: h.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryParams {
    /// Optional when the workspace has exactly one connector.
    pub connector_id: Option<Uuid>,
    /// `synced`, `failed`, `conflict` or `skipped`.
    #[param(pattern = r"^(synced|failed|conflict|skipped)$")]
    pub status: Option<String>,
    /// Only this customer's attempts (404 if the workspace has no such customer).
    pub customer_id: Option<Uuid>,
    /// Only the attempts of the customer with this email (trimmed, any case; 404
    /// if the workspace has none). Not together with `customerId`.
    pub email: Option<String>,
    /// The `nextCursor` of the previous page.
    pub before: Option<Uuid>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub data: Vec<HistoryView>,
    pub next_cursor: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/crm/hubspot/history", tag = "crm",
    params(HistoryParams), security(("api_key" = [])),
    responses((status = 200, body = HistoryPage), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    Ok(Json(history_page(&state, auth.workspace_id, p).await?))
}

/// The customer `p` narrows the history to, if any: `NotFound` when the
/// workspace has no such customer (another workspace's id included), as
/// `GET /api/customers/{id}` answers.
async fn customer_of(
    state: &AppState,
    workspace_id: Uuid,
    p: &HistoryParams,
) -> Result<Option<Uuid>, ApiError> {
    let email = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let found = match (p.customer_id, email) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "give customerId or email, not both".into(),
            ))
        }
        (Some(id), None) => state.store.get_customer(workspace_id, id).await?,
        (None, Some(email)) => state.store.customer_by_email(workspace_id, email).await?,
    };
    found
        .map(|c| Some(c.id))
        .ok_or(ApiError::NotFound("customer"))
}

/// One page of a connector's history as the API answers it (the API and the
/// console's *Sync history*).
pub(crate) async fn history_page(
    state: &AppState,
    workspace_id: Uuid,
    p: HistoryParams,
) -> Result<HistoryPage, ApiError> {
    let connector = connector_for(state, workspace_id, p.connector_id).await?;
    let result = match p.status.as_deref() {
        None => None,
        Some(s) => Some(HistoryResult::parse(s).ok_or_else(|| {
            ApiError::Unprocessable("status must be synced, failed, conflict or skipped".into())
        })?),
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::Unprocessable(
            "limit must be between 1 and 200".into(),
        ));
    }
    let filter = HistoryFilter {
        result,
        customer_id: customer_of(state, workspace_id, &p).await?,
    };
    let page = state
        .store
        .history_filtered(workspace_id, connector.id, filter, p.before, limit)
        .await?;
    let next_cursor = if page.len() == limit as usize {
        page.last().map(|h| h.id)
    } else {
        None
    };
    Ok(HistoryPage {
        data: page.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}
