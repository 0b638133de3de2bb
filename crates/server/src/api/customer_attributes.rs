//! Custom customer attribute definitions: `/api/customer-attributes` (list,
//! create) and `/api/customer-attributes/{key}` (get, update, retire).
//!
//! A key is camelCase, unique in the workspace and never one of the built-in
//! fields. Its type never changes: a PATCH naming another type is a 409 with the
//! reason (retire the key and create a new one). Options of an `enum` or
//! `multi_enum` can be added, never removed (stored values would dangle). DELETE
//! retires the key: its values stay on customers but are hidden and unwritable, and
//! the key cannot be reused.

use axum::extract::State;
use axum::http::StatusCode;
use keva_core::attribute::MAX_KEY_LEN as MAX_KEY;
use keva_core::automap::KevaFieldType;
use keva_core::KevaField;
use keva_store::{AttributeDefinition, AttributeUpdate, NewAttribute};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// The types an attribute may have.
pub const ATTRIBUTE_TYPES: [&str; 7] = [
    "string",
    "number",
    "date",
    "datetime",
    "boolean",
    "enum",
    "multi_enum",
];

/// Keys the customer API already uses for something else.
const RESERVED: [&str; 6] = [
    "id",
    "attributes",
    "createdAt",
    "updatedAt",
    "workspaceId",
    "externalId",
];

pub(crate) const MAX_LABEL: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
pub(crate) const MAX_OPTIONS: usize = 500;

/// An attribute definition as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeView {
    pub key: String,
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `boolean`, `enum` or `multi_enum`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    /// The allowed values of an `enum` / `multi_enum` (empty otherwise).
    pub options: Vec<String>,
    /// Retired: values kept but hidden and unwritable; the key is never reused.
    pub retired: bool,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<AttributeDefinition> for AttributeView {
    fn from(d: AttributeDefinition) -> Self {
        Self {
            retired: d.retired_at.is_some(),
            key: d.key,
            label: d.label,
            kind: d.kind,
            description: d.description,
            options: d.options,
            retired_at: d.retired_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttributeList {
    pub data: Vec<AttributeView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAttribute {
    /// camelCase, 1–64 characters, not a built-in field (`email`, `jobTitle`, …).
    #[schema(pattern = r"^[a-z][A-Za-z0-9]{0,63}$")]
    pub key: String,
    /// Not blank; at most 200 characters.
    #[schema(pattern = r"\S", max_length = 200)]
    pub label: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::attribute_type)]
    pub kind: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Required (non-empty) for `enum` and `multi_enum`, refused otherwise (422).
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::attribute_options)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAttribute {
    #[schema(pattern = r"\S", max_length = 200)]
    pub label: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    /// Must equal the current type if given: types never change (409 otherwise).
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::attribute_type_or_null)]
    pub kind: Option<String>,
    /// The full new option list: every current option must stay (options can be
    /// added, not removed).
    #[schema(schema_with = crate::api::schema::attribute_options_or_null)]
    pub options: Option<Vec<String>>,
}

fn double_option<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    /// Include retired definitions (default false).
    pub include_retired: Option<bool>,
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if !keva_core::attribute::valid_key(key) {
        return Err(ApiError::Unprocessable(format!(
            "key {key:?} must be camelCase: a lowercase letter, then letters and digits, at most {MAX_KEY} characters"
        )));
    }
    if KevaField::builtin(key).is_some() || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(key)) {
        return Err(ApiError::Unprocessable(format!(
            "key {key:?} is a built-in customer field"
        )));
    }
    Ok(())
}

fn check_kind(kind: &str) -> Result<KevaFieldType, ApiError> {
    if !ATTRIBUTE_TYPES.contains(&kind) {
        return Err(ApiError::Unprocessable(format!(
            "type {kind:?} must be one of {}",
            ATTRIBUTE_TYPES.join(", ")
        )));
    }
    serde_json::from_value(serde_json::Value::String(kind.to_string()))
        .map_err(|_| ApiError::Unprocessable(format!("unknown type {kind:?}")))
}

fn check_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(ApiError::Unprocessable(format!(
            "label must be 1 to {MAX_LABEL} characters"
        )));
    }
    Ok(label.to_string())
}

fn check_description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d.map(|s| s.trim().to_string()) {
        Some(s) if s.chars().count() > MAX_DESCRIPTION => Err(ApiError::Unprocessable(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        ))),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn check_options(kind: KevaFieldType, options: Vec<String>) -> Result<Vec<String>, ApiError> {
    let enumerated = matches!(kind, KevaFieldType::Enum | KevaFieldType::MultiEnum);
    if !enumerated {
        if options.is_empty() {
            return Ok(options);
        }
        return Err(ApiError::Unprocessable(format!(
            "options are only for enum and multi_enum, not {}",
            kind.as_str()
        )));
    }
    if options.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "a {} attribute needs at least one option",
            kind.as_str()
        )));
    }
    if options.len() > MAX_OPTIONS {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_OPTIONS} options"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(options.len());
    for o in options {
        let o = o.trim().to_string();
        if o.is_empty() || o.chars().count() > MAX_LABEL {
            return Err(ApiError::Unprocessable(format!(
                "options must be 1 to {MAX_LABEL} characters"
            )));
        }
        if !seen.insert(o.clone()) {
            return Err(ApiError::Unprocessable(format!(
                "option {o:?} is listed twice"
            )));
        }
        out.push(o);
    }
    Ok(out)
}

