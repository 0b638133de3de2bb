//! The merge path the batch shares with the single-customer engine: what is read
//! from HubSpot, how a contact becomes `reconcile`'s HubSpot side, and how an
//! applied plan becomes a `SyncCommit` (link, new bases, history row).
//!
//! These mirror private functions of `sync/engine.rs` (`stamped`,
//! `Ctx::read_properties`, `commit`) line for line, so a batch writes exactly what a
//! Sync Now would. They live here only because the engine's versions are private;
//! the lead should make one set `pub(crate)` and delete the other.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use keva_core::{
    keva_values, reconcile, ConflictPolicy, Customer, FieldMapping, KevaField, Plan,
    ReconcileInput, Resolution, Stamped, SyncDirection, SyncStatus, Trigger,
};
use keva_hubspot::models::SimplePublicObject;
use keva_store::{CrmLink, HistoryResult, LinkUpdate, NewHistory, SyncCommit};
use uuid::Uuid;

use crate::sync::{SyncOutcome, SyncWarning};

/// The connector-wide inputs of every reconcile in a run.
#[derive(Debug, Clone)]
pub struct MergeRules {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub mappings: Vec<FieldMapping>,
    pub missing: BTreeSet<String>,
    pub policy: ConflictPolicy,
}

impl MergeRules {
    /// The mapped properties the portal has, plus `email` (engine: `read_properties`).
    pub fn read_properties(&self) -> Vec<String> {
        let mut props: Vec<String> = self
            .mappings
            .iter()
            .flat_map(|m| m.hubspot_properties.iter().cloned())
            .filter(|p| !self.missing.contains(p))
            .collect();
        props.push("email".into());
        props.sort();
        props.dedup();
        props
    }

    /// `reconcile` for one customer against one contact (or none, for a create).
    pub fn plan(
        &self,
        customer: &Customer,
        times: &BTreeMap<KevaField, chrono::DateTime<Utc>>,
        contact: Option<&SimplePublicObject>,
        bases: Option<keva_core::Bases>,
    ) -> Plan {
        let hubspot = contact
            .map(|c| stamped(c, &self.read_properties()))
            .unwrap_or_default();
        reconcile(ReconcileInput {
            mappings: self.mappings.clone(),
            policy: self.policy,
            keva: keva_values(customer, times),
            hubspot,
            bases,
            missing_properties: self.missing.clone(),
        })
    }
}

/// HubSpot's side of a reconcile (engine: `stamped`). Without
/// `propertiesWithHistory` the timestamps are unknown (`None`); see
/// [`needs_history`] for when that matters.
pub fn stamped(contact: &SimplePublicObject, props: &[String]) -> BTreeMap<String, Stamped> {
    props
        .iter()
        .map(|p| {
            let ts = contact
                .properties_with_history
                .as_ref()
                .and_then(|h| h.get(p))
                .and_then(|versions| versions.iter().map(|v| v.timestamp).max());
            (p.clone(), Stamped::new(contact.property(p), ts))
        })
        .collect()
}

/// Whether a plan computed without HubSpot's per-property timestamps may change
/// once they are known: only a conflict between two changed sides reads them
/// (`newest_wins`, and the "empty never overwrites unless newer" rule of every
/// policy). A first link never does. The batch re-reads just those contacts with
/// history, so its decisions equal the engine's at a fraction of the calls.
pub fn needs_history(plan: &Plan) -> bool {
    plan.conflicts
        .iter()
        .any(|c| c.resolution != Resolution::FirstLink)
}

/// What one customer's applied plan did, for the run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    pub to_crm: bool,
    pub from_crm: bool,
    pub conflict: bool,
}

impl Effect {
    pub fn of(plan: &Plan) -> Self {
        Self {
            to_crm: !plan.to_hubspot.is_empty(),
            from_crm: !plan.to_keva.is_empty(),
            conflict: needs_history(plan),
        }
    }
}

/// The commit of an applied plan (engine: `commit`), or `None` when nothing
/// changed anywhere and the link already says so (no history row for a no-op, so
/// a nightly batch over unchanged customers writes nothing).
pub fn sync_commit(
    rules: &MergeRules,
    customer_id: Uuid,
    contact_id: &str,
    plan: &Plan,
    prev: Option<&CrmLink>,
    mut warnings: Vec<SyncWarning>,
    created: bool,
) -> Option<SyncCommit> {
    warnings.extend(plan.warnings.iter().map(SyncWarning::from));
    let real_conflicts = plan
        .conflicts
        .iter()
        .filter(|c| c.resolution != Resolution::FirstLink)
        .count();
    let status = if real_conflicts > 0 {
        SyncStatus::Conflict
    } else {
        SyncStatus::Synced
    };
    let reason = if real_conflicts > 0 {
        Some(format!(
            "{real_conflicts} field(s) changed on both sides, resolved by the {} policy",
            rules.policy.as_str()
        ))
    } else {
        warnings.first().map(|w| w.message.clone())
    };
    let outcome = SyncOutcome {
        contact_id: Some(contact_id.to_string()),
        direction: plan.direction(),
        fields_changed: plan.fields_changed.clone(),
        warnings,
        conflicts: plan.conflicts.clone(),
        status,
        reason: reason.clone(),
        created,
    };
    let unchanged = plan.is_empty()
        && plan.fields_changed.is_empty()
        && outcome.warnings.is_empty()
        && prev.is_some_and(|l| {
            l.hubspot_id.as_deref() == Some(contact_id)
                && l.bases.as_ref() == Some(&plan.new_bases)
                && l.status == SyncStatus::Synced
        });
    if unchanged {
        return None;
    }
    let result = if status == SyncStatus::Conflict {
        HistoryResult::Conflict
    } else {
        HistoryResult::Synced
    };
    Some(SyncCommit {
        workspace_id: rules.workspace_id,
        connector_id: rules.connector_id,
        customer_id,
        customer_patch: (!plan.to_keva.is_empty()).then(|| plan.keva_patch()),
        link: LinkUpdate {
            hubspot_id: Some(contact_id.to_string()),
            bases: Some(plan.new_bases.clone()),
            status,
            status_reason: reason,
            synced_at: Some(Utc::now()),
        },
        history: NewHistory {
            workspace_id: rules.workspace_id,
            connector_id: rules.connector_id,
            customer_id: Some(customer_id),
            hubspot_id: Some(contact_id.to_string()),
            trigger: Trigger::Batch,
            direction: plan.direction(),
            fields: outcome.history_fields(),
            result,
            error: None,
            correlation_id: None,
        },
    })
}

