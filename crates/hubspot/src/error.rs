//! The one error type of the HubSpot client, and how HubSpot's error bodies map into it.
//!
//! HubSpot answers errors with `{status:"error", message, correlationId, category,
//! subCategory?, context?, errors?[]}` (every field optional in practice, and a 404 may
//! have no body at all). The sync engine needs to tell apart "contact not found",
//! "property doesn't exist", "duplicate contact (existing id N)", conflicts and rate
//! limits, so those questions are answered here, once, by helper methods.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything a call to HubSpot can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HubspotError {
    /// HubSpot answered with a non-success status (other than a 429).
    #[error("HubSpot {}: {}", .0.status, .0.message)]
    Api(Box<HubspotErrorBody>),
    /// 429: a rate limit was hit. `policy` is HubSpot's `policyName`
    /// (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
    #[error("HubSpot rate limit reached ({})", policy.as_deref().unwrap_or("unknown policy"))]
    RateLimited {
        policy: Option<String>,
        retry_after: Option<Duration>,
        correlation_id: Option<String>,
        message: String,
    },
    /// The OAuth grant is gone (refresh token revoked, app uninstalled): a human must
    /// reconnect the portal. Never retried.
    #[error("HubSpot connection must be re-authorised: {reason}")]
    NeedsReconnection { reason: String },
    /// The request did not complete within the client's timeout.
    #[error("HubSpot request timed out")]
    Timeout,
    /// The connection could not be made or broke off. `connect` is true when the
    /// request provably never reached HubSpot (connection refused, DNS), which makes
    /// even a create safe to repeat.
    #[error("HubSpot transport error: {message}")]
    Transport { message: String, connect: bool },
    /// A success response whose body did not have the expected shape.
    #[error("could not decode HubSpot response: {message}")]
    Decode { message: String },
    /// The caller asked for something the client refuses before sending
    /// (e.g. an empty id, a bad base URL).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// A HubSpot error body plus its HTTP status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubspotErrorBody {
    pub status: u16,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub message: String,
    pub correlation_id: Option<String>,
    /// Top-level `error` code some endpoints add, e.g. `CONTACT_EXISTS`.
    pub error_code: Option<String>,
    pub context: BTreeMap<String, Vec<String>>,
    pub errors: Vec<ErrorDetail>,
}

/// One entry of `errors[]` in an error body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, rename = "in")]
    pub in_field: Option<String>,
    #[serde(default)]
    pub sub_category: Option<String>,
    #[serde(default)]
    pub context: Option<BTreeMap<String, Vec<String>>>,
}

/// One entry of the JSON list HubSpot embeds in the message of a 400
/// "Property values were not valid: [...]".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyValidation {
    #[serde(default)]
    pub is_valid: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub name: String,
}

/// The wire shape; every field optional because real bodies vary.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawErrorBody {
    message: Option<String>,
    correlation_id: Option<String>,
    category: Option<String>,
    sub_category: Option<Value>,
    error: Option<Value>,
    error_type: Option<String>,
    policy_name: Option<String>,
    context: Option<BTreeMap<String, Value>>,
    errors: Option<Vec<Value>>,
    // OAuth endpoints answer `{"status":"BAD_REFRESH_TOKEN","message":...}`.
    status: Option<Value>,
}

pub type Result<T, E = HubspotError> = std::result::Result<T, E>;

const PROPERTY_DOESNT_EXIST: &str = "PROPERTY_DOESNT_EXIST";

