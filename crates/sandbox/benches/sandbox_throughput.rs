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

    let (url, token) = (sb.url(), sb.access_token().to_string());

    // get-by-email
    let emails_get = emails.clone();
    let get = drive(GET_CLIENTS, RUN_FOR, move |http, worker, round| {
        let email = &emails_get[(worker * 997 + round * 7) % emails_get.len()];
        http.get(format!(
            "{url}/crm/v3/objects/contacts/{email}?idProperty=email"
        ))
        .bearer_auth(&token)
    })
    .await;
    println!(
        "get-by-email:        {:>9.0} req/s  ({} ok, {} errors, {GET_CLIENTS} clients, {:.1}s)",
        get.ok as f64 / get.secs,
        get.ok,
        get.errors,
        get.secs
    );

    // search by email (EQ, answered from the email index)
    let (url, token) = (sb.url(), sb.access_token().to_string());
    let emails_search = emails.clone();
    let search = drive(GET_CLIENTS, SEARCH_RUN_FOR, move |http, worker, round| {
        let email = emails_search[(worker * 991 + round * 13) % emails_search.len()].to_uppercase();
        let body = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
                          "properties": ["email", "firstname"], "limit": 1});
        http.post(format!("{url}/crm/v3/objects/contacts/search"))
            .bearer_auth(&token)
            .json(&body)
    })
    .await;
    println!(
        "search email EQ:     {:>9.0} req/s  ({} ok, {} errors, {GET_CLIENTS} clients, {:.1}s)",
        search.ok as f64 / search.secs,
        search.ok,
        search.errors,
        search.secs
    );

    // search on a property without an index (a full scan of the table)
    let (url, token) = (sb.url(), sb.access_token().to_string());
    let scan = drive(SCAN_CLIENTS, SEARCH_RUN_FOR, move |http, _, _| {
        let body = json!({"filterGroups": [{"filters": [
            {"propertyName": "firstname", "operator": "EQ", "value": "aiko"},
            {"propertyName": "lastname", "operator": "EQ", "value": "tanaka"}]}], "limit": 10});
        http.post(format!("{url}/crm/v3/objects/contacts/search"))
            .bearer_auth(&token)
            .json(&body)
    })
    .await;
    println!(
        "search full scan:    {:>9.1} req/s  ({} ok, {SCAN_CLIENTS} clients, {:.1}s)",
        scan.ok as f64 / scan.secs,
        scan.ok,
        scan.secs
    );

    // batch upsert, 100 inputs: half existing emails, half new ones.
    let (url, token) = (sb.url(), sb.access_token().to_string());
    let upsert = drive(UPSERT_CLIENTS, RUN_FOR, move |http, worker, round| {
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
        http.post(format!("{url}/crm/v3/objects/contacts/batch/upsert"))
            .bearer_auth(&token)
            .json(&json!({ "inputs": inputs }))
    })
    .await;
    println!(
        "batch upsert (100):  {:>9.0} req/s  = {:.0} records/s ({} ok, {} errors, {UPSERT_CLIENTS} clients, {:.1}s)",
        upsert.ok as f64 / upsert.secs,
        upsert.ok as f64 * 100.0 / upsert.secs,
        upsert.ok,
        upsert.errors,
        upsert.secs
    );
    sb.shutdown().await;
}

/// What one timed run of concurrent clients achieved.
struct Throughput {
    ok: u64,
    errors: u64,
    secs: f64,
}

/// Runs `clients` concurrent reqwest clients for `run_for`, each sending the
/// request `request(http, worker, round)` builds, one after another; a 2xx
/// response (body read) counts as ok, anything else as an error.
async fn drive<F>(clients: usize, run_for: Duration, request: F) -> Throughput
where
    F: Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let (request, done, errors) = (request.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut round = 0usize;
            while started.elapsed() < run_for {
                let resp = request(&http, worker, round).send().await;
                round += 1;
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
    Throughput {
        ok: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
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
