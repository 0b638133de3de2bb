//! The workspace's HubSpot app for webhooks: `GET/PUT /api/crm/hubspot/webhooks`
//! (App ID and client secret — the secret is write-only and sealed at rest by the
//! store) and the subscriptions helper, which creates and activates the v3 contact
//! subscriptions through HubSpot's webhooks API and shows whether each is active.
//!
//! The subscriptions API is authenticated with the developer account's API key, not
//! with a portal token; the key is taken per request and never stored.

use axum::extract::State;
use axum::http::HeaderMap;
use keva_hubspot::models::{Subscription, SubscriptionCreate};
use keva_hubspot::{Credentials, HubspotClient, HubspotError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::receiver::PATH;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// Header carrying the developer API key for `GET …/subscriptions`.
pub const DEVELOPER_KEY_HEADER: &str = "x-hubspot-developer-api-key";

/// The subscriptions Keva needs: `(eventType, propertyName)`; `None` is every
/// property.
pub const REQUIRED_SUBSCRIPTIONS: [&str; 6] = [
    "contact.creation",
    "contact.deletion",
    "contact.propertyChange",
    "contact.merge",
    "contact.restore",
    "contact.associationChange",
];

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSettingsView {
    /// The HubSpot app whose webhooks this workspace receives.
    pub app_id: Option<String>,
    /// Whether a client secret is set (it is never shown).
    pub client_secret_set: bool,
    /// `workspace` (set here), `service` (HUBSPOT_CLIENT_SECRET) or `none`.
    pub secret_source: String,
    /// The URL to register as the app's webhook target.
    pub target_url: String,
    /// v1/v2 signatures are accepted (otherwise only v3).
    pub allow_legacy_signatures: bool,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// HubSpot's app id: digits as a string, or a JSON number (HubSpot's own payloads
/// use numbers).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AppIdInput {
    Number(u64),
    Text(String),
}

impl AppIdInput {
    fn into_text(self) -> String {
        match self {
            AppIdInput::Number(n) => n.to_string(),
            AppIdInput::Text(s) => s.trim().to_owned(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutWebhookSettings {
    /// HubSpot app id (digits, as a string or a number).
    #[schema(schema_with = crate::api::schema::app_id)]
    pub app_id: AppIdInput,
    /// The app's client secret; omit to keep the one already set (422 when none
    /// is set yet).
    #[schema(pattern = r"\S")]
    pub client_secret: Option<String>,
    /// Accept v1/v2 signatures (no timestamp: replayable; v1 does not cover the
    /// URL) for older HubSpot apps. Omit to keep the current value (default false).
    pub allow_legacy_signatures: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubscriptions {
    /// The developer account's API key (used once, never stored).
    #[schema(pattern = r"\S")]
    pub developer_api_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatus {
    pub event_type: String,
    /// `*` for every property.
    pub property_name: String,
    /// HubSpot's subscription id, absent if it does not exist.
    pub id: Option<String>,
    pub active: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsView {
    pub app_id: String,
    pub target_url: String,
    pub subscriptions: Vec<SubscriptionStatus>,
    /// Every required subscription exists and is active.
    pub all_active: bool,
}

fn target_url(state: &AppState) -> String {
    keva_hubspot::webhook::public_uri(&state.config.public_url, PATH)
}

async fn view(state: &AppState, auth: &Authenticated) -> Result<WebhookSettingsView, ApiError> {
    view_for(state, auth.workspace_id).await
}

/// A workspace's webhook settings as the API shows them (the API and the
/// console's Webhooks page).
pub(crate) async fn view_for(
    state: &AppState,
    workspace_id: uuid::Uuid,
) -> Result<WebhookSettingsView, ApiError> {
    let settings = state.store.webhook_settings(workspace_id).await?;
    let service_secret = state
        .config
        .hubspot_client_secret
        .as_ref()
        .is_some_and(|s| !s.expose_secret().is_empty());
    let secret_source = match (&settings, service_secret) {
        (Some(_), _) => "workspace",
        (None, true) => "service",
        (None, false) => "none",
    };
    Ok(WebhookSettingsView {
        app_id: settings
            .as_ref()
            .map(|s| s.app_id.clone())
            .or_else(|| state.config.hubspot_app_id.clone()),
        client_secret_set: secret_source != "none",
        secret_source: secret_source.into(),
        target_url: target_url(state),
        allow_legacy_signatures: settings.as_ref().is_some_and(|s| s.allow_legacy_signatures),
        updated_at: settings.map(|s| s.updated_at),
    })
}

/// The workspace's webhook app (the secret only as set/unset) and the target URL.
#[utoipa::path(get, path = "/api/crm/hubspot/webhooks", tag = "webhooks",
    security(("api_key" = [])),
    responses((status = 200, body = WebhookSettingsView), (status = 401, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<WebhookSettingsView>, ApiError> {
    Ok(Json(view(&state, &auth).await?))
}

/// Sets the workspace's HubSpot app id and client secret (sealed at rest).
#[utoipa::path(put, path = "/api/crm/hubspot/webhooks", tag = "webhooks",
    request_body = PutWebhookSettings,
    security(("api_key" = [])),
    responses((status = 200, body = WebhookSettingsView), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "app id not numeric, or no secret")))]
pub async fn put_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<PutWebhookSettings>,
) -> Result<Json<WebhookSettingsView>, ApiError> {
    Ok(Json(save_settings(&state, auth.workspace_id, body).await?))
}

/// Validates and stores a workspace's webhook app (the API's `PUT` and the
/// console's Webhooks form): nothing is stored when the input is refused.
pub(crate) async fn save_settings(
    state: &AppState,
    workspace_id: uuid::Uuid,
    body: PutWebhookSettings,
) -> Result<WebhookSettingsView, ApiError> {
    let app_id = body.app_id.into_text();
    let app_id = app_id.as_str();
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) || app_id.len() > 19 {
        return Err(ApiError::Unprocessable(
            "appId must be HubSpot's numeric app id".into(),
        ));
    }
    let secret = match body.client_secret.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => SecretString::from(s),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "clientSecret must not be empty".into(),
            ))
        }
        None => state
            .store
            .webhook_secret(workspace_id)
            .await?
            .ok_or_else(|| ApiError::Unprocessable("clientSecret is required".into()))?,
    };
    state
        .store
        .set_webhook_settings(workspace_id, app_id, &secret)
        .await?;
    if let Some(allow) = body.allow_legacy_signatures {
        state
            .store
            .set_webhook_legacy_signatures(workspace_id, allow)
            .await?;
    }
    view_for(state, workspace_id).await
}

/// The workspace's app id, a client for HubSpot's developer APIs and the
/// developer key to call its webhooks API with (both subscription calls).
async fn developer_app(
    state: &AppState,
    workspace_id: uuid::Uuid,
    developer_key: &str,
) -> Result<(u64, HubspotClient, SecretString), ApiError> {
    let key = required_key(developer_key)?;
    let app = app_id(state, workspace_id).await?;
    let client = developer_client(state, key)?;
    Ok((app, client, SecretString::from(key.to_owned())))
}

fn developer_client(state: &AppState, key: &str) -> Result<HubspotClient, ApiError> {
    HubspotClient::builder(Credentials::PrivateApp(SecretString::from(key.to_owned())))
        .base_url(state.config.hubspot_api_base.clone())
        .build()
        .map_err(|e| ApiError::Internal(e.into()))
}

fn hubspot_failure(e: HubspotError) -> ApiError {
    match e.status() {
        Some(401 | 403) => {
            ApiError::Unprocessable(format!("HubSpot refused the developer API key: {e}"))
        }
        Some(404) => ApiError::Unprocessable(format!("HubSpot does not know this app: {e}")),
        _ => ApiError::Unavailable(format!("HubSpot webhooks API: {e}")),
    }
}

async fn app_id(state: &AppState, workspace_id: uuid::Uuid) -> Result<u64, ApiError> {
    view_for(state, workspace_id)
        .await?
        .app_id
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::Unprocessable("set the App ID first (PUT /api/crm/hubspot/webhooks, or the console's Webhooks page)".into())
        })
}

