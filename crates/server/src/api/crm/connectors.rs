//! `/api/crm/hubspot/connectors`: connect a portal with a private-app token, list
//! and show connectors (status, portal, last sync, settings, mapping issues),
//! change their settings and disconnect them (OAuth connects: `oauth.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use keva_core::{ConflictPolicy, ObjectKind};
use keva_store::{AuthKind, Connector, ConnectorSettings, ConnectorStatus, StoreError};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::connector_for;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;
use crate::sync::connect::{connect_private_app, ConnectError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectRequest {
    /// A HubSpot private-app access token (HubSpot decides whether it works: 422
    /// when it refuses it).
    #[schema(pattern = r"\S")]
    pub access_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// `newest_wins` (default), `keva_wins` or `hubspot_wins`.
    pub conflict_policy: String,
    /// Create Keva customers for HubSpot contacts that are not in Keva.
    pub import_contacts: bool,
    /// Cron expression of the scheduled batch sync; null when off.
    pub batch_schedule: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    pub id: Uuid,
    pub portal_id: i64,
    /// `private_app` or `oauth`.
    pub auth_kind: String,
    /// `connected`, `needs_reconnection` (HubSpot refused the grant: see
    /// `statusReason` and `reconnectUrl`), `disconnected` or `error`.
    pub status: String,
    pub status_reason: Option<String>,
    /// Set when a human must connect again: POST it (API key) and open the
    /// returned `authorizeUrl`; the same connector resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_url: Option<String>,
    /// Granted scopes (OAuth).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The HubSpot user who installed the app (OAuth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_user: Option<String>,
    pub last_sync_at: Option<chrono::DateTime<chrono::Utc>>,
    pub settings: SettingsView,
    /// Problems with the contact mappings, e.g. a property that is missing in the
    /// portal and could not be created (with the fix).
    #[schema(value_type = Vec<Object>)]
    pub mapping_issues: Vec<serde_json::Value>,
    /// Properties created in the portal while connecting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_properties: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorList {
    pub data: Vec<ConnectorView>,
}

/// Settings to change; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSettings {
    #[schema(schema_with = crate::api::schema::conflict_policy)]
    pub conflict_policy: Option<String>,
    pub import_contacts: Option<bool>,
    /// A cron expression (5 to 7 fields, e.g. `0 3 * * *`), or null to switch the
    /// schedule off; one that does not parse is a 422.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub batch_schedule: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub(crate) async fn view(state: &AppState, c: Connector) -> Result<ConnectorView, ApiError> {
    let issues = state
        .store
        .mappings(c.id, ObjectKind::Contact)
        .await?
        .and_then(|m| m.issues.as_array().cloned())
        .unwrap_or_default();
    let reconnect_url = matches!(
        c.status,
        ConnectorStatus::NeedsReconnection | ConnectorStatus::Disconnected
    )
    .then(|| {
        format!(
            "{}/api/crm/hubspot/oauth/authorize",
            state.config.public_url.trim_end_matches('/')
        )
    });
    let status_reason = match c.status {
        ConnectorStatus::Disconnected => Some("disconnected by a user".to_string()),
        _ => c.status_reason,
    };
    Ok(ConnectorView {
        id: c.id,
        portal_id: c.portal_id,
        auth_kind: c.auth_kind.as_str().to_string(),
        status: c.status.as_str().to_string(),
        status_reason,
        reconnect_url,
        scopes: c.scopes,
        connected_user: c.connected_user,
        last_sync_at: c.last_sync_at,
        settings: SettingsView {
            conflict_policy: c.conflict_policy.as_str().to_string(),
            import_contacts: c.import_contacts,
            batch_schedule: c.batch_schedule,
        },
        mapping_issues: issues,
        created_properties: Vec::new(),
        created_at: c.created_at,
    })
}

#[utoipa::path(post, path = "/api/crm/hubspot/connectors", tag = "crm",
    request_body = ConnectRequest, security(("api_key" = [])),
    responses(
        (status = 201, body = ConnectorView, description = "connected with the default mappings"),
        (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "portal already connected"),
        (status = 422, body = ErrorBody, description = "HubSpot rejected the token"),
        (status = 503, body = ErrorBody, description = "HubSpot unavailable")))]
pub async fn create_connector(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<ConnectRequest>,
) -> Result<(StatusCode, Json<ConnectorView>), ApiError> {
    let v = connect_with_token(&state, auth.workspace_id, &body.access_token).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Connects with a private-app token (the API's `POST` and the console's form).
pub(crate) async fn connect_with_token(
    state: &AppState,
    workspace_id: Uuid,
    token: &str,
) -> Result<ConnectorView, ApiError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::Unprocessable(
            "accessToken must not be empty".into(),
        ));
    }
    let connected = connect_private_app(state, workspace_id, SecretString::from(token))
        .await
        .map_err(|e| match e {
            ConnectError::Rejected => ApiError::Unprocessable("HubSpot rejected the token".into()),
            ConnectError::AlreadyConnected(m) => ApiError::Conflict(m),
            ConnectError::Sync(e) => super::sync_error(e),
            ConnectError::Store(e) => e.into(),
        })?;
    let mut v = view(state, connected.connector).await?;
    v.created_properties = connected.created_properties;
    Ok(v)
}

