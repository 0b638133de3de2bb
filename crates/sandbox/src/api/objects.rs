//! `/crm/v3/objects/{contacts|companies|deals}`: get, list, create, update,
//! archive and merge of single records.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{json, scalar_text, ApiState, Caller, HsJson, Query};
use crate::error::ErrorResponse;
use crate::portal::store::{not_found, ReadOpts};
use crate::portal::{now_ms, ObjectType, PortalData};

pub const LIST_MAX_LIMIT: usize = 100;
pub const LIST_DEFAULT_LIMIT: usize = 10;

/// HubSpot's path parameter name for a record id of `ty`.
pub fn id_param(ty: ObjectType) -> &'static str {
    match ty {
        ObjectType::Contacts => "contactId",
        ObjectType::Companies => "companyId",
        ObjectType::Deals => "dealId",
    }
}

pub fn routes(ty: ObjectType) -> Router<ApiState> {
    let base = format!("/crm/v3/objects/{}", ty.plural());
    let one = format!("{base}/{{{}}}", id_param(ty));
    let mut router = Router::new();
    if ty == ObjectType::Contacts {
        router = router.route(
            &format!("{base}/gdpr-delete"),
            post(move |c: Caller, HsJson(body): HsJson<GdprInput>| gdpr_delete(ty, c, body)),
        );
    }
    router
        .route(
            &base,
            get(move |c: Caller, q: Query, h: HeaderMap| list(ty, c, q, h))
                .post(move |c: Caller, HsJson(body): HsJson<CreateInput>| create(ty, c, body)),
        )
        .route(
            &one,
            get(move |c: Caller, Path(id): Path<String>, q: Query| get_one(ty, c, id, q))
                .patch(
                    move |c: Caller,
                          Path(id): Path<String>,
                          q: Query,
                          HsJson(body): HsJson<UpdateBody>| {
                        update(ty, c, id, q, body)
                    },
                )
                .delete(move |c: Caller, Path(id): Path<String>| archive(ty, c, id)),
        )
        .route(
            &format!("{base}/merge"),
            post(move |c: Caller, HsJson(body): HsJson<MergeInput>| merge(ty, c, body)),
        )
        .route(
            &format!("{base}/search"),
            post(
                move |c: Caller, HsJson(body): HsJson<crate::portal::search::SearchRequest>| {
                    super::search::search(ty, c, body)
                },
            ),
        )
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub associations: Vec<AssocInput>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AssocInput {
    pub to: ToId,
    #[serde(default)]
    pub types: Vec<AssocType>,
}

#[derive(Debug, Deserialize)]
pub struct ToId {
    pub id: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssocType {
    #[serde(default)]
    pub association_category: Option<String>,
    pub association_type_id: u32,
}

#[derive(Debug, Deserialize, Default)]
pub struct UpdateBody {
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GdprInput {
    pub object_id: Value,
    #[serde(default)]
    pub id_property: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeInput {
    pub primary_object_id: Value,
    pub object_id_to_merge: Value,
}

/// The object type an association type id points to from `from`.
pub fn association_target(from: ObjectType, type_id: u32) -> Option<ObjectType> {
    use ObjectType::*;
    match (from, type_id) {
        (Contacts, 279 | 1) => Some(Companies),
        (Contacts, 4) => Some(Deals),
        (Companies, 280 | 2) => Some(Contacts),
        (Companies, 342 | 6) => Some(Deals),
        (Deals, 3) => Some(Contacts),
        (Deals, 341 | 5) => Some(Companies),
        _ => None,
    }
}

/// Turns create-input associations into (type, id, type id) triples.
pub fn parse_associations(
    ty: ObjectType,
    assocs: &[AssocInput],
) -> Result<Vec<(ObjectType, u64, u32)>, ErrorResponse> {
    let mut out = Vec::new();
    for a in assocs {
        let to_text = scalar_text(&a.to.id);
        let to_id = to_text.parse::<u64>().map_err(|_| {
            ErrorResponse::validation(format!("Invalid association target id: {to_text}"))
        })?;
        for t in &a.types {
            let category = t
                .association_category
                .as_deref()
                .unwrap_or("HUBSPOT_DEFINED");
            let Some(to_ty) = association_target(ty, t.association_type_id) else {
                return Err(ErrorResponse::validation(format!(
                    "{category} association type {} is not valid for {}",
                    t.association_type_id,
                    ty.plural()
                )));
            };
            out.push((to_ty, to_id, t.association_type_id));
        }
    }
    Ok(out)
}

/// `properties`, `propertiesWithHistory`, `associations` of a read.
pub fn read_opts(q: &Query) -> ReadOpts {
    ReadOpts {
        properties: q.list("properties"),
        properties_with_history: q.list("propertiesWithHistory").unwrap_or_default(),
        associations: q
            .list("associations")
            .unwrap_or_default()
            .iter()
            .filter_map(|a| ObjectType::parse(a))
            .collect(),
    }
}

/// Options to render a write's result: what was written plus the computed basics.
pub fn written_opts(ty: ObjectType, written: &Map<String, Value>) -> ReadOpts {
    let mut names: Vec<String> = written.keys().cloned().collect();
    for extra in ["hs_object_id", "createdate", ty.lastmodified_property()] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_string());
        }
    }
    ReadOpts {
        properties: Some(names),
        ..Default::default()
    }
}

fn parse_limit(q: &Query, max: usize, default: usize) -> Result<usize, ErrorResponse> {
    match q.get("limit") {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n.max(1)),
            _ => Err(ErrorResponse::validation(format!(
                "limit must be an integer between 1 and {max}, got {v}"
            ))),
        },
    }
}

