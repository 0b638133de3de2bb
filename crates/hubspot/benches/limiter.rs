//! Limiter benchmark: 500 concurrent calls against a sandbox portal limited to
//! 100 requests per rolling 10 s. Prints wall time, the theoretical minimum, their
//! ratio and the number of 429s the sandbox answered.
//!
//! Theoretical minimum, with the window initially empty (a full bucket): the first
//! `max` calls go at t = 0, and each further `max` calls need one more interval, so
//! the last call can start at `ceil((n - max) / max) * interval`
//! = (500 - 100) / 100 * 10 s = 40 s (plus one response latency).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use keva_hubspot::{Credentials, HubspotClient, RateLimitConfig, ReadOptions, RetryConfig};
use keva_sandbox::control::ControlConfig;
use keva_sandbox::server::{start, SandboxConfig};
use secrecy::SecretString;

const CALLS: u64 = 500;
const MAX: u64 = 100;
const INTERVAL: Duration = Duration::from_secs(10);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let sandbox = start(SandboxConfig {
        seed_contacts: 50,
        control: ControlConfig::default(), // 100 per rolling 10 s, like a Free portal
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    // Ids through the admin API, which does not touch the portal's budget.
    let dump: serde_json::Value = reqwest::get(format!(
        "{}/_sandbox/objects/contacts?limit=50",
        sandbox.url()
    ))
    .await
    .expect("dump")
    .json()
    .await
    .expect("dump json");
    let ids: Vec<String> = dump["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| match &r["id"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    assert!(!ids.is_empty(), "seeded contacts: {dump}");

    let client = HubspotClient::builder(Credentials::PrivateApp(SecretString::from(
        sandbox.access_token().to_string(),
    )))
    .base_url(sandbox.url())
    .portal_id(sandbox.portal_id())
    .rate_limit(RateLimitConfig {
        max: MAX as u32,
        interval: INTERVAL,
        ..RateLimitConfig::default()
    })
    .retry(RetryConfig::default())
    .build()
    .expect("client");

    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLS as usize)
        .map(|i| {
            let client = client.clone();
            let id = ids[i % ids.len()].clone();
            tokio::spawn(async move {
                let r = client.contacts().get(&id, &ReadOptions::default()).await;
                (r, started.elapsed())
            })
        })
        .collect();
    let mut failed = 0;
    let mut done_at = Vec::new();
    for t in tasks {
        let (r, at) = t.await.expect("task");
        if r.is_err() {
            failed += 1;
        }
        done_at.push(at);
    }
    done_at.sort();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for (i, chunk) in done_at.chunks(MAX as usize).enumerate() {
            println!(
                "  window {i}: done {:.3}s .. {:.3}s",
                chunk[0].as_secs_f64(),
                chunk[chunk.len() - 1].as_secs_f64()
            );
            let sample: Vec<String> = chunk
                .iter()
                .step_by(10)
                .map(|d| format!("{:.3}", d.as_secs_f64()))
                .collect();
            println!("    {}", sample.join(" "));
        }
    }
    let wall = started.elapsed();
    let stats = sandbox.control().stats.snapshot();
    let minimum = INTERVAL.as_secs_f64() * (CALLS - MAX).div_ceil(MAX) as f64;
    println!("limiter bench: {CALLS} concurrent GETs, portal budget {MAX}/{INTERVAL:?} (rolling)");
    println!("  wall time          {:.2} s", wall.as_secs_f64());
    println!(
        "  theoretical min    {minimum:.2} s  (= ceil(({CALLS}-{MAX})/{MAX}) x {} s)",
        INTERVAL.as_secs()
    );
    println!("  ratio              {:.3}", wall.as_secs_f64() / minimum);
    println!("  429s from sandbox  {}", stats.rate_limited);
    println!("  requests served    {}", stats.total);
    println!("  failed calls       {failed}");
}
