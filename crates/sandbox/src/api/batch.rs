//! `/crm/v3/objects/{type}/batch/{read|create|update|upsert|archive}`: up to 100
//! inputs (50 when reading property history), per-item errors as 207 multi-status.
//!
//! Like HubSpot, an invalid input (bad property, duplicate email) fails the whole
//! batch before anything is written, unless every create input carries an
//! `objectWriteTraceId` (HubSpot's opt-in for multi-status); ids that do not exist
//! are always reported per item.

use std::collections::HashSet;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::objects::{parse_associations, written_opts, CreateInput};
use super::{json, now_iso, scalar_text, ApiState, Caller, HsJson, Query};
use crate::error::ErrorResponse;
use crate::portal::store::ReadOpts;
use crate::portal::{normalize_email, now_ms, ObjectType};

/// (to type, to id, association type id) of a create input.
type Association = (ObjectType, u64, u32);

pub const MAX_INPUTS: usize = 100;
pub const MAX_HISTORY_INPUTS: usize = 50;

pub fn routes(ty: ObjectType) -> Router<ApiState> {
    let base = format!("/crm/v3/objects/{}/batch", ty.plural());
    Router::new()
        .route(
            &format!("{base}/read"),
            post(move |c: Caller, q: Query, HsJson(b): HsJson<ReadBody>| read(ty, c, q, b)),
        )
        .route(
            &format!("{base}/create"),
            post(move |c: Caller, HsJson(b): HsJson<CreateBody>| create(ty, c, b)),
        )
        .route(
            &format!("{base}/update"),
            post(move |c: Caller, HsJson(b): HsJson<UpdateBody>| update(ty, c, b)),
        )
        .route(
            &format!("{base}/upsert"),
            post(move |c: Caller, HsJson(b): HsJson<UpdateBody>| upsert(ty, c, b)),
        )
        .route(
            &format!("{base}/archive"),
            post(move |c: Caller, HsJson(b): HsJson<ArchiveBody>| archive(ty, c, b)),
        )
}

#[derive(Debug, Deserialize)]
pub struct IdInput {
    pub id: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    #[serde(default)]
    pub inputs: Vec<IdInput>,
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    #[serde(default)]
    pub properties_with_history: Option<Vec<String>>,
    #[serde(default)]
    pub id_property: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    #[serde(default)]
    pub inputs: Vec<CreateInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    pub id: Value,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub id_property: Option<String>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    #[serde(default)]
    pub inputs: Vec<UpdateInput>,
}

#[derive(Debug, Deserialize)]
pub struct ArchiveBody {
    #[serde(default)]
    pub inputs: Vec<IdInput>,
}

fn check_count(n: usize, max: usize, history: bool) -> Result<(), ErrorResponse> {
    if n > max {
        let msg = if history {
            format!("The maximum number of inputs supported in a batch request for property histories is {max}")
        } else {
            format!("Too many inputs: {n}. The maximum number of inputs supported in a batch request is {max}")
        };
        return Err(ErrorResponse::validation(msg).context("maxInputs", vec![max.to_string()]));
    }
    Ok(())
}

/// One `StandardError` of a multi-status response.
pub fn item_error(err: &ErrorResponse, context: Map<String, Value>) -> Value {
    let mut ctx = err.details.context.clone().unwrap_or_default();
    ctx.extend(context);
    json!({
        "status": "error",
        "category": err.category,
        "message": err.message,
        "context": ctx,
        "errors": err.details.errors,
        "links": {},
    })
}

/// The batch envelope: 200/201 when clean, 207 with `numErrors`/`errors` otherwise.
pub fn batch_response(
    ok_status: StatusCode,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: String,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso(),
    });
    if errors.is_empty() {
        return json(ok_status, body);
    }
    if let Some(obj) = body.as_object_mut() {
        obj.insert("numErrors".into(), json!(errors.len()));
        obj.insert("errors".into(), Value::Array(errors));
    }
    json(StatusCode::MULTI_STATUS, body)
}

fn not_found_item(ty: ObjectType, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", ty.upper()),
        "context": { "ids": ids },
        "errors": [],
        "links": {},
    })
}

/// 200 with `results`, or 207 with one OBJECT_NOT_FOUND error naming the `missing` ids.
fn missing_ids_response(
    ty: ObjectType,
    results: Vec<Value>,
    missing: Vec<String>,
    started: String,
) -> Response {
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![not_found_item(ty, missing)]
    };
    batch_response(StatusCode::OK, results, errors, started)
}

