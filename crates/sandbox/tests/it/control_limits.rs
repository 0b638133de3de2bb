//! Rate limits over HTTP: headers, the 429 body after N+1 requests, the search
//! endpoints' per-second limit, the daily limit, runtime changes, and the stats.

use keva_sandbox::control::ratelimit::RateLimitSettings;
use keva_sandbox::control::ControlConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::control_support::*;

const CONTACTS: &str = "/crm/v3/objects/contacts";
const SEARCH: &str = "/crm/v3/objects/contacts/search";

fn limits(ten_second: u32, daily: u64, search_per_second: u32) -> ControlConfig {
    ControlConfig {
        rate_limits: RateLimitSettings {
            enabled: true,
            ten_second,
            interval_ms: 10_000,
            daily,
            search_per_second,
        },
        ..ControlConfig::default()
    }
}

fn assert_429(r: &Reply, policy: &str, message: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["errorType"], "RATE_LIMIT");
    assert_eq!(r.body["policyName"], policy);
    assert_eq!(r.body["message"], message);
    for field in ["correlationId", "requestId"] {
        let v = r.body[field].as_str().unwrap_or_default();
        assert!(uuid::Uuid::parse_str(v).is_ok(), "{field}: {}", r.text);
    }
}

#[tokio::test]
async fn ten_second_window_headers_count_down_then_429() {
    let sb = sandbox(limits(5, 1_000, 5)).await;
    for expected_remaining in (0..5).rev() {
        let r = api_get(&sb, CONTACTS).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(header(&r, "x-hubspot-ratelimit-max"), Some("5"));
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-interval-milliseconds"),
            Some("10000")
        );
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-remaining"),
            Some(expected_remaining.to_string().as_str())
        );
        // Private-app token: the daily headers are there too.
        assert_eq!(header(&r, "x-hubspot-ratelimit-daily"), Some("1000"));
    }
    let limited = api_get(&sb, CONTACTS).await;
    assert_429(
        &limited,
        "TEN_SECONDLY_ROLLING",
        "You have reached your ten_secondly_rolling limit.",
    );
    assert_eq!(header(&limited, "x-hubspot-ratelimit-remaining"), Some("0"));

    let stats = admin(&sb, Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats.body["total"], 6);
    assert_eq!(stats.body["rateLimited"], 1);
    assert_eq!(stats.body["requests"]["GET /crm/v3/objects/contacts"], 6);
}

#[tokio::test]
async fn windows_are_per_portal_and_limits_change_at_runtime() {
    let sb = sandbox(limits(2, 1_000, 5)).await;
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
    assert_eq!(
        api_get(&sb, CONTACTS).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another portal's token has its own window.
    let other = sb
        .control()
        .tokens
        .issue_private_app_token(sb.portal_id() + 1);
    let r = call(
        &sb,
        Some(&other),
        Method::GET,
        "/crm/v3/properties/contacts",
        None,
    )
    .await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);

    let put = admin(
        &sb,
        Method::PUT,
        "/_sandbox/ratelimits",
        Some(json!({"tenSecond": 190})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["tenSecond"], 190);
    let r = api_get(&sb, CONTACTS).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "x-hubspot-ratelimit-max"), Some("190"));

    admin(
        &sb,
        Method::PUT,
        "/_sandbox/ratelimits",
        Some(json!({"enabled": false})),
    )
    .await;
    let r = api_get(&sb, CONTACTS).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "x-hubspot-ratelimit-max"), None);
}

#[tokio::test]
async fn search_has_a_per_second_limit_and_no_rate_limit_headers() {
    let sb = sandbox(limits(100, 1_000, 2)).await;
    let token = sb.access_token().to_string();
    let body = json!({"filterGroups": [], "limit": 1});
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let r = call(&sb, Some(&token), Method::POST, SEARCH, Some(body.clone())).await;
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-max"),
            None,
            "search carries no rate-limit headers"
        );
        statuses.push(r.status);
        last = Some(r);
    }
    // Three searches well inside one second: the third is refused.
    assert_eq!(statuses[..2], [StatusCode::OK, StatusCode::OK]);
    let limited = last.expect("three replies");
    assert_429(
        &limited,
        "SECONDLY",
        "You have reached your secondly limit.",
    );
    // Other endpoints are unaffected.
    assert_eq!(api_get(&sb, CONTACTS).await.status, StatusCode::OK);
    let stats = admin(&sb, Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(
        stats.body["requests"]["POST /crm/v3/objects/contacts/search"],
        3
    );
}

#[tokio::test]
async fn daily_limit_is_per_portal_for_private_app_tokens() {
    let sb = sandbox(limits(100, 3, 5)).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = api_get(&sb, CONTACTS).await;
        assert_eq!(r.status, StatusCode::OK);
        remaining.push(header(&r, "x-hubspot-ratelimit-daily-remaining").map(str::to_string));
    }
    assert_eq!(
        remaining,
        vec![
            Some("2".to_string()),
            Some("1".to_string()),
            Some("0".to_string())
        ]
    );
    let limited = api_get(&sb, CONTACTS).await;
    assert_429(&limited, "DAILY", "You have reached your daily limit.");
}

#[tokio::test]
async fn stats_count_by_route_template_and_reset() {
    let sb = sandbox(ControlConfig::without_rate_limits()).await;
    let a = create_contact(&sb, "a@example.com").await;
    let b = create_contact(&sb, "b@example.com").await;
    api_get(&sb, &format!("{CONTACTS}/{a}")).await;
    api_get(&sb, &format!("{CONTACTS}/{b}")).await;
    let read = call(
        &sb,
        Some(sb.access_token()),
        Method::POST,
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": [{"id": a.to_string()}], "properties": ["email"]})),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    let stats = admin(&sb, Method::GET, "/_sandbox/stats", None).await.body;
    assert_eq!(stats["total"], 5);
    assert_eq!(stats["rateLimited"], 0);
    assert_eq!(stats["requests"]["POST /crm/v3/objects/contacts"], 2);
    assert_eq!(
        stats["requests"]["GET /crm/v3/objects/contacts/{contactId}"],
        2
    );
    assert_eq!(
        stats["requests"]["POST /crm/v3/objects/contacts/batch/read"],
        1
    );
    // Admin and OAuth routes are not HubSpot API calls and are not counted.
    assert_eq!(stats["requests"].as_object().map(|m| m.len()), Some(3));

    let reset = admin(&sb, Method::POST, "/_sandbox/stats/reset", None).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    let stats = admin(&sb, Method::GET, "/_sandbox/stats", None).await.body;
    assert_eq!(stats["total"], 0);
    assert_eq!(stats["requests"], json!({}));
}
