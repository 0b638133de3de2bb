//! `GET /api/crm/hubspot/webhooks/log`: the requests HubSpot (or anyone) sent to
//! the receiver for this workspace, accepted or refused with the reason — what the
//! troubleshooting guide means by "check Keva logs for incoming webhook requests".

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogParams {
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `nextBefore` of the previous page.
    pub before: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookLogEntry {
    pub id: Uuid,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub portal_id: Option<i64>,
    pub event_count: u32,
    /// Verified and stored.
    pub valid: bool,
    pub reject_reason: Option<String>,
    /// Events of the request already received before (HubSpot's retries).
    pub duplicates: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookLogPage {
    pub data: Vec<WebhookLogEntry>,
    /// Pass as `before` for older entries; absent on the last page.
    pub next_before: Option<Uuid>,
}

/// Received webhook requests, newest first. Requests that could not be tied to a
/// workspace (unparseable, unknown portal) are counted in `/metrics` only.
#[utoipa::path(get, path = "/api/crm/hubspot/webhooks/log", tag = "webhooks",
    params(LogParams),
    security(("api_key" = [])),
    responses((status = 200, body = WebhookLogPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn webhook_log(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<LogParams>,
) -> Result<Json<WebhookLogPage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Unprocessable(
            "limit must be between 1 and 500".into(),
        ));
    }
    let rows = state
        .store
        .webhook_log(auth.workspace_id, limit, params.before)
        .await?;
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let data = rows
        .into_iter()
        .map(|r| WebhookLogEntry {
            id: r.id,
            received_at: r.received_at,
            portal_id: r.portal_id,
            event_count: r.event_count,
            valid: r.valid,
            reject_reason: r.reject_reason,
            duplicates: r.duplicates,
        })
        .collect();
    Ok(Json(WebhookLogPage { data, next_before }))
}
