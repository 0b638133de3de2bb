//! Associations v4: list a record's associations, create default or labelled ones,
//! remove them, and the batch read / associate-default / archive endpoints.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::batch::{batch_response, item_error};
use super::objects::AssocType;
use super::{json, now_iso, object_type, scalar_text, Caller, HsJson, Query};
use crate::error::ErrorResponse;
use crate::portal::store::{default_type_id, not_found, type_category, type_label};
use crate::portal::{now_ms, ObjectType, PortalData};

const MAX_PAGE: usize = 500;

fn parse_id(ty: ObjectType, s: &str) -> Result<u64, ErrorResponse> {
    s.trim().parse::<u64>().map_err(|_| not_found(ty, s))
}

fn type_json(id: u32) -> Value {
    let mut v = json!({ "category": type_category(id), "typeId": id });
    if let (Some(label), Some(obj)) = (type_label(id), v.as_object_mut()) {
        obj.insert("label".into(), Value::String(label.into()));
    }
    v
}

fn associated(data: &PortalData, ty: ObjectType, id: u64, to_ty: ObjectType) -> Vec<(u64, Value)> {
    data.associations_of(ty, id, to_ty)
        .into_iter()
        .map(|(tid, ids)| {
            let types: Vec<Value> = ids.into_iter().map(type_json).collect();
            (
                tid,
                json!({ "toObjectId": tid.to_string(), "associationTypes": types }),
            )
        })
        .collect()
}

pub async fn list(
    c: Caller,
    Path((ty, id, to_ty)): Path<(String, String, String)>,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let to_ty = object_type(&to_ty)?;
    let id = parse_id(ty, &id)?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let after = q.get("after").and_then(|a| a.parse::<u64>().ok());
    let data = c.portal.read();
    if !data.record(ty, id).is_some_and(|r| r.is_live()) {
        return Err(not_found(ty, &id.to_string()));
    }
    let all: Vec<(u64, Value)> = associated(&data, ty, id, to_ty)
        .into_iter()
        .filter(|(tid, _)| after.is_none_or(|a| *tid >= a))
        .collect();
    drop(data);
    let mut body =
        json!({ "results": all.iter().take(limit).map(|(_, v)| v.clone()).collect::<Vec<_>>() });
    if let (Some((next, _)), Some(obj)) = (all.get(limit), body.as_object_mut()) {
        obj.insert(
            "paging".into(),
            json!({ "next": { "after": next.to_string() } }),
        );
    }
    Ok(json(StatusCode::OK, body))
}

pub async fn put_default(
    c: Caller,
    Path((ty, id, to_ty, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    let ty = object_type(&ty)?;
    let to_ty = object_type(&to_ty)?;
    let id = parse_id(ty, &id)?;
    let to_id = parse_id(to_ty, &to_id)?;
    let type_id = default_type_id(ty, to_ty).ok_or_else(|| {
        ErrorResponse::validation(format!(
            "No default association between {} and {}",
            ty.plural(),
            to_ty.plural()
        ))
    })?;
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        data.associate(
            ty,
            id,
            to_ty,
            to_id,
            type_id,
            &c.actor,
            now_ms(),
            &mut events,
        )?;
    }
    c.emit(events);
    let result = json!({
        "from": { "id": id.to_string() },
        "to": { "id": to_id.to_string() },
        "associationSpec": { "associationCategory": type_category(type_id), "associationTypeId": type_id },
    });
    Ok(batch_response(
        StatusCode::OK,
        vec![result],
        Vec::new(),
        started,
    ))
}

pub async fn put_labelled(
    c: Caller,
    Path((ty, id, to_ty, to_id)): Path<(String, String, String, String)>,
    HsJson(types): HsJson<Vec<AssocType>>,
) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let to_ty = object_type(&to_ty)?;
    let id = parse_id(ty, &id)?;
    let to_id = parse_id(to_ty, &to_id)?;
    if types.is_empty() {
        return Err(ErrorResponse::validation(
            "At least one association type is required",
        ));
    }
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        for t in &types {
            let category = t
                .association_category
                .as_deref()
                .unwrap_or("HUBSPOT_DEFINED");
            if category == "HUBSPOT_DEFINED"
                && super::objects::association_target(ty, t.association_type_id) != Some(to_ty)
            {
                return Err(ErrorResponse::validation(format!(
                    "HUBSPOT_DEFINED association type {} is not valid between {} and {}",
                    t.association_type_id,
                    ty.plural(),
                    to_ty.plural()
                )));
            }
        }
        for t in &types {
            data.associate(
                ty,
                id,
                to_ty,
                to_id,
                t.association_type_id,
                &c.actor,
                now_ms(),
                &mut events,
            )?;
        }
    }
    c.emit(events);
    let labels: Vec<&str> = types
        .iter()
        .filter_map(|t| type_label(t.association_type_id))
        .collect();
    Ok(json(
        StatusCode::CREATED,
        json!({
            "fromObjectTypeId": ty.type_id(),
            "fromObjectId": id.to_string(),
            "toObjectTypeId": to_ty.type_id(),
            "toObjectId": to_id.to_string(),
            "labels": labels,
        }),
    ))
}

