//! Turning a delivery's raw body into events: a JSON array of 1..=MAX events.
//!
//! Any input gives `Ok` or a `ParseError`, never a panic: serde_json caps nesting
//! depth (so deep garbage is an error, not a stack overflow) and validates UTF-8.
//! Each element is read on its own so a bad one is reported by index and field path.

use serde_json::Value;

use super::event::WebhookEvent;

/// Events per request HubSpot sends at most, as widely stated [UNCONFIRMED].
pub const HUBSPOT_MAX_EVENTS_PER_REQUEST: usize = 100;

/// Events per request we accept: ten times HubSpot's figure, on purpose.
///
/// HubSpot never retries a 400, so refusing a genuine (signed) but fuller-than-expected
/// batch would lose its events for good. The limit only bounds the work one request
/// can cause; the server's body-size limit (413) bounds its memory.
pub const MAX_EVENTS_PER_REQUEST: usize = 1_000;

/// Why a body is not a batch of events. Every variant means "answer 400, store nothing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON (or not UTF-8); position is 1-based as serde_json reports it.
    #[error("body is not valid JSON at line {line} column {column}: {reason}")]
    NotJson {
        line: usize,
        column: usize,
        reason: String,
    },
    /// Valid JSON, but not an array (`found` is the JSON type seen).
    #[error("body must be a JSON array of events, found {found}")]
    NotAnArray { found: &'static str },
    #[error("body is an empty array: a delivery carries at least one event")]
    Empty,
    #[error("{count} events in one request, more than the {max} accepted")]
    TooMany { count: usize, max: usize },
    /// Element `index` (0-based) is not an event; `reason` names the field.
    #[error("event {index} is invalid: {reason}")]
    BadEvent { index: usize, reason: String },
}

/// Parses a webhook request body (the raw bytes, as verified) into its events, in
/// the order HubSpot listed them. All-or-nothing: one bad event rejects the batch,
/// because acknowledging part of a batch would drop the rest without a retry.
pub fn parse_batch(body: &[u8]) -> Result<Vec<WebhookEvent>, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: describe(&e),
    })?;
    let items = match value {
        Value::Array(items) => items,
        other => {
            return Err(ParseError::NotAnArray {
                found: json_type(&other),
            })
        }
    };
    if items.is_empty() {
        return Err(ParseError::Empty);
    }
    if items.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ParseError::TooMany {
            count: items.len(),
            max: MAX_EVENTS_PER_REQUEST,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if !item.is_object() {
                return Err(ParseError::BadEvent {
                    index,
                    reason: format!("expected an object, found {}", json_type(item)),
                });
            }
            serde_path_to_error::deserialize(item).map_err(|e| ParseError::BadEvent {
                index,
                reason: bad_event_reason(&e),
            })
        })
        .collect()
}

/// serde_json's message without its trailing " at line X column Y" (kept separately).
fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(cut) => full[..cut].to_owned(),
        None => full,
    }
}

/// Longest reason kept: reasons are logged and shown in the webhook log, and serde
/// quotes some offending values (e.g. long numbers), which must not bloat either.
const MAX_REASON_CHARS: usize = 200;

fn bad_event_reason(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    // "." is the path of the event itself (e.g. a missing field): no field to name.
    let full = if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    };
    match full.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &full[..cut]),
        None => full,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
