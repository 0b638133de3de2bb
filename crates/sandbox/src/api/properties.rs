//! `/crm/v3/properties/{objectType}`: list, read, create, update and archive
//! property definitions (HubSpot's defaults plus the portal's custom ones).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json, now_iso, object_type, Caller, HsJson, Query};
use crate::error::ErrorResponse;
use crate::portal::now_ms;
use crate::portal::properties::{PropOption, PropertyDef, PropertyGroup};

const TYPES: &[&str] = &[
    "bool",
    "date",
    "datetime",
    "enumeration",
    "number",
    "phone_number",
    "string",
];
const FIELD_TYPES: &[&str] = &[
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionInput {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub display_order: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyCreate {
    pub name: Option<String>,
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub ptype: Option<String>,
    pub field_type: Option<String>,
    pub group_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub options: Vec<OptionInput>,
    #[serde(default)]
    pub display_order: Option<i64>,
    #[serde(default)]
    pub has_unique_value: bool,
    #[serde(default)]
    pub form_field: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyUpdate {
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub ptype: Option<String>,
    pub field_type: Option<String>,
    pub group_name: Option<String>,
    pub description: Option<String>,
    pub options: Option<Vec<OptionInput>>,
    pub display_order: Option<i64>,
}

fn options(input: &[OptionInput]) -> Vec<PropOption> {
    input
        .iter()
        .enumerate()
        .map(|(i, o)| PropOption {
            label: o.label.clone(),
            value: o.value.clone(),
            description: o.description.clone().unwrap_or_default(),
            display_order: o.display_order.unwrap_or(i64::try_from(i).unwrap_or(0)),
            hidden: o.hidden,
        })
        .collect()
}

fn property_not_found(name: &str, ty: &str) -> ErrorResponse {
    ErrorResponse::not_found(format!(
        "Unable to find property {name} for object type {ty}"
    ))
}

pub async fn list(c: Caller, Path(ty): Path<String>, q: Query) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let wanted = q.list("properties");
    let data = c.portal.read();
    let results: Vec<Value> = data
        .registry(ty)
        .defs
        .iter()
        .filter(|d| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|n| n == &*d.name))
        })
        .map(PropertyDef::to_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "results": results })))
}

pub async fn get_one(
    c: Caller,
    Path((ty, name)): Path<(String, String)>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let data = c.portal.read();
    let def = data
        .registry(ty_parsed)
        .get(&name)
        .ok_or_else(|| property_not_found(&name, &ty))?;
    Ok(json(StatusCode::OK, def.to_json()))
}

fn missing_field(field: &str) -> ErrorResponse {
    ErrorResponse::validation(format!("Missing required field: {field}"))
}

/// HubSpot's rule for property and group names.
fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn group_not_found(group: &str) -> ErrorResponse {
    ErrorResponse::validation(format!("Property group {group} does not exist"))
}

/// Validates a create body into a definition.
fn build(input: PropertyCreate) -> Result<PropertyDef, ErrorResponse> {
    let name = input.name.ok_or_else(|| missing_field("name"))?;
    let label = input.label.ok_or_else(|| missing_field("label"))?;
    let ptype = input.ptype.ok_or_else(|| missing_field("type"))?;
    let field_type = input.field_type.ok_or_else(|| missing_field("fieldType"))?;
    let group_name = input.group_name.ok_or_else(|| missing_field("groupName"))?;
    if !valid_name(&name) {
        return Err(ErrorResponse::validation(format!(
            "Property name {name} is invalid: names must start with a lowercase letter and contain only lowercase letters, digits and underscores"
        )));
    }
    if !TYPES.contains(&ptype.as_str()) {
        return Err(ErrorResponse::validation(format!(
            "Invalid property type {ptype}. Allowed values: {}",
            TYPES.join(", ")
        )));
    }
    if !FIELD_TYPES.contains(&field_type.as_str()) {
        return Err(ErrorResponse::validation(format!(
            "Invalid property fieldType {field_type}. Allowed values: {}",
            FIELD_TYPES.join(", ")
        )));
    }
    if ptype == "enumeration"
        && input.options.is_empty()
        && field_type != "checkbox"
        && field_type != "select"
        && field_type != "radio"
    {
        return Err(ErrorResponse::validation(
            "Enumeration properties need options",
        ));
    }
    let now = now_ms();
    Ok(PropertyDef {
        name: name.as_str().into(),
        label,
        ptype,
        field_type,
        group_name,
        description: input.description.unwrap_or_default(),
        options: options(&input.options),
        hubspot_defined: false,
        read_only_value: false,
        read_only_definition: false,
        calculated: false,
        has_unique_value: input.has_unique_value,
        form_field: input.form_field.unwrap_or(true),
        display_order: input.display_order.unwrap_or(-1),
        created_ms: now,
        updated_ms: now,
    })
}

