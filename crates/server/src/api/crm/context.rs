//! The B2B context API: `GET /api/customers/{id}/crm/context` (the customer's
//! HubSpot company and deals with status, priority and AI context, as last read)
//! and `GET/PUT /api/crm/hubspot/context/settings` (turning context on per
//! connector, and the status rules). Rules and formula: `docs/crm-context.md`.

use axum::extract::State;
use keva_core::context::StatusRules;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::connector_for;
use crate::auth::Authenticated;
use crate::context::{context_view, ContextView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/customers/{id}/crm/context", tag = "customers",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = ContextView,
            description = "company, deals (labels), status, priority (round(100·W/(W+10000)), W = Σ open amount × stage probability), aiContext, fetchedAt"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such customer, or no context read yet (context off, or the customer is not linked)")))]
pub async fn customer_context(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<ContextView>, ApiError> {
    state
        .store
        .get_customer(auth.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    context_view(&state, auth.workspace_id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("crm context"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsParams {
    /// Optional when the workspace has exactly one connector.
    pub connector_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContextSettingsView {
    pub connector_id: Uuid,
    /// Off by default: context needs the companies and deals read scopes.
    pub enabled: bool,
    /// `{anyWon, anyOpen, onlyLost, noDeals}` → `lead|prospect|customer|churned`.
    #[schema(value_type = Object)]
    pub status_rules: StatusRules,
    /// Company properties shown (under `company.fields`) beyond name, domain,
    /// industry, website and number of employees.
    pub company_properties: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutContextSettings {
    pub enabled: bool,
    /// Rules left out keep their defaults.
    #[schema(value_type = Option<Object>)]
    pub status_rules: Option<StatusRules>,
    /// Internal names of company properties to show; each must exist in the portal
    /// (422 names the closest one).
    #[schema(max_items = 50)]
    pub company_properties: Option<Vec<String>>,
}

#[utoipa::path(get, path = "/api/crm/hubspot/context/settings", tag = "crm",
    params(SettingsParams), security(("api_key" = [])),
    responses((status = 200, body = ContextSettingsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<SettingsParams>,
) -> Result<Json<ContextSettingsView>, ApiError> {
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    let s = crate::context::settings::load(&state, connector.id).await?;
    Ok(Json(ContextSettingsView {
        connector_id: connector.id,
        enabled: s.enabled,
        status_rules: s.rules,
        company_properties: s.company_properties,
    }))
}

#[utoipa::path(put, path = "/api/crm/hubspot/context/settings", tag = "crm",
    params(SettingsParams), request_body = PutContextSettings, security(("api_key" = [])),
    responses((status = 200, body = ContextSettingsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the connector is disconnected or must be reconnected"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "HubSpot is unavailable")))]
pub async fn put_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<SettingsParams>,
    Json(body): Json<PutContextSettings>,
) -> Result<Json<ContextSettingsView>, ApiError> {
    let connector = connector_for(&state, auth.workspace_id, p.connector_id).await?;
    let rules = body.status_rules.unwrap_or_default();
    let value = serde_json::to_value(rules)
        .map_err(|e| ApiError::Unprocessable(format!("statusRules: {e}")))?;
    let extra = body.company_properties.unwrap_or_default();
    if !extra.is_empty() {
        check_company_properties(&state, &connector, &extra).await?;
    }
    state
        .store
        .save_crm_context_settings(connector.id, body.enabled, &value, &extra)
        .await?;
    Ok(Json(ContextSettingsView {
        connector_id: connector.id,
        enabled: body.enabled,
        status_rules: rules,
        company_properties: extra,
    }))
}

/// Extra company properties one connector may show: each is validated against the
/// portal with a similarity search when unknown, so the list is bounded.
const MAX_COMPANY_PROPERTIES: usize = 50;

/// Every name must be a company property of the portal ("use city, not cty").
async fn check_company_properties(
    state: &AppState,
    connector: &keva_store::Connector,
    names: &[String],
) -> Result<(), ApiError> {
    super::ensure_connected(connector)?;
    let client = match state.clients.client(state, connector).await {
        Ok(c) => c,
        Err(e) => return Err(super::connector_error(state, connector.id, e).await),
    };
    let props = match crate::sync::properties::cached(
        state,
        connector,
        &client,
        keva_core::ObjectKind::Company,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return Err(super::connector_error(state, connector.id, e).await),
    };
    if names.len() > MAX_COMPANY_PROPERTIES {
        return Err(ApiError::Unprocessable(format!(
            "companyProperties: at most {MAX_COMPANY_PROPERTIES} properties"
        )));
    }
    if names
        .iter()
        .any(|n| n.chars().count() > keva_core::validate::MAX_PROPERTY_NAME_LEN)
    {
        return Err(ApiError::Unprocessable(format!(
            "companyProperties: names are at most {} characters",
            keva_core::validate::MAX_PROPERTY_NAME_LEN
        )));
    }
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !props.iter().any(|p| &p.name == *n))
        .map(|n| match keva_core::closest_property(n, &props) {
            Some(s) => format!("Property doesn't exist: '{n}' (use {s}, not {n})"),
            None => format!("Property doesn't exist: '{n}'"),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "companyProperties: {}",
            unknown.join("; ")
        )))
    }
}
