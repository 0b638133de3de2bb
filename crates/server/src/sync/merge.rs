//! The one merge path of the single-customer engine (`engine.rs`) and the batch
//! runner (`batch/`): what is read from HubSpot, how a contact becomes
//! `reconcile`'s HubSpot side, which properties a new contact gets, how an applied plan becomes a `SyncCommit` (link,
//! new bases, history row), how a failure is recorded and how an imported contact
//! becomes a Keva customer. Pure functions, so a batch writes exactly what a Sync
//! Now would.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use keva_core::{
    from_crm, keva_values, reconcile, Bases, ConflictPolicy, Customer, Email, FieldMapping,
    KevaField, Plan, ReconcileInput, Resolution, Stamped, SyncDirection, SyncStatus, Trigger,
};
use keva_hubspot::models::SimplePublicObject;
use keva_store::{CrmLink, HistoryResult, LinkUpdate, NewCustomer, NewHistory, SyncCommit};
use uuid::Uuid;

use crate::sync::{SyncOutcome, SyncWarning};

/// When an applied plan that changed nothing is not committed (no history row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiet {
    /// A live sync: the link already shows this contact, bases, status and reason
    /// (so a webhook echo of our own write writes nothing), except for Sync Now,
    /// which always leaves a history row the user can see.
    LinkShowsIt,
    /// A batch: no warning to report and the link is plainly synced, so a nightly
    /// run over unchanged customers writes nothing.
    NothingToReport,
}

/// The inputs of every reconcile of one job (engine) or one run (batch).
#[derive(Debug, Clone)]
pub struct MergeRules {
    pub workspace_id: Uuid,
    pub connector_id: Uuid,
    pub mappings: Vec<FieldMapping>,
    /// Mapped properties the portal lacks: never read nor written.
    pub missing: BTreeSet<String>,
    pub policy: ConflictPolicy,
    /// Recorded in history rows.
    pub trigger: Trigger,
    pub quiet: Quiet,
}

impl MergeRules {
    /// The mapped properties the portal has, plus `email`: what is read from HubSpot.
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

    /// `reconcile` for one customer against HubSpot's stamped values (empty for a
    /// create).
    pub fn reconcile(
        &self,
        customer: &Customer,
        times: &BTreeMap<KevaField, DateTime<Utc>>,
        hubspot: BTreeMap<String, Stamped>,
        bases: Option<Bases>,
    ) -> Plan {
        reconcile(ReconcileInput {
            mappings: self.mappings.clone(),
            policy: self.policy,
            keva: keva_values(customer, times),
            hubspot,
            bases,
            missing_properties: self.missing.clone(),
        })
    }

    /// `reconcile` for one customer against one contact (or none, for a create).
    pub fn plan(
        &self,
        customer: &Customer,
        times: &BTreeMap<KevaField, DateTime<Utc>>,
        contact: Option<&SimplePublicObject>,
        bases: Option<Bases>,
    ) -> Plan {
        let hubspot = contact
            .map(|c| stamped(c, &self.read_properties()))
            .unwrap_or_default();
        self.reconcile(customer, times, hubspot, bases)
    }
}