/// A customer this batch could not sync: its link keeps what it had (contact id,
/// bases) and shows the failure; the history row says why.
pub fn failure_commit(
    rules: &MergeRules,
    customer_id: Uuid,
    prev: Option<&CrmLink>,
    contact_id: Option<&str>,
    reason: &str,
    correlation_id: Option<String>,
) -> SyncCommit {
    let hubspot_id = contact_id
        .map(str::to_string)
        .or_else(|| prev.and_then(|l| l.hubspot_id.clone()));
    let outcome = SyncOutcome::skipped(hubspot_id.clone(), SyncStatus::Failed, reason);
    SyncCommit {
        workspace_id: rules.workspace_id,
        connector_id: rules.connector_id,
        customer_id,
        customer_patch: None,
        link: LinkUpdate {
            hubspot_id: hubspot_id.clone(),
            bases: prev.and_then(|l| l.bases.clone()),
            status: SyncStatus::Failed,
            status_reason: Some(reason.to_string()),
            synced_at: None,
        },
        history: NewHistory {
            workspace_id: rules.workspace_id,
            connector_id: rules.connector_id,
            customer_id: Some(customer_id),
            hubspot_id,
            trigger: Trigger::Batch,
            direction: SyncDirection::None,
            fields: outcome.history_fields(),
            result: HistoryResult::Failed,
            error: Some(reason.to_string()),
            correlation_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keva_core::default_contact_mappings;

    fn rules() -> MergeRules {
        MergeRules {
            workspace_id: Uuid::nil(),
            connector_id: Uuid::nil(),
            mappings: default_contact_mappings(),
            missing: BTreeSet::from(["notes".to_string()]),
            policy: ConflictPolicy::NewestWins,
        }
    }

    fn customer(email: &str, name: &str) -> Customer {
        let now = Utc::now();
        Customer {
            id: Uuid::now_v7(),
            workspace_id: Uuid::nil(),
            email: email.into(),
            name: Some(name.into()),
            phone: None,
            company: None,
            job_title: None,
            location: None,
            notes: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn reads_mapped_properties_the_portal_has() {
        let props = rules().read_properties();
        assert!(props.contains(&"firstname".to_string()));
        assert!(props.contains(&"city".to_string()));
        assert!(!props.contains(&"notes".to_string()));
        assert_eq!(props.iter().filter(|p| *p == "email").count(), 1);
    }

    #[test]
    fn a_create_plan_writes_the_split_name_and_a_failure_keeps_the_link() {
        let r = rules();
        let c = customer("ann@example.com", "Mary Jane Watson");
        let plan = r.plan(&c, &BTreeMap::new(), None, None);
        assert_eq!(plan.to_hubspot["firstname"], "Mary Jane");
        assert_eq!(plan.to_hubspot["lastname"], "Watson");
        assert!(!needs_history(&plan), "a create never conflicts");
        let commit = sync_commit(&r, c.id, "42", &plan, None, Vec::new(), true)
            .expect("a first sync always commits");
        assert_eq!(commit.link.hubspot_id.as_deref(), Some("42"));
        assert_eq!(commit.history.trigger, Trigger::Batch);
        assert_eq!(commit.history.fields["created"], true);

        let failed = failure_commit(&r, c.id, None, Some("7"), "boom", None);
        assert_eq!(failed.link.status, SyncStatus::Failed);
        assert_eq!(failed.link.hubspot_id.as_deref(), Some("7"));
        assert_eq!(failed.history.result, HistoryResult::Failed);
        assert_eq!(failed.history.error.as_deref(), Some("boom"));
    }

    #[test]
    fn an_unchanged_link_commits_nothing() {
        // (A missing property's warning would be news worth a history row.)
        let r = MergeRules {
            missing: BTreeSet::new(),
            ..rules()
        };
        let c = customer("ann@example.com", "Ann Lee");
        let plan = r.plan(&c, &BTreeMap::new(), None, None);
        let commit = sync_commit(&r, c.id, "42", &plan, None, Vec::new(), true).expect("commit");
        let link = CrmLink {
            connector_id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            customer_id: c.id,
            hubspot_id: Some("42".into()),
            bases: commit.link.bases.clone(),
            status: SyncStatus::Synced,
            status_reason: None,
            last_synced_at: None,
            updated_at: Utc::now(),
        };
        let mut contact: SimplePublicObject = serde_json::from_value(serde_json::json!({
            "id": "42", "properties": {}, "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z"
        }))
        .expect("contact");
        let mut hs = keva_core::HubspotValues::new();
        plan.apply_to_hubspot(&mut hs);
        contact.properties = hs;
        let again = r.plan(&c, &BTreeMap::new(), Some(&contact), link.bases.clone());
        assert!(again.is_empty());
        assert!(sync_commit(&r, c.id, "42", &again, Some(&link), Vec::new(), false).is_none());
    }
}
