//! `/api/crm/hubspot/batch-sync`: start a batch sync of a connector (202, or 409
//! while one is active), follow its progress, cancel it (it stops after the chunk
//! in progress, whose work is kept).

use axum::extract::State;
use axum::http::StatusCode;
use keva_store::{BatchState, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::batch::{self, BatchProgress};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    pub connector_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchAccepted {
    pub batch: BatchProgress,
}

#[utoipa::path(post, path = "/api/crm/hubspot/batch-sync", tag = "crm",
    request_body = BatchRequest, security(("api_key" = [])),
    responses(
        (status = 202, body = BatchAccepted, description = "the batch sync started; follow it with GET"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such connector in this workspace"),
        (status = 409, body = ErrorBody, description = "a batch sync of this connector is running or paused")))]
pub async fn start_batch(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<BatchRequest>,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    let batch = start_run(&state, auth.workspace_id, body.connector_id).await?;
    Ok((StatusCode::ACCEPTED, Json(BatchAccepted { batch })))
}

/// Starts a batch sync of a connector of `workspace_id` (the API and the
/// console's *Run Batch Sync*).
pub(crate) async fn start_run(
    state: &AppState,
    workspace_id: Uuid,
    connector_id: Uuid,
) -> Result<BatchProgress, ApiError> {
    state
        .store
        .get_connector(workspace_id, connector_id)
        .await?
        .ok_or(ApiError::NotFound("connector"))?;
    let settings = batch::settings_for(state);
    let (run, _) = match batch::start(state, workspace_id, connector_id, settings).await {
        Ok(started) => started,
        Err(StoreError::Conflict(m)) => return Err(ApiError::Conflict(m)),
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("connector")),
        Err(e) => return Err(e.into()),
    };
    Ok(BatchProgress::of(&run, chrono::Utc::now()))
}

#[utoipa::path(get, path = "/api/crm/hubspot/batch-sync/{id}", tag = "crm",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = BatchProgress), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_batch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<BatchProgress>, ApiError> {
    Ok(Json(progress(&state, auth.workspace_id, id).await?))
}

/// A run's progress; `NotFound` for another workspace's.
pub(crate) async fn progress(
    state: &AppState,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<BatchProgress, ApiError> {
    let run = state
        .store
        .get_batch(workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("batch sync"))?;
    Ok(BatchProgress::of(&run, chrono::Utc::now()))
}

#[utoipa::path(delete, path = "/api/crm/hubspot/batch-sync/{id}", tag = "crm",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = BatchProgress, description = "cancelled; the chunk in progress completes"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the batch sync has already ended")))]
pub async fn cancel_batch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<BatchProgress>, ApiError> {
    Ok(Json(cancel(&state, auth.workspace_id, id).await?))
}

/// Cancels a run of `workspace_id` (the API and the console's *Cancel*).
pub(crate) async fn cancel(
    state: &AppState,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<BatchProgress, ApiError> {
    state
        .store
        .get_batch(workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("batch sync"))?;
    let run = match state
        .store
        .set_batch_state(
            id,
            BatchState::Cancelled,
            Some("cancelled by the user"),
            None,
        )
        .await
    {
        Ok(r) => r,
        Err(StoreError::Conflict(m)) => return Err(ApiError::Conflict(m)),
        Err(e) => return Err(e.into()),
    };
    Ok(BatchProgress::of(&run, chrono::Utc::now()))
}