/// Longest `Retry-After` honoured for HubSpot's short windows (secondly and
/// ten-secondly policies): anything longer is a broken or hostile answer, and taken
/// uncapped it could defer a job for years or overflow a date.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured for the `DAILY` policy: it resets at midnight (in
/// the account's time zone, which the client does not know), so at most a day.
pub const MAX_DAILY_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl HubspotError {
    /// Builds the error for a non-success response from its status, body and the
    /// relevant headers (`Retry-After`, `X-HubSpot-Correlation-Id`).
    pub fn from_response(
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
        header_correlation_id: Option<String>,
    ) -> Self {
        let raw: RawErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let correlation_id = raw.correlation_id.clone().or(header_correlation_id);
        if status == 429 {
            let cap = if raw.policy_name.as_deref() == Some("DAILY") {
                MAX_DAILY_RETRY_AFTER
            } else {
                MAX_RETRY_AFTER
            };
            return HubspotError::RateLimited {
                policy: raw.policy_name,
                retry_after: retry_after.map(|d| d.min(cap)),
                correlation_id,
                message: raw.message.unwrap_or_else(|| "rate limited".to_string()),
            };
        }
        let context = raw
            .context
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, string_list(v)))
            .collect();
        let errors = raw
            .errors
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| serde_json::from_value::<ErrorDetail>(v).ok())
            .collect();
        let message = raw.message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            if text.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(300).collect()
            }
        });
        // `status` is "error" on CRM endpoints but a code such as BAD_REFRESH_TOKEN on OAuth.
        let status_code = raw
            .status
            .and_then(|s| s.as_str().map(str::to_string))
            .filter(|s| s != "error");
        let error_code = raw
            .error
            .and_then(|v| v.as_str().map(str::to_string))
            .or(raw.error_type)
            .or(status_code);
        HubspotError::Api(Box::new(HubspotErrorBody {
            status,
            category: raw.category,
            sub_category: raw.sub_category.map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            }),
            message,
            correlation_id,
            error_code,
            context,
            errors,
        }))
    }

    /// The HTTP status HubSpot answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HubspotError::Api(e) => Some(e.status),
            HubspotError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    pub fn api(&self) -> Option<&HubspotErrorBody> {
        match self {
            HubspotError::Api(e) => Some(e),
            _ => None,
        }
    }

    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            HubspotError::Api(e) => e.correlation_id.as_deref(),
            HubspotError::RateLimited { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// 409 of any kind (duplicate record, concurrent modification).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// The id of the record that already exists, from "… Existing ID: N" (409 on a
    /// create, or on an update that would duplicate a contact's email).
    pub fn existing_id(&self) -> Option<String> {
        let api = self.api()?;
        if api.status != 409 {
            return None;
        }
        std::iter::once(api.message.as_str())
            .chain(api.errors.iter().map(|e| e.message.as_str()))
            .find_map(parse_existing_id)
    }

    /// 400 because a property named in the request does not exist on the object.
    pub fn is_property_missing(&self) -> bool {
        let Some(api) = self.api() else { return false };
        api.status == 400
            && (api.sub_category.as_deref() == Some(PROPERTY_DOESNT_EXIST)
                || api.error_code.as_deref() == Some(PROPERTY_DOESNT_EXIST)
                || api.errors.iter().any(|e| {
                    e.code.as_deref() == Some(PROPERTY_DOESNT_EXIST)
                        || e.sub_category.as_deref() == Some(PROPERTY_DOESNT_EXIST)
                })
                || self
                    .property_validations()
                    .iter()
                    .any(|v| v.error == PROPERTY_DOESNT_EXIST))
    }

    /// Names of the properties HubSpot reported as not existing.
    pub fn missing_properties(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .property_validations()
            .into_iter()
            .filter(|v| v.error == PROPERTY_DOESNT_EXIST)
            .map(|v| v.name)
            .collect();
        if let Some(api) = self.api() {
            for key in ["propertyName", "invalidPropertyName", "properties"] {
                if let Some(values) = api.context.get(key) {
                    names.extend(values.iter().cloned());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// 400 because an email address was rejected (`INVALID_EMAIL`).
    pub fn is_invalid_email(&self) -> bool {
        let Some(api) = self.api() else { return false };
        api.status == 400
            && (api.error_code.as_deref() == Some("INVALID_EMAIL")
                || api.sub_category.as_deref() == Some("INVALID_EMAIL")
                || api
                    .errors
                    .iter()
                    .any(|e| e.code.as_deref() == Some("INVALID_EMAIL"))
                || self
                    .property_validations()
                    .iter()
                    .any(|v| v.error == "INVALID_EMAIL"))
    }

    /// The per-property validation results embedded in a 400's message.
    pub fn property_validations(&self) -> Vec<PropertyValidation> {
        let Some(api) = self.api() else {
            return Vec::new();
        };
        let Some(start) = api.message.find('[') else {
            return Vec::new();
        };
        let Some(end) = api.message.rfind(']') else {
            return Vec::new();
        };
        if end < start {
            return Vec::new();
        }
        serde_json::from_str(&api.message[start..=end]).unwrap_or_default()
    }

    /// 403 `MISSING_SCOPES`: the token lacks a scope the call needs (the portal must
    /// re-install the app with more scopes; retrying cannot help).
    pub fn is_missing_scopes(&self) -> bool {
        self.api()
            .is_some_and(|a| a.status == 403 && a.category.as_deref() == Some("MISSING_SCOPES"))
    }

    /// The scopes HubSpot named as required or missing.
    pub fn missing_scopes(&self) -> Vec<String> {
        let Some(api) = self.api() else {
            return Vec::new();
        };
        let keys = ["requiredGranularScopes", "requiredScopes", "missingScopes"];
        let mut scopes: Vec<String> = api
            .errors
            .iter()
            .filter_map(|e| e.context.as_ref())
            .chain(std::iter::once(&api.context))
            .flat_map(|ctx| keys.iter().filter_map(|k| ctx.get(*k)).flatten())
            .cloned()
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, HubspotError::RateLimited { .. })
    }

    /// A daily limit cannot be waited out inside one request.
    pub fn is_daily_limit(&self) -> bool {
        matches!(self, HubspotError::RateLimited { policy: Some(p), .. } if p == "DAILY")
    }

    pub fn needs_reconnection(&self) -> bool {
        matches!(self, HubspotError::NeedsReconnection { .. })
    }

    /// Worth repeating an idempotent request for: 429 (not daily), 5xx, timeouts and
    /// broken connections. A 409 is retryable only for updates, which the retry layer
    /// decides per operation.
    pub fn is_retryable(&self) -> bool {
        match self {
            HubspotError::RateLimited { .. } => !self.is_daily_limit(),
            HubspotError::Api(e) => matches!(e.status, 500..=599),
            HubspotError::Timeout | HubspotError::Transport { .. } => true,
            _ => false,
        }
    }

    /// True when HubSpot may or may not have applied the request (it failed after the
    /// request could have arrived). A create that failed ambiguously must be checked
    /// before it is repeated.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            HubspotError::Api(e) => e.status >= 500,
            HubspotError::Timeout => true,
            HubspotError::Transport { connect, .. } => !connect,
            _ => false,
        }
    }

    pub(crate) fn decode(message: impl std::fmt::Display) -> Self {
        HubspotError::Decode {
            message: message.to_string(),
        }
    }
}

impl From<reqwest::Error> for HubspotError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            HubspotError::Timeout
        } else if err.is_decode() {
            HubspotError::decode(err)
        } else {
            // Strip the URL: it may carry a hapikey or a token in the path.
            let connect = err.is_connect();
            HubspotError::Transport {
                message: err.without_url().to_string(),
                connect,
            }
        }
    }
}

