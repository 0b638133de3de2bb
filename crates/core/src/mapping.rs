//! Field mappings: which Keva field goes to which HubSpot propert(y/ies), in which
//! direction, through which transform — and the two conversions every sync uses,
//! [`to_crm`] (Keva value → HubSpot property values) and [`from_crm`] (HubSpot
//! property values → Keva value).
//!
//! Conventions shared with `reconcile`:
//! - An empty or whitespace-only value is "no value" (`None`); HubSpot clears a
//!   property when sent `""`, so [`to_crm`] emits `""` for "no value".
//! - The `name` field mapped to two properties is split/joined by the rules in
//!   [`crate::name`]; any other field mapped to several properties writes the same
//!   value to each and reads the first non-empty one (validation flags this).
//! - Values crossing over are trimmed (surrounding whitespace is never meaningful
//!   in a CRM field, and HubSpot may strip it, which would look like an edit); a
//!   transform normalises a value on its way to the side that receives it, in
//!   either direction; a default stands in for an empty source value.
//! - A custom attribute (`attributes.<key>`) travels as its value's text form
//!   ([`crate::attribute::text_of`]) on Keva's side and in HubSpot's format for
//!   its type on HubSpot's ([`crate::value_format`]): the mapping carries the
//!   attribute's definition, bound by [`bind_attributes`] when mappings are
//!   loaded. Both conversions end in the canonical form, so a value that went
//!   to HubSpot and came back (`"1767571200000"` for `2026-01-05`) reads as the
//!   same value and is no change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attribute::{text_of, AttributeSpec};
use crate::customer::{FieldName, KevaField};
use crate::name;
use crate::text_enum::text_enum;
pub use crate::transform::Transform;

/// HubSpot property values as read from a contact: `None` for an unset property.
pub type HubspotValues = BTreeMap<String, Option<String>>;

text_enum! {
    /// Which way values may flow for one mapping.
    #[derive(Default)]
    pub enum Direction {
        #[default]
        Bidirectional => "bidirectional",
        /// Keva → HubSpot only: HubSpot edits never reach Keva.
        ToCrm => "to_crm",
        /// HubSpot → Keva only: Keva edits never reach HubSpot.
        FromCrm => "from_crm",
    }
}

impl Direction {
    /// May a Keva change be written to HubSpot?
    pub fn writes_crm(self) -> bool {
        matches!(self, Direction::Bidirectional | Direction::ToCrm)
    }

    /// May a HubSpot change be written to Keva?
    pub fn writes_keva(self) -> bool {
        matches!(self, Direction::Bidirectional | Direction::FromCrm)
    }
}

text_enum! {
    /// The HubSpot object type a mapping set belongs to (`?object=Contact`).
    pub enum ObjectKind {
        Contact => "Contact",
        Company => "Company",
    }
}

impl ObjectKind {
    /// The object type in HubSpot's CRM v3 paths (`/crm/v3/objects/contacts`).
    pub fn hubspot_object_type(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contacts",
            ObjectKind::Company => "companies",
        }
    }
}
/// One mapping between a Keva field and HubSpot propert(y/ies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMapping {
    pub keva_field: KevaField,
    /// One property, or `firstname` + `lastname` (in that order) for `name`.
    pub hubspot_properties: Vec<String>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub transform: Option<Transform>,
    #[serde(default)]
    pub default: Option<String>,
    /// The attribute's definition, for an attribute field: bound from the
    /// workspace's definitions when mappings are loaded ([`bind_attributes`]),
    /// never stored or sent. `None` for a built-in field, and for an attribute
    /// that is undefined or retired (whose mapping is then skipped).
    #[serde(skip)]
    pub attribute: Option<AttributeSpec>,
    /// The workspace's default phone region (`GB`), which the `phone_e164`
    /// transform reads numbers without a country code in: bound with the
    /// attributes, never stored.
    #[serde(skip)]
    pub phone_region: Option<String>,
}

/// A mapping as a request gives it: a [`FieldMapping`] whose Keva field is a
/// [`FieldName`], not yet checked against the workspace's attributes (see
/// [`FieldName`] for why).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingInput {
    pub keva_field: FieldName,
    pub hubspot_properties: Vec<String>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub transform: Option<Transform>,
    #[serde(default)]
    pub default: Option<String>,
}

