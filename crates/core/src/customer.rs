//! Keva customers: the support platform's side of a link.
//!
//! A customer's email is stored as text, not as `Email`, on purpose: customers can
//! arrive from imports with addresses HubSpot would refuse, and the sync must be able
//! to hold them and say why they are not synced, rather than lose them. The HTTP API
//! still refuses invalid emails on create and update.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::attribute::{AttributeChanges, AttributeValues};

/// What a mapping can name on the Keva side: one of the seven built-in profile
/// fields, or a custom attribute. `as_str` is the wire name used in the API, in
/// mappings, bases and field times (`jobTitle`, `attributes.plan`).
///
/// Why one enum with an interned attribute key rather than a second target type:
/// the merge, plans, bases, history, warnings and field times are all keyed by
/// `KevaField` and copy it freely, and the built-in paths stay exactly as they
/// were; an attribute is just one more key whose value is its typed value's text
/// form (see [`crate::attribute::text_of`]), converted to and from HubSpot's
/// formats by the mapping's bound [`crate::AttributeSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KevaField {
    Email,
    Name,
    Phone,
    Company,
    JobTitle,
    Location,
    Notes,
    /// A custom attribute (`attributes.<key>`).
    Attribute(AttributeKey),
}

/// A custom attribute's key as a mapping target. It holds the interned wire name
/// (`attributes.plan`), which is what keeps [`KevaField`] `Copy` and lets
/// `as_str` hand out a `&'static str` like the built-ins do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeKey(&'static str);

impl AttributeKey {
    /// What an attribute's wire name starts with.
    pub const PREFIX: &'static str = "attributes.";

    /// The key of a well-formed attribute key (see
    /// [`crate::attribute::valid_key`]); `None` otherwise.
    pub fn new(key: &str) -> Option<Self> {
        if !crate::attribute::valid_key(key) {
            return None;
        }
        crate::intern::intern(&format!("{}{key}", Self::PREFIX)).map(Self)
    }

    /// The attribute's key (`plan`).
    pub fn key(self) -> &'static str {
        self.0.get(Self::PREFIX.len()..).unwrap_or_default()
    }

    /// The wire name (`attributes.plan`).
    pub fn wire(self) -> &'static str {
        self.0
    }
}

impl KevaField {
    /// The built-in fields (attributes are per workspace).
    pub const ALL: [KevaField; 7] = [
        KevaField::Email,
        KevaField::Name,
        KevaField::Phone,
        KevaField::Company,
        KevaField::JobTitle,
        KevaField::Location,
        KevaField::Notes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KevaField::Email => "email",
            KevaField::Name => "name",
            KevaField::Phone => "phone",
            KevaField::Company => "company",
            KevaField::JobTitle => "jobTitle",
            KevaField::Location => "location",
            KevaField::Notes => "notes",
            KevaField::Attribute(k) => k.wire(),
        }
    }

    /// A built-in field by name (any case), or `attributes.<key>`, interning the
    /// key: only for names read back from the store (see [`crate::intern`]);
    /// a name from a request goes through [`FieldName`] instead.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(key) = s.strip_prefix(AttributeKey::PREFIX) {
            return AttributeKey::new(key).map(KevaField::Attribute);
        }
        Self::builtin(s)
    }

    /// A built-in field by name (any case); `None` for anything else,
    /// attributes included. Never interns.
    pub fn builtin(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
    }

    /// The field of a custom attribute's key; `None` for a malformed key.
    pub fn attribute(key: &str) -> Option<Self> {
        AttributeKey::new(key).map(KevaField::Attribute)
    }

    /// The attribute key, for an attribute field.
    pub fn attribute_key(self) -> Option<AttributeKey> {
        match self {
            KevaField::Attribute(k) => Some(k),
            _ => None,
        }
    }
}

/// A Keva field as a request names it (`jobTitle`, `attributes.plan`), before
/// it is checked against the workspace's attribute definitions.
///
/// Why not [`KevaField`] straight away: making an attribute's `KevaField`
/// interns its key for the life of the process, and requests are free to name
/// any well-formed key. Request types hold this instead, and
/// [`FieldName::resolve`] makes the `KevaField` only for a key the caller's
/// workspace defines, so a made-up key is refused without being interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldName {
    Builtin(KevaField),
    /// A well-formed attribute key (`plan`), not interned.
    Attribute(String),
}

