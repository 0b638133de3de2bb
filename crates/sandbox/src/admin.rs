//! The data plane's `/_sandbox/` endpoints (never HubSpot paths): seed fake data,
//! edit/delete/merge/restore records "as a HubSpot user" (webhooks report
//! `CRM_UI` as the change source), create portals, and count or dump records.
//! Every endpoint takes `?portalId=` (default: the sandbox's first portal).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::objects::{id_value, written_opts, MergeInput};
use crate::api::{json, object_type, HsJson, Query};
use crate::control::Control;
use crate::error::ErrorResponse;
use crate::events::ChangeEvent;
use crate::portal::store::{not_found, PortalData, ReadOpts};
use crate::portal::{now_ms, Actor, ObjectType, Portal, Sandbox};

#[derive(Clone)]
pub struct AdminState {
    pub sandbox: Arc<Sandbox>,
    pub control: Arc<Control>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/_sandbox/seed", post(seed))
        .route("/_sandbox/portals", post(create_portal).get(list_portals))
        .route("/_sandbox/objects/{objectType}", get(dump))
        .route("/_sandbox/objects/{objectType}/merge", post(merge))
        .route(
            "/_sandbox/objects/{objectType}/{objectId}",
            patch(edit).delete(delete).get(get_one),
        )
        .route(
            "/_sandbox/objects/{objectType}/{objectId}/restore",
            post(restore),
        )
        .with_state(state)
}

