//! `GET/PUT /api/crm/hubspot/mappings` (validated against the portal's properties;
//! nothing is saved when any mapping is wrong; `createMissingProperties` creates
//! the properties the portal lacks, see `sync/property_create.rs`) and `GET /api/crm/hubspot/describe`
//! (the portal's properties, cached per connector; `refresh=true` re-fetches).
//!
//! A request's `kevaField` is read as a `FieldName` and resolved against the
//! workspace's attribute definitions ([`resolve`]) before it becomes a
//! `KevaField`: an attribute key the workspace does not define is refused
//! without being interned (see `keva_core::intern`).

use axum::extract::State;
use std::collections::BTreeSet;

use keva_core::{validate_mappings, FieldMapping, MappingInput, ObjectKind, PropertyInfo};
use keva_hubspot::models::PropertyCreate;
use keva_store::Connector;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{connector_error, connector_for, sync_error};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::sync::{properties, property_create};

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
    /// `{kevaField, hubspotProperties, direction, transform, default}` each;
    /// `kevaField` is a built-in field (`email`, `jobTitle`, …) or a custom
    /// attribute as `attributes.<key>`.
    #[schema(value_type = Vec<Object>)]
    pub mappings: Vec<FieldMapping>,
    #[schema(value_type = Vec<Object>)]
    pub issues: Vec<serde_json::Value>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// HubSpot properties this save created (`createMissingProperties`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_properties: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutMappings {
    /// As in `MappingsView`: `kevaField` may be `attributes.<key>` for an
    /// attribute the workspace defines, whose type must fit the property's type.
    /// Every property named must exist in the portal (422 names the closest one)
    /// unless `createMissingProperties` is set.
    #[schema(schema_with = crate::api::schema::field_mappings)]
    pub mappings: Vec<MappingInput>,
    /// Create each named property the portal lacks (a custom property of the
    /// type that fits the field, in the `keva` property group, which is created
    /// if missing) instead of refusing the save. Default false.
    #[serde(default)]
    pub create_missing_properties: bool,
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
            created_properties: Vec::new(),
        },
        None => MappingsView {
            connector_id: connector.id,
            object: object.as_str().to_string(),
            mappings: properties::mappings(state, connector, object)
                .await
                .map_err(sync_error)?,
            issues: Vec::new(),
            updated_at: None,
            created_properties: Vec::new(),
        },
    };
    Ok(view)
}

#[utoipa::path(put, path = "/api/crm/hubspot/mappings", tag = "crm",
    params(MappingParams), request_body = PutMappings, security(("api_key" = [])),
    responses((status = 200, body = MappingsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the connector is disconnected or must be reconnected"), (status = 503, body = ErrorBody, description = "HubSpot is unavailable"),
        (status = 422, body = ErrorBody, description = "a property doesn't exist (the message names the closest internal name), an attribute is unknown or its type does not fit the property's, or the mappings conflict; nothing saved")))]
pub async fn put_mappings(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<MappingParams>,
    Json(body): Json<PutMappings>,
) -> Result<Json<MappingsView>, ApiError> {
    let object = object_kind(p.object.as_deref())?;
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    let create = body.create_missing_properties;
    let mappings = resolve(&state, auth.workspace_id, body.mappings).await?;
    Ok(Json(
        save_with(&state, &connector, object, &mappings, create).await?,
    ))
}

/// The keys of the workspace's attribute definitions, retired ones included
/// (so a mapping to a retired attribute resolves and validation can say why
/// it is refused): the only attribute keys a request may turn into fields.
pub(crate) async fn defined_keys(
    state: &AppState,
    workspace_id: Uuid,
) -> Result<BTreeSet<String>, ApiError> {
    Ok(state
        .store
        .list_attributes(workspace_id, true)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect())
}

/// A request's mappings with their fields resolved against the workspace's
/// definitions; any undefined attribute is a 422 naming each one, and none of
/// them is interned.
pub(crate) async fn resolve(
    state: &AppState,
    workspace_id: Uuid,
    inputs: Vec<MappingInput>,
) -> Result<Vec<FieldMapping>, ApiError> {
    let defined = defined_keys(state, workspace_id).await?;
    let mut mappings = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for input in inputs {
        match input.resolve(|k| defined.contains(k)) {
            Ok(m) => mappings.push(m),
            Err(why) => problems.push(why),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "{}; nothing saved",
            problems.join("; ")
        )));
    }
    Ok(mappings)
}