impl FieldName {
    /// A built-in field by name (any case), or `attributes.<key>` with a
    /// well-formed key; `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(key) = s.strip_prefix(AttributeKey::PREFIX) {
            return crate::attribute::valid_key(key).then(|| FieldName::Attribute(key.to_string()));
        }
        KevaField::builtin(s).map(FieldName::Builtin)
    }

    /// The wire name (`jobTitle`, `attributes.plan`).
    pub fn wire(&self) -> Cow<'_, str> {
        match self {
            FieldName::Builtin(f) => Cow::Borrowed(f.as_str()),
            FieldName::Attribute(key) => Cow::Owned(format!("{}{key}", AttributeKey::PREFIX)),
        }
    }

    /// Whether this names `field` (compares without interning).
    pub fn names(&self, field: KevaField) -> bool {
        match (self, field) {
            (FieldName::Builtin(a), b) => *a == b,
            (FieldName::Attribute(key), KevaField::Attribute(k)) => k.key() == key,
            _ => false,
        }
    }

    /// The field, when it is a built-in or an attribute `is_defined` says the
    /// workspace defines; otherwise why not, naming it. Only a defined key is
    /// interned.
    pub fn resolve(&self, is_defined: impl Fn(&str) -> bool) -> Result<KevaField, String> {
        match self {
            FieldName::Builtin(f) => Ok(*f),
            FieldName::Attribute(key) if is_defined(key) => KevaField::attribute(key)
                .ok_or_else(|| format!("{}: too many attribute keys in use", self.wire())),
            FieldName::Attribute(_) => Err(format!(
                "{}: no such attribute (define it under /api/customer-attributes first)",
                self.wire()
            )),
        }
    }
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FieldName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Keva field (email, name, phone, company, jobTitle, location, notes) or attributes.<key>")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldName, E> {
                FieldName::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown Keva field {v:?}: expected email, name, phone, company, \
                         jobTitle, location, notes or attributes.<camelCaseKey>"
                    ))
                })
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl Serialize for KevaField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Interns an attribute's key, so it is for stored data only (saved mappings,
/// whose attributes were checked when saved); request types use [`FieldName`].
impl<'de> Deserialize<'de> for KevaField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KevaField;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Keva field (email, name, phone, company, jobTitle, location, notes) or attributes.<key>")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KevaField, E> {
                KevaField::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown Keva field {v:?}: expected email, name, phone, company, \
                         jobTitle, location, notes or attributes.<camelCaseKey>"
                    ))
                })
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Custom attribute values by key, canonical (see [`crate::attribute`]).
    #[serde(default)]
    pub attributes: AttributeValues,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The value of one profile field, `None` when empty; an attribute's value in
    /// its text form ([`crate::attribute::text_of`]).
    pub fn field(&self, f: KevaField) -> Option<Cow<'_, str>> {
        let v = match f {
            KevaField::Email => Some(self.email.as_str()),
            KevaField::Name => self.name.as_deref(),
            KevaField::Phone => self.phone.as_deref(),
            KevaField::Company => self.company.as_deref(),
            KevaField::JobTitle => self.job_title.as_deref(),
            KevaField::Location => self.location.as_deref(),
            KevaField::Notes => self.notes.as_deref(),
            KevaField::Attribute(k) => {
                return self
                    .attributes
                    .get(k.key())
                    .and_then(crate::attribute::text_of)
                    .map(Cow::Owned)
            }
        };
        v.filter(|s| !s.is_empty()).map(Cow::Borrowed)
    }
}

/// The editable profile fields; `None` means "leave as is" in an update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    /// Attribute keys to set (`Some`) or clear (`None`); keys not named stay.
    #[serde(default, skip_serializing_if = "AttributeChanges::is_empty")]
    pub attributes: AttributeChanges,
}

impl CustomerPatch {
    pub fn is_empty(&self) -> bool {
        *self == CustomerPatch::default()
    }

    /// The fields this patch sets, for per-field change timestamps.
    pub fn fields(&self) -> Vec<KevaField> {
        KevaField::ALL
            .into_iter()
            .filter(|f| self.get(*f).is_some())
            .collect()
    }

    pub fn get(&self, f: KevaField) -> Option<&str> {
        match f {
            KevaField::Email => self.email.as_deref(),
            KevaField::Name => self.name.as_deref(),
            KevaField::Phone => self.phone.as_deref(),
            KevaField::Company => self.company.as_deref(),
            KevaField::JobTitle => self.job_title.as_deref(),
            KevaField::Location => self.location.as_deref(),
            KevaField::Notes => self.notes.as_deref(),
            // Attribute changes are typed values in `attributes`.
            KevaField::Attribute(_) => None,
        }
    }

