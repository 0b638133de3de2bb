//! The output of `reconcile`: what to write where, what conflicted, and the values
//! the link should remember as agreed once the writes are done.
//!
//! The worker applies a plan in a fixed order — HubSpot first, then Keva and the new
//! bases in one store transaction — so a crash between the two leaves Keva's side
//! unchanged and the next reconcile recomputes the same plan (at-least-once).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::conflict::Conflict;
use crate::customer::{CustomerPatch, KevaField};
use crate::mapping::HubspotValues;
use crate::status::SyncDirection;
use crate::text_enum::text_enum;

/// The values each side held when the two last agreed, stored per link: Keva's in
/// Keva's form per field, HubSpot's raw per property. `None` is "empty".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bases {
    pub keva: BTreeMap<KevaField, Option<String>>,
    pub hubspot: BTreeMap<String, Option<String>>,
}

/// One value a plan changes, for the history's "fields changed old → new".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: KevaField,
    /// The HubSpot property written, for a change towards HubSpot.
    pub property: Option<String>,
    /// `to_crm` or `from_crm`.
    pub direction: SyncDirection,
    pub old: Option<String>,
    pub new: Option<String>,
}

text_enum! {
    /// Why a plan leaves something undone.
    pub enum WarningCode {
        /// An invalid email was not sent to HubSpot (or taken from it).
        InvalidEmail => "invalid_email",
        /// An empty email would have cleared the other side's email; skipped.
        EmptyEmail => "empty_email",
        /// A mapped property does not exist in the portal: that mapping is skipped,
        /// the others sync.
        PropertyMissing => "property_missing",
        /// A mapping names an attribute that is not defined or is retired.
        AttributeUnavailable => "attribute_unavailable",
        /// HubSpot's value does not fit the attribute's type; Keva's was kept.
        InvalidValue => "invalid_value",
        /// A phone number that is not valid was sent as typed, not in E.164.
        InvalidPhone => "invalid_phone",
    }
}

/// Something the customer's sync status should explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub field: KevaField,
    pub code: WarningCode,
    pub message: String,
}

/// What one reconcile decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Only properties whose value changes; `""` clears a property.
    pub to_hubspot: BTreeMap<String, String>,
    /// Only fields whose value changes; `None` clears a field. Attributes appear
    /// in their text form (for history), and typed in `to_keva_attributes`.
    pub to_keva: BTreeMap<KevaField, Option<String>>,
    /// The canonical values of the attributes in `to_keva`, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to_keva_attributes: BTreeMap<String, Option<serde_json::Value>>,
    pub conflicts: Vec<Conflict>,
    pub warnings: Vec<Warning>,
    /// What each side holds once the plan is applied; stored on the link.
    pub new_bases: Bases,
    pub fields_changed: Vec<FieldChange>,
}

impl Plan {
    /// Nothing to write and nothing conflicted (warnings may still be present).
    pub fn is_empty(&self) -> bool {
        self.to_hubspot.is_empty() && self.to_keva.is_empty() && self.conflicts.is_empty()
    }

    /// Which way this plan writes.
    pub fn direction(&self) -> SyncDirection {
        SyncDirection::of(!self.to_hubspot.is_empty(), !self.to_keva.is_empty())
    }

    /// The Keva writes as a customer update. A cleared field is `Some("")`: in a
    /// `CustomerPatch`, `None` means "leave as is", so the store must read an empty
    /// string as "clear".
    pub fn keva_patch(&self) -> CustomerPatch {
        let mut patch = CustomerPatch::default();
        for (field, value) in &self.to_keva {
            match field.attribute_key() {
                Some(key) => {
                    let typed = self.to_keva_attributes.get(key.key()).cloned().flatten();
                    patch.set_attribute(key, typed);
                }
                None => patch.set(*field, Some(value.clone().unwrap_or_default())),
            }
        }
        patch
    }

    /// Applies `to_keva` to a field → value map (what a test or a dry run holds).
    pub fn apply_to_keva(&self, values: &mut BTreeMap<KevaField, Option<String>>) {
        for (field, value) in &self.to_keva {
            values.insert(*field, value.clone());
        }
    }

    /// Applies `to_hubspot` to property values as HubSpot would: `""` unsets.
    pub fn apply_to_hubspot(&self, values: &mut HubspotValues) {
        for (prop, value) in &self.to_hubspot {
            let stored = if value.is_empty() {
                None
            } else {
                Some(value.clone())
            };
            values.insert(prop.clone(), stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applying_clears_and_sets() {
        let mut plan = Plan::default();
        plan.to_hubspot.insert("company".into(), String::new());
        plan.to_hubspot.insert("jobtitle".into(), "CTO".into());
        plan.to_keva.insert(KevaField::Phone, None);
        plan.to_keva.insert(KevaField::Notes, Some("vip".into()));

        let mut hs: HubspotValues = [("company".to_string(), Some("Acme".to_string()))].into();
        plan.apply_to_hubspot(&mut hs);
        assert_eq!(hs["company"], None);
        assert_eq!(hs["jobtitle"].as_deref(), Some("CTO"));

        let mut keva = BTreeMap::from([(KevaField::Phone, Some("555".to_string()))]);
        plan.apply_to_keva(&mut keva);
        assert_eq!(keva[&KevaField::Phone], None);
        assert_eq!(keva[&KevaField::Notes].as_deref(), Some("vip"));

        let patch = plan.keva_patch();
        assert_eq!(patch.phone.as_deref(), Some(""));
        assert_eq!(patch.notes.as_deref(), Some("vip"));
        assert_eq!(patch.email, None);
        assert_eq!(plan.direction(), SyncDirection::Both);
        assert!(!plan.is_empty());
    }

    #[test]
    fn bases_round_trip_as_json() {
        let mut b = Bases::default();
        b.keva.insert(KevaField::JobTitle, Some("CTO".into()));
        b.keva.insert(KevaField::Phone, None);
        b.hubspot.insert("jobtitle".into(), Some("CTO".into()));
        let json = serde_json::to_value(&b).expect("serialize");
        assert_eq!(json["keva"]["jobTitle"], "CTO");
        let back: Bases = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, b);
    }
}