/// Validates `mappings` against the portal's properties and saves them, or saves
/// nothing and says what is wrong (the API's `PUT` and the console's *Save*).
pub(crate) async fn save(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
    mappings: &[FieldMapping],
) -> Result<MappingsView, ApiError> {
    save_with(state, connector, object, mappings, false).await
}

/// [`save`], optionally creating the properties the portal lacks first (only
/// once everything else validates, so a refused save creates nothing).
pub(crate) async fn save_with(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
    mappings: &[FieldMapping],
    create_missing: bool,
) -> Result<MappingsView, ApiError> {
    keva_core::mapping_limits(mappings).map_err(ApiError::Unprocessable)?;
    let mut props = portal_properties(state, connector, object, false).await?;
    // A property created in HubSpot since the list was cached is not "missing":
    // look again before saying so.
    if !keva_core::missing_properties(mappings, &props).is_empty() {
        props = portal_properties(state, connector, object, true).await?;
    }
    let mut mappings = mappings.to_vec();
    properties::bind(state, connector.workspace_id, &mut mappings).await?;
    let planned = if create_missing {
        plan_missing(state, connector, &mappings, &props).await?
    } else {
        Vec::new()
    };
    let portal: Vec<PropertyInfo> = props
        .into_iter()
        .chain(planned.iter().map(property_create::as_info))
        .collect();
    let issues = validate_mappings(&mappings, &portal);
    if !issues.is_empty() {
        let message = issues
            .iter()
            .map(|i| format!("{}: {}", i.keva_field.as_str(), i.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ApiError::Unprocessable(message));
    }
    if !planned.is_empty() {
        create_planned(state, connector, object, &planned).await?;
    }
    state
        .store
        .save_mappings(connector.id, object, &mappings, &serde_json::json!([]))
        .await?;
    let mut view = current(state, connector, object).await?;
    view.created_properties = planned.into_iter().map(|p| p.name).collect();
    Ok(view)
}

/// The properties to create for the mapped names the portal lacks, typed after
/// the fields that map them (an attribute's label names its property).
async fn plan_missing(
    state: &AppState,
    connector: &Connector,
    mappings: &[FieldMapping],
    props: &[PropertyInfo],
) -> Result<Vec<PropertyCreate>, ApiError> {
    let missing = keva_core::missing_properties(mappings, props);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let labels = state
        .store
        .list_attributes(connector.workspace_id, false)
        .await?;
    Ok(missing
        .iter()
        .filter(|name| property_create::creatable_name(name))
        .filter_map(|name| {
            let m = mappings
                .iter()
                .find(|m| m.hubspot_properties.contains(name))?;
            let label = m
                .keva_field
                .attribute_key()
                .and_then(|k| labels.iter().find(|d| d.key == k.key()))
                .map(|d| d.label.as_str());
            Some(property_create::planned(m, name, label))
        })
        .collect())
}

/// Creates the planned properties and refreshes the cached property list; a
/// refusal names the property and why (nothing is saved then).
async fn create_planned(
    state: &AppState,
    connector: &Connector,
    object: ObjectKind,
    planned: &[PropertyCreate],
) -> Result<(), ApiError> {
    let client = match state.clients.client(state, connector).await {
        Ok(c) => c,
        Err(e) => return Err(connector_error(state, connector.id, e).await),
    };
    if let Err((what, e)) = property_create::create(&client, object, planned).await {
        tracing::warn!(what = %what, error = %e, "could not create a mapped property");
        if e.is_retryable() || e.is_unauthorized() {
            return Err(connector_error(state, connector.id, e.into()).await);
        }
        let why = if e.is_missing_scopes() {
            format!(
                "the token lacks the crm.schemas.{}.write scope",
                object.hubspot_object_type()
            )
        } else {
            e.to_string()
        };
        return Err(ApiError::Unprocessable(format!(
            "could not create {what} in HubSpot ({why}); nothing saved"
        )));
    }
    if let Err(e) = properties::refresh(state, connector, &client, object).await {
        return Err(connector_error(state, connector.id, e).await);
    }
    Ok(())
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