/// The properties a new contact is created with: the plan's HubSpot values, less
/// the empty ones (HubSpot stores an empty string as "no value" anyway).
pub fn create_properties(plan: &Plan) -> BTreeMap<String, String> {
    plan.to_hubspot
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The warning of a customer linked to the contact a create found already there
/// (HubSpot's 409 "Existing ID").
pub fn duplicate_contact_warning(existing_id: &str) -> SyncWarning {
    SyncWarning {
        field: Some("email".into()),
        code: "duplicate_contact".into(),
        message: format!(
            "Duplicate contact: HubSpot already has contact {existing_id} with this email; \
             linked to it instead of creating another"
        ),
    }
}

/// HubSpot's side of a reconcile: each property's value with the time it last
/// changed (from `propertiesWithHistory`; `None` when read without it).
pub(crate) fn stamped(contact: &SimplePublicObject, props: &[String]) -> BTreeMap<String, Stamped> {
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

/// An applied plan: what the sync reports, and what to commit (`None` when
/// nothing changed and the link already says so, see [`Quiet`]).
#[derive(Debug)]
pub(crate) struct Merged {
    pub outcome: SyncOutcome,
    pub commit: Option<SyncCommit>,
}

/// Whether `contact` holds exactly the HubSpot values of a create intent
/// (`Store::record_create_intent`): then it is the contact that create made
/// (or one no different from it), and the intent's bases are its bases.
pub(crate) fn holds_intent(contact: &SimplePublicObject, intent: &Bases) -> bool {
    let value = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
    !intent.hubspot.is_empty()
        && intent
            .hubspot
            .iter()
            .all(|(p, v)| value(contact.property(p)) == value(v.as_deref()))
}

/// The bases to reconcile `contact` against: `bases` (the link's), unless the
/// contact holds exactly what one of `intents` (oldest first) intended, a write
/// of ours whose commit a crash lost; then the newest such. Otherwise the
/// landed write would look like a HubSpot change newer than the Keva edits
/// made since, and win.
pub(crate) fn bases_for(
    intents: &[Bases],
    bases: Option<Bases>,
    contact: &SimplePublicObject,
) -> Option<Bases> {
    intents
        .iter()
        .rev()
        .find(|intent| holds_intent(contact, intent))
        .cloned()
        .or(bases)
}

/// What Keva held, when `plan` read it, in each built-in field the plan writes
/// from HubSpot (`SyncCommit::keva_expected`). Attributes are left out: their
/// writes are typed values, checked by the patch's own rules.
fn keva_read(plan: &Plan) -> BTreeMap<KevaField, Option<String>> {
    plan.fields_changed
        .iter()
        .filter(|c| c.direction == SyncDirection::FromCrm && c.field.attribute_key().is_none())
        .map(|c| (c.field, c.old.clone()))
        .collect()
}

/// The outcome and commit of an applied plan: Keva's patch, the link's new bases
/// and status, the history row.
pub(crate) fn sync_commit(
    rules: &MergeRules,
    customer_id: Uuid,
    contact_id: &str,
    plan: &Plan,
    prev: Option<&CrmLink>,
    mut warnings: Vec<SyncWarning>,
    created: bool,
) -> Merged {
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
    let same_link = |l: &CrmLink| {
        l.hubspot_id.as_deref() == Some(contact_id) && l.bases.as_ref() == Some(&plan.new_bases)
    };
    let unchanged = plan.is_empty()
        && plan.fields_changed.is_empty()
        && match rules.quiet {
            // A standing warning (e.g. a property the portal lacks) that the link
            // already shows is nothing new either.
            Quiet::LinkShowsIt => {
                rules.trigger != Trigger::Manual
                    && prev.is_some_and(|l| {
                        same_link(l) && l.status == status && l.status_reason == outcome.reason
                    })
            }
            Quiet::NothingToReport => {
                outcome.warnings.is_empty()
                    && prev.is_some_and(|l| same_link(l) && l.status == SyncStatus::Synced)
            }
        };
    if unchanged {
        return Merged {
            outcome,
            commit: None,
        };
    }
    let result = if status == SyncStatus::Conflict {
        HistoryResult::Conflict
    } else {
        HistoryResult::Synced
    };
    let commit = SyncCommit {
        workspace_id: rules.workspace_id,
        connector_id: rules.connector_id,
        customer_id,
        customer_patch: (!plan.to_keva.is_empty()).then(|| plan.keva_patch()),
        keva_expected: keva_read(plan),
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
            trigger: rules.trigger,
            direction: plan.direction(),
            fields: outcome.history_fields(),
            result,
            error: None,
            correlation_id: None,
        },
    };
    Merged {
        outcome,
        commit: Some(commit),
    }
}

/// A customer that could not be synced: its link keeps what it had (contact id,
/// bases) and shows the failure; the history row says why.
pub(crate) fn failure_commit(
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
        keva_expected: BTreeMap::new(),
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
            trigger: rules.trigger,
            direction: SyncDirection::None,
            fields: outcome.history_fields(),
            result: HistoryResult::Failed,
            error: Some(reason.to_string()),
            correlation_id,
        },
    }
}

/// The Keva customer a HubSpot contact becomes (import_contacts on): the mapped
/// fields that may flow to Keva.
pub(crate) fn new_customer(
    rules: &MergeRules,
    contact: &SimplePublicObject,
    email: &Email,
) -> NewCustomer {
    let mut new = NewCustomer::with_email(email.as_str());
    for m in rules.mappings.iter().filter(|m| m.direction.writes_keva()) {
        let values = m
            .hubspot_properties
            .iter()
            .map(|p| (p.clone(), contact.property(p).map(str::to_string)))
            .collect();
        let v = from_crm(m, &values);
        match m.keva_field {
            KevaField::Name => new.name = v,
            KevaField::Phone => new.phone = v,
            KevaField::Company => new.company = v,
            KevaField::JobTitle => new.job_title = v,
            KevaField::Location => new.location = v,
            KevaField::Notes => new.notes = v,
            KevaField::Email => {}
            KevaField::Attribute(key) => {
                // `from_crm` hands back HubSpot's text when it does not fit the
                // attribute; such a value is left out rather than stored.
                let typed = m.attribute.as_ref().zip(v).and_then(|(spec, text)| {
                    keva_core::mapping::typed_value(spec, &text).ok().flatten()
                });
                if let Some(value) = typed {
                    new.attributes.insert(key.key().to_string(), value);
                }
            }
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::replan::needs_history;
    use keva_core::default_contact_mappings;

    fn rules() -> MergeRules {
        MergeRules {
            workspace_id: Uuid::nil(),
            connector_id: Uuid::nil(),
            mappings: default_contact_mappings(),
            missing: BTreeSet::from(["notes".to_string()]),
            policy: ConflictPolicy::NewestWins,
            trigger: Trigger::Batch,
            quiet: Quiet::NothingToReport,
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
            attributes: Default::default(),
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
            .commit
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
        let commit = sync_commit(&r, c.id, "42", &plan, None, Vec::new(), true)
            .commit
            .expect("commit");
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
        assert!(
            sync_commit(&r, c.id, "42", &again, Some(&link), Vec::new(), false)
                .commit
                .is_none()
        );
    }

    #[test]
    fn the_contact_a_create_made_holds_its_intent_until_edited() {
        let r = rules();
        let mut c = customer("ada@example.com", "Ada Lovelace");
        c.job_title = Some("Countess".into());
        let plan = r.reconcile(&c, &BTreeMap::new(), BTreeMap::new(), None);
        let mut contact: SimplePublicObject = serde_json::from_value(serde_json::json!({
            "id": "7", "properties": create_properties(&plan),
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
        }))
        .expect("contact");
        // HubSpot answers unset properties as empty or absent: the same.
        contact
            .properties
            .insert("phone".into(), Some(String::new()));
        assert!(holds_intent(&contact, &plan.new_bases));
        contact
            .properties
            .insert("jobtitle".into(), Some("Analyst".into()));
        assert!(!holds_intent(&contact, &plan.new_bases));
        assert!(!holds_intent(&contact, &Bases::default()));
    }
}
