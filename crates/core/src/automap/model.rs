//! What auto-mapping reads and writes: Keva field specs, HubSpot properties (as the
//! properties API returns them) and the suggestions.

use serde::{Deserialize, Serialize};

use crate::customer::KevaField;
use crate::mapping::Direction;
use crate::validate::PropertyInfo;

/// The value type of a Keva field, built-in or custom attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KevaFieldType {
    String,
    Number,
    Date,
    Datetime,
    Boolean,
    Enum,
    MultiEnum,
    Phone,
    Email,
}

impl KevaFieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Boolean => "boolean",
            Self::Enum => "enum",
            Self::MultiEnum => "multi_enum",
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// A Keva field as auto-mapping sees it: the built-ins and custom attributes alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KevaFieldSpec {
    /// camelCase key (`jobTitle`, `mrr`, `signupDate`).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: KevaFieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Option values of an `enum` / `multi_enum` attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl KevaFieldSpec {
    pub fn new(key: &str, kind: KevaFieldType) -> Self {
        Self {
            key: key.into(),
            label: None,
            kind,
            description: None,
            options: Vec::new(),
        }
    }

    /// The spec of a built-in customer field: email → email, phone → phone, the
    /// rest strings.
    pub fn builtin(field: KevaField) -> Self {
        let kind = match field {
            KevaField::Email => KevaFieldType::Email,
            KevaField::Phone => KevaFieldType::Phone,
            _ => KevaFieldType::String,
        };
        Self::new(field.as_str(), kind)
    }

    /// The seven built-in customer fields.
    pub fn builtins() -> Vec<Self> {
        KevaField::ALL.iter().map(|f| Self::builtin(*f)).collect()
    }
}

/// One option of an enumeration property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PropertyOption {
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub value: String,
}

/// `modificationMetadata` of a property; only the flag auto-mapping needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    #[serde(default)]
    pub read_only_value: bool,
}

/// A HubSpot property with every signal auto-mapping uses. Unknown JSON fields are
/// ignored and missing ones default, so a raw properties-API response parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HubspotProperty {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub group_name: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool`, `phone_number`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub hubspot_defined: bool,
    #[serde(default)]
    pub calculated: bool,
    #[serde(default)]
    pub modification_metadata: ModificationMetadata,
}

impl HubspotProperty {
    /// HubSpot refuses writes to it (read-only value or calculated).
    pub fn read_only(&self) -> bool {
        self.calculated || self.modification_metadata.read_only_value
    }
}

impl From<&PropertyInfo> for HubspotProperty {
    /// The few fields [`PropertyInfo`] has; `hs_*` names count as HubSpot-defined.
    fn from(p: &PropertyInfo) -> Self {
        Self {
            name: p.name.clone(),
            label: p.label.clone(),
            kind: p.kind.clone(),
            field_type: p.field_type.clone(),
            hubspot_defined: p.name.starts_with("hs_"),
            ..Self::default()
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    results: Vec<HubspotProperty>,
}

/// Parses a saved `GET /crm/v3/properties/{object}` response (`{"results": [...]}`),
/// or a bare array of properties.
pub fn parse_properties(json: &str) -> Result<Vec<HubspotProperty>, serde_json::Error> {
    if json.trim_start().starts_with('[') {
        serde_json::from_str(json)
    } else {
        serde_json::from_str::<Envelope>(json).map(|e| e.results)
    }
}

/// A runner-up for a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub property: String,
    pub confidence: f64,
}

/// The auto-mapping answer for one Keva field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub key: String,
    /// The best property, or `None` for "no match".
    pub property: Option<String>,
    /// Further properties of the same mapping: `lastname` when `name` is split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Calibrated probability that `property` is right (0 for no match).
    pub confidence: f64,
    pub reason: String,
    pub direction: Direction,
    /// Up to two runners-up not taken by another field.
    pub alternatives: Vec<Alternative>,
    /// The uncalibrated score behind `confidence`, for calibration fits.
    #[serde(skip)]
    pub raw_score: f64,
}