fn duplicates(ids: impl Iterator<Item = String>) -> Result<(), ErrorResponse> {
    let mut seen = HashSet::new();
    let mut dups = Vec::new();
    for id in ids {
        if !seen.insert(id.clone()) && !dups.contains(&id) {
            dups.push(id);
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(ErrorResponse::validation(format!(
            "Duplicate IDs found in batch input: [{}]. IDs must be unique",
            dups.join(", ")
        ))
        .context("ids", dups))
    }
}

async fn read(
    ty: ObjectType,
    c: Caller,
    q: Query,
    body: ReadBody,
) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    let history = body.properties_with_history.clone().unwrap_or_default();
    check_count(body.inputs.len(), MAX_INPUTS, false)?;
    if !history.is_empty() {
        check_count(body.inputs.len(), MAX_HISTORY_INPUTS, true)?;
    }
    let opts = ReadOpts {
        properties: body.properties.clone().filter(|p| !p.is_empty()),
        properties_with_history: history,
        associations: Vec::new(),
    };
    let archived = q.flag("archived");
    let data = c.portal.read();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    let mut seen = HashSet::new();
    for input in &body.inputs {
        let id = scalar_text(&input.id);
        match data.resolve(ty, &id, body.id_property.as_deref(), archived)? {
            Some(rid) => {
                if seen.insert(rid) {
                    if let Some(r) = data.record(ty, rid) {
                        results.push(data.render(ty, r, &opts));
                    }
                }
            }
            None => missing.push(id),
        }
    }
    drop(data);
    Ok(missing_ids_response(ty, results, missing, started))
}

async fn create(ty: ObjectType, c: Caller, body: CreateBody) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    check_count(body.inputs.len(), MAX_INPUTS, false)?;
    let multi_status = !body.inputs.is_empty()
        && body
            .inputs
            .iter()
            .all(|i| i.object_write_trace_id.is_some());
    let mut events = Vec::new();
    let now = now_ms();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    {
        let mut data = c.portal.write();
        // Check everything first: without multi-status nothing may be written.
        let mut checks: Vec<Result<Vec<Association>, ErrorResponse>> = Vec::new();
        let mut emails = HashSet::new();
        for input in &body.inputs {
            let check = parse_associations(ty, &input.associations).and_then(|assocs| {
                data.validate(ty, &input.properties)?;
                if ty == ObjectType::Contacts {
                    if let Some(e) = input
                        .properties
                        .get("email")
                        .map(scalar_text)
                        .map(|e| normalize_email(&e))
                        .filter(|e| !e.is_empty())
                    {
                        if let Some(existing) = data.find_by_email(&e) {
                            return Err(ErrorResponse::new(
                                StatusCode::CONFLICT,
                                "CONFLICT",
                                format!("Contact already exists. Existing ID: {existing}"),
                            )
                            .extra("error", "CONTACT_EXISTS"));
                        }
                        if !emails.insert(e.clone()) {
                            return Err(ErrorResponse::validation(format!(
                                "Duplicate email in batch input: {e}"
                            )));
                        }
                    }
                }
                Ok(assocs)
            });
            if !multi_status {
                if let Err(e) = check {
                    return Err(e);
                }
                checks.push(check);
            } else {
                checks.push(check);
            }
        }
        for (input, check) in body.inputs.iter().zip(checks) {
            let outcome = check.and_then(|assocs| {
                data.create(ty, &input.properties, &assocs, &c.actor, now, &mut events)
            });
            match outcome {
                Ok(id) => {
                    if let Some(r) = data.record(ty, id) {
                        let mut v = data.render(ty, r, &written_opts(ty, &input.properties));
                        if let (Some(trace), Some(obj)) =
                            (&input.object_write_trace_id, v.as_object_mut())
                        {
                            obj.insert("objectWriteTraceId".into(), Value::String(trace.clone()));
                        }
                        results.push(v);
                    }
                }
                Err(e) => {
                    let mut ctx = Map::new();
                    if let Some(trace) = &input.object_write_trace_id {
                        ctx.insert("objectWriteTraceId".into(), json!([trace]));
                    }
                    errors.push(item_error(&e, ctx));
                }
            }
        }
    }
    c.emit(events);
    Ok(batch_response(
        StatusCode::CREATED,
        results,
        errors,
        started,
    ))
}

