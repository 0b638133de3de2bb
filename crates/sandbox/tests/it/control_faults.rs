//! Fault injection over HTTP: injected HubSpot-shaped errors, dropped connections,
//! added latency, and validation of the settings.

use std::time::{Duration, Instant};

use keva_sandbox::control::ControlConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::control_support::*;

const CONTACTS: &str = "/crm/v3/objects/contacts";

#[tokio::test]
async fn injected_errors_have_hubspot_bodies_and_are_counted() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let cases = [
        ("rate409", StatusCode::CONFLICT, "CONFLICT"),
        (
            "rate500",
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
        ),
        ("rate502", StatusCode::BAD_GATEWAY, "BAD_GATEWAY"),
        (
            "rate503",
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
        ),
    ];
    for (field, status, category) in cases {
        let put = admin(
            &sb,
            Method::PUT,
            "/_sandbox/faults",
            Some(json!({ field: 1.0 })),
        )
        .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text);
        assert_eq!(put.body[field], 1.0);
        let r = api_get(&sb, CONTACTS).await;
        assert_hubspot_error(&r, status, category);
    }
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"rate429": 1.0})),
    )
    .await;
    let r = api_get(&sb, CONTACTS).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(r.body["errorType"], "RATE_LIMIT");

    admin(&sb, Method::PUT, "/_sandbox/faults", Some(json!({}))).await;
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
    let stats = admin(&sb, Method::GET, "/_sandbox/stats", None).await.body;
    assert_eq!(stats["faultsInjected"], 5);
    assert_eq!(stats["rateLimited"], 1);
    assert_eq!(stats["total"], 6);
}

#[tokio::test]
async fn faults_strike_with_their_probability() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"rate503": 0.5})),
    )
    .await;
    let mut failed = 0;
    for _ in 0..200 {
        if api_get(&sb, CONTACTS).await.status == StatusCode::SERVICE_UNAVAILABLE {
            failed += 1;
        }
    }
    // Binomial(200, 0.5): outside 60..=140 has a probability below 1e-8.
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
}

#[tokio::test]
async fn dropped_connections_give_the_client_no_complete_answer() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"dropRate": 1.0})),
    )
    .await;
    let outcome = async {
        let resp = client()
            .get(format!("{}{CONTACTS}", sb.url()))
            .bearer_auth(sb.access_token())
            .send()
            .await?;
        resp.text().await
    }
    .await;
    assert!(
        outcome.is_err(),
        "expected a transport error, got {outcome:?}"
    );
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"dropRate": 0.0})),
    )
    .await;
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
}

#[tokio::test]
async fn latency_is_added_before_answering() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"latencyMs": 300})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
    // A lower bound only: the sandbox must wait at least this long.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let current = admin(&sb, Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(current.body["latencyMs"], 300);
}

#[tokio::test]
async fn invalid_fault_settings_are_refused_and_keep_the_old_ones() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"rate500": 0.25})),
    )
    .await;
    let bad = admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"rate429": 0.9, "rate500": 0.9})),
    )
    .await;
    assert_hubspot_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let bad = admin(
        &sb,
        Method::PUT,
        "/_sandbox/faults",
        Some(json!({"dropRate": 2})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let current = admin(&sb, Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(current.body["rate500"], 0.25);
    assert_eq!(current.body["rate429"], 0.0);
}
