//! Deal pipelines of a portal: HubSpot's default "Sales Pipeline" with its seven
//! stages and their probabilities, plus pipelines an integration creates. Stage
//! metadata is a map of strings (`probability` "0.0".."1.0", `isClosed`), as
//! HubSpot sends it. Creating a pipeline also adds its id and stage ids to the
//! options of the `pipeline` and `dealstage` properties, so deals can use them.

use serde_json::{json, Value};

use super::properties::{PropOption, PropertyRegistry};

/// One stage of a deal pipeline.
#[derive(Debug, Clone)]
pub struct Stage {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    /// 0.0 ..= 1.0; won stages are closed at 1.0, lost ones at 0.0.
    pub probability: f64,
    pub is_closed: bool,
}

/// One deal pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    pub stages: Vec<Stage>,
    pub created_ms: i64,
}

fn stage(id: &str, label: &str, order: i64, probability: f64, is_closed: bool) -> Stage {
    Stage {
        id: id.into(),
        label: label.into(),
        display_order: order,
        probability,
        is_closed,
    }
}

/// HubSpot's default deal pipeline (created at epoch 0, like HubSpot's defaults).
pub fn default_pipeline() -> Pipeline {
    Pipeline {
        id: "default".into(),
        label: "Sales Pipeline".into(),
        display_order: 0,
        stages: vec![
            stage(
                "appointmentscheduled",
                "Appointment Scheduled",
                0,
                0.2,
                false,
            ),
            stage("qualifiedtobuy", "Qualified To Buy", 1, 0.4, false),
            stage(
                "presentationscheduled",
                "Presentation Scheduled",
                2,
                0.6,
                false,
            ),
            stage(
                "decisionmakerboughtin",
                "Decision Maker Bought-In",
                3,
                0.8,
                false,
            ),
            stage("contractsent", "Contract Sent", 4, 0.9, false),
            stage("closedwon", "Closed Won", 5, 1.0, true),
            stage("closedlost", "Closed Lost", 6, 0.0, true),
        ],
        created_ms: 0,
    }
}

fn iso(ms: i64) -> String {
    super::iso_ms(ms)
}

impl Stage {
    pub fn to_json(&self, created_ms: i64) -> Value {
        json!({
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "metadata": {
                "probability": format!("{:.1}", self.probability),
                "isClosed": if self.is_closed { "true" } else { "false" },
            },
            "archived": false,
            "createdAt": iso(created_ms),
            "updatedAt": iso(created_ms),
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        })
    }
}

impl Pipeline {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": false,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.created_ms),
            "stages": self.stages.iter().map(|s| s.to_json(self.created_ms)).collect::<Vec<_>>(),
        })
    }

    /// Makes the pipeline's id and stage ids valid values of the deal properties.
    pub fn register_options(&self, deals: &mut PropertyRegistry) {
        let add = |registry: &mut PropertyRegistry, name: &str, value: &str, label: &str| {
            if let Some(def) = registry.get_mut(name) {
                if !def.options.iter().any(|o| o.value == value) {
                    let display_order = i64::try_from(def.options.len()).unwrap_or(i64::MAX);
                    def.options.push(PropOption {
                        label: label.into(),
                        value: value.into(),
                        description: String::new(),
                        display_order,
                        hidden: false,
                    });
                }
            }
        };
        add(deals, "pipeline", &self.id, &self.label);
        for s in &self.stages {
            add(deals, "dealstage", &s.id, &s.label);
        }
    }
}
