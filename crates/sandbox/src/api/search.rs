//! `POST /crm/v3/objects/{type}/search`: runs the portal search and renders
//! HubSpot's `CollectionResponseWithTotalSimplePublicObject` (no associations).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{json, Caller};
use crate::error::ErrorResponse;
use crate::portal::search::SearchRequest;
use crate::portal::store::ReadOpts;
use crate::portal::ObjectType;

pub async fn search(
    ty: ObjectType,
    c: Caller,
    req: SearchRequest,
) -> Result<Response, ErrorResponse> {
    let opts = ReadOpts {
        properties: req.properties.clone().filter(|p| !p.is_empty()),
        ..Default::default()
    };
    let data = c.portal.read();
    let page = data.search(ty, &req)?;
    let results: Vec<_> = page
        .ids
        .iter()
        .filter_map(|id| data.record(ty, *id))
        .map(|r| data.render(ty, r, &opts))
        .collect();
    drop(data);
    let mut body = json!({ "total": page.total, "results": results });
    if let (Some(after), Some(obj)) = (page.next_after, body.as_object_mut()) {
        obj.insert(
            "paging".into(),
            json!({ "next": { "after": after.to_string() } }),
        );
    }
    Ok(json(StatusCode::OK, body))
}
