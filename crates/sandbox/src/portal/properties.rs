//! Property definitions of one object type in one portal (HubSpot's properties API),
//! and the validation of written values against them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{iso_ms, ObjectType};

/// One option of an enumeration property.
#[derive(Debug, Clone)]
pub struct PropOption {
    pub label: String,
    pub value: String,
    pub description: String,
    pub display_order: i64,
    pub hidden: bool,
}

#[derive(Debug, Clone)]
pub struct PropertyDef {
    pub name: Arc<str>,
    pub label: String,
    pub ptype: String,
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    pub options: Vec<PropOption>,
    pub hubspot_defined: bool,
    pub read_only_value: bool,
    pub read_only_definition: bool,
    pub calculated: bool,
    pub has_unique_value: bool,
    pub form_field: bool,
    pub display_order: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl PropertyDef {
    pub fn is_numeric(&self) -> bool {
        self.ptype == "number"
    }

    pub fn is_date(&self) -> bool {
        self.ptype == "datetime" || self.ptype == "date"
    }

    /// HubSpot's `Property` JSON.
    pub fn to_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .map(|o| {
                json!({
                    "label": o.label,
                    "value": o.value,
                    "description": o.description,
                    "displayOrder": o.display_order,
                    "hidden": o.hidden,
                })
            })
            .collect();
        let mut v = json!({
            "name": &*self.name,
            "label": self.label,
            "type": self.ptype,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": options,
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": false,
            "hasUniqueValue": self.has_unique_value,
            "hidden": false,
            "hubspotDefined": self.hubspot_defined,
            "formField": self.form_field,
            "archived": false,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "dataSensitivity": "non_sensitive",
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
        });
        if self.hubspot_defined {
            if let Some(obj) = v.as_object_mut() {
                obj.remove("createdAt");
            }
        }
        v
    }
}

/// The property definitions of one object type, in display order.
#[derive(Debug, Clone, Default)]
pub struct PropertyRegistry {
    pub defs: Vec<PropertyDef>,
    by_name: HashMap<Arc<str>, usize>,
    /// Groups created through the groups API; the groups of HubSpot's default
    /// properties exist without being listed here.
    pub groups: Vec<PropertyGroup>,
}

/// A property group created through `POST /crm/v3/properties/{type}/groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyGroup {
    pub name: String,
    pub label: String,
    pub display_order: i64,
}

impl PropertyRegistry {
    pub fn for_type(ty: ObjectType, now_ms: i64) -> Self {
        let mut reg = Self::default();
        for def in super::defaults::default_properties(ty, now_ms) {
            reg.insert(def);
        }
        reg
    }

    pub fn insert(&mut self, def: PropertyDef) {
        match self.by_name.get(&def.name) {
            Some(&i) => self.defs[i] = def,
            None => {
                self.by_name.insert(def.name.clone(), self.defs.len());
                self.defs.push(def);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&PropertyDef> {
        self.by_name.get(name).map(|&i| &self.defs[i])
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut PropertyDef> {
        self.by_name
            .get(name)
            .copied()
            .map(move |i| &mut self.defs[i])
    }

    /// Every group, `(name, label)`, by name: the default properties' groups and
    /// the created ones.
    pub fn group_list(&self) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = self
            .defs
            .iter()
            .map(|d| (d.group_name.clone(), None))
            .chain(
                self.groups
                    .iter()
                    .map(|g| (g.name.clone(), Some(g.label.clone()))),
            )
            .collect();
        // A created group's label wins over a derived one of the same name.
        out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.is_some().cmp(&a.1.is_some())));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.name == name) || self.defs.iter().any(|d| d.group_name == name)
    }

    /// The shared name, so records do not allocate one per value.
    pub fn name_arc(&self, name: &str) -> Option<Arc<str>> {
        self.get(name).map(|d| d.name.clone())
    }

    /// Removes a custom property; HubSpot-defined ones cannot be removed.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(&i) = self.by_name.get(name) else {
            return false;
        };
        if self.defs[i].hubspot_defined {
            return false;
        }
        self.defs.remove(i);
        self.by_name = self
            .defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        true
    }
}

