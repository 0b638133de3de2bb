//! Edit latency of an idle instance: a Keva edit (`PATCH /api/customers/{id}`
//! through the HTTP API) until HubSpot holds the new value, for edits of distinct
//! customers spaced so that each is "isolated" (synced at once, not after the
//! debounce). Issue 15's target: p50 under 100 ms.
//!
//! One real `keva-sync serve` process on PostgreSQL against a real
//! `keva-sync sandbox` process (HubSpot's 100 requests / 10 s by default). The
//! customers are seeded in the store and linked to HubSpot contacts by one batch
//! run first, so every measured edit is an update of an existing contact. Then,
//! one at a time: PATCH a customer's job title, poll the sandbox's admin endpoint
//! (`GET /_sandbox/objects/contacts/{id}`, which is not rate-limited and not
//! counted as a HubSpot call) until the contact has the new title, wait the gap,
//! edit the next customer.
//!
//! Two figures per edit, both from the moment just before the PATCH is sent:
//! - **HubSpot write time**: the timestamp the sandbox recorded for the new
//!   `jobtitle` value in the contact's property history (milliseconds, taken by
//!   the sandbox while it applies the write; same machine, same clock). This is
//!   the figure to quote: it does not depend on the polling.
//! - **observed by polling**: when the poll first saw the value (adds up to one
//!   poll interval plus a round trip).
//!
//! `KEVA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!  cargo bench --profile dev -p keva-sync --bench edit_latency` (or without
//! `--profile dev` for release). Environment (defaults finish in about a minute
//! on a 2-core machine):
//! - `BENCH_EDITS` (200): edits, one customer each.
//! - `BENCH_GAP_MS` (250): pause after an edit is seen in HubSpot before the next
//!   (keeps the portal well under its 10 requests/s, so no edit waits for budget).
//! - `BENCH_POLL_MS` (3): sandbox polling interval.
//! - `BENCH_RATE_LIMIT` (`100/10s`): the sandbox's limit per portal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // the tests' helpers this bench does not use
#[path = "../tests/cluster.rs"]
mod cluster;
#[path = "support/figures.rs"]
mod figures;

use std::time::{Duration, Instant};

use figures::{env_num, now_ms, pct};

use keva_core::SyncStatus;
use serde_json::{json, Value};
use uuid::Uuid;

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{name}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, min {:.1} ms, max {:.1} ms, mean {:.1} ms (n = {})",
        pct(&v, 50.0),
        pct(&v, 95.0),
        pct(&v, 99.0),
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN),
        mean,
        v.len()
    );
}

/// A failed setup: panics (so the child processes are killed as the stack
/// unwinds) and the bench exits non-zero with the reason.
fn fail(why: String) -> ! {
    panic!("edit_latency: setup failed: {why}");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(run());
    std::process::exit(code);
}

