//! HubSpot's public CRM API over the in-memory portals: objects, batch, search,
//! properties and v4 associations, on HubSpot's exact paths.
//!
//! Routes are registered per object type with HubSpot's own path parameter names
//! (`/crm/v3/objects/contacts/{contactId}`), so request stats keyed by the matched
//! path template read like HubSpot's documentation.

pub mod account;
pub mod associations;
pub mod batch;
pub mod objects;
pub mod pipelines;
pub mod properties;
pub mod search;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::control::auth::AuthContext;
use crate::error::ErrorResponse;
use crate::portal::{Actor, ObjectType, Portal, Sandbox};

pub type ApiState = Arc<Sandbox>;

/// The portal a request acts on and who is acting, from the guard's `AuthContext`.
pub struct Caller {
    pub sandbox: Arc<Sandbox>,
    pub portal: Arc<Portal>,
    pub actor: Actor,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let (portal, actor) = match parts.extensions.get::<AuthContext>() {
            // Tokens can name portals created after the sandbox started.
            Some(ctx) => {
                if let Some(scope) = required_scope(&parts.method, parts.uri.path()) {
                    if !ctx.scopes.is_empty() && !ctx.scopes.contains(&scope) {
                        return Err(missing_scope(&scope).into_response());
                    }
                }
                (
                    state
                        .portal(ctx.portal_id)
                        .unwrap_or_else(|| state.create_portal(Some(ctx.portal_id))),
                    Actor::integration(ctx.app_id),
                )
            }
            None => (
                state.default_portal(),
                Actor {
                    source: crate::portal::Source::Integration,
                    source_id: None,
                },
            ),
        };
        Ok(Caller {
            sandbox: state.clone(),
            portal,
            actor,
        })
    }
}

/// The granular scope HubSpot requires for a call: `crm.objects.<type>.read|write`
/// for records and associations, `crm.schemas.<type>.read` for reading properties.
/// Property writes are not checked (the sandbox's default scopes have no schema
/// write scope, and integrations need to create their custom properties).
fn required_scope(method: &axum::http::Method, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let is_read =
        |last: &str| method == axum::http::Method::GET || last == "search" || last == "read";
    let last = segments.last().copied().unwrap_or("");
    match segments.as_slice() {
        ["crm", "v3", "objects", ty, ..]
        | ["crm", "v4", "objects", ty, ..]
        | ["crm", "v4", "associations", ty, ..] => {
            let ty = ObjectType::parse(ty)?;
            let access = if is_read(last) { "read" } else { "write" };
            Some(format!("crm.objects.{}.{access}", ty.plural()))
        }
        ["crm", "v3", "properties", ty, ..]
            if method == axum::http::Method::GET || last == "read" =>
        {
            ObjectType::parse(ty).map(|ty| format!("crm.schemas.{}.read", ty.plural()))
        }
        _ => None,
    }
}

/// HubSpot's 403 for a token without the scope a call needs.
fn missing_scope(scope: &str) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::FORBIDDEN,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    )
    .error_detail(serde_json::json!({
        "message": "One or more of the following scopes are required.",
        "context": { "requiredGranularScopes": [scope] },
    }))
    .extra("links", serde_json::json!({ "scopes": "https://developers.hubspot.com/scopes" }))
}

impl Caller {
    /// Hands the collected change events to the webhook dispatcher.
    pub fn emit(&self, events: Vec<crate::events::ChangeEvent>) {
        self.sandbox.emit(events);
    }
}

/// A JSON body whose parse errors come back as HubSpot's 400 VALIDATION_ERROR.
pub struct HsJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for HsJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(body).map(HsJson).map_err(|e| {
            ErrorResponse::validation(format!(
                "Invalid input JSON on line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
            .into_response()
        })
    }
}

/// Query parameters, accepting both `a=x,y` and `a=x&a=y` for lists.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        Ok(Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a list parameter, split on commas; `None` when absent.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let mut found = false;
        let mut out = Vec::new();
        for (_, v) in self.0.iter().filter(|(k, _)| k == name) {
            found = true;
            out.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
        found.then_some(out)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Parses an object type path segment, or HubSpot's 400 for an unknown one.
pub fn object_type(s: &str) -> Result<ObjectType, ErrorResponse> {
    ObjectType::parse(s)
        .ok_or_else(|| ErrorResponse::validation(format!("Unable to infer object type from: {s}")))
}

/// Every HubSpot API route of the data plane (without the control plane's guard).
pub fn router() -> Router<ApiState> {
    let mut router = Router::new();
    for ty in ObjectType::ALL {
        router = router.merge(objects::routes(ty)).merge(batch::routes(ty));
    }
    router
        .route("/account-info/v3/details", get(account::details))
        .route("/crm/v3/pipelines/{objectType}", get(pipelines::list).post(pipelines::create))
        .route("/crm/v3/properties/{objectType}", get(properties::list).post(properties::create))
        .route(
            "/crm/v3/properties/{objectType}/{propertyName}",
            get(properties::get_one).patch(properties::update).delete(properties::archive),
        )
        .route("/crm/v3/properties/{objectType}/batch/read", post(properties::batch_read))
        .route(
            "/crm/v3/properties/{objectType}/groups",
            get(properties::groups).post(properties::create_group),
        )
        .route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
            get(associations::list),
        )
        .route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
            put(associations::put_labelled).delete(associations::remove),
        )
        .route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/default/{toObjectType}/{toObjectId}",
            put(associations::put_default),
        )
        .route("/crm/v4/associations/{fromObjectType}/{toObjectType}/labels", get(associations::labels))
        .route("/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", post(associations::batch_read))
        .route(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default",
            post(associations::batch_associate_default),
        )
        .route("/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/archive", post(associations::batch_archive))
}

/// The current time, ISO-8601, for batch `startedAt`/`completedAt`.
pub fn now_iso() -> String {
    crate::portal::iso_ms(crate::portal::now_ms())
}

/// Text of a JSON scalar (ids may arrive as numbers).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