async fn update(ty: ObjectType, c: Caller, body: UpdateBody) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    check_count(body.inputs.len(), MAX_INPUTS, false)?;
    duplicates(
        body.inputs
            .iter()
            .map(|i| scalar_text(&i.id).trim().to_lowercase()),
    )?;
    let mut events = Vec::new();
    let now = now_ms();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    {
        let mut data = c.portal.write();
        let mut targets = Vec::new();
        for input in &body.inputs {
            let id = scalar_text(&input.id);
            data.validate(ty, &input.properties)?;
            match data.resolve(ty, &id, input.id_property.as_deref(), false)? {
                Some(rid) => {
                    check_email_change(&data, ty, rid, &input.properties)?;
                    targets.push((rid, input));
                }
                None => missing.push(id),
            }
        }
        for (rid, input) in targets {
            data.update(ty, rid, &input.properties, &c.actor, now, &mut events)?;
            if let Some(r) = data.record(ty, rid) {
                results.push(data.render(ty, r, &written_opts(ty, &input.properties)));
            }
        }
    }
    c.emit(events);
    Ok(missing_ids_response(ty, results, missing, started))
}

/// 409 before anything is written when an input would take another contact's email.
fn check_email_change(
    data: &crate::portal::PortalData,
    ty: ObjectType,
    id: u64,
    props: &Map<String, Value>,
) -> Result<(), ErrorResponse> {
    if ty != ObjectType::Contacts {
        return Ok(());
    }
    let Some(email) = props
        .get("email")
        .map(scalar_text)
        .map(|e| normalize_email(&e))
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    match data.find_by_email(&email) {
        Some(existing) if existing != id => Err(ErrorResponse::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            format!("Contact already exists. Existing ID: {existing}"),
        )
        .extra("error", "CONTACT_EXISTS")),
        _ => Ok(()),
    }
}

async fn upsert(ty: ObjectType, c: Caller, body: UpdateBody) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    check_count(body.inputs.len(), MAX_INPUTS, false)?;
    duplicates(body.inputs.iter().map(|i| {
        let id = scalar_text(&i.id);
        if i.id_property.as_deref() == Some("email") {
            normalize_email(&id)
        } else {
            id
        }
    }))?;
    let mut events = Vec::new();
    let now = now_ms();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    {
        let mut data = c.portal.write();
        let mut plan = Vec::new();
        for input in &body.inputs {
            let id = scalar_text(&input.id);
            data.validate(ty, &input.properties)?;
            let by_email = input.id_property.as_deref() == Some("email");
            if by_email
                && ty == ObjectType::Contacts
                && !crate::portal::properties::email_is_valid(&id)
            {
                return Err(crate::portal::properties::invalid_values_error(&[
                    crate::portal::properties::InvalidValue {
                        name: "email".into(),
                        error: "INVALID_EMAIL",
                        message: format!("Email address {id} is invalid"),
                    },
                ]));
            }
            match data.resolve(ty, &id, input.id_property.as_deref(), false)? {
                Some(rid) => {
                    check_email_change(&data, ty, rid, &input.properties)?;
                    plan.push((Some(rid), input));
                }
                None if by_email
                    || input
                        .id_property
                        .as_deref()
                        .is_some_and(|p| p != "hs_object_id") =>
                {
                    check_email_change(&data, ty, u64::MAX, &input.properties)?;
                    plan.push((None, input));
                }
                None => missing.push(id),
            }
        }
        for (rid, input) in plan {
            let (rid, new) = match rid {
                Some(rid) => {
                    data.update(ty, rid, &input.properties, &c.actor, now, &mut events)?;
                    (rid, false)
                }
                None => {
                    let mut props = input.properties.clone();
                    if let Some(p) = input.id_property.as_deref() {
                        props
                            .entry(p.to_string())
                            .or_insert_with(|| input.id.clone());
                    }
                    (
                        data.create(ty, &props, &[], &c.actor, now, &mut events)?,
                        true,
                    )
                }
            };
            if let Some(r) = data.record(ty, rid) {
                let mut v = data.render(ty, r, &written_opts(ty, &input.properties));
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("new".into(), Value::Bool(new));
                    if let Some(trace) = &input.object_write_trace_id {
                        obj.insert("objectWriteTraceId".into(), Value::String(trace.clone()));
                    }
                }
                results.push(v);
            }
        }
    }
    c.emit(events);
    Ok(missing_ids_response(ty, results, missing, started))
}

async fn archive(ty: ObjectType, c: Caller, body: ArchiveBody) -> Result<Response, ErrorResponse> {
    check_count(body.inputs.len(), MAX_INPUTS, false)?;
    let mut events = Vec::new();
    let now = now_ms();
    {
        let mut data = c.portal.write();
        for input in &body.inputs {
            if let Ok(id) = scalar_text(&input.id).trim().parse::<u64>() {
                data.archive(ty, id, &c.actor, now, &mut events);
            }
        }
    }
    c.emit(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}
