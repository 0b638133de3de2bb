//! Custom attribute values: checking a value against its definition's type and
//! turning it into the one canonical form that is stored and compared.
//!
//! One canonical form per value matters because the store decides "did this
//! attribute change?" by equality, and the sync will compare Keva's value with
//! HubSpot's: `"2026-01-05"` and `"2026-01-05T00:00:00Z"` must not both be
//! stored for a `date`. Values are strict JSON types (a `number` is a JSON
//! number, not `"42"`), so a wrongly typed API call fails loudly instead of
//! being guessed at.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use crate::automap::KevaFieldType;

/// A customer's attribute values by key, in canonical form.
pub type AttributeValues = BTreeMap<String, Value>;

/// Attribute changes of an update: `Some` sets a value, `None` clears the key.
pub type AttributeChanges = BTreeMap<String, Option<Value>>;

/// HubSpot's limit for a single-line text property, applied so any value Keva
/// stores can also be written there.
pub const MAX_STRING_CHARS: usize = 65_536;

/// The longest attribute key.
pub const MAX_KEY_LEN: usize = 64;

/// Whether `key` is a well-formed attribute key: camelCase (a lowercase letter,
/// then letters and digits), at most [`MAX_KEY_LEN`] characters.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
        && key.len() <= MAX_KEY_LEN
}

/// A canonical value as text: what the sync compares and shows in history.
/// Strings, dates, datetimes and enum values as they are, numbers and booleans
/// in JSON notation, multi-selects `;`-joined (as HubSpot joins them); `None`
/// for "no value". [`crate::value_format::from_hubspot`] reads every one of
/// these back into the same canonical value.
pub fn text_of(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

/// What validation needs to know about one attribute definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeSpec {
    pub key: String,
    pub kind: KevaFieldType,
    /// Allowed values of an `enum` / `multi_enum`, in the definition's order.
    pub options: Vec<String>,
    /// A retired attribute keeps its stored values but accepts no writes.
    pub retired: bool,
}

/// Why an attribute value was refused; `Display` names the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError {
    pub key: String,
    pub reason: String,
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attribute {:?}: {}", self.key, self.reason)
    }
}

impl std::error::Error for AttributeError {}

/// Checks one value against its definition. `Ok(None)` means "no value" (an
/// empty string or empty list, which clear the attribute like `null` does).
pub fn canonical_value(spec: &AttributeSpec, value: &Value) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    match spec.kind {
        KevaFieldType::String | KevaFieldType::Phone | KevaFieldType::Email => {
            let s = expect_str(value, "a string")?.trim();
            if s.chars().count() > MAX_STRING_CHARS {
                return Err(format!("must be at most {MAX_STRING_CHARS} characters"));
            }
            Ok(non_empty(s).map(|s| Value::String(s.to_string())))
        }
        KevaFieldType::Number => match value {
            Value::Number(n) => Ok(Some(Value::Number(integral(n)))),
            _ => Err(format!("must be a number, got {}", json_kind(value))),
        },
        KevaFieldType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            _ => Err(format!("must be true or false, got {}", json_kind(value))),
        },
        KevaFieldType::Date => {
            let s = expect_str(value, "a date string YYYY-MM-DD")?.trim();
            let Some(s) = non_empty(s) else {
                return Ok(None);
            };
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("must be a date YYYY-MM-DD, got {s:?}"))?;
            Ok(Some(Value::String(date.format("%Y-%m-%d").to_string())))
        }
        KevaFieldType::Datetime => {
            let s = expect_str(value, "an RFC 3339 date-time string")?.trim();
            let Some(s) = non_empty(s) else {
                return Ok(None);
            };
            let t = DateTime::parse_from_rfc3339(s)
                .map_err(|_| format!("must be an RFC 3339 date-time with offset, got {s:?}"))?
                .with_timezone(&Utc);
            Ok(Some(Value::String(
                t.to_rfc3339_opts(SecondsFormat::Millis, true),
            )))
        }
        KevaFieldType::Enum => {
            let s = expect_str(value, "one of the attribute's options")?.trim();
            let Some(s) = non_empty(s) else {
                return Ok(None);
            };
            check_option(spec, s)?;
            Ok(Some(Value::String(s.to_string())))
        }
        KevaFieldType::MultiEnum => {
            let Value::Array(items) = value else {
                return Err(format!(
                    "must be a list of options, got {}",
                    json_kind(value)
                ));
            };
            let mut chosen = Vec::with_capacity(items.len());
            for item in items {
                let s = expect_str(item, "a list of option strings")?.trim();
                check_option(spec, s)?;
                chosen.push(s);
            }
            // Definition order, no duplicates: `["b","a","a"]` and `["a","b"]`
            // are the same selection and must compare equal.
            let canonical: Vec<Value> = spec
                .options
                .iter()
                .filter(|o| chosen.contains(&o.as_str()))
                .map(|o| Value::String(o.clone()))
                .collect();
            Ok((!canonical.is_empty()).then_some(Value::Array(canonical)))
        }
    }
}