pub async fn create(
    c: Caller,
    Path(ty): Path<String>,
    HsJson(input): HsJson<PropertyCreate>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let def = build(input)?;
    let mut data = c.portal.write();
    if !data.registry(ty_parsed).has_group(&def.group_name) {
        return Err(group_not_found(&def.group_name));
    }
    if data.registry(ty_parsed).get(&def.name).is_some() {
        return Err(ErrorResponse::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("A property named '{}' already exists.", def.name),
        )
        .sub_category("PropertyValidationError.PROPERTY_EXISTS"));
    }
    let body = def.to_json();
    data.registry_mut(ty_parsed).insert(def);
    Ok(json(StatusCode::CREATED, body))
}

pub async fn update(
    c: Caller,
    Path((ty, name)): Path<(String, String)>,
    HsJson(input): HsJson<PropertyUpdate>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let mut data = c.portal.write();
    if let Some(g) = input.group_name.as_deref() {
        if !data.registry(ty_parsed).has_group(g) {
            return Err(group_not_found(g));
        }
    }
    let def = data
        .registry_mut(ty_parsed)
        .get_mut(&name)
        .ok_or_else(|| property_not_found(&name, &ty))?;
    if def.hubspot_defined && (input.ptype.is_some() || input.field_type.is_some()) {
        return Err(ErrorResponse::validation(format!(
            "Cannot change the type of HubSpot-defined property {name}"
        )));
    }
    if let Some(t) = &input.ptype {
        if !TYPES.contains(&t.as_str()) {
            return Err(ErrorResponse::validation(format!(
                "Invalid property type {t}"
            )));
        }
    }
    if let Some(v) = input.label {
        def.label = v;
    }
    if let Some(v) = input.ptype {
        def.ptype = v;
    }
    if let Some(v) = input.field_type {
        def.field_type = v;
    }
    if let Some(v) = input.group_name {
        def.group_name = v;
    }
    if let Some(v) = input.description {
        def.description = v;
    }
    if let Some(v) = input.options {
        def.options = options(&v);
    }
    if let Some(v) = input.display_order {
        def.display_order = v;
    }
    def.updated_ms = now_ms();
    Ok(json(StatusCode::OK, def.to_json()))
}

pub async fn archive(
    c: Caller,
    Path((ty, name)): Path<(String, String)>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let mut data = c.portal.write();
    let reg = data.registry_mut(ty_parsed);
    match reg.get(&name) {
        None => Err(property_not_found(&name, &ty)),
        Some(d) if d.hubspot_defined => Err(ErrorResponse::validation(format!(
            "Property {name} is HubSpot-defined and cannot be archived"
        ))),
        Some(_) => {
            reg.remove(&name);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NameInput {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct BatchReadBody {
    #[serde(default)]
    pub inputs: Vec<NameInput>,
}

pub async fn batch_read(
    c: Caller,
    Path(ty): Path<String>,
    HsJson(body): HsJson<BatchReadBody>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let started = now_iso();
    let data = c.portal.read();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &body.inputs {
        match data.registry(ty_parsed).get(&input.name) {
            Some(d) => results.push(d.to_json()),
            None => errors.push(super::batch::item_error(
                &property_not_found(&input.name, &ty),
                Default::default(),
            )),
        }
    }
    drop(data);
    Ok(super::batch::batch_response(
        StatusCode::OK,
        results,
        errors,
        started,
    ))
}

pub async fn groups(c: Caller, Path(ty): Path<String>) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let data = c.portal.read();
    let results: Vec<Value> = data
        .registry(ty_parsed)
        .group_list()
        .into_iter()
        .enumerate()
        .map(|(i, (n, label))| {
            let label = label.unwrap_or_else(|| label_of(&n));
            json!({ "name": n, "label": label, "displayOrder": i, "archived": false })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "results": results })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCreate {
    pub name: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub display_order: Option<i64>,
}

/// `POST /crm/v3/properties/{objectType}/groups`: 201 with the group, 409 when
/// a group of that name exists.
pub async fn create_group(
    c: Caller,
    Path(ty): Path<String>,
    HsJson(input): HsJson<GroupCreate>,
) -> Result<Response, ErrorResponse> {
    let ty_parsed = object_type(&ty)?;
    let name = input.name.ok_or_else(|| missing_field("name"))?;
    let label = input.label.ok_or_else(|| missing_field("label"))?;
    if !valid_name(&name) {
        return Err(ErrorResponse::validation(format!(
            "Property group name {name} is invalid: names must start with a lowercase letter and contain only lowercase letters, digits and underscores"
        )));
    }
    let mut data = c.portal.write();
    let reg = data.registry_mut(ty_parsed);
    if reg.has_group(&name) {
        return Err(ErrorResponse::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("A property group named '{name}' already exists."),
        ));
    }
    let display_order = input.display_order.unwrap_or(-1);
    reg.groups.push(PropertyGroup {
        name: name.clone(),
        label: label.clone(),
        display_order,
    });
    Ok(json(
        StatusCode::CREATED,
        json!({ "name": name, "label": label, "displayOrder": display_order, "archived": false }),
    ))
}

fn label_of(group: &str) -> String {
    match group {
        "contactinformation" => "Contact information".into(),
        "companyinformation" => "Company information".into(),
        "dealinformation" => "Deal information".into(),
        "sales_properties" => "Sales properties".into(),
        "contact_activity" => "Contact activity".into(),
        "deal_information" => "Deal information".into(),
        other => other.replace('_', " "),
    }
}