/// One failed value, as HubSpot lists them inside "Property values were not valid".
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidValue {
    pub name: String,
    pub error: &'static str,
    pub message: String,
}

impl InvalidValue {
    pub fn to_json(&self) -> Value {
        json!({
            "isValid": false,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        })
    }
}

/// HubSpot's 400 body for invalid property values.
pub fn invalid_values_error(invalid: &[InvalidValue]) -> crate::error::ErrorResponse {
    let list: Vec<Value> = invalid.iter().map(InvalidValue::to_json).collect();
    let message = format!(
        "Property values were not valid: {}",
        serde_json::to_string(&list).unwrap_or_default()
    );
    let mut err = crate::error::ErrorResponse::validation(message);
    for inv in invalid {
        err = err.error_detail(json!({
            "message": inv.message,
            "code": inv.error,
            "context": {"propertyName": [inv.name]},
        }));
    }
    err
}

/// Whether `email` is an address HubSpot would accept.
pub fn email_is_valid(email: &str) -> bool {
    let email = email.trim();
    if email.chars().any(char::is_whitespace) {
        return false;
    }
    match email.rsplit_once('@') {
        Some((_, domain)) if domain.contains('.') && !domain.ends_with('.') => {
            email_address::EmailAddress::is_valid(email)
        }
        _ => false,
    }
}

impl PropertyRegistry {
    /// Checks written values: unknown names, read-only values, bad emails, numbers and
    /// enumeration options. Returns every problem, as HubSpot lists them all.
    pub fn validate_write(
        &self,
        ty: ObjectType,
        props: &serde_json::Map<String, Value>,
    ) -> Vec<InvalidValue> {
        let mut invalid = Vec::new();
        for (name, value) in props {
            let text = value_text(value);
            let Some(def) = self.get(name) else {
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "PROPERTY_DOESNT_EXIST",
                    message: format!("Property \"{name}\" does not exist"),
                });
                continue;
            };
            if def.read_only_value {
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "READ_ONLY_VALUE",
                    message: format!(
                        "\"{name}\" is a read only property; its value cannot be set."
                    ),
                });
                continue;
            }
            if text.is_empty() {
                continue;
            }
            if ty == ObjectType::Contacts && name == "email" && !email_is_valid(&text) {
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "INVALID_EMAIL",
                    message: format!("Email address {text} is invalid"),
                });
            } else if def.is_numeric() && text.trim().parse::<f64>().is_err() {
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "INVALID_INTEGER",
                    message: format!("{text} was not a valid number."),
                });
            } else if def.is_date() && super::search::parse_time_ms(&text).is_none() {
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "INVALID_DATE",
                    message: format!("{text} was not a valid long or ISO-8601 date."),
                });
            } else if def.ptype == "date"
                && super::search::parse_time_ms(&text).is_some_and(|ms| ms % 86_400_000 != 0)
            {
                // HubSpot keeps a date property as a calendar day: any instant
                // other than midnight UTC is refused, not rounded.
                invalid.push(InvalidValue {
                    name: name.clone(),
                    error: "INVALID_DATE",
                    message: format!("{text} is not midnight UTC: date properties take a day"),
                });
            } else if def.ptype == "enumeration" && !def.options.is_empty() {
                let bad = text
                    .split(';')
                    .find(|v| !v.is_empty() && !def.options.iter().any(|o| o.value == *v));
                if let Some(bad) = bad {
                    let allowed: Vec<&str> = def.options.iter().map(|o| o.value.as_str()).collect();
                    invalid.push(InvalidValue {
                        name: name.clone(),
                        error: "INVALID_OPTION",
                        message: format!(
                            "{bad} was not one of the allowed options: [{}]",
                            allowed.join(", ")
                        ),
                    });
                }
            }
        }
        invalid
    }
}

/// A written JSON value as HubSpot stores it: strings as-is, numbers and bools as text.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
