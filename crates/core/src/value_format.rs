//! HubSpot's property value formats for typed attribute values, both ways.
//!
//! HubSpot takes and gives every property value as a string, with a format per
//! property type: plain decimals for numbers (scientific notation is refused),
//! `"true"`/`"false"` for booleans, dates as epoch milliseconds at exactly
//! midnight UTC (any other instant is an `INVALID_DATE`), datetimes as UTC ISO
//! 8601, enumerations by option *value*, multi-selects joined with `;` (no
//! leading `;`, which would append instead of replace). Reads are lenient (dates
//! may come back as `YYYY-MM-DD`, ISO or epoch ms; old booleans may hold junk
//! such as `"Yes"`), writes are strict, and every read ends in
//! [`canonical_value`] so a value that went to HubSpot and back compares equal
//! to the one Keva stored.

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::attribute::{canonical_value, AttributeSpec};
use crate::automap::KevaFieldType;

/// A canonical Keva value as the string HubSpot expects; `""` clears.
pub fn to_hubspot(spec: &AttributeSpec, value: Option<&Value>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let Some(value) = canonical_value(spec, value)? else {
        return Ok(String::new());
    };
    Ok(match (spec.kind, &value) {
        (KevaFieldType::Number, Value::Number(n)) => plain_decimal(n)?,
        (KevaFieldType::Boolean, Value::Bool(b)) => b.to_string(),
        (KevaFieldType::Date, Value::String(s)) => {
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| e.to_string())?;
            Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
                .timestamp_millis()
                .to_string()
        }
        (KevaFieldType::MultiEnum, Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(";"),
        // Strings, enums (already an option value) and datetimes (already UTC
        // ISO with milliseconds) are sent as they are stored.
        (_, Value::String(s)) => s.clone(),
        (_, other) => return Err(format!("cannot send {other} as a {}", spec.kind.as_str())),
    })
}

/// A HubSpot property string as a canonical Keva value; `Ok(None)` when empty.
/// An error says why the value does not fit the attribute (a number property
/// holding text, an option Keva does not define).
pub fn from_hubspot(spec: &AttributeSpec, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let value = match spec.kind {
        KevaFieldType::Number => Value::Number(parse_number(raw)?),
        KevaFieldType::Boolean => Value::Bool(parse_bool(raw)?),
        KevaFieldType::Date => {
            let date = parse_instant(raw)
                .map(|t| t.date_naive())
                .or_else(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
                .ok_or_else(|| format!("{raw:?} is not a date"))?;
            Value::String(date.format("%Y-%m-%d").to_string())
        }
        KevaFieldType::Datetime => {
            let t = parse_instant(raw).ok_or_else(|| format!("{raw:?} is not a date-time"))?;
            Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
        }
        KevaFieldType::MultiEnum => Value::Array(
            raw.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        KevaFieldType::String
        | KevaFieldType::Enum
        | KevaFieldType::Phone
        | KevaFieldType::Email => Value::String(raw.to_string()),
    };
    canonical_value(spec, &value)
}

/// Display of a finite f64 in Rust never uses an exponent, which is what
/// HubSpot's number validation wants.
fn plain_decimal(n: &serde_json::Number) -> Result<String, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i.to_string());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.to_string());
    }
    n.as_f64()
        .filter(|f| f.is_finite())
        .map(|f| f.to_string())
        .ok_or_else(|| format!("{n} is not a finite number"))
}

fn parse_number(raw: &str) -> Result<serde_json::Number, String> {
    if let Ok(i) = raw.parse::<i64>() {
        return Ok(i.into());
    }
    raw.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .ok_or_else(|| format!("{raw:?} is not a number"))
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("{raw:?} is not a boolean")),
    }
}