fn status_of(app_id: u64, target_url: String, existing: &[Subscription]) -> SubscriptionsView {
    let subscriptions: Vec<SubscriptionStatus> = REQUIRED_SUBSCRIPTIONS
        .iter()
        .map(|event_type| {
            let found = matching(existing, event_type);
            SubscriptionStatus {
                event_type: (*event_type).into(),
                property_name: "*".into(),
                id: found.map(|s| s.id.clone()),
                active: found.is_some_and(|s| s.active),
            }
        })
        .collect();
    SubscriptionsView {
        app_id: app_id.to_string(),
        target_url,
        all_active: subscriptions.iter().all(|s| s.active),
        subscriptions,
    }
}

/// The subscription covering every property of `event_type` (an active one first).
fn matching<'a>(existing: &'a [Subscription], event_type: &str) -> Option<&'a Subscription> {
    let mut candidates = existing
        .iter()
        .filter(|s| s.event_type == event_type && s.property_name.is_none());
    let first = candidates.clone().find(|s| s.active);
    first.or_else(|| candidates.next())
}

/// Whether each required subscription exists and is active. The developer API key
/// goes in the `X-HubSpot-Developer-Api-Key` header.
#[utoipa::path(get, path = "/api/crm/hubspot/webhooks/subscriptions", tag = "webhooks",
    security(("api_key" = [])),
    params(("X-HubSpot-Developer-Api-Key" = String, Header, pattern = r"\S", description = "developer API key, not stored")),
    responses((status = 200, body = SubscriptionsView), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "no app id, or HubSpot refused the key"),
        (status = 503, body = ErrorBody, description = "HubSpot unavailable")))]
