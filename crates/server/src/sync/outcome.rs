//! What one sync did, as `POST /api/crm/hubspot/sync` returns it and as the history
//! row's `fields` stores it (so an outcome can be read back by any process).

use keva_core::{Conflict, FieldChange, SyncDirection, SyncStatus, Warning};
use keva_store::HistoryEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A problem the sync worked around, for the customer's status and the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWarning {
    /// The Keva field concerned, if one is.
    pub field: Option<String>,
    /// `duplicate_contact`, `property_missing`, `invalid_email`, `empty_email`,
    /// `contact_merged`.
    pub code: String,
    pub message: String,
}

impl From<&Warning> for SyncWarning {
    fn from(w: &Warning) -> Self {
        Self {
            field: Some(w.field.as_str().to_string()),
            code: w.code.as_str().to_string(),
            message: w.message.clone(),
        }
    }
}

impl SyncWarning {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            field: None,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// The result of one sync of one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutcome {
    /// The HubSpot contact id the customer is linked to after the sync.
    pub contact_id: Option<String>,
    /// `to_crm`, `from_crm`, `both` or `none`.
    #[schema(value_type = String)]
    pub direction: SyncDirection,
    /// Each value written, old → new (`field`, `property`, `direction`, `old`, `new`).
    #[schema(value_type = Vec<Object>)]
    pub fields_changed: Vec<FieldChange>,
    pub warnings: Vec<SyncWarning>,
    /// Fields changed on both sides, with both values, timestamps and the winner.
    #[schema(value_type = Vec<Object>)]
    pub conflicts: Vec<Conflict>,
    /// `synced`, `conflict`, `failed`, `not_linked` or `pending`.
    #[schema(value_type = String)]
    pub status: SyncStatus,
    /// Why the status is what it is, when that needs saying.
    pub reason: Option<String>,
    /// The contact was created in HubSpot by this sync.
    #[serde(default)]
    pub created: bool,
}

impl SyncOutcome {
    /// Nothing attempted, with a status and a reason.
    pub fn skipped(contact_id: Option<String>, status: SyncStatus, reason: &str) -> Self {
        Self {
            contact_id,
            direction: SyncDirection::None,
            fields_changed: Vec::new(),
            warnings: Vec::new(),
            conflicts: Vec::new(),
            status,
            reason: Some(reason.to_string()),
            created: false,
        }
    }

    /// The history row's `fields` document.
    pub fn history_fields(&self) -> serde_json::Value {
        serde_json::json!({
            "fieldsChanged": self.fields_changed,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "status": self.status,
            "reason": self.reason,
            "created": self.created,
        })
    }

    /// Reads an outcome back from a history row written by the engine.
    pub fn from_history(h: &HistoryEntry) -> Self {
        let f = &h.fields;
        let parse = |key: &str| f.get(key).cloned().unwrap_or(serde_json::Value::Null);
        Self {
            contact_id: h.hubspot_id.clone(),
            direction: h.direction,
            fields_changed: serde_json::from_value(parse("fieldsChanged")).unwrap_or_default(),
            warnings: serde_json::from_value(parse("warnings")).unwrap_or_default(),
            conflicts: serde_json::from_value(parse("conflicts")).unwrap_or_default(),
            status: serde_json::from_value(parse("status")).unwrap_or(match h.result {
                keva_store::HistoryResult::Synced => SyncStatus::Synced,
                keva_store::HistoryResult::Conflict => SyncStatus::Conflict,
                keva_store::HistoryResult::Failed => SyncStatus::Failed,
                keva_store::HistoryResult::Skipped => SyncStatus::NotLinked,
            }),
            reason: serde_json::from_value(parse("reason"))
                .ok()
                .flatten()
                .or_else(|| h.error.clone()),
            created: f.get("created").and_then(|v| v.as_bool()).unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keva_core::{KevaField, Trigger};
    use keva_store::HistoryResult;

    #[test]
    fn an_outcome_reads_back_from_its_history_row() {
        let outcome = SyncOutcome {
            contact_id: Some("101".into()),
            direction: SyncDirection::ToCrm,
            fields_changed: vec![FieldChange {
                field: KevaField::Phone,
                property: Some("phone".into()),
                direction: SyncDirection::ToCrm,
                old: Some("1".into()),
                new: Some("2".into()),
            }],
            warnings: vec![SyncWarning::new(
                "duplicate_contact",
                "Duplicate contact: 101",
            )],
            conflicts: Vec::new(),
            status: SyncStatus::Synced,
            reason: Some("Duplicate contact: 101".into()),
            created: true,
        };
        let row = HistoryEntry {
            id: uuid::Uuid::now_v7(),
            workspace_id: uuid::Uuid::now_v7(),
            connector_id: uuid::Uuid::now_v7(),
            customer_id: None,
            hubspot_id: Some("101".into()),
            trigger: Trigger::Manual,
            direction: SyncDirection::ToCrm,
            fields: outcome.history_fields(),
            result: HistoryResult::Synced,
            error: None,
            correlation_id: None,
            created_at: chrono::Utc::now(),
        };
        assert_eq!(SyncOutcome::from_history(&row), outcome);
        let json = serde_json::to_value(&outcome).expect("serialize");
        assert_eq!(json["fieldsChanged"][0]["new"], "2");
        assert_eq!(json["status"], "synced");
    }
}
