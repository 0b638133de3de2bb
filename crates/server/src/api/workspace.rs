//! `GET/PUT /api/workspace/settings`: settings of the caller's workspace that
//! the sync reads, today the default phone region (`phoneRegion`, ISO 3166
//! alpha-2 such as `GB`) in which the `phone_e164` mapping transform reads
//! numbers written without a country code.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSettings {
    /// Region numbers without a country code are read in (`GB`, `US`, …);
    /// `null`: none, so only numbers with a country code become E.164.
    pub phone_region: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutWorkspaceSettings {
    /// An ISO 3166 alpha-2 region code (any case), or `null` to clear it.
    pub phone_region: Option<String>,
}

async fn view(state: &AppState, auth: &Authenticated) -> Result<WorkspaceSettings, ApiError> {
    let ws = state
        .store
        .get_workspace(auth.workspace_id)
        .await?
        .ok_or(ApiError::NotFound("workspace"))?;
    Ok(WorkspaceSettings {
        phone_region: ws.phone_region,
    })
}

#[utoipa::path(get, path = "/api/workspace/settings", tag = "workspace",
    security(("api_key" = [])),
    responses((status = 200, body = WorkspaceSettings), (status = 401, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<WorkspaceSettings>, ApiError> {
    Ok(Json(view(&state, &auth).await?))
}

#[utoipa::path(put, path = "/api/workspace/settings", tag = "workspace",
    request_body = PutWorkspaceSettings, security(("api_key" = [])),
    responses((status = 200, body = WorkspaceSettings), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "not a known region code; nothing saved")))]
pub async fn put_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<PutWorkspaceSettings>,
) -> Result<Json<WorkspaceSettings>, ApiError> {
    let region = match body.phone_region.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => {
            let code = code.to_ascii_uppercase();
            if !keva_core::known_region(&code) {
                return Err(ApiError::Unprocessable(format!(
                    "phoneRegion {code:?} is not an ISO 3166 region code the phone rules know (e.g. GB, US)"
                )));
            }
            Some(code)
        }
    };
    state
        .store
        .set_workspace_phone_region(auth.workspace_id, region.as_deref())
        .await?;
    Ok(Json(view(&state, &auth).await?))
}