fn portal_of(state: &AdminState, q: &Query) -> Result<Arc<Portal>, ErrorResponse> {
    match q.get("portalId") {
        None | Some("") => Ok(state.sandbox.default_portal()),
        Some(p) => p
            .parse::<u64>()
            .ok()
            .and_then(|id| state.sandbox.portal(id))
            .ok_or_else(|| ErrorResponse::not_found(format!("No portal {p} in this sandbox"))),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SeedBody {
    #[serde(default)]
    contacts: usize,
    #[serde(default)]
    companies: usize,
    #[serde(default)]
    deals: usize,
    #[serde(default)]
    portal_id: Option<u64>,
}

async fn seed(
    State(state): State<AdminState>,
    HsJson(body): HsJson<SeedBody>,
) -> Result<Response, ErrorResponse> {
    let portal = match body.portal_id {
        Some(id) => state
            .sandbox
            .portal(id)
            .ok_or_else(|| ErrorResponse::not_found(format!("No portal {id} in this sandbox")))?,
        None => state.sandbox.default_portal(),
    };
    let report = tokio::task::spawn_blocking(move || {
        portal
            .write()
            .seed(body.contacts, body.companies, body.deals, now_ms())
    })
    .await
    .map_err(|e| {
        ErrorResponse::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            e.to_string(),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        serde_json::to_value(report).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PortalBody {
    #[serde(default)]
    portal_id: Option<u64>,
}

async fn create_portal(
    State(state): State<AdminState>,
    HsJson(body): HsJson<PortalBody>,
) -> Response {
    let portal = state.sandbox.create_portal(body.portal_id);
    state.control.tokens.install_default_app(portal.id);
    let token = state.control.tokens.issue_private_app_token(portal.id);
    json(
        StatusCode::CREATED,
        json!({ "portalId": portal.id, "accessToken": token }),
    )
}

async fn list_portals(State(state): State<AdminState>) -> Response {
    let portals: Vec<Value> = state
        .sandbox
        .portal_ids()
        .into_iter()
        .map(|id| {
            let counts: Map<String, Value> = ObjectType::ALL
                .iter()
                .map(|ty| (ty.plural().to_string(), json!(state.sandbox.count(id, *ty))))
                .collect();
            json!({ "portalId": id, "counts": counts })
        })
        .collect();
    json(StatusCode::OK, json!({ "results": portals }))
}

/// `GET /_sandbox/objects/{type}?portalId=&limit=&archived=`: the live count and
/// (with `limit`) the first records with all their properties.
async fn dump(
    State(state): State<AdminState>,
    Path(ty): Path<String>,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let portal = portal_of(&state, &q)?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let archived = q.flag("archived");
    let data = portal.read();
    let results: Vec<Value> = data
        .table(ty)
        .records
        .values()
        .filter(|r| r.merged_into.is_none() && r.archived_ms.is_some() == archived)
        .take(limit)
        .map(|r| {
            let mut names: Vec<String> = r.props.iter().map(|p| p.name.to_string()).collect();
            names.push("hs_object_id".into());
            let opts = ReadOpts {
                properties: Some(names),
                ..Default::default()
            };
            data.render(ty, r, &opts)
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({ "portalId": portal.id, "objectType": ty.plural(), "count": data.live_count(ty), "results": results }),
    ))
}

/// The object type, portal and record id a `/{objectType}/{objectId}` route names.
fn record_target(
    state: &AdminState,
    q: &Query,
    ty: &str,
    id: String,
) -> Result<(ObjectType, Arc<Portal>, u64), ErrorResponse> {
    let ty = object_type(ty)?;
    let portal = portal_of(state, q)?;
    let id = id_value(ty, &Value::String(id))?;
    Ok((ty, portal, id))
}

/// Applies `change` (an edit by the CRM user) to the portal, then renders record
/// `id` with `opts`. The events the change caused are sent once the lock is
/// released; a failed change sends none.
fn change_and_render<T>(
    state: &AdminState,
    portal: &Portal,
    ty: ObjectType,
    id: u64,
    opts: &ReadOpts,
    change: impl FnOnce(&mut PortalData, &mut Vec<ChangeEvent>) -> Result<T, ErrorResponse>,
) -> Result<Response, ErrorResponse> {
    let mut events = Vec::new();
    let rendered = {
        let mut data = portal.write();
        change(&mut data, &mut events)?;
        let r = data
            .record(ty, id)
            .ok_or_else(|| not_found(ty, &id.to_string()))?;
        data.render(ty, r, opts)
    };
    state.sandbox.emit(events);
    Ok(json(StatusCode::OK, rendered))
}

async fn get_one(
    State(state): State<AdminState>,
    Path((ty, id)): Path<(String, String)>,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let (ty, portal, id) = record_target(&state, &q, &ty, id)?;
    let data = portal.read();
    let r = data
        .record(ty, id)
        .ok_or_else(|| not_found(ty, &id.to_string()))?;
    let mut names: Vec<String> = r.props.iter().map(|p| p.name.to_string()).collect();
    names.push("hs_object_id".into());
    let opts = ReadOpts {
        properties: Some(names.clone()),
        properties_with_history: names,
        associations: ObjectType::ALL.to_vec(),
    };
    Ok(json(StatusCode::OK, data.render(ty, r, &opts)))
}

#[derive(Debug, Deserialize, Default)]
struct EditBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn edit(
    State(state): State<AdminState>,
    Path((ty, id)): Path<(String, String)>,
    q: Query,
    HsJson(body): HsJson<EditBody>,
) -> Result<Response, ErrorResponse> {
    let (ty, portal, id) = record_target(&state, &q, &ty, id)?;
    let opts = written_opts(ty, &body.properties);
    change_and_render(&state, &portal, ty, id, &opts, |data, events| {
        data.update(ty, id, &body.properties, &Actor::crm_ui(), now_ms(), events)
    })
}

async fn delete(
    State(state): State<AdminState>,
    Path((ty, id)): Path<(String, String)>,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let (ty, portal, id) = record_target(&state, &q, &ty, id)?;
    let mut events = Vec::new();
    let found = portal
        .write()
        .archive(ty, id, &Actor::crm_ui(), now_ms(), &mut events);
    state.sandbox.emit(events);
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(ty, &id.to_string()))
    }
}

async fn restore(
    State(state): State<AdminState>,
    Path((ty, id)): Path<(String, String)>,
    q: Query,
) -> Result<Response, ErrorResponse> {
    let (ty, portal, id) = record_target(&state, &q, &ty, id)?;
    let opts = ReadOpts::default();
    change_and_render(&state, &portal, ty, id, &opts, |data, events| {
        data.restore(ty, id, &Actor::crm_ui(), now_ms(), events)
    })
}

async fn merge(
    State(state): State<AdminState>,
    Path(ty): Path<String>,
    q: Query,
    HsJson(body): HsJson<MergeInput>,
) -> Result<Response, ErrorResponse> {
    let ty = object_type(&ty)?;
    let portal = portal_of(&state, &q)?;
    let primary = id_value(ty, &body.primary_object_id)?;
    let secondary = id_value(ty, &body.object_id_to_merge)?;
    let opts = ReadOpts::default();
    change_and_render(&state, &portal, ty, primary, &opts, |data, events| {
        data.merge(ty, primary, secondary, &Actor::crm_ui(), now_ms(), events)
    })
}