#[utoipa::path(get, path = "/api/crm/hubspot/connectors", tag = "crm",
    security(("api_key" = [])),
    responses((status = 200, body = ConnectorList), (status = 401, body = ErrorBody)))]
pub async fn list_connectors(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<ConnectorList>, ApiError> {
    let mut data = Vec::new();
    for c in state.store.list_connectors(auth.workspace_id).await? {
        data.push(view(&state, c).await?);
    }
    Ok(Json(ConnectorList { data }))
}

#[utoipa::path(get, path = "/api/crm/hubspot/connectors/{id}", tag = "crm",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = ConnectorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_connector(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<ConnectorView>, ApiError> {
    let c = connector_for(&state, auth.workspace_id, Some(id)).await?;
    Ok(Json(view(&state, c).await?))
}

#[utoipa::path(patch, path = "/api/crm/hubspot/connectors/{id}", tag = "crm",
    params(("id" = Uuid, Path)), request_body = UpdateSettings, security(("api_key" = [])),
    responses((status = 200, body = ConnectorView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_connector(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateSettings>,
) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(
        update_settings(&state, auth.workspace_id, id, body).await?,
    ))
}

/// Validates and applies settings of a connector of `workspace_id` (the API's
/// `PATCH`, the console's conflict policy and batch schedule forms): nothing is
/// saved when any of them is refused; another workspace's connector is `NotFound`.
pub(crate) async fn update_settings(
    state: &AppState,
    workspace_id: Uuid,
    id: Uuid,
    body: UpdateSettings,
) -> Result<ConnectorView, ApiError> {
    let c = connector_for(state, workspace_id, Some(id)).await?;
    let mut settings = ConnectorSettings {
        conflict_policy: c.conflict_policy,
        import_contacts: c.import_contacts,
        batch_schedule: c.batch_schedule.clone(),
    };
    if let Some(p) = body.conflict_policy.as_deref() {
        settings.conflict_policy = ConflictPolicy::parse(p).ok_or_else(|| {
            ApiError::Unprocessable(
                "conflictPolicy must be newest_wins, keva_wins or hubspot_wins".into(),
            )
        })?;
    }
    if let Some(i) = body.import_contacts {
        settings.import_contacts = i;
    }
    if let Some(schedule) = body.batch_schedule {
        let schedule = schedule
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        // The scheduler parses with the same function, so a saved schedule fires.
        if let Some(s) = &schedule {
            crate::batch::schedule::validate(s).map_err(ApiError::Unprocessable)?;
        }
        settings.batch_schedule = schedule;
    }
    let updated = state
        .store
        .update_connector_settings(workspace_id, id, &settings)
        .await?;
    view(state, updated).await
}

/// The result of a disconnect.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisconnectResult {
    pub connector: ConnectorView,
    /// Whether HubSpot confirmed the refresh token's revocation (OAuth only).
    pub revoked: bool,
    /// Why the revocation did not happen or failed (the tokens are deleted anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_error: Option<String>,
}

#[utoipa::path(delete, path = "/api/crm/hubspot/connectors/{id}", tag = "crm",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses(
        (status = 200, body = DisconnectResult, description = "disconnected: tokens revoked (best effort) and deleted; mappings, links and history kept"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disconnect_connector(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<DisconnectResult>, ApiError> {
    Ok(Json(disconnect(&state, auth.workspace_id, id).await?))
}

/// Disconnects a connector of `workspace_id` (the API's `DELETE` and the console's
/// Disconnect): `NotFound` for another workspace's.
pub(crate) async fn disconnect(
    state: &AppState,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<DisconnectResult, ApiError> {
    let c = connector_for(state, workspace_id, Some(id)).await?;
    let (revoked, revoke_error) = revoke(state, &c).await;
    state.clients.invalidate(c.id);
    let updated = state.store.disconnect_connector(workspace_id, id).await?;
    state.clients.invalidate(c.id);
    tracing::info!(connector_id = %id, revoked, "connector disconnected");
    Ok(DisconnectResult {
        connector: view(state, updated).await?,
        revoked,
        revoke_error,
    })
}

/// Revokes an OAuth connector's refresh token at HubSpot (best effort).
async fn revoke(state: &AppState, c: &Connector) -> (bool, Option<String>) {
    if c.status == ConnectorStatus::Disconnected {
        return (false, Some("already disconnected".into()));
    }
    if c.auth_kind != AuthKind::OAuth {
        return (
            false,
            Some("private-app tokens cannot be revoked from here: rotate it in HubSpot".into()),
        );
    }
    let tokens = match state.store.connector_tokens(c.workspace_id, c.id).await {
        Ok(t) => t,
        Err(StoreError::NotFound) => return (false, Some("no stored tokens".into())),
        Err(e) => return (false, Some(format!("could not read the tokens: {e}"))),
    };
    let Some(refresh) = tokens.refresh_token else {
        return (false, Some("no refresh token".into()));
    };
    let app = match super::oauth::oauth_app(&state.config) {
        Ok(app) => app,
        Err(e) => return (false, Some(e.to_string())),
    };
    match app.revoke_refresh_token(&refresh).await {
        Ok(()) => (true, None),
        Err(e) => {
            tracing::warn!(error = %e, connector_id = %c.id, "could not revoke the refresh token");
            (
                false,
                Some(format!("HubSpot did not confirm the revocation: {e}")),
            )
        }
    }
}
