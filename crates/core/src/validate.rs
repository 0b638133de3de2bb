//! Checking mappings against a portal before they are saved: unknown properties
//! (with the internal name the user probably meant, "use jobtitle, not Job Title"),
//! wrong property counts and two mappings writing the same thing.
//!
//! The portal's property list is an argument, so the same checks run against the
//! live portal, the sandbox or a cached describe.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::automap::suggest::type_fit;
use crate::automap::KevaFieldType;
use crate::customer::KevaField;
use crate::mapping::{typed_value, FieldMapping, Transform};
use crate::text_enum::text_enum;

/// One property of a HubSpot portal, as `GET /api/crm/hubspot/describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyInfo {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    /// HubSpot refuses writes to it (calculated, or `readOnlyValue`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// An enumeration's options, `{value, label}` (kept for companies, whose
    /// enumeration values the CRM context shows by label).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PropertyChoice>,
}

/// One option of an enumeration property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyChoice {
    pub value: String,
    pub label: String,
}

impl PropertyInfo {
    pub fn new(name: &str, label: &str, kind: &str, field_type: &str) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            field_type: field_type.into(),
            read_only: false,
            options: Vec::new(),
        }
    }

    /// The label of an enumeration value (each of a multi-select's `;`-joined
    /// values), or the value itself when no option matches.
    pub fn label_of(&self, value: &str) -> String {
        if self.options.is_empty() {
            return value.to_string();
        }
        value
            .split(';')
            .filter(|v| !v.is_empty())
            .map(|v| {
                self.options
                    .iter()
                    .find(|o| o.value == v)
                    .map_or(v, |o| o.label.as_str())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

text_enum! {
    /// What is wrong with a mapping.
    pub enum MappingIssueKind {
        /// The portal has no property of that internal name.
        UnknownProperty => "unknown_property",
        /// `name` needs one or two properties; every other field exactly one.
        WrongPropertyCount => "wrong_property_count",
        /// Two mappings write the same HubSpot property.
        DuplicateProperty => "duplicate_property",
        /// Two mappings write the same Keva field.
        DuplicateField => "duplicate_field",
        /// A mapping writes to HubSpot a property HubSpot does not let anyone write.
        ReadOnlyProperty => "read_only_property",
        /// A mapping names an attribute the workspace does not define (or retired).
        UnknownAttribute => "unknown_attribute",
        /// The attribute's type and the property's type do not fit (a `date`
        /// attribute to a `bool` property), or the transform makes no sense for
        /// the attribute's type.
        IncompatibleType => "incompatible_type",
        /// The default is not a valid value of the attribute.
        InvalidDefault => "invalid_default",
    }
}

/// A problem found by [`validate_mappings`], phrased for the person saving them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingIssue {
    pub keva_field: KevaField,
    pub property: Option<String>,
    pub kind: MappingIssueKind,
    pub message: String,
    /// The internal name the user most likely meant, for an unknown property.
    pub suggestion: Option<String>,
}

/// Below this similarity a near-miss is not worth suggesting.
const SUGGESTION_THRESHOLD: f64 = 0.8;

/// The most mappings one object may have: every Keva field (built-in and custom)
/// at most once each way is far below it.
pub const MAX_MAPPINGS: usize = 200;
/// The longest HubSpot property name a mapping may name (HubSpot's own internal
/// names are far shorter).
pub const MAX_PROPERTY_NAME_LEN: usize = 100;
/// Unknown names that get a "did you mean" search per call: each search compares
/// against every portal property, so the work of one request stays bounded.
pub const MAX_SUGGESTIONS: usize = 10;

/// The size limits of one save, checked before anything else so an oversized
/// request costs nothing: the reason, when they are exceeded.
pub fn mapping_limits(mappings: &[FieldMapping]) -> Result<(), String> {
    if mappings.len() > MAX_MAPPINGS {
        return Err(format!(
            "too many mappings: {} (at most {MAX_MAPPINGS})",
            mappings.len()
        ));
    }
    let longest = mappings
        .iter()
        .flat_map(|m| &m.hubspot_properties)
        .find(|p| p.chars().count() > MAX_PROPERTY_NAME_LEN);
    if let Some(p) = longest {
        let shown: String = p.chars().take(20).collect();
        return Err(format!(
            "property name '{shown}…' is longer than {MAX_PROPERTY_NAME_LEN} characters"
        ));
    }
    Ok(())
}

/// Checks mappings against the portal's properties. An empty result means they can
/// be saved. Call [`mapping_limits`] first: this does work per unknown name.
pub fn validate_mappings(mappings: &[FieldMapping], portal: &[PropertyInfo]) -> Vec<MappingIssue> {
    let mut issues = Vec::new();
    let mut searches = 0usize;
    let mut written_props: BTreeMap<&str, KevaField> = BTreeMap::new();
    let mut written_fields: BTreeMap<KevaField, usize> = BTreeMap::new();
    for m in mappings {
        let n = m.hubspot_properties.len();
        let count_ok = if m.keva_field == KevaField::Name {
            (1..=2).contains(&n)
        } else {
            n == 1
        };
        if !count_ok {
            issues.push(MappingIssue {
                keva_field: m.keva_field,
                property: None,
                kind: MappingIssueKind::WrongPropertyCount,
                message: format!(
                    "{} must map to {}, not {n}",
                    m.keva_field.as_str(),
                    if m.keva_field == KevaField::Name {
                        "one property or firstname and lastname"
                    } else {
                        "exactly one property"
                    }
                ),
                suggestion: None,
            });
        }
        for p in &m.hubspot_properties {
            if !portal.iter().any(|info| info.name == *p) {
                let suggestion = if searches < MAX_SUGGESTIONS {
                    searches += 1;
                    closest_property(p, portal)
                } else {
                    None
                };
                let message = match &suggestion {
                    Some(s) => format!("Property doesn't exist: '{p}' (use {s}, not {p})"),
                    None => format!("Property doesn't exist: '{p}'"),
                };
                issues.push(MappingIssue {
                    keva_field: m.keva_field,
                    property: Some(p.clone()),
                    kind: MappingIssueKind::UnknownProperty,
                    message,
                    suggestion,
                });
            }
            if m.direction.writes_crm()
                && portal.iter().any(|info| info.name == *p && info.read_only)
            {
                issues.push(MappingIssue {
                    keva_field: m.keva_field,
                    property: Some(p.clone()),
                    kind: MappingIssueKind::ReadOnlyProperty,
                    message: format!(
                        "'{p}' is read-only in HubSpot: map it From CRM only, not {}",
                        m.direction.as_str()
                    ),
                    suggestion: None,
                });
            }
            if m.direction.writes_crm() {
                if let Some(other) = written_props.insert(p.as_str(), m.keva_field) {
                    issues.push(MappingIssue {
                        keva_field: m.keva_field,
                        property: Some(p.clone()),
                        kind: MappingIssueKind::DuplicateProperty,
                        message: format!(
                            "'{p}' is already written by the {} mapping",
                            other.as_str()
                        ),
                        suggestion: None,
                    });
                }
            }
        }
        check_attribute(m, portal, &mut issues);
        if m.direction.writes_keva() {
            let seen = written_fields.entry(m.keva_field).or_insert(0);
            *seen += 1;
            if *seen == 2 {
                issues.push(MappingIssue {
                    keva_field: m.keva_field,
                    property: None,
                    kind: MappingIssueKind::DuplicateField,
                    message: format!(
                        "{} is written from HubSpot by more than one mapping",
                        m.keva_field.as_str()
                    ),
                    suggestion: None,
                });
            }
        }
    }
    issues
}

/// The checks of an attribute mapping (bound by [`crate::mapping::bind_attributes`]):
/// a live definition, a property type that can hold the attribute's values in
/// the mapping's direction, a transform that fits the type, a valid default.
fn check_attribute(m: &FieldMapping, portal: &[PropertyInfo], issues: &mut Vec<MappingIssue>) {
    if m.keva_field.attribute_key().is_none() {
        return;
    }
    let field = m.keva_field.as_str();
    let mut issue = |kind, property: Option<&String>, message: String| {
        issues.push(MappingIssue {
            keva_field: m.keva_field,
            property: property.cloned(),
            kind,
            message,
            suggestion: None,
        })
    };
    let Some(spec) = &m.attribute else {
        issue(
            MappingIssueKind::UnknownAttribute,
            None,
            format!("{field}: no such attribute (define it under /api/customer-attributes, or it was retired)"),
        );
        return;
    };
    let kind = spec.kind.as_str();
    for p in &m.hubspot_properties {
        let Some(info) = portal.iter().find(|i| i.name == *p) else {
            continue;
        };
        match type_fit(spec.kind, &info.kind, &info.field_type) {
            Err(why) => issue(
                MappingIssueKind::IncompatibleType,
                Some(p),
                format!(
                    "a {kind} attribute cannot map to '{p}' ({} / {}): {why}",
                    info.kind, info.field_type
                ),
            ),
            Ok(true) if m.direction.writes_crm() => issue(
                MappingIssueKind::IncompatibleType,
                Some(p),
                format!(
                    "a {kind} attribute's values are not all valid for '{p}' ({} / {}): \
                     map it From CRM only, or to a {kind} property",
                    info.kind, info.field_type
                ),
            ),
            Ok(_) => {}
        }
    }
    let textual = matches!(
        spec.kind,
        KevaFieldType::String
            | KevaFieldType::Enum
            | KevaFieldType::MultiEnum
            | KevaFieldType::Phone
            | KevaFieldType::Email
    );
    if let Some(t) = m.transform {
        if !textual && !matches!(t, Transform::None | Transform::Trim) {
            issue(
                MappingIssueKind::IncompatibleType,
                None,
                format!(
                    "the {} transform does not apply to a {kind} attribute",
                    t.as_str()
                ),
            );
        }
    }
    if let Some(d) = m.default.as_deref().filter(|d| !d.trim().is_empty()) {
        if let Err(why) = typed_value(spec, d) {
            issue(
                MappingIssueKind::InvalidDefault,
                None,
                format!("the default {d:?} is not a valid {kind} value: {why}"),
            );
        }
    }
}

/// The mapped properties the portal does not have: pass them to `reconcile` as
/// `missing_properties`, so only those mappings are skipped (typically `notes`,
/// which is not a default HubSpot contact property) and the others still sync.
pub fn missing_properties(mappings: &[FieldMapping], portal: &[PropertyInfo]) -> BTreeSet<String> {
    mappings
        .iter()
        .flat_map(|m| &m.hubspot_properties)
        .filter(|p| !portal.iter().any(|info| info.name == **p))
        .cloned()
        .collect()
}

/// The internal name the user probably meant by `typed`: a property whose label or
/// name matches ignoring case and punctuation ("Job Title" → `jobtitle`), else the
/// most similar name or label above [`SUGGESTION_THRESHOLD`]. Ties go to the
/// alphabetically first name, so the answer does not depend on the portal's order.
pub fn closest_property(typed: &str, portal: &[PropertyInfo]) -> Option<String> {
    let key = compact(typed);
    if key.is_empty() {
        return None;
    }
    let mut exact: Vec<&str> = portal
        .iter()
        .filter(|p| compact(&p.name) == key || compact(&p.label) == key)
        .map(|p| p.name.as_str())
        .collect();
    exact.sort_unstable();
    if let Some(first) = exact.first() {
        return Some(first.to_string());
    }
    let mut best: Option<(f64, &str)> = None;
    for p in portal {
        let score = similarity(&key, &compact(&p.name)).max(similarity(&key, &compact(&p.label)));
        let better = match best {
            None => true,
            Some((s, name)) => score > s || (score == s && p.name.as_str() < name),
        };
        if better {
            best = Some((score, p.name.as_str()));
        }
    }
    best.filter(|(s, _)| *s >= SUGGESTION_THRESHOLD)
        .map(|(_, n)| n.to_string())
}

/// Lower-cased letters and digits only: "Job Title", "job_title" and "jobTitle" all
/// become "jobtitle".
pub(crate) fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Similarity of two compacted strings in 0..=1. Jaro-Winkler alone rewards shared
/// prefixes too much ("notes" vs "noteslastupdated" scores 0.86), so it is averaged
/// with normalised Levenshtein, which punishes the length difference.
pub(crate) fn similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    (strsim::jaro_winkler(a, b) + strsim::normalized_levenshtein(a, b)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{default_contact_mappings, Direction};

    fn contact_properties() -> Vec<PropertyInfo> {
        vec![
            PropertyInfo::new("email", "Email", "string", "text"),
            PropertyInfo::new("firstname", "First Name", "string", "text"),
            PropertyInfo::new("lastname", "Last Name", "string", "text"),
            PropertyInfo::new("phone", "Phone Number", "string", "phonenumber"),
            PropertyInfo::new(
                "mobilephone",
                "Mobile Phone Number",
                "string",
                "phonenumber",
            ),
            PropertyInfo::new("company", "Company Name", "string", "text"),
            PropertyInfo::new("jobtitle", "Job Title", "string", "text"),
            PropertyInfo::new("city", "City", "string", "text"),
            PropertyInfo::new("address", "Street Address", "string", "text"),
            PropertyInfo::new("notes", "Notes", "string", "textarea"),
            PropertyInfo::new(
                "notes_last_updated",
                "Last Activity Date",
                "datetime",
                "date",
            ),
        ]
    }

    #[test]
    fn a_read_only_property_may_be_read_but_not_written() {
        let mut created = PropertyInfo::new("createdate", "Create Date", "datetime", "date");
        created.read_only = true;
        let portal = vec![created];
        let to_crm = FieldMapping::new(KevaField::Company, &["createdate"], Direction::ToCrm);
        let issues = validate_mappings(&[to_crm], &portal);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].kind, MappingIssueKind::ReadOnlyProperty);
        let from_crm = FieldMapping::new(KevaField::Company, &["createdate"], Direction::FromCrm);
        assert!(validate_mappings(&[from_crm], &portal).is_empty());
    }

    #[test]
    fn enumeration_values_read_as_labels() {
        let mut industry = PropertyInfo::new("industry", "Industry", "enumeration", "select");
        industry.options = vec![PropertyChoice {
            value: "COMPUTER_SOFTWARE".into(),
            label: "Computer Software".into(),
        }];
        assert_eq!(industry.label_of("COMPUTER_SOFTWARE"), "Computer Software");
        assert_eq!(industry.label_of("UNKNOWN"), "UNKNOWN");
    }

    #[test]
    fn property_info_has_the_describe_shape() {
        let json =
            serde_json::to_value(PropertyInfo::new("jobtitle", "Job Title", "string", "text"))
                .expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"name": "jobtitle", "label": "Job Title", "type": "string", "fieldType": "text"})
        );
    }

    #[test]
    fn oversized_saves_are_refused_before_any_work() {
        let one = FieldMapping::new(KevaField::Company, &["company"], Direction::ToCrm);
        assert_eq!(mapping_limits(&vec![one.clone(); MAX_MAPPINGS]), Ok(()));
        let too_many = mapping_limits(&vec![one; MAX_MAPPINGS + 1]).expect_err("too many");
        assert!(too_many.contains("too many mappings: 201"), "{too_many}");
        let long = "x".repeat(MAX_PROPERTY_NAME_LEN + 1);
        let m = FieldMapping::new(KevaField::Company, &[long.as_str()], Direction::ToCrm);
        let err = mapping_limits(&[m]).expect_err("too long");
        assert!(err.contains("longer than 100 characters"), "{err}");
    }

    #[test]
    fn only_the_first_unknown_names_get_a_suggestion() {
        let m: Vec<FieldMapping> = (0..MAX_SUGGESTIONS + 5)
            .map(|_| FieldMapping::new(KevaField::JobTitle, &["Job Title"], Direction::FromCrm))
            .collect();
        let unknown: Vec<_> = validate_mappings(&m, &contact_properties())
            .into_iter()
            .filter(|i| i.kind == MappingIssueKind::UnknownProperty)
            .collect();
        assert_eq!(unknown.len(), MAX_SUGGESTIONS + 5);
        let suggested = unknown.iter().filter(|i| i.suggestion.is_some()).count();
        assert_eq!(suggested, MAX_SUGGESTIONS);
        assert_eq!(unknown[0].suggestion.as_deref(), Some("jobtitle"));
    }

    #[test]
    fn defaults_are_valid_against_a_portal_with_notes() {
        assert_eq!(
            validate_mappings(&default_contact_mappings(), &contact_properties()),
            []
        );
    }

    #[test]
    fn label_typed_instead_of_name_is_explained() {
        let mut m = default_contact_mappings();
        m[4].hubspot_properties = vec!["Job Title".into()];
        let issues = validate_mappings(&m, &contact_properties());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].kind, MappingIssueKind::UnknownProperty);
        assert_eq!(issues[0].suggestion.as_deref(), Some("jobtitle"));
        assert_eq!(
            issues[0].message,
            "Property doesn't exist: 'Job Title' (use jobtitle, not Job Title)"
        );
    }

    #[test]
    fn near_miss_is_suggested_and_nonsense_is_not() {
        let props = contact_properties();
        assert_eq!(
            closest_property("jobtitel", &props).as_deref(),
            Some("jobtitle")
        );
        assert_eq!(
            closest_property("First name", &props).as_deref(),
            Some("firstname")
        );
        assert_eq!(
            closest_property("Company Name", &props).as_deref(),
            Some("company")
        );
        assert_eq!(closest_property("favourite_colour", &props), None);
        let mut m = default_contact_mappings();
        m[3].hubspot_properties = vec!["favourite_colour".into()];
        let issues = validate_mappings(&m, &props);
        assert_eq!(
            issues[0].message,
            "Property doesn't exist: 'favourite_colour'"
        );
    }

    #[test]
    fn missing_notes_property_is_reported_alone() {
        let props: Vec<_> = contact_properties()
            .into_iter()
            .filter(|p| p.name != "notes")
            .collect();
        let issues = validate_mappings(&default_contact_mappings(), &props);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].keva_field, KevaField::Notes);
        assert_eq!(issues[0].property.as_deref(), Some("notes"));
    }

    #[test]
    fn missing_properties_lists_only_absent_ones() {
        let props: Vec<_> = contact_properties()
            .into_iter()
            .filter(|p| p.name != "notes" && p.name != "city")
            .collect();
        let missing = missing_properties(&default_contact_mappings(), &props);
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), ["city", "notes"]);
    }

    #[test]
    fn wrong_counts_and_duplicates_are_reported() {
        let props = contact_properties();
        let m = vec![
            FieldMapping::new(
                KevaField::Phone,
                &["phone", "mobilephone"],
                Direction::Bidirectional,
            ),
            FieldMapping::new(KevaField::Company, &["city"], Direction::ToCrm),
            FieldMapping::new(KevaField::Location, &["city"], Direction::ToCrm),
            FieldMapping::new(KevaField::Notes, &["notes"], Direction::FromCrm),
            FieldMapping::new(KevaField::Notes, &["address"], Direction::Bidirectional),
        ];
        let kinds: Vec<_> = validate_mappings(&m, &props)
            .into_iter()
            .map(|i| i.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                MappingIssueKind::WrongPropertyCount,
                MappingIssueKind::DuplicateProperty,
                MappingIssueKind::DuplicateField
            ]
        );
    }

    fn attribute_mapping(kind: KevaFieldType, prop: &str, direction: Direction) -> FieldMapping {
        let field = KevaField::attribute("signup").expect("key");
        let mut m = FieldMapping::new(field, &[prop], direction);
        crate::mapping::bind_attributes(
            std::slice::from_mut(&mut m),
            &[crate::AttributeSpec {
                key: "signup".into(),
                kind,
                options: vec!["a".into()],
                retired: false,
            }],
        );
        m
    }

    fn typed_portal() -> Vec<PropertyInfo> {
        vec![
            PropertyInfo::new("is_vip", "VIP", "bool", "booleancheckbox"),
            PropertyInfo::new("tier", "Tier", "enumeration", "select"),
            PropertyInfo::new("signup_on", "Signup", "date", "date"),
            PropertyInfo::new("seats", "Seats", "number", "number"),
            PropertyInfo::new("notes_text", "Notes", "string", "text"),
        ]
    }

    fn kinds(m: FieldMapping) -> Vec<(MappingIssueKind, String)> {
        validate_mappings(&[m], &typed_portal())
            .into_iter()
            .map(|i| (i.kind, i.message))
            .collect()
    }

    #[test]
    fn attributes_of_an_incompatible_type_are_refused_with_the_reason() {
        use Direction::*;
        let issues = kinds(attribute_mapping(
            KevaFieldType::Date,
            "is_vip",
            Bidirectional,
        ));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].0, MappingIssueKind::IncompatibleType);
        assert!(
            issues[0].1.contains("date") && issues[0].1.contains("bool"),
            "{}",
            issues[0].1
        );
        let issues = kinds(attribute_mapping(KevaFieldType::Number, "tier", FromCrm));
        assert_eq!(issues[0].0, MappingIssueKind::IncompatibleType);
        // Free text cannot be written into an enumeration, but can be read from one.
        let issues = kinds(attribute_mapping(KevaFieldType::String, "tier", ToCrm));
        assert!(issues[0].1.contains("From CRM only"), "{issues:?}");
        assert!(kinds(attribute_mapping(KevaFieldType::String, "tier", FromCrm)).is_empty());
        for (kind, prop) in [
            (KevaFieldType::Date, "signup_on"),
            (KevaFieldType::Number, "seats"),
            (KevaFieldType::Enum, "tier"),
            (KevaFieldType::Boolean, "is_vip"),
            (KevaFieldType::String, "notes_text"),
        ] {
            let issues = kinds(attribute_mapping(kind, prop, Bidirectional));
            assert!(issues.is_empty(), "{kind:?} -> {prop}: {issues:?}");
        }
    }

    #[test]
    fn attribute_mappings_need_a_definition_a_fitting_transform_and_default() {
        let mut unbound = attribute_mapping(KevaFieldType::Number, "seats", Direction::ToCrm);
        unbound.attribute = None;
        assert_eq!(kinds(unbound)[0].0, MappingIssueKind::UnknownAttribute);

        let mut m = attribute_mapping(KevaFieldType::Number, "seats", Direction::ToCrm);
        m.transform = Some(Transform::PhoneE164);
        m.default = Some("many".into());
        let issues = kinds(m);
        assert_eq!(
            issues.iter().map(|i| i.0).collect::<Vec<_>>(),
            [
                MappingIssueKind::IncompatibleType,
                MappingIssueKind::InvalidDefault
            ]
        );
        let mut fine = attribute_mapping(KevaFieldType::Number, "seats", Direction::ToCrm);
        fine.transform = Some(Transform::Trim);
        fine.default = Some("0".into());
        assert!(kinds(fine).is_empty());
    }
}
