//! The limiter against the sandbox's real rolling window: no 429s when the budget
//! is known (configured, or learned from headers), fairness across tasks.

use std::sync::Arc;
use std::time::Duration;

use keva_hubspot::{RateLimitConfig, RateLimiters, ReadOptions};
use keva_sandbox::control::ControlConfig;

use crate::helpers::{contact, fast_retries, with_control};

fn one_second_window(max: u32) -> ControlConfig {
    let mut control = ControlConfig::default();
    control.rate_limits.ten_second = max;
    control.rate_limits.interval_ms = 1_000;
    control
}

#[tokio::test]
async fn concurrent_calls_never_hit_429_when_budget_is_known() {
    let env = with_control(one_second_window(10)).await;
    let client = env.client_with(
        RateLimitConfig {
            max: 10,
            interval: Duration::from_secs(1),
            ..RateLimitConfig::default()
        },
        keva_hubspot::RetryConfig::none(),
    );
    let id = client
        .contacts()
        .create(&contact("limited@example.com", "L"))
        .await
        .unwrap()
        .id;
    let mut tasks = Vec::new();
    for _ in 0..45 {
        let client = client.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            client.contacts().get(&id, &ReadOptions::default()).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("no call fails (retries are off)");
    }
    let stats = env.stats().await;
    assert_eq!(stats["rateLimited"], 0);
    assert_eq!(stats["total"], 46);
}

#[tokio::test]
async fn budget_learned_from_headers_prevents_429() {
    let env = with_control(one_second_window(8)).await;
    // Configured far too high; the first response's headers correct it.
    let client = env.client_with(
        RateLimitConfig {
            max: 500,
            interval: Duration::from_secs(10),
            ..RateLimitConfig::default()
        },
        keva_hubspot::RetryConfig::none(),
    );
    let id = client
        .contacts()
        .create(&contact("learned@example.com", "L"))
        .await
        .unwrap()
        .id;
    assert_eq!(
        client.limiter().general.budget(),
        (8, Duration::from_secs(1))
    );
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let client = client.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            client.contacts().get(&id, &ReadOptions::default()).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("no 429");
    }
    assert_eq!(env.stats().await["rateLimited"], 0);
}

#[tokio::test]
async fn search_has_its_own_per_second_budget() {
    let mut control = ControlConfig::without_rate_limits();
    control.rate_limits.enabled = true;
    control.rate_limits.ten_second = 10_000;
    control.rate_limits.search_per_second = 3;
    let env = with_control(control).await;
    let client = env.client_with(
        RateLimitConfig {
            max: 10_000,
            search_per_second: 3,
            ..RateLimitConfig::default()
        },
        keva_hubspot::RetryConfig::none(),
    );
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .contacts()
                .search(&keva_hubspot::models::SearchRequest::default())
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("no SECONDLY 429");
    }
    assert_eq!(env.stats().await["rateLimited"], 0);
}

#[tokio::test]
async fn portals_sharing_a_registry_do_not_slow_each_other() {
    let env = with_control(one_second_window(1000)).await;
    let registry = RateLimiters::new(RateLimitConfig {
        max: 2,
        interval: Duration::from_secs(60),
        ..RateLimitConfig::default()
    });
    let build = |portal: u64| {
        keva_hubspot::HubspotClient::builder(keva_hubspot::Credentials::PrivateApp(
            secrecy::SecretString::from(env.sandbox.access_token().to_string()),
        ))
        .base_url(env.url())
        .portal_id(portal)
        .rate_limiters(Arc::clone(&registry))
        .retry(fast_retries())
        .build()
        .unwrap()
    };
    // Two distinct portal keys: each has its own budget of 2 per minute, so four
    // calls (two per key) finish at once instead of waiting a minute.
    let a = build(1);
    let b = build(2);
    let started = tokio::time::Instant::now();
    for c in [&a, &a, &b, &b] {
        let _ = c.contacts().get("1", &ReadOptions::default()).await;
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn bulk_borrows_the_reserve_until_interactive_calls_wait() {
    let env = with_control(one_second_window(10)).await;
    let client = env.client_with(
        RateLimitConfig {
            max: 10,
            interval: Duration::from_secs(1),
            bulk_reserve_share: 0.3,
            ..RateLimitConfig::default()
        },
        keva_hubspot::RetryConfig::none(),
    );
    let bulk = client.with_priority(keva_hubspot::Priority::Bulk);
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..30 {
        let bulk = bulk.clone();
        let order = Arc::clone(&order);
        tasks.push(tokio::spawn(async move {
            let _ = bulk.contacts().get("1", &ReadOptions::default()).await;
            order.lock().push(format!("bulk-{i}"));
        }));
    }
    // Let the bulk backlog form, then ask for three interactive calls.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..3 {
        let client = client.clone();
        let order = Arc::clone(&order);
        tasks.push(tokio::spawn(async move {
            let _ = client.contacts().get("1", &ReadOptions::default()).await;
            order.lock().push(format!("interactive-{i}"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().clone();
    let last_interactive = order
        .iter()
        .rposition(|s| s.starts_with("interactive"))
        .unwrap();
    // While no interactive call waits, bulk uses the reserve too (9 of 10 slots,
    // one kept as headroom), and the first interactive call takes the headroom at
    // once; the others wait for the next window, where bulk leaves a slot for
    // each while they wait, so they come before the rest of the bulk backlog
    // (20 calls, 3 windows) instead of queueing behind it.
    assert!(
        order[..9].iter().all(|s| s.starts_with("bulk")),
        "{order:?}"
    );
    assert_eq!(order[9], "interactive-0", "{order:?}");
    assert!(last_interactive <= 13, "{order:?}");
    assert_eq!(env.stats().await["rateLimited"], 0);
}