/// Checks an API body's `attributes` object against the workspace's definitions
/// and returns the changes it asks for. Every key must be a defined, unretired
/// attribute. Errors name the first bad attribute in key order, so the answer
/// to the same body is always the same.
pub fn check_changes(
    specs: &[AttributeSpec],
    input: &serde_json::Map<String, Value>,
) -> Result<AttributeChanges, AttributeError> {
    let mut keys: Vec<&String> = input.keys().collect();
    keys.sort();
    let mut changes = AttributeChanges::new();
    for key in keys {
        let fail = |reason: String| AttributeError {
            key: key.clone(),
            reason,
        };
        let Some(spec) = specs.iter().find(|s| &s.key == key) else {
            return Err(fail(
                "no such attribute (define it under /api/customer-attributes first)".into(),
            ));
        };
        if spec.retired {
            return Err(fail(
                "the attribute is retired and accepts no values".into(),
            ));
        }
        let value = input.get(key).unwrap_or(&Value::Null);
        let canonical = canonical_value(spec, value).map_err(fail)?;
        changes.insert(key.clone(), canonical);
    }
    Ok(changes)
}

/// Applies changes to stored values; returns whether anything changed.
pub fn apply_changes(values: &mut AttributeValues, changes: &AttributeChanges) -> bool {
    let mut changed = false;
    for (key, value) in changes {
        let before = match value {
            Some(v) => values.insert(key.clone(), v.clone()),
            None => values.remove(key),
        };
        changed |= before.as_ref() != value.as_ref();
    }
    changed
}

/// A whole number held as a float (`1250.0`, how some sources send integers) as
/// the integer, so one number has one stored form.
fn integral(n: &serde_json::Number) -> serde_json::Number {
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            // In range and whole: the cast is exact.
            serde_json::Number::from(f as i64)
        }
        _ => n.clone(),
    }
}

fn expect_str<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("must be {what}, got {}", json_kind(value)))
}