pub async fn remove(
    c: Caller,
    Path((ty, id, to_ty, to_id)): Path<(String, String, String, String)>,
) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let to_ty = object_type(&to_ty)?;
    let id = parse_id(ty, &id)?;
    let to_id = parse_id(to_ty, &to_id)?;
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        data.dissociate(ty, id, to_ty, to_id, &c.actor, now_ms(), &mut events);
    }
    c.emit(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub struct FetchInput {
    pub id: Value,
    #[serde(default)]
    pub after: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FetchBody {
    #[serde(default)]
    pub inputs: Vec<FetchInput>,
}

pub async fn batch_read(
    c: Caller,
    Path((from, to)): Path<(String, String)>,
    HsJson(body): HsJson<FetchBody>,
) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    let from_ty = object_type(&from)?;
    let to_ty = object_type(&to)?;
    if body.inputs.len() > 1000 {
        return Err(ErrorResponse::validation(
            "Too many inputs: the maximum is 1000",
        ));
    }
    let data = c.portal.read();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in &body.inputs {
        let id_text = scalar_text(&input.id);
        let id = id_text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|id| data.record(from_ty, *id).is_some_and(|r| r.is_live()));
        let to: Vec<Value> = id
            .map(|id| {
                associated(&data, from_ty, id, to_ty)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default();
        if to.is_empty() {
            let err = ErrorResponse::not_found(format!(
                "No {} is associated with {} {id_text}.",
                to_ty.singular(),
                from_ty.singular()
            ))
            .sub_category("crm.associations.NO_ASSOCIATIONS_FOUND");
            let mut e = item_error(&err, Default::default());
            if let Some(obj) = e.as_object_mut() {
                obj.insert("context".into(), json!({ "fromObjectId": [id_text] }));
                obj.remove("subCategory");
            }
            errors.push(e);
        } else {
            results.push(json!({ "from": { "id": id_text }, "to": to }));
        }
    }
    drop(data);
    Ok(batch_response(StatusCode::OK, results, errors, started))
}

#[derive(Debug, Deserialize)]
pub struct PairInput {
    pub from: super::objects::ToId,
    pub to: super::objects::ToId,
}

#[derive(Debug, Deserialize)]
pub struct PairBody {
    #[serde(default)]
    pub inputs: Vec<PairInput>,
}

pub async fn batch_associate_default(
    c: Caller,
    Path((from, to)): Path<(String, String)>,
    HsJson(body): HsJson<PairBody>,
) -> Result<Response, ErrorResponse> {
    let started = now_iso();
    let from_ty = object_type(&from)?;
    let to_ty = object_type(&to)?;
    let type_id = default_type_id(from_ty, to_ty).ok_or_else(|| {
        ErrorResponse::validation(format!("No default association between {from} and {to}"))
    })?;
    let mut events = Vec::new();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    {
        let mut data = c.portal.write();
        for input in &body.inputs {
            let f = scalar_text(&input.from.id);
            let t = scalar_text(&input.to.id);
            let outcome = parse_id(from_ty, &f).and_then(|fid| {
                let tid = parse_id(to_ty, &t)?;
                data.associate(
                    from_ty,
                    fid,
                    to_ty,
                    tid,
                    type_id,
                    &c.actor,
                    now_ms(),
                    &mut events,
                )
            });
            match outcome {
                Ok(_) => results.push(json!({
                    "from": { "id": f },
                    "to": { "id": t },
                    "associationSpec": { "associationCategory": type_category(type_id), "associationTypeId": type_id },
                })),
                Err(e) => errors.push(item_error(&e, Default::default())),
            }
        }
    }
    c.emit(events);
    Ok(batch_response(StatusCode::OK, results, errors, started))
}

#[derive(Debug, Deserialize)]
pub struct ArchiveInput {
    pub from: super::objects::ToId,
    #[serde(default)]
    pub to: Vec<super::objects::ToId>,
}

#[derive(Debug, Deserialize)]
pub struct ArchiveBody {
    #[serde(default)]
    pub inputs: Vec<ArchiveInput>,
}

pub async fn batch_archive(
    c: Caller,
    Path((from, to)): Path<(String, String)>,
    HsJson(body): HsJson<ArchiveBody>,
) -> Result<Response, ErrorResponse> {
    let from_ty = object_type(&from)?;
    let to_ty = object_type(&to)?;
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        for input in &body.inputs {
            let Ok(fid) = scalar_text(&input.from.id).trim().parse::<u64>() else {
                continue;
            };
            for t in &input.to {
                if let Ok(tid) = scalar_text(&t.id).trim().parse::<u64>() {
                    data.dissociate(from_ty, fid, to_ty, tid, &c.actor, now_ms(), &mut events);
                }
            }
        }
    }
    c.emit(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /crm/v4/associations/{from}/{to}/labels`: the association types between two
/// object types (HubSpot's defaults; the sandbox has no custom labels).
pub async fn labels(Path((from, to)): Path<(String, String)>) -> Result<Response, ErrorResponse> {
    let from_ty = object_type(&from)?;
    let to_ty = object_type(&to)?;
    let results: Vec<Value> = [1, 2, 3, 4, 5, 6, 279, 280, 341, 342]
        .into_iter()
        .filter(|id| super::objects::association_target(from_ty, *id) == Some(to_ty))
        .map(|id| json!({ "category": type_category(id), "typeId": id, "label": type_label(id) }))
        .collect();
    Ok(json(StatusCode::OK, json!({ "results": results })))
}
