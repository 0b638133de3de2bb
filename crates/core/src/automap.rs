//! Auto-mapping: proposing, for each Keva field, the HubSpot property it should map
//! to, with a confidence that means what it says.
//!
//! Two generations live here. [`automap`] (in [`suggest`], types in [`model`]) is
//! the real one: it takes Keva field specs (built-ins and custom attributes, each
//! with a type) and a portal's full property list, and answers per field with the
//! best property or *no match*, a calibrated confidence, a reason, a direction and
//! up to two alternatives. [`propose_mappings`] below is the original name/synonym
//! scorer for the seven built-ins, kept for its callers.
//!
//! How [`automap`] decides, and why:
//! - **Hard rules first.** A property whose type cannot hold the field's values is
//!   never scored (a number never maps to a date). A read-only or calculated
//!   property is only offered `from_crm`, and not at all to a field whose mapping
//!   must write (location is `to_crm`). Each property goes to at most one field.
//! - **Text evidence**: the field's key, label and a few synonyms against the
//!   property's internal name and label, by string similarity (Jaro-Winkler and
//!   Levenshtein from `strsim`), by initials ("mrr" ≈ "Monthly Recurring
//!   Revenue"), and by word overlap after splitting `snake_case`, `camelCase` and
//!   `__c`; descriptions add a little.
//! - **Other signals** adjust the score: exact type fit, shared enumeration
//!   options, migration-copy words (`old_`, `_backup`, `salesforce_`, a year),
//!   read-only, HubSpot's self-filled groups (analytics, activity, deal roll-ups),
//!   and a small bonus for the portal's own custom properties, which usually beat a
//!   look-alike default (`mrr__c` over `total_revenue`).
//! - **Value agreement** (optional, [`automap_with_samples`]): sampled value pairs
//!   of linked records move the score most, since agreement is the best evidence.
//! - **Global assignment**: all (field, property) candidates, best score first,
//!   greedily; ties by field order, then property name. Greedy rather than an
//!   optimal matching: with scores this peaked the two rarely differ, and greedy
//!   keeps the best-evidenced pairs intact, which is what a reviewer checks first.
//! - **Calibration**: the raw score is a sum of heuristics, not a probability.
//!   [`calibrate`] maps it through a monotone piecewise-linear curve fitted
//!   (isotonic regression) on half of the evaluation set in `crates/core/eval`; the
//!   other half checks it. Below [`MIN_SUGGEST_CONFIDENCE`] the answer is no match.
//!
//! Everything is pure and deterministic: no I/O, no clock, no randomness.

pub mod model;
pub mod suggest;

pub use model::{
    parse_properties, Alternative, HubspotProperty, KevaFieldSpec, KevaFieldType,
    ModificationMetadata, PropertyOption, Suggestion,
};
pub use suggest::{
    automap, automap_with_samples, calibrate, value_agreement, ValueSamples, CALIBRATION,
    MIN_SUGGEST_CONFIDENCE,
};

use serde::{Deserialize, Serialize};

use crate::customer::KevaField;
use crate::mapping::{default_contact_mappings, Direction, FieldMapping};
use crate::validate::{compact, similarity, PropertyInfo};

/// Below this a guess is more likely wrong than right on real portals: "notes" vs
/// `num_notes` (a count of activities) scores about 0.76.
pub const DEFAULT_CONFIDENCE_THRESHOLD: f64 = 0.8;

/// Penalty for HubSpot-internal properties (`hs_*`).
const INTERNAL_PENALTY: f64 = 0.9;

/// A suggested mapping and how sure we are of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingProposal {
    pub mapping: FieldMapping,
    /// 0..=1; 1 means an exact match of name or label.
    pub confidence: f64,
    /// Which name/label matched which term, for the UI.
    pub reason: String,
}

/// The terms a field is known by, with how much a match on each is worth.
fn terms(field: KevaField) -> &'static [(&'static str, f64)] {
    match field {
        KevaField::Email => &[
            ("email", 1.0),
            ("email address", 0.95),
            ("work email", 0.85),
        ],
        KevaField::Name => &[("name", 0.9), ("full name", 0.9), ("contact name", 0.85)],
        KevaField::Phone => &[
            ("phone", 1.0),
            ("phone number", 0.95),
            ("mobile phone", 0.9),
            ("telephone", 0.9),
            ("mobile", 0.85),
        ],
        KevaField::Company => &[
            ("company", 1.0),
            ("company name", 0.95),
            ("organization", 0.9),
            ("organisation", 0.9),
            ("employer", 0.85),
        ],
        KevaField::JobTitle => &[
            ("job title", 1.0),
            ("title", 0.85),
            ("position", 0.85),
            ("role", 0.8),
        ],
        KevaField::Location => &[
            ("location", 1.0),
            ("city", 0.9),
            ("address", 0.85),
            ("street address", 0.8),
        ],
        KevaField::Notes => &[
            ("notes", 1.0),
            ("note", 0.95),
            ("comments", 0.85),
            ("description", 0.8),
        ],
        // The legacy proposer knows built-ins only; attributes go through
        // `suggest::automap`, which reads their labels and types.
        KevaField::Attribute(_) => &[],
    }
}