impl MappingInput {
    /// The mapping, when its field is a built-in or an attribute `is_defined`
    /// says the workspace defines; otherwise why not, naming the field.
    pub fn resolve(self, is_defined: impl Fn(&str) -> bool) -> Result<FieldMapping, String> {
        let keva_field = self.keva_field.resolve(is_defined)?;
        Ok(FieldMapping {
            keva_field,
            hubspot_properties: self.hubspot_properties,
            direction: self.direction,
            transform: self.transform,
            default: self.default,
            attribute: None,
            phone_region: None,
        })
    }
}

impl FieldMapping {
    pub fn new(keva_field: KevaField, properties: &[&str], direction: Direction) -> Self {
        Self {
            keva_field,
            hubspot_properties: properties.iter().map(|p| p.to_string()).collect(),
            direction,
            transform: None,
            default: None,
            attribute: None,
            phone_region: None,
        }
    }

    /// Why a value this mapping sends to HubSpot is not normalised, if it is
    /// not: a `phone_e164` mapping whose value is not a valid phone number
    /// (sent as typed rather than mangled).
    pub fn phone_problem(&self, value: Option<&str>) -> Option<String> {
        let value = clean(value)?.trim();
        if self.transform != Some(Transform::PhoneE164) {
            return None;
        }
        if crate::transform::phone_e164(value, self.phone_region.as_deref()).is_some() {
            return None;
        }
        Some(match &self.phone_region {
            Some(r) => {
                format!("{value:?} is not a valid phone number (default region {r}); sent as typed")
            }
            None => format!(
                "{value:?} is not a valid phone number with a country code (the workspace has \
                 no default region); sent as typed"
            ),
        })
    }

    /// A mapping naming an attribute that has no live definition to convert by.
    pub fn unbound_attribute(&self) -> bool {
        self.keva_field.attribute_key().is_some() && self.attribute.is_none()
    }

    /// Whether this is the name mapping that splits into firstname + lastname.
    pub fn splits_name(&self) -> bool {
        self.keva_field == KevaField::Name && self.hubspot_properties.len() == 2
    }

    /// A value on its way across: trimmed, transformed, `None` if that empties it.
    fn prepare(&self, value: &str) -> Option<String> {
        let trimmed = value.trim();
        let out = match self.transform {
            Some(t) => t.apply_in(trimmed, self.phone_region.as_deref()),
            None => trimmed.to_string(),
        };
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_string())
    }

    fn default_value(&self) -> Option<String> {
        clean(self.default.as_deref()).map(|v| v.trim().to_string())
    }
}

/// The mappings a new contact connector starts with (docs/sync-contract.md#default-mappings).
pub fn default_contact_mappings() -> Vec<FieldMapping> {
    use Direction::*;
    vec![
        FieldMapping::new(KevaField::Email, &["email"], Bidirectional),
        FieldMapping::new(KevaField::Name, &["firstname", "lastname"], Bidirectional),
        FieldMapping::new(KevaField::Phone, &["phone"], Bidirectional),
        FieldMapping::new(KevaField::Company, &["company"], Bidirectional),
        FieldMapping::new(KevaField::JobTitle, &["jobtitle"], Bidirectional),
        FieldMapping::new(KevaField::Notes, &["notes"], Bidirectional),
        FieldMapping::new(KevaField::Location, &["city"], ToCrm),
    ]
}

/// Binds each attribute mapping to its live definition in `specs` (retired or
/// unknown ones stay unbound: validation refuses them, the sync skips them).
pub fn bind_attributes(mappings: &mut [FieldMapping], specs: &[AttributeSpec]) {
    for m in mappings {
        m.attribute = m.keva_field.attribute_key().and_then(|k| {
            specs
                .iter()
                .find(|s| s.key == k.key() && !s.retired)
                .cloned()
        });
    }
}

