//! The sandbox's own throughput, so it is never the bottleneck of sync benchmarks:
//! seeds 100k and then 1M contacts and measures, with rate limits off, requests per
//! second for get-by-email and for batch upsert (100 inputs), using concurrent
//! reqwest clients over loopback for a few seconds each. Prints figures; asserts
//! nothing about timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keva_sandbox::control::ControlConfig;
use keva_sandbox::portal::ObjectType;
use keva_sandbox::server::{start, SandboxConfig};
use serde_json::json;

const RUN_FOR: Duration = Duration::from_secs(4);
const SEARCH_RUN_FOR: Duration = Duration::from_secs(2);
const GET_CLIENTS: usize = 32;
const SCAN_CLIENTS: usize = 2;
const UPSERT_CLIENTS: usize = 8;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        for size in [100_000usize, 1_000_000] {
            bench_size(size).await;
        }
    });
}

async fn bench_size(size: usize) {
    let seeded = Instant::now();
    let config = SandboxConfig {
        seed_contacts: size,
        control: ControlConfig::without_rate_limits(),
        ..Default::default()
    };
    let sb = start(config).await.expect("sandbox starts");
    let seed_secs = seeded.elapsed().as_secs_f64();
    let emails: Arc<Vec<String>> = {
        let portal = sb.state().portal(sb.portal_id()).expect("default portal");
        let data = portal.read();
        let step = (size / 10_000).max(1);
        Arc::new(
            data.table(ObjectType::Contacts)
                .records
                .values()
                .step_by(step)
                .filter_map(|r| r.stored("email").map(str::to_string))
                .collect(),
        )
    };
    println!(
        "== {size} contacts (seeded in {seed_secs:.2}s, process RSS {} MiB)",
        rss_mib()
    );

    // get-by-email
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..GET_CLIENTS {
        let (url, token, emails, done, errors) = (
            sb.url(),
            sb.access_token().to_string(),
            emails.clone(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = worker * 997;
            while started.elapsed() < RUN_FOR {
                let email = &emails[i % emails.len()];
                i += 7;
                let resp = http
                    .get(format!(
                        "{url}/crm/v3/objects/contacts/{email}?idProperty=email"
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "get-by-email:        {:>9.0} req/s  ({} ok, {} errors, {GET_CLIENTS} clients, {secs:.1}s)",
        done.load(Ordering::Relaxed) as f64 / secs,
        done.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed)
    );

    // search by email (EQ, answered from the email index)
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..GET_CLIENTS {
        let (url, token, emails, done, errors) = (
            sb.url(),
            sb.access_token().to_string(),
            emails.clone(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = worker * 991;
            while started.elapsed() < SEARCH_RUN_FOR {
                let email = emails[i % emails.len()].to_uppercase();
                i += 13;
                let body = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
                                  "properties": ["email", "firstname"], "limit": 1});
                let resp = http
                    .post(format!("{url}/crm/v3/objects/contacts/search"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "search email EQ:     {:>9.0} req/s  ({} ok, {} errors, {GET_CLIENTS} clients, {secs:.1}s)",
        done.load(Ordering::Relaxed) as f64 / secs,
        done.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed)
    );

    // search on a property without an index (a full scan of the table)
    let scans = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SCAN_CLIENTS {
        let (url, token, scans) = (sb.url(), sb.access_token().to_string(), scans.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while started.elapsed() < SEARCH_RUN_FOR {
                let body = json!({"filterGroups": [{"filters": [
                    {"propertyName": "firstname", "operator": "EQ", "value": "aiko"},
                    {"propertyName": "lastname", "operator": "EQ", "value": "tanaka"}]}], "limit": 10});
                let ok = http
                    .post(format!("{url}/crm/v3/objects/contacts/search"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    scans.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "search full scan:    {:>9.1} req/s  ({} ok, {SCAN_CLIENTS} clients, {secs:.1}s)",
        scans.load(Ordering::Relaxed) as f64 / secs,
        scans.load(Ordering::Relaxed)
    );

    // batch upsert, 100 inputs: half existing emails, half new ones.
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..UPSERT_CLIENTS {
        let (url, token, emails, done, errors) = (
            sb.url(),
            sb.access_token().to_string(),
            emails.clone(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut round = 0usize;
            while started.elapsed() < RUN_FOR {
                let inputs: Vec<_> = (0..100)
                    .map(|k| {
                        let email = if k % 2 == 0 {
                            emails[(worker * 50_000 + round * 50 + k) % emails.len()].clone()
                        } else {
                            format!("bench-{size}-{worker}-{round}-{k}@example.com")
                        };
                        json!({"id": email, "idProperty": "email", "properties": {"lastname": format!("R{round}")}})
                    })
                    .collect();
                round += 1;
                let resp = http
                    .post(format!("{url}/crm/v3/objects/contacts/batch/upsert"))
                    .bearer_auth(&token)
                    .json(&json!({ "inputs": inputs }))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let ok = done.load(Ordering::Relaxed);
    println!(
        "batch upsert (100):  {:>9.0} req/s  = {:.0} records/s ({ok} ok, {} errors, {UPSERT_CLIENTS} clients, {secs:.1}s)",
        ok as f64 / secs,
        ok as f64 * 100.0 / secs,
        errors.load(Ordering::Relaxed)
    );
    sb.shutdown().await;
}

/// Resident memory of this process (server and clients), from /proc on Linux.
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
