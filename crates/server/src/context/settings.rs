//! A connector's context settings: on or off (off by default, see `mod.rs`), the
//! status rules (stored as JSON so a rule left out keeps its default) and the
//! company properties shown beyond the default ones (e.g. `annualrevenue`, `city`).

use keva_core::context::StatusRules;
use uuid::Uuid;

use crate::state::AppState;

/// Whether the connector reads context, and with which status rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub enabled: bool,
    pub rules: StatusRules,
    pub company_properties: Vec<String>,
}

impl Settings {
    /// The company properties to read: the defaults, then the connector's extras.
    pub fn company_read_list(&self) -> Vec<String> {
        let mut all: Vec<String> = super::refresh::COMPANY_PROPERTIES
            .iter()
            .map(|p| p.to_string())
            .collect();
        for p in &self.company_properties {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        all
    }
}

/// The connector's settings (defaults when none were saved).
pub async fn load(
    state: &AppState,
    connector_id: Uuid,
) -> Result<Settings, keva_store::StoreError> {
    Ok(
        match state.store.crm_context_settings(connector_id).await? {
            Some(s) => Settings {
                enabled: s.enabled,
                // Saved through the API, so it parsed once; a default beats a failure.
                rules: serde_json::from_value(s.status_rules).unwrap_or_default(),
                company_properties: s.company_properties,
            },
            None => Settings::default(),
        },
    )
}