/// `None` for a missing, empty or whitespace-only value.
pub fn clean(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// The HubSpot property values a Keva value becomes: every property of the mapping,
/// `""` meaning "clear it".
pub fn to_crm(mapping: &FieldMapping, keva_value: Option<&str>) -> BTreeMap<String, String> {
    let source = clean(keva_value)
        .and_then(|v| mapping.prepare(v))
        .or_else(|| mapping.default_value());
    let source = match &mapping.attribute {
        Some(spec) => source.and_then(|v| to_hubspot_format(spec, v)),
        None => source,
    };
    let mut out = BTreeMap::new();
    if mapping.splits_name() {
        let parts = source.map(|v| name::split(&v)).unwrap_or_default();
        out.insert(mapping.hubspot_properties[0].clone(), parts.first);
        out.insert(mapping.hubspot_properties[1].clone(), parts.last);
    } else {
        let value = source.unwrap_or_default();
        for p in &mapping.hubspot_properties {
            out.insert(p.clone(), value.clone());
        }
    }
    out
}

/// The Keva value HubSpot's properties become, `None` for "no value".
pub fn from_crm(mapping: &FieldMapping, props: &HubspotValues) -> Option<String> {
    let get = |p: &String| clean(props.get(p).and_then(|v| v.as_deref()));
    let raw = if mapping.splits_name() {
        let first = get(&mapping.hubspot_properties[0]).unwrap_or_default();
        let last = get(&mapping.hubspot_properties[1]).unwrap_or_default();
        Some(name::join(first, last))
    } else {
        mapping
            .hubspot_properties
            .iter()
            .find_map(get)
            .map(str::to_string)
    };
    let value = raw
        .and_then(|v| mapping.prepare(&v))
        .or_else(|| mapping.default_value());
    match &mapping.attribute {
        // A value that does not fit the attribute is returned as HubSpot has it
        // (so it never equals Keva's value); `crm_value_error` says why and the
        // merge does not write it.
        Some(spec) => value.map(|v| canonical_text(spec, &v).unwrap_or(v)),
        None => value,
    }
}

/// Why HubSpot's value cannot become the attribute's value, if it cannot (a
/// number property holding text, an option Keva does not define).
pub fn crm_value_error(mapping: &FieldMapping, props: &HubspotValues) -> Option<String> {
    let spec = mapping.attribute.as_ref()?;
    let raw = mapping
        .hubspot_properties
        .iter()
        .find_map(|p| clean(props.get(p).and_then(|v| v.as_deref())))
        .and_then(|v| mapping.prepare(v))?;
    crate::value_format::from_hubspot(spec, &raw).err()
}

/// The canonical value of a text (Keva's text form or a HubSpot string).
pub fn typed_value(spec: &AttributeSpec, text: &str) -> Result<Option<serde_json::Value>, String> {
    crate::value_format::from_hubspot(spec, text)
}

/// A text in the canonical text form of `spec`'s type; `None` if it does not fit.
pub fn canonical_text(spec: &AttributeSpec, text: &str) -> Option<String> {
    typed_value(spec, text)
        .ok()
        .flatten()
        .and_then(|v| text_of(&v))
}

/// Keva's text form as HubSpot's string for the type; a text that does not fit
/// (impossible for stored values, which are canonical) is sent as it is, for
/// HubSpot to refuse with its reason.
fn to_hubspot_format(spec: &AttributeSpec, text: String) -> Option<String> {
    match typed_value(spec, &text) {
        Ok(Some(v)) => crate::value_format::to_hubspot(spec, Some(&v))
            .ok()
            .filter(|s| !s.is_empty()),
        Ok(None) => None,
        Err(_) => Some(text),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hs(pairs: &[(&str, Option<&str>)]) -> HubspotValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn mapping(field: KevaField) -> FieldMapping {
        default_contact_mappings()
            .into_iter()
            .find(|m| m.keva_field == field)
            .expect("default mapping exists")
    }

    #[test]
    fn defaults_match_the_issue() {
        let m = default_contact_mappings();
        let find = |f| m.iter().find(|x| x.keva_field == f).expect("mapped");
        assert_eq!(
            find(KevaField::Name).hubspot_properties,
            ["firstname", "lastname"]
        );
        assert_eq!(find(KevaField::JobTitle).hubspot_properties, ["jobtitle"]);
        assert_eq!(find(KevaField::Location).hubspot_properties, ["city"]);
        assert_eq!(find(KevaField::Location).direction, Direction::ToCrm);
        assert!(m
            .iter()
            .filter(|x| x.keva_field != KevaField::Location)
            .all(|x| x.direction == Direction::Bidirectional));
        assert_eq!(m.len(), KevaField::ALL.len());
    }

    #[test]
    fn mapping_json_uses_the_api_spelling() {
        let json = serde_json::to_value(mapping(KevaField::Location)).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"kevaField": "location", "hubspotProperties": ["city"],
                "direction": "to_crm", "transform": null, "default": null})
        );
        let back: FieldMapping = serde_json::from_value(serde_json::json!(
            {"kevaField": "jobTitle", "hubspotProperties": ["jobtitle"], "transform": "trim"}))
        .expect("deserialize with defaults");
        assert_eq!(back.direction, Direction::Bidirectional);
        assert_eq!(back.transform, Some(Transform::Trim));
    }

    #[test]
    fn name_splits_to_hubspot_and_joins_back() {
        let m = mapping(KevaField::Name);
        let out = to_crm(&m, Some("Mary Jane Watson"));
        assert_eq!(out["firstname"], "Mary Jane");
        assert_eq!(out["lastname"], "Watson");
        let back = from_crm(
            &m,
            &hs(&[
                ("firstname", Some("Mary")),
                ("lastname", Some("Jane Watson")),
            ]),
        );
        assert_eq!(back.as_deref(), Some("Mary Jane Watson"));
        assert_eq!(
            from_crm(
                &m,
                &hs(&[("firstname", None), ("lastname", Some("Watson"))])
            )
            .as_deref(),
            Some("Watson")
        );
    }

    #[test]
    fn empty_values_clear_properties_and_read_as_none() {
        let m = mapping(KevaField::Name);
        let out = to_crm(&m, Some("   "));
        assert_eq!(out["firstname"], "");
        assert_eq!(out["lastname"], "");
        assert_eq!(
            from_crm(&m, &hs(&[("firstname", Some(" ")), ("lastname", None)])),
            None
        );
        assert_eq!(from_crm(&mapping(KevaField::Phone), &hs(&[])), None);
    }

    #[test]
    fn name_mapped_to_one_property_is_copied_whole() {
        let m = FieldMapping::new(KevaField::Name, &["full_name"], Direction::Bidirectional);
        assert_eq!(
            to_crm(&m, Some("Mary Jane Watson"))["full_name"],
            "Mary Jane Watson"
        );
    }

    #[test]
    fn transforms_and_defaults_apply_on_the_way_across() {
        let mut m = mapping(KevaField::Email);
        m.transform = Some(Transform::Lowercase);
        assert_eq!(
            to_crm(&m, Some("Jane@Example.COM"))["email"],
            "jane@example.com"
        );
        assert_eq!(
            from_crm(&m, &hs(&[("email", Some("X@Y.COM"))])).as_deref(),
            Some("x@y.com")
        );
        let mut c = mapping(KevaField::Company);
        c.default = Some("Unknown".into());
        assert_eq!(to_crm(&c, None)["company"], "Unknown");
        assert_eq!(
            from_crm(&c, &hs(&[("company", None)])).as_deref(),
            Some("Unknown")
        );
        assert_eq!(to_crm(&c, Some("Acme"))["company"], "Acme");
    }

    #[test]
    fn object_kind_and_direction_text() {
        assert_eq!(ObjectKind::parse("contact"), Some(ObjectKind::Contact));
        assert_eq!(ObjectKind::Company.hubspot_object_type(), "companies");
        assert_eq!(Direction::parse("TO_CRM"), Some(Direction::ToCrm));
        assert!(Direction::ToCrm.writes_crm() && !Direction::ToCrm.writes_keva());
        assert!(!Direction::FromCrm.writes_crm() && Direction::FromCrm.writes_keva());
    }

    proptest! {
        #[test]
        fn name_survives_to_crm_then_from_crm(v in "[A-Za-z]{1,6}( [A-Za-z.]{1,6}){0,4}") {
            let m = mapping(KevaField::Name);
            let props: HubspotValues = to_crm(&m, Some(&v))
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect();
            prop_assert_eq!(from_crm(&m, &props), Some(crate::name::normalize(&v)));
        }
    }
}