async fn find(
    state: &AppState,
    workspace_id: uuid::Uuid,
    key: &str,
) -> Result<AttributeDefinition, ApiError> {
    state
        .store
        .attribute(workspace_id, key)
        .await?
        .ok_or(ApiError::NotFound("attribute"))
}

#[utoipa::path(get, path = "/api/customer-attributes", tag = "customers",
    params(ListParams), security(("api_key" = [])),
    responses((status = 200, body = AttributeList), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_attributes(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(p): Query<ListParams>,
) -> Result<Json<AttributeList>, ApiError> {
    let defs = state
        .store
        .list_attributes(auth.workspace_id, p.include_retired.unwrap_or(false))
        .await?;
    Ok(Json(AttributeList {
        data: defs.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/api/customer-attributes", tag = "customers",
    request_body = CreateAttribute, security(("api_key" = [])),
    responses((status = 201, body = AttributeView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the key exists (or existed and was retired)"),
        (status = 422, body = ErrorBody, description = "bad key, label, type or options; the message says which")))]
pub async fn create_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<CreateAttribute>,
) -> Result<(StatusCode, Json<AttributeView>), ApiError> {
    check_key(&body.key)?;
    let kind = check_kind(&body.kind)?;
    let new = NewAttribute {
        label: check_label(&body.label)?,
        description: check_description(body.description)?,
        options: check_options(kind, body.options)?,
        kind: kind.as_str().to_string(),
        key: body.key,
    };
    let def = state
        .store
        .create_attribute(auth.workspace_id, &new)
        .await?;
    Ok((StatusCode::CREATED, Json(def.into())))
}

#[utoipa::path(get, path = "/api/customer-attributes/{key}", tag = "customers",
    params(("key" = String, Path, description = "the attribute's key")),
    security(("api_key" = [])),
    responses((status = 200, body = AttributeView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> Result<Json<AttributeView>, ApiError> {
    Ok(Json(find(&state, auth.workspace_id, &key).await?.into()))
}

#[utoipa::path(patch, path = "/api/customer-attributes/{key}", tag = "customers",
    params(("key" = String, Path, description = "the attribute's key")),
    request_body = UpdateAttribute, security(("api_key" = [])),
    responses((status = 200, body = AttributeView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a different type (types never change) or a retired attribute"),
        (status = 422, body = ErrorBody, description = "bad label or options, or an existing option removed")))]
pub async fn update_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
    Json(body): Json<UpdateAttribute>,
) -> Result<Json<AttributeView>, ApiError> {
    let current = find(&state, auth.workspace_id, &key).await?;
    if current.retired_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "attribute {key:?} is retired and cannot be changed"
        )));
    }
    let kind = check_kind(&current.kind)?;
    if let Some(k) = &body.kind {
        if k != &current.kind {
            return Err(ApiError::Conflict(format!(
                "attribute {key:?} is of type {}; a type never changes (retire it and create a new key for {k})",
                current.kind
            )));
        }
    }
    let options = match body.options {
        Some(options) => {
            let options = check_options(kind, options)?;
            if let Some(gone) = current.options.iter().find(|o| !options.contains(o)) {
                return Err(ApiError::Unprocessable(format!(
                    "option {gone:?} of {key:?} cannot be removed: options can only be added"
                )));
            }
            options
        }
        None => current.options,
    };
    let update = AttributeUpdate {
        label: match body.label {
            Some(l) => check_label(&l)?,
            None => current.label,
        },
        description: match body.description {
            Some(d) => check_description(d)?,
            None => current.description,
        },
        options,
    };
    let def = state
        .store
        .update_attribute(auth.workspace_id, &key, &update)
        .await?;
    Ok(Json(def.into()))
}

#[utoipa::path(delete, path = "/api/customer-attributes/{key}", tag = "customers",
    params(("key" = String, Path, description = "the attribute's key")),
    security(("api_key" = [])),
    responses((status = 200, body = AttributeView, description = "retired (idempotent): values kept but hidden and unwritable"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retire_attribute(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> Result<Json<AttributeView>, ApiError> {
    find(&state, auth.workspace_id, &key).await?;
    let def = state
        .store
        .retire_attribute(auth.workspace_id, &key)
        .await?;
    Ok(Json(def.into()))
}
