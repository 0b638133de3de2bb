//! A connector's context settings: on or off (off by default, see `mod.rs`) and the
//! status rules, stored as JSON so a rule left out keeps its default.

use keva_core::context::StatusRules;
use uuid::Uuid;

use crate::state::AppState;

/// Whether the connector reads context, and with which status rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    pub enabled: bool,
    pub rules: StatusRules,
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
            },
            None => Settings::default(),
        },
    )
}