fn string_list(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Value::String(s) => vec![s],
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// Finds "Existing ID: <digits>" in a message.
pub fn parse_existing_id(message: &str) -> Option<String> {
    let marker = "Existing ID:";
    let at = message.find(marker)? + marker.len();
    let digits: String = message[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(status: u16, body: &str) -> HubspotError {
        HubspotError::from_response(status, body.as_bytes(), None, None)
    }

    #[test]
    fn conflict_body_yields_existing_id() {
        let e = err(
            409,
            r#"{"status":"error","message":"Contact already exists. Existing ID: 2926551","correlationId":"c-1","category":"OBJECT_ALREADY_EXISTS","error":"CONTACT_EXISTS","errors":[{"message":"A contact with email lee@xyz.co.uk already exists. Existing ID: 2926551","in":"email"}]}"#,
        );
        assert!(e.is_conflict());
        assert_eq!(e.existing_id().as_deref(), Some("2926551"));
        assert_eq!(e.correlation_id(), Some("c-1"));
        assert_eq!(
            e.api().unwrap().error_code.as_deref(),
            Some("CONTACT_EXISTS")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn existing_id_falls_back_to_error_details_and_requires_409() {
        let e = err(
            409,
            r#"{"message":"Conflict","errors":[{"message":"dup. Existing ID: 77"}]}"#,
        );
        assert_eq!(e.existing_id().as_deref(), Some("77"));
        let e = err(400, r#"{"message":"Existing ID: 77"}"#);
        assert_eq!(e.existing_id(), None);
        assert_eq!(parse_existing_id("Existing ID: abc"), None);
    }

    #[test]
    fn property_missing_is_found_in_embedded_validation_list() {
        let body = serde_json::json!({
            "status": "error",
            "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"notes\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"notes\",\"localizedErrorMessage\":\"Property \\\"notes\\\" does not exist\"}]",
            "correlationId": "c-2",
            "category": "VALIDATION_ERROR"
        })
        .to_string();
        let e = err(400, &body);
        assert!(e.is_property_missing());
        assert_eq!(e.missing_properties(), vec!["notes".to_string()]);
        assert!(!e.is_invalid_email());
    }

    #[test]
    fn property_missing_via_sub_category() {
        let e = err(
            400,
            r#"{"message":"x","category":"VALIDATION_ERROR","subCategory":"PROPERTY_DOESNT_EXIST","context":{"propertyName":["notes"]}}"#,
        );
        assert!(e.is_property_missing());
        assert_eq!(e.missing_properties(), vec!["notes".to_string()]);
    }

    #[test]
    fn invalid_email_is_recognised() {
        let body = serde_json::json!({
            "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Email address x is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]",
            "category": "VALIDATION_ERROR"
        })
        .to_string();
        let e = err(400, &body);
        assert!(e.is_invalid_email());
        assert!(!e.is_property_missing());
    }

    #[test]
    fn rate_limit_body_maps_to_rate_limited() {
        let e = HubspotError::from_response(
            429,
            br#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c-3","policyName":"TEN_SECONDLY_ROLLING"}"#,
            Some(Duration::from_secs(1)),
            None,
        );
        assert!(e.is_rate_limited());
        assert!(e.is_retryable());
        assert!(!e.is_daily_limit());
        assert_eq!(e.correlation_id(), Some("c-3"));
        let daily = err(429, r#"{"policyName":"DAILY"}"#);
        assert!(daily.is_daily_limit());
        assert!(!daily.is_retryable());
    }

    #[test]
    fn empty_404_body_is_not_found_with_header_correlation_id() {
        let e = HubspotError::from_response(404, b"", None, Some("hdr".into()));
        assert!(e.is_not_found());
        assert_eq!(e.correlation_id(), Some("hdr"));
        assert_eq!(e.api().unwrap().message, "HTTP 404");
    }

    #[test]
    fn oauth_status_code_becomes_error_code() {
        let e = err(
            400,
            r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}"#,
        );
        assert_eq!(
            e.api().unwrap().error_code.as_deref(),
            Some("BAD_REFRESH_TOKEN")
        );
    }

    #[test]
    fn retryability_and_ambiguity() {
        assert!(err(503, "{}").is_retryable());
        assert!(err(503, "{}").is_ambiguous());
        assert!(!err(404, "{}").is_retryable());
        assert!(HubspotError::Timeout.is_ambiguous());
        let refused = HubspotError::Transport {
            message: "refused".into(),
            connect: true,
        };
        assert!(refused.is_retryable());
        assert!(!refused.is_ambiguous());
    }
}
