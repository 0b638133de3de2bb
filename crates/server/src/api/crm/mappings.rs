//! `GET/PUT /api/crm/hubspot/mappings` (validated against the portal's properties;
//! nothing is saved when any mapping is wrong) and `GET /api/crm/hubspot/describe`
//! (the portal's properties, cached per connector; `refresh=true` re-fetches).

use axum::extract::State;
use keva_core::{validate_mappings, FieldMapping, ObjectKind, PropertyInfo};
use keva_store::Connector;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{connector_error, connector_for, sync_error};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::sync::properties;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappingParams {
    /// Optional when the workspace has exactly one connector.
    pub connector_id: Option<Uuid>,
    /// `Contact` (default) or `Company`.
    #[param(pattern = r"^(Contact|Company)$")]
    pub object: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingsView {
    pub connector_id: Uuid,
    pub object: String,
    /// `{kevaField, hubspotProperties, direction, transform, default}` each.
    #[schema(value_type = Vec<Object>)]
    pub mappings: Vec<FieldMapping>,
    #[schema(value_type = Vec<Object>)]
    pub issues: Vec<serde_json::Value>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutMappings {
    /// Every property named must exist in the portal (422 names the closest one).
    #[schema(schema_with = crate::api::schema::field_mappings)]
    pub mappings: Vec<FieldMapping>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribeParams {
    /// `Contact` or `Company`.
    #[param(pattern = r"^(Contact|Company)$")]
    pub object: String,
    /// Optional when the workspace has exactly one connector.
    pub connector_id: Option<Uuid>,
    /// Re-fetch the property list from HubSpot instead of the cache.
    pub refresh: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Describe {
    /// `{name, label, type, fieldType}` each.
    #[schema(value_type = Vec<Object>)]
    pub properties: Vec<PropertyInfo>,
}

pub(crate) fn object_kind(raw: Option<&str>) -> Result<ObjectKind, ApiError> {
    match raw {
        None => Ok(ObjectKind::Contact),
        Some(s) => ObjectKind::parse(s)
            .ok_or_else(|| ApiError::Unprocessable("object must be Contact or Company".into())),
    }
}

pub(crate) async fn portal_properties(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
    refresh: bool,
) -> Result<Vec<PropertyInfo>, ApiError> {
    super::ensure_connected(connector)?;
    let client = match state.clients.client(state, connector).await {
        Ok(c) => c,
        Err(e) => return Err(connector_error(state, connector.id, e).await),
    };
    let r = if refresh {
        properties::refresh(state, connector, &client, object).await
    } else {
        properties::cached(state, connector, &client, object).await
    };
    match r {
        Ok(props) => Ok(props),
        Err(e) => Err(connector_error(state, connector.id, e).await),
    }
}

#[utoipa::path(get, path = "/api/crm/hubspot/mappings", tag = "crm",
    params(MappingParams), security(("api_key" = [])),
    responses((status = 200, body = MappingsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_mappings(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<MappingParams>,
) -> Result<Json<MappingsView>, ApiError> {
    let object = object_kind(p.object.as_deref())?;
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    Ok(Json(current(&state, &connector, object).await?))
}

/// A connector's mappings for `object`: the saved ones, or the defaults (the API's
/// `GET` and the console's Field Mappings page).
pub(crate) async fn current(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
) -> Result<MappingsView, ApiError> {
    let stored = state.store.mappings(connector.id, object).await?;
    let view = match stored {
        Some(s) => MappingsView {
            connector_id: connector.id,
            object: object.as_str().to_string(),
            mappings: s.mappings,
            issues: s.issues.as_array().cloned().unwrap_or_default(),
            updated_at: Some(s.updated_at),
        },
        None => MappingsView {
            connector_id: connector.id,
            object: object.as_str().to_string(),
            mappings: properties::mappings(state, connector, object)
                .await
                .map_err(sync_error)?,
            issues: Vec::new(),
            updated_at: None,
        },
    };
    Ok(view)
}

#[utoipa::path(put, path = "/api/crm/hubspot/mappings", tag = "crm",
    params(MappingParams), request_body = PutMappings, security(("api_key" = [])),
    responses((status = 200, body = MappingsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the connector is disconnected or must be reconnected"), (status = 503, body = ErrorBody, description = "HubSpot is unavailable"),
        (status = 422, body = ErrorBody, description = "a property doesn't exist (the message names the closest internal name) or the mappings conflict; nothing saved")))]
pub async fn put_mappings(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<MappingParams>,
    Json(body): Json<PutMappings>,
) -> Result<Json<MappingsView>, ApiError> {
    let object = object_kind(p.object.as_deref())?;
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    Ok(Json(
        save(&state, &connector, object, &body.mappings).await?,
    ))
}

/// Validates `mappings` against the portal's properties and saves them, or saves
/// nothing and says what is wrong (the API's `PUT` and the console's *Save*).
pub(crate) async fn save(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
    mappings: &[FieldMapping],
) -> Result<MappingsView, ApiError> {
    keva_core::mapping_limits(mappings).map_err(ApiError::Unprocessable)?;
    let props = portal_properties(state, connector, object, false).await?;
    let issues = validate_mappings(mappings, &props);
    if !issues.is_empty() {
        let message = issues
            .iter()
            .map(|i| format!("{}: {}", i.keva_field.as_str(), i.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ApiError::Unprocessable(message));
    }
    state
        .store
        .save_mappings(connector.id, object, mappings, &serde_json::json!([]))
        .await?;
    current(state, connector, object).await
}

#[utoipa::path(get, path = "/api/crm/hubspot/describe", tag = "crm",
    params(DescribeParams), security(("api_key" = [])),
    responses((status = 200, body = Describe), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the connector is disconnected or must be reconnected"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn describe(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<DescribeParams>,
) -> Result<Json<Describe>, ApiError> {
    let object = object_kind(Some(&p.object))?;
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    let properties =
        portal_properties(&state, &connector, object, p.refresh.unwrap_or(false)).await?;
    Ok(Json(Describe { properties }))
}
