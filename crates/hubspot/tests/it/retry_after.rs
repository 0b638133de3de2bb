//! HubSpot's `Retry-After` is capped, so a hostile or broken answer can
//! neither defer a job for years nor overflow a date computed from it.

use std::time::Duration;

use keva_hubspot::HubspotError;

fn retry_after(policy: &str, header: Duration) -> Duration {
    let body = format!(r#"{{"status":"error","message":"limit","policyName":"{policy}"}}"#);
    match HubspotError::from_response(429, body.as_bytes(), Some(header), None) {
        HubspotError::RateLimited {
            retry_after: Some(d),
            ..
        } => d,
        other => panic!("expected a rate limit with a wait: {other:?}"),
    }
}

#[test]
fn a_huge_retry_after_is_capped_per_policy() {
    let huge = Duration::from_secs(u64::MAX);
    let ten = retry_after("TEN_SECONDLY_ROLLING", huge);
    assert!(ten <= Duration::from_secs(60), "{ten:?}");
    let daily = retry_after("DAILY", huge);
    assert!(daily <= Duration::from_secs(24 * 3600), "{daily:?}");
    // Usable as a date offset without overflow.
    for d in [ten, daily] {
        let at = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap();
        assert!(at > chrono::Utc::now());
    }
    // A sane value is kept as HubSpot gave it.
    assert_eq!(
        retry_after("TEN_SECONDLY_ROLLING", Duration::from_secs(3)),
        Duration::from_secs(3)
    );
}