async fn list(
    ty: ObjectType,
    c: Caller,
    q: Query,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    // Reading history lowers the page cap, as it does for batch reads.
    let max = if q
        .list("propertiesWithHistory")
        .is_some_and(|h| !h.is_empty())
    {
        super::batch::MAX_HISTORY_INPUTS
    } else {
        LIST_MAX_LIMIT
    };
    let limit = parse_limit(&q, max, LIST_DEFAULT_LIMIT)?;
    let archived = q.flag("archived");
    let start = match q.get("after").filter(|a| !a.is_empty()) {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| ErrorResponse::validation(format!("Invalid after value: {a}")))?,
    };
    let opts = read_opts(&q);
    let data = c.portal.read();
    let mut results = Vec::with_capacity(limit);
    let mut next = None;
    for record in data
        .table(ty)
        .records
        .range(start..)
        .map(|(_, r)| r)
        .filter(|r| r.merged_into.is_none() && r.archived_ms.is_some() == archived)
    {
        if results.len() == limit {
            next = Some(record.id);
            break;
        }
        results.push(data.render(ty, record, &opts));
    }
    drop(data);
    let mut body = serde_json::json!({ "results": results });
    if let (Some(after), Some(obj)) = (next, body.as_object_mut()) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let link = format!(
            "http://{host}/crm/v3/objects/{}?limit={limit}&after={after}",
            ty.plural()
        );
        obj.insert(
            "paging".into(),
            serde_json::json!({ "next": { "after": after.to_string(), "link": link } }),
        );
    }
    Ok(json(StatusCode::OK, body))
}

/// Looks a record up for a read; `Err` is HubSpot's 404.
pub fn find(
    data: &PortalData,
    ty: ObjectType,
    id: &str,
    id_property: Option<&str>,
    archived: bool,
) -> Result<u64, ErrorResponse> {
    data.resolve(ty, id, id_property, archived)?
        .ok_or_else(|| not_found(ty, id))
}

async fn get_one(
    ty: ObjectType,
    c: Caller,
    id: String,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let opts = read_opts(&q);
    let data = c.portal.read();
    let rid = find(&data, ty, &id, q.get("idProperty"), q.flag("archived"))?;
    let record = data.record(ty, rid).ok_or_else(|| not_found(ty, &id))?;
    Ok(json(StatusCode::OK, data.render(ty, record, &opts)))
}

async fn create(ty: ObjectType, c: Caller, body: CreateInput) -> Result<Response, ErrorResponse> {
    let assocs = parse_associations(ty, &body.associations)?;
    let mut events = Vec::new();
    let now = now_ms();
    let rendered = {
        let mut data = c.portal.write();
        let id = data.create(ty, &body.properties, &assocs, &c.actor, now, &mut events)?;
        let record = data
            .record(ty, id)
            .ok_or_else(|| not_found(ty, &id.to_string()))?;
        data.render(ty, record, &written_opts(ty, &body.properties))
    };
    c.emit(events);
    Ok(json(StatusCode::CREATED, rendered))
}

async fn update(
    ty: ObjectType,
    c: Caller,
    id: String,
    q: Query,
    body: UpdateBody,
) -> Result<Response, ErrorResponse> {
    let mut events = Vec::new();
    let now = now_ms();
    let rendered = {
        let mut data = c.portal.write();
        let rid = find(&data, ty, &id, q.get("idProperty"), false)?;
        data.update(ty, rid, &body.properties, &c.actor, now, &mut events)?;
        let record = data.record(ty, rid).ok_or_else(|| not_found(ty, &id))?;
        data.render(ty, record, &written_opts(ty, &body.properties))
    };
    c.emit(events);
    Ok(json(StatusCode::OK, rendered))
}

async fn archive(ty: ObjectType, c: Caller, id: String) -> Response {
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        if let Ok(n) = id.parse::<u64>() {
            data.archive(ty, n, &c.actor, now_ms(), &mut events);
        }
    }
    c.emit(events);
    StatusCode::NO_CONTENT.into_response()
}

/// Parses a record id given as a JSON string or number.
pub fn id_value(ty: ObjectType, v: &Value) -> Result<u64, ErrorResponse> {
    let t = scalar_text(v);
    t.trim().parse::<u64>().map_err(|_| not_found(ty, &t))
}

async fn merge(ty: ObjectType, c: Caller, body: MergeInput) -> Result<Response, ErrorResponse> {
    let primary = id_value(ty, &body.primary_object_id)?;
    let secondary = id_value(ty, &body.object_id_to_merge)?;
    let mut events = Vec::new();
    let rendered = {
        let mut data = c.portal.write();
        data.merge(ty, primary, secondary, &c.actor, now_ms(), &mut events)?;
        let record = data
            .record(ty, primary)
            .ok_or_else(|| not_found(ty, &primary.to_string()))?;
        data.render(ty, record, &ReadOpts::default())
    };
    c.emit(events);
    Ok(json(StatusCode::OK, rendered))
}

/// `POST /crm/v3/objects/contacts/gdpr-delete`: permanent deletion, 204 either way
/// (HubSpot blocklists unknown emails instead of failing).
async fn gdpr_delete(
    ty: ObjectType,
    c: Caller,
    body: GdprInput,
) -> Result<Response, ErrorResponse> {
    let id = scalar_text(&body.object_id);
    let mut events = Vec::new();
    {
        let mut data = c.portal.write();
        let found = data
            .resolve(ty, &id, body.id_property.as_deref(), false)?
            .or(data.resolve(ty, &id, body.id_property.as_deref(), true)?);
        if let Some(rid) = found {
            data.purge(ty, rid, &c.actor, now_ms(), &mut events);
        }
    }
    c.emit(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}