struct Candidate<'a> {
    field: KevaField,
    property: &'a PropertyInfo,
    score: f64,
    reason: String,
}

/// The best-scoring term for one property, with its reason.
fn score(field: KevaField, p: &PropertyInfo) -> (f64, String) {
    let name = compact(&p.name);
    let label = compact(&p.label);
    let penalty = if p.name.starts_with("hs_") {
        INTERNAL_PENALTY
    } else {
        1.0
    };
    let mut best = (0.0, String::new());
    for (term, weight) in terms(field) {
        let t = compact(term);
        for (what, text, compacted) in [("name", &p.name, &name), ("label", &p.label, &label)] {
            let s = similarity(&t, compacted) * weight * penalty;
            if s > best.0 {
                best = (s, format!("{what} '{text}' ~ '{term}'"));
            }
        }
    }
    best
}

/// Proposes mappings for `fields` from the portal's properties, best first per
/// field, only at or above `threshold`.
pub fn propose_mappings(
    fields: &[KevaField],
    portal: &[PropertyInfo],
    threshold: f64,
) -> Vec<MappingProposal> {
    let defaults = default_contact_mappings();
    let direction = |f: KevaField| {
        defaults
            .iter()
            .find(|m| m.keva_field == f)
            .map(|m| m.direction)
            .unwrap_or(Direction::Bidirectional)
    };
    let mut taken: Vec<&str> = Vec::new();
    let mut out: Vec<MappingProposal> = Vec::new();

    // A split name is the one mapping that needs two properties; claim them first.
    let has = |n: &str| portal.iter().any(|p| p.name == n);
    if fields.contains(&KevaField::Name) && has("firstname") && has("lastname") {
        taken.extend(["firstname", "lastname"]);
        out.push(MappingProposal {
            mapping: FieldMapping::new(
                KevaField::Name,
                &["firstname", "lastname"],
                direction(KevaField::Name),
            ),
            confidence: 1.0,
            reason: "firstname + lastname, split by the name rules".into(),
        });
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    for &field in fields {
        if out.iter().any(|p| p.mapping.keva_field == field) {
            continue;
        }
        for p in portal {
            let (s, reason) = score(field, p);
            if s >= threshold {
                candidates.push(Candidate {
                    field,
                    property: p,
                    score: s,
                    reason,
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.field.cmp(&b.field))
            .then(a.property.name.cmp(&b.property.name))
    });
    for c in candidates {
        let field_done = out.iter().any(|p| p.mapping.keva_field == c.field);
        if field_done || taken.contains(&c.property.name.as_str()) {
            continue;
        }
        taken.push(&c.property.name);
        out.push(MappingProposal {
            mapping: FieldMapping::new(c.field, &[c.property.name.as_str()], direction(c.field)),
            confidence: (c.score * 1000.0).round() / 1000.0,
            reason: c.reason,
        });
    }
    out.sort_by_key(|p| p.mapping.keva_field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A realistic slice of a HubSpot portal's contact properties, near-misses
    /// included (`num_notes`, `hs_email_domain`, `notes_last_updated`).
    fn hubspot_contact_properties() -> Vec<PropertyInfo> {
        [
            ("email", "Email", "string", "text"),
            ("firstname", "First Name", "string", "text"),
            ("lastname", "Last Name", "string", "text"),
            ("phone", "Phone Number", "string", "phonenumber"),
            (
                "mobilephone",
                "Mobile Phone Number",
                "string",
                "phonenumber",
            ),
            ("fax", "Fax Number", "string", "text"),
            ("company", "Company Name", "string", "text"),
            (
                "associatedcompanyid",
                "Primary Associated Company ID",
                "number",
                "number",
            ),
            ("jobtitle", "Job Title", "string", "text"),
            ("address", "Street Address", "string", "text"),
            ("city", "City", "string", "text"),
            ("state", "State/Region", "string", "text"),
            ("zip", "Postal Code", "string", "text"),
            ("country", "Country/Region", "string", "text"),
            ("website", "Website URL", "string", "text"),
            ("industry", "Industry", "string", "text"),
            ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
            ("hs_email_domain", "Email Domain", "string", "text"),
            ("hs_object_id", "Record ID", "number", "number"),
            (
                "notes_last_updated",
                "Last Activity Date",
                "datetime",
                "date",
            ),
            ("notes_last_contacted", "Last Contacted", "datetime", "date"),
            (
                "num_notes",
                "Number of Sales Activities",
                "number",
                "number",
            ),
            (
                "hs_content_membership_notes",
                "Membership Notes",
                "string",
                "textarea",
            ),
            ("createdate", "Create Date", "datetime", "date"),
            ("message", "Message", "string", "textarea"),
        ]
        .into_iter()
        .map(|(n, l, t, f)| PropertyInfo::new(n, l, t, f))
        .collect()
    }

    fn proposed(props: &[PropertyInfo]) -> Vec<(KevaField, Vec<String>)> {
        propose_mappings(&KevaField::ALL, props, DEFAULT_CONFIDENCE_THRESHOLD)
            .into_iter()
            .map(|p| (p.mapping.keva_field, p.mapping.hubspot_properties))
            .collect()
    }

    fn v(props: &[&str]) -> Vec<String> {
        props.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn standard_portal_gets_the_default_mappings_except_notes() {
        let got = proposed(&hubspot_contact_properties());
        assert_eq!(
            got,
            vec![
                (KevaField::Email, v(&["email"])),
                (KevaField::Name, v(&["firstname", "lastname"])),
                (KevaField::Phone, v(&["phone"])),
                (KevaField::Company, v(&["company"])),
                (KevaField::JobTitle, v(&["jobtitle"])),
                (KevaField::Location, v(&["city"])),
            ],
            "num_notes / notes_last_updated must not pass for notes"
        );
    }

    #[test]
    fn directions_follow_the_defaults() {
        let got = propose_mappings(
            &KevaField::ALL,
            &hubspot_contact_properties(),
            DEFAULT_CONFIDENCE_THRESHOLD,
        );
        let loc = got
            .iter()
            .find(|p| p.mapping.keva_field == KevaField::Location)
            .expect("location proposed");
        assert_eq!(loc.mapping.direction, Direction::ToCrm);
        assert!(
            (loc.confidence - 0.9).abs() < 1e-9,
            "city is a synonym: {}",
            loc.confidence
        );
        let email = &got[0];
        assert_eq!(email.confidence, 1.0);
        assert_eq!(email.reason, "name 'email' ~ 'email'");
    }

    #[test]
    fn custom_properties_are_found_by_label_and_synonym() {
        let props: Vec<PropertyInfo> = [
            ("e_mail", "E-mail"),
            ("full_name", "Full name"),
            ("mobile", "Mobile"),
            ("organization_name", "Organization"),
            ("position", "Position"),
            ("support_notes", "Notes"),
            ("street", "Address"),
        ]
        .into_iter()
        .map(|(n, l)| PropertyInfo::new(n, l, "string", "text"))
        .collect();
        assert_eq!(
            proposed(&props),
            vec![
                (KevaField::Email, v(&["e_mail"])),
                (KevaField::Name, v(&["full_name"])),
                (KevaField::Phone, v(&["mobile"])),
                (KevaField::Company, v(&["organization_name"])),
                (KevaField::JobTitle, v(&["position"])),
                (KevaField::Location, v(&["street"])),
                (KevaField::Notes, v(&["support_notes"])),
            ]
        );
    }

    #[test]
    fn mobile_phone_stands_in_when_phone_is_absent() {
        let props: Vec<_> = hubspot_contact_properties()
            .into_iter()
            .filter(|p| p.name != "phone")
            .collect();
        let got = propose_mappings(&[KevaField::Phone], &props, DEFAULT_CONFIDENCE_THRESHOLD);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].mapping.hubspot_properties, ["mobilephone"]);
        assert!(got[0].confidence < 1.0);
    }

    #[test]
    fn nothing_is_proposed_below_the_threshold() {
        let props = vec![PropertyInfo::new(
            "favourite_colour",
            "Favourite colour",
            "string",
            "text",
        )];
        assert!(propose_mappings(&KevaField::ALL, &props, DEFAULT_CONFIDENCE_THRESHOLD).is_empty());
    }

    proptest! {
        #[test]
        fn order_of_the_portal_does_not_matter(
            perm in Just(hubspot_contact_properties()).prop_shuffle(),
            threshold in 0.3f64..1.0,
        ) {
            let reference = propose_mappings(&KevaField::ALL, &hubspot_contact_properties(), threshold);
            let shuffled = propose_mappings(&KevaField::ALL, &perm, threshold);
            prop_assert_eq!(&shuffled, &reference);
            let mut used: Vec<&String> = shuffled.iter().flat_map(|p| &p.mapping.hubspot_properties).collect();
            let n = used.len();
            used.sort();
            used.dedup();
            prop_assert_eq!(used.len(), n, "a property proposed twice");
            for p in &shuffled {
                prop_assert!(p.confidence >= threshold - 1e-3 && p.confidence <= 1.0);
            }
        }
    }
}
