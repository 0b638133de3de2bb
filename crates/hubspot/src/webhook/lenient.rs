//! Forgiving serde readers for webhook fields: HubSpot documents ids as JSON numbers,
//! but newer APIs send them as strings and JavaScript producers may write `1.0e3`,
//! so ids are read from either form; optional text fields also take numbers and bools.
//!
//! Forgiveness stops at meaning: a negative id, a fraction, or a number past the
//! target type's range is an error, never a silently wrapped or truncated value.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Largest integer an f64 holds exactly; beyond it a float id has already lost digits.
const MAX_EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

/// An integer read from a JSON number (integral) or a decimal string.
pub(crate) struct Int<T>(pub(crate) T);

impl<'de, T> Deserialize<'de> for Int<T>
where
    T: TryFrom<i128>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wide = d.deserialize_any(WideIntVisitor)?;
        T::try_from(wide)
            .map(Int)
            .map_err(|_| de::Error::custom(format_args!("integer {wide} is out of range")))
    }
}

struct WideIntVisitor;

impl<'de> Visitor<'de> for WideIntVisitor {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer (JSON number or decimal string)")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(i128::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        if v.is_finite() && v.fract() == 0.0 && v.abs() <= MAX_EXACT_F64_INT {
            // In range and integral, so the cast is exact.
            Ok(v as i128)
        } else {
            Err(E::custom(format_args!("{v} is not an exact integer")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        let digits = v.strip_prefix('-').unwrap_or(v);
        // `i128::from_str` also takes "+1"; ids never carry a sign, so stay strict.
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            // Not echoed: reasons end up in the webhook log, and a string may be PII.
            return Err(E::invalid_value(
                de::Unexpected::Other("non-numeric string"),
                &self,
            ));
        }
        v.parse::<i128>().map_err(|_| {
            E::custom(format_args!(
                "integer string of {} digits is out of range",
                digits.len()
            ))
        })
    }
}

/// For `deserialize_with` on a required integer field.
pub(crate) fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    Int::<T>::deserialize(d).map(|Int(v)| v)
}

/// For `deserialize_with` on an optional integer field (`null` or absent → `None`).
pub(crate) fn opt_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    Option::<Int<T>>::deserialize(d).map(|o| o.map(|Int(v)| v))
}

/// A list of ids; `null` or absent is an empty list.
pub(crate) fn int_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    let list = Option::<Vec<Int<T>>>::deserialize(d)?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .map(|Int(v)| v)
        .collect())
}

/// Optional text: strings as they are, numbers and bools as their JSON text
/// (HubSpot sends property values as strings, but a number must not fail a batch).
/// Objects and arrays are refused: they carry structure we would flatten blindly.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor)
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json's own float formatting, so "1.5" reads back as "1.5".
        Ok(Some(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        ))
    }
}

/// Optional flag: a bool, or the strings "true"/"false" (any case); `null` → `None`.
pub(crate) fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(FlagVisitor)
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, \"true\", \"false\" or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.eq_ignore_ascii_case("true") {
            Ok(Some(true))
        } else if v.eq_ignore_ascii_case("false") {
            Ok(Some(false))
        } else {
            Err(E::invalid_value(
                de::Unexpected::Other("string other than true/false"),
                &self,
            ))
        }
    }
}
