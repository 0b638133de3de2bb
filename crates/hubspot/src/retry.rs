//! When and how long to retry a HubSpot call (backon: exponential, jittered, capped).
//!
//! Retried: 429 (not DAILY; waiting the `Retry-After` HubSpot gives), 5xx, timeouts,
//! broken connections, and a 409 that is not a duplicate (no "Existing ID"),
//! i.e. a concurrent-modification conflict. Creates are never retried after an
//! *ambiguous* failure (5xx, timeout, reset): HubSpot may have created the record, so
//! the create paths check first (see `objects::create` and `batch::create`).
//!
//! This is for in-request retries only (seconds). Waits longer than `max_delay`
//! belong to the job queue.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

use crate::error::{HubspotError, Result};

/// Retry budget of one call.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Cap on the wait a `Retry-After` may impose inside one call.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 8,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(12),
        }
    }
}

impl RetryConfig {
    /// No retries at all (for tests that want to see raw errors).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The successive waits of this budget (for retry loops written by hand).
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + Send {
        self.backoff().build()
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// What kind of operation is being retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Reads, deletes, searches: repeat on any transient failure, including a 409
    /// that is not a duplicate ("conflict, please retry").
    Idempotent,
    /// Updates and upserts: as `Idempotent`; a 409 *with* an existing id (the new
    /// email belongs to another contact) is final.
    Update,
    /// Creates: only failures that prove the request was not applied (429, refused
    /// connection). Ambiguous failures go back to the caller.
    Create,
}

impl RetryPolicy {
    pub fn should_retry(self, err: &HubspotError) -> bool {
        match self {
            RetryPolicy::Idempotent | RetryPolicy::Update => {
                err.is_retryable() || (err.is_conflict() && err.existing_id().is_none())
            }
            RetryPolicy::Create => {
                (err.is_rate_limited() && !err.is_daily_limit())
                    || matches!(err, HubspotError::Transport { connect: true, .. })
            }
        }
    }
}

/// Waits `Retry-After` when HubSpot gave one (plus a little jitter from the backoff so
/// a crowd of callers does not return in lock-step); otherwise the backoff's delay.
fn adjusted(err: &HubspotError, backoff: Option<Duration>, cfg: &RetryConfig) -> Option<Duration> {
    let backoff = backoff?;
    match err {
        HubspotError::RateLimited {
            retry_after: Some(after),
            ..
        } => Some((*after).min(cfg.max_retry_after) + backoff / 4),
        _ => Some(backoff),
    }
}

/// Runs `op` with retries per `policy`, logging every retry with its correlation id.
pub async fn with_retries<T, F, Fut>(
    cfg: &RetryConfig,
    policy: RetryPolicy,
    endpoint: &'static str,
    op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    op.retry(cfg.backoff())
        .sleep(tokio::time::sleep)
        .when(|e| policy.should_retry(e))
        .adjust(|e, d| adjusted(e, d, cfg))
        .notify(|e, wait| {
            metrics::counter!("hubspot_retries_total", "endpoint" => endpoint).increment(1);
            tracing::warn!(
                endpoint,
                status = e.status(),
                correlation_id = e.correlation_id().unwrap_or("-"),
                wait_ms = wait.as_millis() as u64,
                error = %e,
                "retrying HubSpot call"
            );
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> HubspotError {
        HubspotError::from_response(status, body.as_bytes(), None, None)
    }

    #[test]
    fn update_retries_plain_conflicts_but_not_duplicates() {
        let plain = api(409, r#"{"message":"Conflict","category":"CONFLICT"}"#);
        let dup = api(
            409,
            r#"{"message":"Contact already exists. Existing ID: 5"}"#,
        );
        assert!(RetryPolicy::Update.should_retry(&plain));
        assert!(!RetryPolicy::Update.should_retry(&dup));
        assert!(!RetryPolicy::Create.should_retry(&plain));
    }

    #[test]
    fn creates_only_retry_when_provably_not_applied() {
        let limited = api(429, r#"{"policyName":"TEN_SECONDLY_ROLLING"}"#);
        assert!(RetryPolicy::Create.should_retry(&limited));
        assert!(!RetryPolicy::Create.should_retry(&api(502, "")));
        assert!(!RetryPolicy::Create.should_retry(&HubspotError::Timeout));
        assert!(RetryPolicy::Create.should_retry(&HubspotError::Transport {
            message: "refused".into(),
            connect: true
        }));
        assert!(!RetryPolicy::Create.should_retry(&api(429, r#"{"policyName":"DAILY"}"#)));
    }

    #[test]
    fn retry_after_wins_over_backoff_and_is_capped() {
        let cfg = RetryConfig::default();
        let e = HubspotError::from_response(429, b"{}", Some(Duration::from_secs(2)), None);
        let d = adjusted(&e, Some(Duration::from_millis(400)), &cfg);
        assert_eq!(d, Some(Duration::from_millis(2100)));
        let e = HubspotError::from_response(429, b"{}", Some(Duration::from_secs(600)), None);
        let d = adjusted(&e, Some(Duration::ZERO), &cfg);
        assert_eq!(d, Some(cfg.max_retry_after));
        // Out of retries stays out of retries.
        assert_eq!(adjusted(&e, None, &cfg), None);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_retries_and_returns_last_error() {
        let cfg = RetryConfig {
            max_retries: 3,
            ..RetryConfig::default()
        };
        let mut calls = 0;
        let res: Result<()> = with_retries(&cfg, RetryPolicy::Idempotent, "test", || {
            calls += 1;
            async { Err(api(503, "{}")) }
        })
        .await;
        assert_eq!(calls, 4);
        assert_eq!(res.err().and_then(|e| e.status()), Some(503));
    }
}