/// Epoch milliseconds or RFC 3339, the two forms HubSpot hands back for instants.
fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if raw.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        if let Ok(ms) = raw.parse::<i64>() {
            return Utc.timestamp_millis_opt(ms).single();
        }
    }
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: KevaFieldType) -> AttributeSpec {
        AttributeSpec {
            key: "k".into(),
            kind,
            options: vec!["free".into(), "pro".into(), "team".into()],
            retired: false,
        }
    }

    fn out(kind: KevaFieldType, v: Value) -> String {
        to_hubspot(&spec(kind), Some(&v)).expect("sendable")
    }

    fn back(kind: KevaFieldType, raw: &str) -> Option<Value> {
        from_hubspot(&spec(kind), raw).expect("readable")
    }

    #[test]
    fn writes_use_hubspot_formats() {
        assert_eq!(out(KevaFieldType::Number, json!(1250)), "1250");
        assert_eq!(
            out(KevaFieldType::Number, json!(0.00000000000001)),
            "0.00000000000001"
        );
        assert_eq!(out(KevaFieldType::Number, json!(-3.5)), "-3.5");
        assert_eq!(out(KevaFieldType::Boolean, json!(true)), "true");
        assert_eq!(
            out(KevaFieldType::Date, json!("2026-01-05")),
            "1767571200000"
        );
        assert_eq!(
            out(KevaFieldType::Datetime, json!("2026-01-05T10:00:00+02:00")),
            "2026-01-05T08:00:00.000Z"
        );
        assert_eq!(out(KevaFieldType::Enum, json!("pro")), "pro");
        assert_eq!(
            out(KevaFieldType::MultiEnum, json!(["team", "free"])),
            "free;team"
        );
        assert_eq!(
            to_hubspot(&spec(KevaFieldType::Number), None),
            Ok(String::new())
        );
        assert!(to_hubspot(&spec(KevaFieldType::Enum), Some(&json!("gold"))).is_err());
    }

    #[test]
    fn reads_accept_what_hubspot_returns() {
        assert_eq!(back(KevaFieldType::Number, "1250"), Some(json!(1250)));
        assert_eq!(back(KevaFieldType::Number, "12.50"), Some(json!(12.5)));
        assert_eq!(back(KevaFieldType::Boolean, "Yes"), Some(json!(true)));
        assert_eq!(
            back(KevaFieldType::Date, "1767571200000"),
            Some(json!("2026-01-05"))
        );
        assert_eq!(
            back(KevaFieldType::Date, "2026-01-05"),
            Some(json!("2026-01-05"))
        );
        assert_eq!(
            back(KevaFieldType::Date, "2026-01-05T00:00:00.000Z"),
            Some(json!("2026-01-05"))
        );
        assert_eq!(
            back(KevaFieldType::Datetime, "1767607200000"),
            Some(json!("2026-01-05T10:00:00.000Z"))
        );
        assert_eq!(
            back(KevaFieldType::MultiEnum, "team;free;"),
            Some(json!(["free", "team"]))
        );
        assert_eq!(back(KevaFieldType::Enum, " "), None);
        assert!(from_hubspot(&spec(KevaFieldType::Number), "1,250").is_err());
        assert!(from_hubspot(&spec(KevaFieldType::Enum), "gold").is_err());
        assert!(from_hubspot(&spec(KevaFieldType::Boolean), "maybe").is_err());
    }

    #[test]
    fn values_survive_a_round_trip() {
        for (kind, v) in [
            (KevaFieldType::Number, json!(99.95)),
            (KevaFieldType::Number, json!(-7)),
            (KevaFieldType::Date, json!("1999-12-31")),
            (KevaFieldType::Datetime, json!("2026-06-30T23:59:59.123Z")),
            (KevaFieldType::Boolean, json!(false)),
            (KevaFieldType::Enum, json!("team")),
            (KevaFieldType::MultiEnum, json!(["free", "pro"])),
            (KevaFieldType::String, json!("a;b")),
        ] {
            let sent = out(kind, v.clone());
            assert_eq!(back(kind, &sent), Some(v.clone()), "{kind:?} via {sent:?}");
        }
    }
}
