//! Deal pipelines (`GET /crm/v3/pipelines/deals`): pipeline and stage labels and
//! the stage metadata (`probability`, `isClosed`) that decide whether a deal is
//! open, won or lost. HubSpot sends metadata values as strings; they are parsed
//! leniently here because labels and probabilities are user-edited.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Call, HubspotClient};
use crate::error::Result;
use crate::retry::RetryPolicy;

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStage {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub display_order: i64,
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub archived: bool,
}

impl PipelineStage {
    fn meta(&self, key: &str) -> Option<String> {
        self.metadata.get(key).map(|v| match v {
            serde_json::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        })
    }

    /// The stage's win probability (0.0 ..= 1.0), if it has a readable one.
    pub fn probability(&self) -> Option<f64> {
        self.meta("probability")
            .and_then(|p| p.parse::<f64>().ok())
            .filter(|p| p.is_finite())
            .map(|p| p.clamp(0.0, 1.0))
    }

    /// Whether the stage closes the deal (won or lost).
    pub fn is_closed(&self) -> bool {
        self.meta("isClosed")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// One deal pipeline with its stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub display_order: i64,
    #[serde(default)]
    pub stages: Vec<PipelineStage>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Deserialize)]
struct Pipelines {
    #[serde(default)]
    results: Vec<Pipeline>,
}

impl HubspotClient {
    /// Every deal pipeline of the portal (`GET /crm/v3/pipelines/deals`, not paged).
    pub async fn deal_pipelines(&self) -> Result<Vec<Pipeline>> {
        let call = Call::new(
            Method::GET,
            "GET /crm/v3/pipelines/{objectType}",
            ["crm", "v3", "pipelines", "deals"],
        );
        let body: Pipelines = self.json(&call, RetryPolicy::Idempotent).await?;
        Ok(body.results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_metadata_is_read_from_strings() {
        let p: Pipeline = serde_json::from_value(serde_json::json!({
            "id": "default", "label": "Sales Pipeline", "displayOrder": 0,
            "stages": [{"id": "closedwon", "label": "Closed Won", "displayOrder": 5,
                        "metadata": {"probability": "1.0", "isClosed": "true"}},
                       {"id": "x", "label": "X", "metadata": {"probability": 0.4}}]
        }))
        .expect("pipeline");
        assert_eq!(p.stages[0].probability(), Some(1.0));
        assert!(p.stages[0].is_closed());
        assert_eq!(p.stages[1].probability(), Some(0.4));
        assert!(!p.stages[1].is_closed());
    }
}