fn check_option(spec: &AttributeSpec, s: &str) -> Result<(), String> {
    if spec.options.iter().any(|o| o == s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not one of the options [{}]",
            spec.options.join(", ")
        ))
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(key: &str, kind: KevaFieldType) -> AttributeSpec {
        AttributeSpec {
            key: key.into(),
            kind,
            options: vec!["free".into(), "pro".into(), "team".into()],
            retired: false,
        }
    }

    fn ok(kind: KevaFieldType, v: Value) -> Option<Value> {
        canonical_value(&spec("k", kind), &v).expect("valid")
    }

    fn err(kind: KevaFieldType, v: Value) -> String {
        canonical_value(&spec("k", kind), &v).expect_err("invalid")
    }

    #[test]
    fn values_take_one_canonical_form() {
        assert_eq!(
            ok(KevaFieldType::String, json!("  Ann ")),
            Some(json!("Ann"))
        );
        assert_eq!(ok(KevaFieldType::String, json!("  ")), None);
        assert_eq!(ok(KevaFieldType::Number, json!(12.5)), Some(json!(12.5)));
        assert_eq!(ok(KevaFieldType::Boolean, json!(false)), Some(json!(false)));
        assert_eq!(
            ok(KevaFieldType::Date, json!("2026-01-05")),
            Some(json!("2026-01-05"))
        );
        assert_eq!(
            ok(KevaFieldType::Datetime, json!("2026-01-05T10:00:00+02:00")),
            Some(json!("2026-01-05T08:00:00.000Z"))
        );
        assert_eq!(ok(KevaFieldType::Enum, json!("pro")), Some(json!("pro")));
        assert_eq!(
            ok(KevaFieldType::MultiEnum, json!(["team", "free", "team"])),
            Some(json!(["free", "team"]))
        );
        assert_eq!(ok(KevaFieldType::MultiEnum, json!([])), None);
        assert_eq!(ok(KevaFieldType::Number, Value::Null), None);
    }

    #[test]
    fn wrong_types_are_refused_with_the_reason() {
        assert!(err(KevaFieldType::Number, json!("42")).contains("must be a number"));
        assert!(err(KevaFieldType::Boolean, json!("yes")).contains("true or false"));
        assert!(err(KevaFieldType::Date, json!("05/01/2026")).contains("YYYY-MM-DD"));
        assert!(err(KevaFieldType::Date, json!("2026-02-30")).contains("YYYY-MM-DD"));
        assert!(err(KevaFieldType::Datetime, json!("2026-01-05T10:00:00")).contains("RFC 3339"));
        assert!(err(KevaFieldType::Enum, json!("Pro")).contains("not one of the options"));
        assert!(err(KevaFieldType::MultiEnum, json!("pro")).contains("list of options"));
        assert!(err(KevaFieldType::MultiEnum, json!(["pro", "gold"])).contains("\"gold\""));
        let long = "x".repeat(MAX_STRING_CHARS + 1);
        assert!(err(KevaFieldType::String, json!(long)).contains("at most"));
    }

    #[test]
    fn changes_name_the_first_bad_attribute_and_refuse_unknown_or_retired() {
        let mut retired = spec("oldPlan", KevaFieldType::String);
        retired.retired = true;
        let specs = vec![
            spec("mrr", KevaFieldType::Number),
            spec("plan", KevaFieldType::Enum),
            retired,
        ];
        let body = |v: Value| v.as_object().cloned().expect("object");

        let changes =
            check_changes(&specs, &body(json!({"mrr": 10, "plan": null}))).expect("valid changes");
        assert_eq!(changes["mrr"], Some(json!(10)));
        assert_eq!(changes["plan"], None);

        let e = check_changes(&specs, &body(json!({"plan": "gold", "mrr": "x"})))
            .expect_err("both invalid");
        assert_eq!(e.key, "mrr");
        assert!(e.to_string().starts_with("attribute \"mrr\":"));

        let e = check_changes(&specs, &body(json!({"nope": 1}))).expect_err("unknown");
        assert!(e.reason.contains("no such attribute"));
        let e = check_changes(&specs, &body(json!({"oldPlan": "x"}))).expect_err("retired");
        assert!(e.reason.contains("retired"));
    }

    #[test]
    fn applying_changes_merges_and_reports_real_changes() {
        let mut values = AttributeValues::from([("mrr".to_string(), json!(10))]);
        let same = AttributeChanges::from([("mrr".to_string(), Some(json!(10)))]);
        assert!(!apply_changes(&mut values, &same));
        let clear_missing = AttributeChanges::from([("plan".to_string(), None)]);
        assert!(!apply_changes(&mut values, &clear_missing));
        let changes = AttributeChanges::from([
            ("mrr".to_string(), None),
            ("plan".to_string(), Some(json!("pro"))),
        ]);
        assert!(apply_changes(&mut values, &changes));
        assert_eq!(
            values,
            AttributeValues::from([("plan".to_string(), json!("pro"))])
        );
    }
}
