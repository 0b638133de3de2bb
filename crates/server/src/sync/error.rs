//! `SyncError`: why a job handler stopped, sorted by what the worker does next
//! (retry with backoff, give up, or mark the connector for reconnection).

use std::time::Duration;

use keva_hubspot::HubspotError;
use keva_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Worth another attempt later (429, 5xx, a concurrent-modification 409,
    /// timeouts, a database hiccup). `retry_after` is HubSpot's, when it gave one.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
        correlation_id: Option<String>,
    },
    /// Another attempt would fail the same way.
    #[error("{message}")]
    Permanent {
        message: String,
        correlation_id: Option<String>,
    },
    /// The connector's tokens were refused: a human must reconnect the portal.
    #[error("HubSpot connection must be re-authorised: {0}")]
    NeedsReconnection(String),
}

impl SyncError {
    pub fn permanent(message: impl Into<String>) -> Self {
        SyncError::Permanent {
            message: message.into(),
            correlation_id: None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SyncError::Retryable { .. })
    }

    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            SyncError::Retryable { correlation_id, .. }
            | SyncError::Permanent { correlation_id, .. } => correlation_id.as_deref(),
            SyncError::NeedsReconnection(_) => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<HubspotError> for SyncError {
    fn from(e: HubspotError) -> Self {
        let correlation_id = e.correlation_id().map(str::to_string);
        if let HubspotError::NeedsReconnection { reason } = &e {
            return SyncError::NeedsReconnection(reason.clone());
        }
        if e.is_unauthorized() {
            return SyncError::NeedsReconnection(e.to_string());
        }
        // A 409 without "Existing ID" is HubSpot's "conflict, try again".
        let retryable = e.is_retryable() || (e.is_conflict() && e.existing_id().is_none());
        if retryable {
            let retry_after = match &e {
                HubspotError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            SyncError::Retryable {
                message: e.to_string(),
                retry_after,
                correlation_id,
            }
        } else {
            SyncError::Permanent {
                message: e.to_string(),
                correlation_id,
            }
        }
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => SyncError::Permanent {
                message,
                correlation_id: None,
            },
            StoreError::NotFound => SyncError::permanent("not found in the store"),
            StoreError::Crypto(m) => SyncError::permanent(format!("connector tokens: {m}")),
            other => SyncError::Retryable {
                message: format!("store: {other}"),
                retry_after: None,
                correlation_id: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> HubspotError {
        HubspotError::from_response(status, body.as_bytes(), None, None)
    }

    #[test]
    fn hubspot_errors_sort_into_what_the_worker_does() {
        let busy = api(
            503,
            r#"{"message":"down","correlationId":"c-1","category":"X"}"#,
        );
        let e = SyncError::from(busy);
        assert!(e.is_retryable());
        assert_eq!(e.correlation_id(), Some("c-1"));

        let concurrent = api(
            409,
            r#"{"message":"Conflict, try again","category":"CONFLICT"}"#,
        );
        assert!(SyncError::from(concurrent).is_retryable());

        let duplicate = api(
            409,
            r#"{"message":"Contact already exists. Existing ID: 42","category":"CONFLICT"}"#,
        );
        assert!(matches!(
            SyncError::from(duplicate),
            SyncError::Permanent { .. }
        ));

        let bad = api(400, r#"{"message":"bad","category":"VALIDATION_ERROR"}"#);
        assert!(matches!(SyncError::from(bad), SyncError::Permanent { .. }));

        let revoked = api(
            401,
            r#"{"message":"expired","category":"INVALID_AUTHENTICATION"}"#,
        );
        assert!(matches!(
            SyncError::from(revoked),
            SyncError::NeedsReconnection(_)
        ));

        let limited = HubspotError::RateLimited {
            policy: Some("TEN_SECONDLY_ROLLING".into()),
            retry_after: Some(Duration::from_secs(3)),
            correlation_id: None,
            message: "slow down".into(),
        };
        let e = SyncError::from(limited);
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));

        let daily = HubspotError::RateLimited {
            policy: Some("DAILY".into()),
            retry_after: None,
            correlation_id: None,
            message: "daily".into(),
        };
        assert!(!SyncError::from(daily).is_retryable());
    }

    #[test]
    fn store_conflicts_and_crypto_failures_are_final() {
        assert!(matches!(
            SyncError::from(StoreError::Conflict("taken".into())),
            SyncError::Permanent { .. }
        ));
        assert!(matches!(
            SyncError::from(StoreError::Crypto("wrong key".into())),
            SyncError::Permanent { .. }
        ));
    }
}
