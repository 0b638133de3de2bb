//! Keva customers: create, read, update, look up by email, list.
//!
//! Emails are trimmed and validated (`Email::parse`) on the way in and looked up
//! case-insensitively; an invalid one is a 422 naming the reason. Another
//! workspace's customer is indistinguishable from a missing one (404). Creating or
//! editing a customer enqueues its sync on every connected HubSpot connector.
//!
//! `attributes` carries custom attribute values (`{key: value}`), checked against
//! the workspace's definitions by type; a PATCH merges keys and `null` clears one.

use axum::extract::State;
use axum::http::StatusCode;
use keva_core::{Customer, CustomerPatch, Email, Trigger};
use keva_store::NewCustomer;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::attribute_values::WorkspaceAttributes;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::sync::jobs::enqueue_customer_sync;

/// A customer as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Custom attribute values by key (retired attributes are not shown).
    #[schema(value_type = Object)]
    pub attributes: keva_core::AttributeValues,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id,
            email: c.email,
            name: c.name,
            phone: c.phone,
            company: c.company,
            job_title: c.job_title,
            location: c.location,
            notes: c.notes,
            attributes: c.attributes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomer {
    /// An email address.
    #[schema(format = "email")]
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Custom attribute values by key, typed as their definitions say.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Fields to change; absent fields stay as they are, `""` clears one (not email).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomer {
    /// An email address.
    #[schema(format = "email")]
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Attribute keys to set; keys not named stay, `null` clears one.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    /// Exact email (trimmed, case-insensitive).
    #[param(format = "email")]
    pub email: Option<String>,
    /// Page size, 1..=500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub after: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    pub data: Vec<CustomerView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

pub(crate) fn parse_email(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|e| ApiError::Unprocessable(format!("invalid email: {e}")))
}

/// Empty or whitespace-only optional text means "no value".
fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[utoipa::path(post, path = "/api/customers", tag = "customers",
    request_body = CreateCustomer,
    security(("api_key" = [])),
    responses(
        (status = 201, body = CustomerView),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "email already used by another customer"),
        (status = 422, body = ErrorBody, description = "invalid email or fields")))]
pub async fn create_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<CreateCustomer>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    let email = parse_email(&body.email)?;
    let attrs = WorkspaceAttributes::load(&state, auth.workspace_id).await?;
    let attributes = attrs.initial(body.attributes.as_ref())?;
    let customer = state
        .store
        .insert_customer(
            auth.workspace_id,
            NewCustomer {
                email: email.as_str().to_string(),
                name: clean(body.name),
                phone: clean(body.phone),
                company: clean(body.company),
                job_title: clean(body.job_title),
                location: clean(body.location),
                notes: clean(body.notes),
                attributes,
            },
        )
        .await?;
    enqueue_customer_sync(
        &state,
        auth.workspace_id,
        customer.id,
        Trigger::ProfileUpdate,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(attrs.view(customer))))
}

#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers",
    params(("id" = Uuid, Path)), security(("api_key" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Json<CustomerView>, ApiError> {
    let c = state
        .store
        .get_customer(auth.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let attrs = WorkspaceAttributes::load(&state, auth.workspace_id).await?;
    Ok(Json(attrs.view(c)))
}

#[utoipa::path(patch, path = "/api/customers/{id}", tag = "customers",
    params(("id" = Uuid, Path)), request_body = UpdateCustomer, security(("api_key" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateCustomer>,
) -> Result<Json<CustomerView>, ApiError> {
    let email = match body.email.as_deref() {
        Some(raw) => Some(parse_email(raw)?.as_str().to_string()),
        None => None,
    };
    let attrs = WorkspaceAttributes::load(&state, auth.workspace_id).await?;
    let attributes = attrs.check(body.attributes.as_ref())?;
    // `Some("")` clears a field; trimming keeps "  " from being stored as a value.
    let trim = |v: Option<String>| v.map(|s| s.trim().to_string());
    let patch = CustomerPatch {
        email,
        name: trim(body.name),
        phone: trim(body.phone),
        company: trim(body.company),
        job_title: trim(body.job_title),
        location: trim(body.location),
        notes: trim(body.notes),
        attributes,
    };
    let c = state
        .store
        .update_customer(auth.workspace_id, id, &patch)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    enqueue_customer_sync(&state, auth.workspace_id, c.id, Trigger::ProfileUpdate).await?;
    Ok(Json(attrs.view(c)))
}

#[utoipa::path(get, path = "/api/customers", tag = "customers",
    params(ListParams), security(("api_key" = [])),
    responses((status = 200, body = CustomerPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_customers(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<ListParams>,
) -> Result<Json<CustomerPage>, ApiError> {
    let attrs = WorkspaceAttributes::load(&state, auth.workspace_id).await?;
    if let Some(raw) = params.email.as_deref() {
        let email = parse_email(raw)?;
        let found = state
            .store
            .customer_by_email(auth.workspace_id, email.as_str())
            .await?;
        return Ok(Json(CustomerPage {
            data: found.into_iter().map(|c| attrs.view(c)).collect(),
            next_cursor: None,
        }));
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Unprocessable(
            "limit must be between 1 and 500".into(),
        ));
    }
    let page = state
        .store
        .list_customers(auth.workspace_id, params.after, limit)
        .await?;
    let next_cursor = if page.len() == limit as usize {
        page.last().map(|c| c.id)
    } else {
        None
    };
    Ok(Json(CustomerPage {
        data: page.into_iter().map(|c| attrs.view(c)).collect(),
        next_cursor,
    }))
}
