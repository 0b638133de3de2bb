//! `GET/POST /crm/v3/pipelines/deals`: the portal's deal pipelines with their
//! stages (labels, order, `probability` and `isClosed` metadata), and creating one.
//! Only deal pipelines exist in the sandbox; other object types get HubSpot's 400.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json, object_type, Caller, HsJson};
use crate::error::ErrorResponse;
use crate::portal::pipelines::{Pipeline, Stage};
use crate::portal::{now_ms, ObjectType};

fn deals_only(raw: &str) -> Result<(), ErrorResponse> {
    match object_type(raw)? {
        ObjectType::Deals => Ok(()),
        other => Err(ErrorResponse::validation(format!(
            "The sandbox has no {} pipelines",
            other.singular()
        ))),
    }
}

pub async fn list(c: Caller, Path(ty): Path<String>) -> Result<Response, ErrorResponse> {
    deals_only(&ty)?;
    let results: Vec<Value> = c
        .portal
        .read()
        .pipelines
        .iter()
        .map(Pipeline::to_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "results": results })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    pub label: String,
    #[serde(default)]
    pub display_order: i64,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineInput {
    pub label: String,
    #[serde(default)]
    pub display_order: i64,
    #[serde(default)]
    pub stages: Vec<StageInput>,
}

/// Creates a pipeline; its id and stage ids are numeric strings, as HubSpot's are
/// for every pipeline but the default one. Deal stages need a `probability`.
pub async fn create(
    c: Caller,
    Path(ty): Path<String>,
    HsJson(input): HsJson<PipelineInput>,
) -> Result<Response, ErrorResponse> {
    deals_only(&ty)?;
    if input.label.trim().is_empty() || input.stages.is_empty() {
        return Err(ErrorResponse::validation(
            "A pipeline needs a label and at least one stage",
        ));
    }
    let mut stages = Vec::with_capacity(input.stages.len());
    for s in &input.stages {
        let probability = s
            .metadata
            .get("probability")
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| (0.0..=1.0).contains(p))
            .ok_or_else(|| {
                ErrorResponse::validation(format!(
                    "Stage '{}' needs metadata.probability between 0.0 and 1.0",
                    s.label
                ))
            })?;
        let is_closed = s.metadata.get("isClosed").is_some_and(|v| v == "true");
        stages.push((s, probability, is_closed));
    }
    let mut data = c.portal.write();
    let pipeline = Pipeline {
        id: data.allocate_id().to_string(),
        label: input.label.clone(),
        display_order: input.display_order,
        stages: stages
            .into_iter()
            .map(|(s, probability, is_closed)| Stage {
                id: data.allocate_id().to_string(),
                label: s.label.clone(),
                display_order: s.display_order,
                probability,
                is_closed,
            })
            .collect(),
        created_ms: now_ms(),
    };
    pipeline.register_options(data.registry_mut(ObjectType::Deals));
    let body = pipeline.to_json();
    data.pipelines.push(pipeline);
    Ok(json(StatusCode::CREATED, body))
}
