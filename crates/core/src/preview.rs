//! The dry run behind `POST /api/crm/hubspot/test-mapping`: the HubSpot properties a
//! customer's mappings would produce, with the problems that would stop or limit a
//! real sync. Pure, so a dry run cannot write anything anywhere.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::customer::{Customer, KevaField};
use crate::email::Email;
use crate::mapping::{to_crm, FieldMapping};

/// `{preview: {email, firstname, lastname, company, ...}, warnings: [], errors: []}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingPreview {
    /// Non-empty values HubSpot would receive, by property.
    pub preview: BTreeMap<String, String>,
    /// Mappings that would be skipped; the rest would still sync.
    pub warnings: Vec<String>,
    /// Problems that stop the customer syncing at all (no valid email).
    pub errors: Vec<String>,
}

/// Previews the to-CRM side of `mappings` for `customer`. `missing` holds mapped
/// properties the portal lacks (see `mapping::missing_properties`).
pub fn preview(
    mappings: &[FieldMapping],
    customer: &Customer,
    missing: &BTreeSet<String>,
) -> MappingPreview {
    let mut out = MappingPreview::default();
    for m in mappings.iter().filter(|m| m.direction.writes_crm()) {
        if let Some(p) = m.hubspot_properties.iter().find(|p| missing.contains(*p)) {
            out.warnings.push(format!(
                "HubSpot property '{p}' doesn't exist in this portal; the {} mapping would be skipped",
                m.keva_field.as_str()
            ));
            continue;
        }
        if m.unbound_attribute() {
            out.warnings.push(format!(
                "{} is not a defined attribute; the mapping would be skipped",
                m.keva_field.as_str()
            ));
            continue;
        }
        let value = customer.field(m.keva_field);
        let value = value.as_deref();
        if m.keva_field == KevaField::Email {
            match Email::parse(value.unwrap_or_default()) {
                Ok(_) => {}
                Err(e) => {
                    out.errors.push(format!("this customer cannot sync: {e}"));
                    continue;
                }
            }
        }
        for (p, v) in to_crm(m, value) {
            if !v.is_empty() {
                out.preview.insert(p, v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::default_contact_mappings;
    use chrono::DateTime;

    fn customer(email: &str) -> Customer {
        let at = DateTime::from_timestamp(0, 0).expect("epoch");
        Customer {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            email: email.into(),
            name: Some("Martin Luther King Jr.".into()),
            phone: None,
            company: Some("Acme".into()),
            job_title: Some("CTO".into()),
            location: Some("Atlanta".into()),
            notes: Some("vip".into()),
            attributes: Default::default(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn shows_what_hubspot_would_receive() {
        let p = preview(
            &default_contact_mappings(),
            &customer("mlk@example.org"),
            &BTreeSet::new(),
        );
        let expected: BTreeMap<String, String> = [
            ("city", "Atlanta"),
            ("company", "Acme"),
            ("email", "mlk@example.org"),
            ("firstname", "Martin Luther"),
            ("jobtitle", "CTO"),
            ("lastname", "King Jr."),
            ("notes", "vip"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p.preview, expected, "empty phone is left out");
        assert!(p.warnings.is_empty() && p.errors.is_empty());
        let json = serde_json::to_value(&p).expect("serialize");
        assert_eq!(json["preview"]["lastname"], "King Jr.");
        assert_eq!(json["errors"], serde_json::json!([]));
    }

    #[test]
    fn invalid_email_is_an_error_and_missing_property_a_warning() {
        let missing = BTreeSet::from(["notes".to_string()]);
        let p = preview(
            &default_contact_mappings(),
            &customer("mlk at example"),
            &missing,
        );
        assert!(!p.preview.contains_key("email") && !p.preview.contains_key("notes"));
        assert_eq!(p.preview["company"], "Acme");
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].contains("mlk at example"), "{:?}", p.errors);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("'notes'"));
    }
}
