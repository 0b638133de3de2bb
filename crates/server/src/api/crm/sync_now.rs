//! `POST /api/crm/hubspot/sync` (Sync Now: enqueue, wait a bounded time for the job,
//! return its outcome — or 202 with the job while HubSpot rate-limits or the job
//! waits for a retry) and `POST /api/crm/hubspot/test-mapping` (a dry run that
//! writes nothing, neither in Keva nor in HubSpot).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keva_core::{missing_properties, preview, ObjectKind, SyncDirection, SyncStatus, Trigger};
use keva_store::Job;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{connector_for, sync_error};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;
use crate::sync::jobs::{customer_job, wait_for_outcome, Waited};
use crate::sync::{properties, SyncOutcome};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    pub customer_id: Uuid,
    pub connector_id: Uuid,
}

/// A queued sync job, as returned with 202.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub run_at: chrono::DateTime<chrono::Utc>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncAccepted {
    pub job: JobView,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id,
            state: j.state.as_str().to_string(),
            attempts: j.attempts,
            run_at: j.run_at,
            last_error: j.last_error.clone(),
        }
    }
}

#[utoipa::path(post, path = "/api/crm/hubspot/sync", tag = "crm",
    request_body = SyncRequest, security(("api_key" = [])),
    responses(
        (status = 200, body = SyncOutcome, description = "the sync ran: contact id, direction, fields changed, warnings"),
        (status = 202, body = SyncAccepted, description = "queued: HubSpot is rate-limiting or the job waits for a retry"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sync_now(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<SyncRequest>,
) -> Result<Response, ApiError> {
    match run(&state, auth.workspace_id, &body).await? {
        SyncNow::Done(outcome) => Ok(Json(outcome).into_response()),
        SyncNow::Pending(job) => {
            Ok((StatusCode::ACCEPTED, Json(SyncAccepted { job })).into_response())
        }
    }
}

/// What Sync Now came to within its wait.
#[derive(Debug)]
pub(crate) enum SyncNow {
    Done(SyncOutcome),
    /// Still queued (HubSpot rate-limits, or the job waits for a retry).
    Pending(JobView),
}

/// Sync Now for a customer of `workspace_id` (the API and the console's button):
/// enqueue, wake the workers, wait a bounded time for the outcome.
pub(crate) async fn run(
    state: &AppState,
    workspace_id: Uuid,
    body: &SyncRequest,
) -> Result<SyncNow, ApiError> {
    let connector = connector_for(state, workspace_id, Some(body.connector_id)).await?;
    state
        .store
        .get_customer(workspace_id, body.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let started = chrono::Utc::now();
    let job = customer_job(
        state,
        workspace_id,
        connector.id,
        body.customer_id,
        Trigger::Manual,
    );
    let job_id = state.store.enqueue(&job).await?.job_id;
    state.wake_workers();
    let wait = state.sync.sync_now_wait;
    match wait_for_outcome(state, workspace_id, job_id, wait).await? {
        Waited::Finished => Ok(SyncNow::Done(
            outcome(state, workspace_id, body, started).await?,
        )),
        Waited::Pending(job) => Ok(SyncNow::Pending(JobView::from(&*job))),
        Waited::Gone => Err(ApiError::NotFound("job")),
    }
}

/// The newest outcome recorded since the request started, else the link's state
/// (also how the console shows a Sync Now's outcome after its redirect).
pub(crate) async fn outcome(
    state: &AppState,
    workspace_id: Uuid,
    body: &SyncRequest,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<SyncOutcome, ApiError> {
    let recent = state
        .store
        .customer_history(workspace_id, body.customer_id, 20)
        .await?;
    if let Some(h) = recent
        .iter()
        .find(|h| h.connector_id == body.connector_id && h.created_at >= since)
    {
        return Ok(SyncOutcome::from_history(h));
    }
    let link = state
        .store
        .get_link(body.connector_id, body.customer_id)
        .await?;
    Ok(SyncOutcome {
        contact_id: link.as_ref().and_then(|l| l.hubspot_id.clone()),
        direction: SyncDirection::None,
        fields_changed: Vec::new(),
        warnings: Vec::new(),
        conflicts: Vec::new(),
        status: link.as_ref().map_or(SyncStatus::NotLinked, |l| l.status),
        reason: link.and_then(|l| l.status_reason),
        created: false,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestMappingRequest {
    pub connector_id: Uuid,
    pub customer_id: Uuid,
    /// Must be true (the default): test-mapping never writes.
    #[serde(default = "yes")]
    #[schema(schema_with = crate::api::schema::only_true)]
    pub dry_run: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestMappingResult {
    /// The HubSpot properties the customer's mappings would produce.
    #[schema(value_type = Object)]
    pub preview: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

#[utoipa::path(post, path = "/api/crm/hubspot/test-mapping", tag = "crm",
    request_body = TestMappingRequest, security(("api_key" = [])),
    responses((status = 200, body = TestMappingResult), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the connector is disconnected or must be reconnected"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "HubSpot is unavailable")))]
pub async fn test_mapping(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<TestMappingRequest>,
) -> Result<Json<TestMappingResult>, ApiError> {
    if !body.dry_run {
        return Err(ApiError::Unprocessable(
            "test-mapping only runs as a dry run (dryRun: true)".into(),
        ));
    }
    Ok(Json(
        dry_run(
            &state,
            auth.workspace_id,
            body.connector_id,
            body.customer_id,
        )
        .await?,
    ))
}

/// Test Mapping's dry run for a customer of `workspace_id` (the API and the
/// console's *Test Mapping*): nothing is written anywhere.
pub(crate) async fn dry_run(
    state: &AppState,
    workspace_id: Uuid,
    connector_id: Uuid,
    customer_id: Uuid,
) -> Result<TestMappingResult, ApiError> {
    let connector = connector_for(state, workspace_id, Some(connector_id)).await?;
    super::ensure_connected(&connector)?;
    let customer = state
        .store
        .get_customer(workspace_id, customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let mappings = properties::mappings(state, &connector, ObjectKind::Contact)
        .await
        .map_err(sync_error)?;
    let props = properties::without_caching(state, &connector, ObjectKind::Contact)
        .await?
        .map_err(sync_error)?;
    let missing = missing_properties(&mappings, &props);
    let p = preview(&mappings, &customer, &missing);
    Ok(TestMappingResult {
        preview: p.preview,
        warnings: p.warnings,
        errors: p.errors,
    })
}