pub async fn get_subscriptions(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
) -> Result<Json<SubscriptionsView>, ApiError> {
    let key = headers
        .get(DEVELOPER_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::Unprocessable("the X-HubSpot-Developer-Api-Key header is required".into())
        })?;
    Ok(Json(subscriptions(&state, auth.workspace_id, key).await?))
}

/// Whether each required subscription of the workspace's app exists and is active
/// (the API's `GET` and the console's *Check subscriptions*).
pub(crate) async fn subscriptions(
    state: &AppState,
    workspace_id: uuid::Uuid,
    developer_key: &str,
) -> Result<SubscriptionsView, ApiError> {
    let (app, client, key) = developer_app(state, workspace_id, developer_key).await?;
    let existing = client
        .webhooks(app, key)
        .list()
        .await
        .map_err(hubspot_failure)?;
    Ok(status_of(app, target_url(state), &existing))
}

/// Creates (active) every missing contact subscription and activates paused ones.
/// Idempotent: a second call changes nothing.
#[utoipa::path(post, path = "/api/crm/hubspot/webhooks/subscriptions", tag = "webhooks",
    request_body = CreateSubscriptions,
    security(("api_key" = [])),
    responses((status = 200, body = SubscriptionsView), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "no app id, or HubSpot refused the key"),
        (status = 503, body = ErrorBody, description = "HubSpot unavailable")))]
pub async fn create_subscriptions(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<CreateSubscriptions>,
) -> Result<Json<SubscriptionsView>, ApiError> {
    Ok(Json(
        ensure_subscriptions(&state, auth.workspace_id, &body.developer_api_key).await?,
    ))
}

fn required_key(developer_key: &str) -> Result<&str, ApiError> {
    let key = developer_key.trim();
    if key.is_empty() {
        return Err(ApiError::Unprocessable(
            "developerApiKey is required".into(),
        ));
    }
    Ok(key)
}

/// Creates (active) every missing contact subscription of the workspace's app and
/// activates paused ones (the API's `POST` and the console's *Create
/// subscriptions*).
pub(crate) async fn ensure_subscriptions(
    state: &AppState,
    workspace_id: uuid::Uuid,
    developer_key: &str,
) -> Result<SubscriptionsView, ApiError> {
    let (app, client, key) = developer_app(state, workspace_id, developer_key).await?;
    let api = client.webhooks(app, key);
    let mut existing = api.list().await.map_err(hubspot_failure)?;
    for event_type in REQUIRED_SUBSCRIPTIONS {
        let updated = match matching(&existing, event_type) {
            Some(s) if s.active => continue,
            Some(s) => api.set_active(&s.id, true).await,
            None => {
                api.create(&SubscriptionCreate {
                    event_type: event_type.into(),
                    property_name: None,
                    active: true,
                })
                .await
            }
        }
        .map_err(hubspot_failure)?;
        existing.retain(|s| s.id != updated.id);
        existing.push(updated);
    }
    Ok(status_of(app, target_url(state), &existing))
}