    /// Sets a built-in field. An attribute takes its value as a string here;
    /// typed values go through [`CustomerPatch::set_attribute`].
    pub fn set(&mut self, f: KevaField, v: Option<String>) {
        let slot = match f {
            KevaField::Email => &mut self.email,
            KevaField::Name => &mut self.name,
            KevaField::Phone => &mut self.phone,
            KevaField::Company => &mut self.company,
            KevaField::JobTitle => &mut self.job_title,
            KevaField::Location => &mut self.location,
            KevaField::Notes => &mut self.notes,
            KevaField::Attribute(k) => {
                let value = v.filter(|s| !s.is_empty()).map(serde_json::Value::String);
                self.attributes.insert(k.key().to_string(), value);
                return;
            }
        };
        *slot = v;
    }

    /// Sets (`Some`) or clears (`None`) an attribute's canonical value.
    pub fn set_attribute(&mut self, key: AttributeKey, value: Option<serde_json::Value>) {
        self.attributes.insert(key.key().to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_have_one_wire_name_each_way() {
        let plan = KevaField::attribute("plan").expect("key");
        assert_eq!(plan.as_str(), "attributes.plan");
        assert_eq!(plan.attribute_key().map(AttributeKey::key), Some("plan"));
        for f in KevaField::ALL.into_iter().chain([plan]) {
            let json = serde_json::to_value(f).expect("serialize");
            assert_eq!(json, f.as_str());
            assert_eq!(serde_json::from_value::<KevaField>(json).expect("parse"), f);
        }
        assert_eq!(KevaField::parse("JOBTITLE"), Some(KevaField::JobTitle));
        for bad in [
            "attributes.",
            "attributes.Plan",
            "attributes.a-b",
            "plan",
            "attributes.x.y",
        ] {
            assert_eq!(KevaField::parse(bad), None, "{bad}");
        }
        let err =
            serde_json::from_value::<KevaField>(serde_json::json!("salary")).expect_err("unknown");
        assert!(
            err.to_string().contains("attributes.<camelCaseKey>"),
            "{err}"
        );
    }

    #[test]
    fn a_request_field_name_interns_only_defined_keys() {
        let made_up: Vec<String> = (0..50).map(|i| format!("madeUpUnit{i}")).collect();
        let before = crate::interned_count();
        for key in &made_up {
            let wire = format!("attributes.{key}");
            let name: FieldName =
                serde_json::from_value(serde_json::json!(wire)).expect("well formed");
            let err = name.resolve(|k| k == "definedUnit").expect_err("undefined");
            assert!(
                err.contains(&wire) && err.contains("no such attribute"),
                "{err}"
            );
            assert!(!crate::is_interned(&wire), "{wire} interned");
        }
        // Other tests may intern their own keys meanwhile, never these.
        assert!(made_up
            .iter()
            .all(|k| !crate::is_interned(&format!("attributes.{k}"))));
        assert!(crate::interned_count() >= before);

        let defined = FieldName::parse("attributes.definedUnit").expect("well formed");
        let field = defined.resolve(|k| k == "definedUnit").expect("defined");
        assert_eq!(field.as_str(), "attributes.definedUnit");
        assert!(defined.names(field));
        assert!(crate::is_interned("attributes.definedUnit"));

        let job = FieldName::parse("JOBTITLE").expect("built-in");
        assert_eq!(job.resolve(|_| false), Ok(KevaField::JobTitle));
        assert!(job.names(KevaField::JobTitle) && !job.names(field));
        for bad in ["attributes.", "attributes.Plan", "plan", "attributes.x.y"] {
            assert_eq!(FieldName::parse(bad), None, "{bad}");
        }
        let err =
            serde_json::from_value::<FieldName>(serde_json::json!("salary")).expect_err("unknown");
        assert!(
            err.to_string().contains("attributes.<camelCaseKey>"),
            "{err}"
        );
    }

    #[test]
    fn field_times_keep_attribute_keys() {
        let times = std::collections::BTreeMap::from([
            (KevaField::Email, 1),
            (KevaField::attribute("mrr").expect("key"), 2),
        ]);
        let json = serde_json::to_string(&times).expect("serialize");
        assert_eq!(json, r#"{"email":1,"attributes.mrr":2}"#);
        let back: std::collections::BTreeMap<KevaField, i64> =
            serde_json::from_str(&json).expect("parse");
        assert_eq!(back, times);
    }
}