async fn run() -> i32 {
    let edits = env_num("BENCH_EDITS", 200) as usize;
    let gap = Duration::from_millis(env_num("BENCH_GAP_MS", 250));
    let poll = Duration::from_millis(env_num("BENCH_POLL_MS", 3));
    let rate_limit = std::env::var("BENCH_RATE_LIMIT").unwrap_or_else(|_| "100/10s".into());
    let started = Instant::now();

    let cluster::Setup {
        sb,
        info,
        store,
        cluster,
        ws,
        key,
        http,
        ..
    } = cluster::setup(&rate_limit, 30_000).await;
    let sandbox = info["url"].as_str().unwrap().to_string();
    // Production leases: one idle instance, nothing fails over.
    let prod = [
        ("KEVA_JOB_LEASE_MS", "30000".to_string()),
        ("KEVA_BATCH_LEASE_MS", "60000".to_string()),
        ("KEVA_SHUTDOWN_GRACE_MS", "10000".to_string()),
    ];
    let (serve, url) = cluster::serve_with(&cluster, &prod);
    let connector = cluster::connect(&http, &url, &key, &info).await;

    // The customers, linked to contacts by one batch run.
    let mut customers = Vec::with_capacity(edits);
    for i in 0..edits {
        let email = format!("latency{i}@example.com");
        customers.push(keva_store::testing::customer(&store, ws, &email).await);
    }
    let r = http
        .post(format!("{url}/api/crm/hubspot/batch-sync"))
        .bearer_auth(&key)
        .json(&json!({"connectorId": connector}))
        .send()
        .await
        .unwrap();
    if r.status() != 202 {
        fail(format!("batch sync answered {}", r.status()));
    }
    let batch: Uuid = r.json::<Value>().await.unwrap()["batch"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    cluster::eventually(120, "the linking batch run is done", || async {
        let run = store.get_batch(ws, batch).await.unwrap().unwrap();
        if matches!(
            run.state,
            keva_store::BatchState::Failed | keva_store::BatchState::Cancelled
        ) {
            fail(format!("the linking batch run ended {run:?}"));
        }
        run.state == keva_store::BatchState::Done
    })
    .await;
    let mut contacts = Vec::with_capacity(edits);
    for c in &customers {
        match store.get_link(connector, *c).await.unwrap() {
            Some(l) if l.status == SyncStatus::Synced && l.hubspot_id.is_some() => {
                contacts.push(l.hubspot_id.unwrap())
            }
            other => fail(format!("customer {c} not linked by the batch: {other:?}")),
        }
    }
    // Idle: nothing queued or running before the first edit.
    cluster::eventually(30, "an idle queue", || async {
        let active = [keva_core::JobState::Queued, keva_core::JobState::Running];
        for s in active {
            if !store.list_jobs(ws, Some(s), 10).await.unwrap().is_empty() {
                return false;
            }
        }
        true
    })
    .await;
    let before = cluster::sandbox_stats(&http, &sandbox).await;
    eprintln!(
        "edit_latency: {edits} customers linked in {:.1} s; editing",
        started.elapsed().as_secs_f64()
    );

    let mut by_timestamp = Vec::with_capacity(edits);
    let mut by_poll = Vec::with_capacity(edits);
    let mut api = Vec::with_capacity(edits);
    let mut after_api = Vec::with_capacity(edits);
    let mut polls = 0u64;
    let mut lost = Vec::new();
    let editing = Instant::now();
    for (i, (customer, contact)) in customers.iter().zip(&contacts).enumerate() {
        let title = format!("Latency title {i}");
        let sent = now_ms();
        cluster::edit(&http, &url, &key, *customer, &title).await;
        let answered = now_ms();
        api.push(answered - sent);
        let deadline = Instant::now() + Duration::from_secs(30);
        let written = loop {
            let c: Value = http
                .get(format!("{sandbox}/_sandbox/objects/contacts/{contact}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            polls += 1;
            if c["properties"]["jobtitle"].as_str() == Some(title.as_str()) {
                let seen = now_ms();
                let at = c["propertiesWithHistory"]["jobtitle"]
                    .as_array()
                    .and_then(|h| h.iter().find(|e| e["value"] == title.as_str()))
                    .and_then(|e| e["timestamp"].as_str())
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_millis() as f64);
                break Some((seen, at));
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(poll).await;
        };
        match written {
            Some((seen, at)) => {
                by_poll.push(seen - sent);
                match at {
                    Some(at) => {
                        by_timestamp.push(at - sent);
                        after_api.push(at - answered);
                    }
                    None => lost.push(format!(
                        "customer {customer} contact {contact}: the value has no history entry"
                    )),
                }
            }
            None => {
                let link = store.get_link(connector, *customer).await.unwrap();
                let jobs: Vec<_> = store
                    .list_jobs(ws, None, 10_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|j| {
                        j.payload["customerId"].as_str() == Some(customer.to_string().as_str())
                    })
                    .collect();
                lost.push(format!(
                    "edit {i} of customer {customer} (contact {contact}) not in HubSpot after 30 s: link {link:?}, jobs {jobs:?}"
                ));
            }
        }
        tokio::time::sleep(gap).await;
    }
    let edit_secs = editing.elapsed().as_secs_f64();
    let after = cluster::sandbox_stats(&http, &sandbox).await;
    let calls = after["total"].as_u64().unwrap_or(0) - before["total"].as_u64().unwrap_or(0);
    let limited =
        after["rateLimited"].as_u64().unwrap_or(0) - before["rateLimited"].as_u64().unwrap_or(0);

    println!("edit_latency: {edits} isolated edits of distinct customers, 1 idle instance, PostgreSQL, sandbox at {rate_limit}");
    println!(
        "edits: every {} ms after the previous one reached HubSpot; sandbox polled every {} ms",
        gap.as_millis(),
        poll.as_millis()
    );
    summary(
        "edit -> HubSpot write (sandbox property-history timestamp, 1 ms resolution)",
        by_timestamp.clone(),
    );
    summary("edit -> seen in HubSpot by polling", by_poll);
    summary("edit API call (PATCH answered)", api);
    summary(
        "PATCH answered -> HubSpot write (queue, claim, sync)",
        after_api,
    );
    let mut sorted = by_timestamp;
    sorted.sort_by(f64::total_cmp);
    println!(
        "p50 vs the 100 ms target: {:.2}x ({})",
        pct(&sorted, 50.0) / 100.0,
        if pct(&sorted, 50.0) < 100.0 {
            "met"
        } else {
            "missed"
        }
    );
    println!(
        "HubSpot calls during the edits: {calls} ({:.2} per edit), {:.2} calls/s over {edit_secs:.1} s; sandbox polls {polls}",
        calls as f64 / edits.max(1) as f64,
        calls as f64 / edit_secs
    );
    println!("real 429s from the sandbox during the edits: {limited}");
    println!("edits that never reached HubSpot: {}", lost.len());
    for l in &lost {
        println!("  LOST {l}");
    }
    println!(
        "edit_latency: total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(serve);
    drop(sb);
    keva_store::testing::drop_test_database(store).await;
    i32::from(!lost.is_empty())
}
