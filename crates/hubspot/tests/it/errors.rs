//! Every HubSpot error the engine must tell apart, mapped into `HubspotError`.

use std::time::Duration;

use keva_hubspot::models::ObjectCreate;
use keva_hubspot::{Credentials, HubspotClient, RateLimitConfig, ReadOptions, RetryConfig};
use keva_sandbox::control::ControlConfig;
use secrecy::SecretString;

use crate::helpers::{contact, no_client_limits, props, unlimited, with_control};

#[tokio::test]
async fn not_found_is_404() {
    let env = unlimited().await;
    let err = env
        .client()
        .contacts()
        .get("123456789", &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.correlation_id().is_some());
}

#[tokio::test]
async fn duplicate_email_is_conflict_with_existing_id() {
    let env = unlimited().await;
    let client = env.client();
    let first = client
        .contacts()
        .create(&contact("dup@example.com", "One"))
        .await
        .unwrap();
    let err = client
        .contacts()
        .create(&contact("DUP@example.com", "Two"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(err.existing_id(), Some(first.id.clone()));
    assert_eq!(env.sandbox.contact_count(), 1);

    // Changing another contact's email to a taken one is a 409 too, not retried.
    let second = client
        .contacts()
        .create(&contact("other@example.com", "Other"))
        .await
        .unwrap();
    let err = client
        .contacts()
        .update(&second.id, &props(&[("email", "dup@example.com")]))
        .await
        .unwrap_err();
    assert_eq!(err.existing_id(), Some(first.id));
}

#[tokio::test]
async fn unknown_property_is_property_missing() {
    let env = unlimited().await;
    let err = env
        .client()
        .contacts()
        .create(&ObjectCreate::new(props(&[
            ("email", "notes@example.com"),
            ("notes", "hello"),
        ])))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.is_property_missing(), "{err:?}");
    assert_eq!(err.missing_properties(), vec!["notes".to_string()]);
    assert!(!err.is_invalid_email());
}

#[tokio::test]
async fn invalid_email_is_recognised() {
    let env = unlimited().await;
    let err = env
        .client()
        .contacts()
        .create(&contact("not-an-email", "X"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.is_invalid_email(), "{err:?}");
    assert!(!err.is_property_missing());
}

#[tokio::test]
async fn bad_token_is_401_and_not_retried() {
    let env = unlimited().await;
    let client = HubspotClient::builder(Credentials::PrivateApp(SecretString::from(
        "pat-na1-not-a-token".to_string(),
    )))
    .base_url(env.url())
    .rate_limit(no_client_limits())
    .build()
    .unwrap();
    let err = client
        .contacts()
        .get("1", &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(
        err.api().and_then(|a| a.category.as_deref()),
        Some("INVALID_AUTHENTICATION")
    );
    let stats = env.stats().await;
    assert_eq!(stats["total"], 1, "a private-app 401 is not retried");
}

#[tokio::test]
async fn rate_limit_is_mapped_and_teaches_the_limiter() {
    let mut control = ControlConfig::default();
    control.rate_limits.ten_second = 5;
    let env = with_control(control).await;
    // The client believes in a much larger budget and does not retry.
    let client = env.client_with(
        RateLimitConfig {
            max: 1000,
            ..RateLimitConfig::default()
        },
        RetryConfig::none(),
    );
    // Six at once, before any response could teach the client the real budget.
    let calls = (0..6).map(|_| {
        let client = client.clone();
        async move { client.contacts().get("1", &ReadOptions::default()).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut limited = results
        .into_iter()
        .filter_map(Result::err)
        .filter(|e| e.is_rate_limited());
    let err = limited
        .next()
        .expect("the sixth call within 10 s is refused");
    assert!(limited.next().is_none(), "only one over the budget");
    match &err {
        keva_hubspot::HubspotError::RateLimited { policy, .. } => {
            assert_eq!(policy.as_deref(), Some("TEN_SECONDLY_ROLLING"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    // X-HubSpot-RateLimit-Max / -Interval-Milliseconds replaced the configured budget.
    assert_eq!(
        client.limiter().general.budget(),
        (5, Duration::from_secs(10))
    );
}
