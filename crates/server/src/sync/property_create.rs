//! Creating the HubSpot properties a mapping save names but the portal lacks,
//! when the save asks for it (`createMissingProperties` on
//! `PUT /api/crm/hubspot/mappings`): a custom property whose type fits the Keva
//! field (an attribute's type; text for the built-ins, a phone number for
//! `phone`), in a `keva` property group that is created first when missing.
//!
//! The planned properties are what the save validates against before anything
//! is created, so a save that would be refused creates nothing.

use keva_core::automap::{KevaFieldSpec, KevaFieldType};
use keva_core::{FieldMapping, KevaField, ObjectKind, PropertyInfo};
use keva_hubspot::models::{PropertyCreate, PropertyGroup, PropertyOption};
use keva_hubspot::{HubspotClient, HubspotError};

use crate::sync::properties::object_type;

/// The group Keva's properties are created in.
pub const GROUP: &str = "keva";
const GROUP_LABEL: &str = "Keva";

/// HubSpot's `type` and `fieldType` for a property holding values of `kind`.
pub fn hubspot_type(kind: KevaFieldType) -> (&'static str, &'static str) {
    match kind {
        KevaFieldType::Number => ("number", "number"),
        KevaFieldType::Date => ("date", "date"),
        KevaFieldType::Datetime => ("datetime", "date"),
        KevaFieldType::Boolean => ("bool", "booleancheckbox"),
        KevaFieldType::Enum => ("enumeration", "select"),
        KevaFieldType::MultiEnum => ("enumeration", "checkbox"),
        KevaFieldType::Phone => ("phone_number", "phonenumber"),
        KevaFieldType::String | KevaFieldType::Email => ("string", "text"),
    }
}

/// The property to create for `name`, mapped by `m` (bound); `label` is the
/// attribute's label when it has one.
pub fn planned(m: &FieldMapping, name: &str, label: Option<&str>) -> PropertyCreate {
    let kind = match &m.attribute {
        Some(spec) => spec.kind,
        None => KevaFieldSpec::builtin(m.keva_field).kind,
    };
    let (ptype, mut field_type) = hubspot_type(kind);
    if m.keva_field == KevaField::Notes {
        field_type = "textarea";
    }
    let option = |value: &str, label: &str| PropertyOption {
        label: label.to_string(),
        value: value.to_string(),
        hidden: false,
        description: None,
        display_order: None,
    };
    let options = match (&m.attribute, kind) {
        (_, KevaFieldType::Boolean) => vec![option("true", "Yes"), option("false", "No")],
        (Some(spec), KevaFieldType::Enum | KevaFieldType::MultiEnum) => {
            spec.options.iter().map(|o| option(o, o)).collect()
        }
        _ => Vec::new(),
    };
    PropertyCreate {
        name: name.to_string(),
        label: label.map_or_else(|| name.to_string(), str::to_string),
        kind: ptype.into(),
        field_type: field_type.into(),
        group_name: GROUP.into(),
        description: Some(format!(
            "Synced with Keva's {} by Keva Sync.",
            m.keva_field.as_str()
        )),
        options,
        has_unique_value: None,
        form_field: None,
    }
}

/// Whether HubSpot accepts `name` as a property's internal name (a lowercase
/// letter, then lowercase letters, digits and underscores): only such names
/// are planned; others stay "doesn't exist", with the usual suggestion.
pub fn creatable_name(name: &str) -> bool {
    name.len() <= keva_core::validate::MAX_PROPERTY_NAME_LEN
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// How a planned property shows in the portal's property list (what the save
/// validates against before creating it).
pub fn as_info(p: &PropertyCreate) -> PropertyInfo {
    PropertyInfo::new(&p.name, &p.label, &p.kind, &p.field_type)
}

/// Creates the `keva` group if the portal lacks it, then each planned property.
/// A property that appeared meanwhile (409) counts as created. Stops at the
/// first failure, naming the property.
pub async fn create(
    client: &HubspotClient,
    object: ObjectKind,
    planned: &[PropertyCreate],
) -> Result<(), (String, HubspotError)> {
    let api = client.properties(object_type(object));
    let group = PropertyGroup {
        name: GROUP.into(),
        label: GROUP_LABEL.into(),
        display_order: None,
    };
    match api.create_group(&group).await {
        Ok(_) => {}
        Err(e) if e.is_conflict() => {}
        Err(e) => return Err((format!("the '{GROUP}' property group"), e)),
    }
    for p in planned {
        match api.create(p).await {
            Ok(_) => {}
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err((format!("property '{}'", p.name), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keva_core::{AttributeSpec, Direction};

    #[test]
    fn a_planned_property_fits_its_field_type() {
        let field = KevaField::attribute("tier").expect("key");
        let mut m = FieldMapping::new(field, &["tier"], Direction::Bidirectional);
        m.attribute = Some(AttributeSpec {
            key: "tier".into(),
            kind: KevaFieldType::MultiEnum,
            options: vec!["gold".into(), "silver".into()],
            retired: false,
        });
        let p = planned(&m, "tier", Some("Tier"));
        assert_eq!(
            (p.kind.as_str(), p.field_type.as_str()),
            ("enumeration", "checkbox")
        );
        assert_eq!(p.group_name, GROUP);
        assert_eq!(p.label, "Tier");
        let values: Vec<_> = p.options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(values, ["gold", "silver"]);
        for kind in [
            KevaFieldType::Number,
            KevaFieldType::Date,
            KevaFieldType::Datetime,
            KevaFieldType::Boolean,
            KevaFieldType::Enum,
            KevaFieldType::MultiEnum,
            KevaFieldType::Phone,
            KevaFieldType::String,
        ] {
            let (t, ft) = hubspot_type(kind);
            assert_eq!(
                keva_core::automap::suggest::type_fit(kind, t, ft),
                Ok(false),
                "{kind:?} fits {t}/{ft} both ways"
            );
        }
        let notes = FieldMapping::new(KevaField::Notes, &["notes"], Direction::Bidirectional);
        assert_eq!(planned(&notes, "notes", None).field_type, "textarea");
    }
}
