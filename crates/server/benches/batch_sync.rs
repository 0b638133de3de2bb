//! Batch sync benchmark against the sandbox at HubSpot's 100 requests /
//! 10 s: 100,000 customers (50 % already in HubSpot, 20 % of those with a field
//! changed on one side, 1 % invalid emails), the naive one-customer-at-a-time
//! baseline on a sample, and peak RSS at 1,000,000 customers.
//!
//! Three processes, so each figure measures what it claims: this orchestrator
//! seeds both sides and verifies them; the sandbox runs in a child process (its
//! memory is HubSpot's, not ours); each batch runs in a child process of its own
//! whose peak RSS (VmHWM) is the runner's alone.
//!
//! `cargo bench -p keva-server --bench batch_sync` (release). Environment:
//! `BENCH_CUSTOMERS` (100000), `BENCH_NAIVE_SAMPLE` (500), `BENCH_RSS_CUSTOMERS`
//! (1000000; 0 skips), `BENCH_RSS_MAX_PROCESSED` (stop the 1M run after this many;
//! 0 = all; the 1M run lifts the client's own limit with `BENCH_CLIENT_MAX`,
//! 100000), `BENCH_RESERVE` (the share left to live syncs, 0.2; with a
//! `BENCH_NAIVE_SAMPLE` of 0 only the batch runs), `BENCH_LIVE_SYNC_MS` (a live
//! Sync Now this often while the batch runs, 1000; 0 = none).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use keva_hubspot::models::{Filter, FilterGroup, ObjectCreate, SearchRequest};
use keva_hubspot::{Credentials, HubspotClient, RateLimitConfig};
use keva_server::batch::{self, BatchSettings};
use keva_server::config::Settings;
use keva_server::{AppState, ServerConfig};
use keva_store::{BatchState, MasterKey, NewCustomer, Store};
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(i) = args.iter().position(|a| a == "--sandbox-child") {
        let _ = i;
        return rt.block_on(sandbox_child());
    }
    if let Some(i) = args.iter().position(|a| a == "--runner-child") {
        let rest = &args[i + 1..];
        return rt.block_on(runner_child(rest));
    }
    rt.block_on(orchestrate())
}

// ------------------------------------------------------------------ children

/// Serves a sandbox until stdin closes; prints "URL TOKEN".
async fn sandbox_child() -> Result<()> {
    let sb = keva_sandbox::server::start(keva_sandbox::server::SandboxConfig::default()).await?;
    println!("{} {}", sb.url(), sb.access_token());
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        while std::io::stdin()
            .read_line(&mut s)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await?;
    sb.shutdown().await;
    Ok(())
}

/// Runs one batch; prints one JSON line with its figures.
async fn runner_child(args: &[String]) -> Result<()> {
    let [db, key, ws, connector, sandbox, max_processed] = args else {
        bail!("runner child: expected 6 arguments");
    };
    let store = Store::connect(db, MasterKey::from_base64(key)?).await?;
    let ws: Uuid = ws.parse()?;
    let connector: Uuid = connector.parse()?;
    let max_processed: u64 = max_processed.parse()?;
    let reserve = std::env::var("BENCH_RESERVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(batch::DEFAULT_BATCH_RESERVE);
    let state = AppState::new(
        store.clone(),
        Settings {
            rate_limits: RateLimitConfig {
                max: env_num("BENCH_CLIENT_MAX", 100) as u32,
                bulk_reserve_share: reserve,
                ..RateLimitConfig::default()
            },
            ..Settings::new(ServerConfig::new("127.0.0.1:0".parse()?, sandbox.clone()))
        },
    );
    let rss_start = status_kb("VmRSS:");
    let started = Instant::now();
    let (run, task) =
        batch::start(&state, ws, connector, Arc::new(BatchSettings::default())).await?;
    let live = tokio::spawn(live_sync_now(state.clone(), ws, connector));
    let mut max_rss = rss_start;
    let mut last_print = Instant::now();
    let mut cancelled_at = None;
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        max_rss = max_rss.max(status_kb("VmRSS:"));
        let Some(p) = store.get_batch(ws, run.id).await? else {
            break;
        };
        if max_processed > 0 && p.counters.processed >= max_processed && cancelled_at.is_none() {
            store
                .set_batch_state(
                    run.id,
                    BatchState::Cancelled,
                    Some("benchmark sample done"),
                    None,
                )
                .await?;
            cancelled_at = Some(p.counters.processed);
        }
        if last_print.elapsed() >= Duration::from_secs(15) {
            last_print = Instant::now();
            eprintln!(
                "  … {:>7}/{} processed after {:>5.0} s (RSS {} MB)",
                p.counters.processed,
                p.counters.total,
                started.elapsed().as_secs_f64(),
                status_kb("VmRSS:") / 1024
            );
        }
    }
    task.await?;
    let wall = started.elapsed().as_secs_f64();
    live.abort();
    let mut live_ms = LIVE_LATENCIES_MS.lock().clone();
    live_ms.sort_unstable();
    let live_failed = LIVE_FAILURES.load(std::sync::atomic::Ordering::Relaxed);
    let end = store.get_batch(ws, run.id).await?.context("run vanished")?;
    println!(
        "{}",
        json!({
            "wallSecs": wall,
            "state": end.state.as_str(),
            "counters": end.counters,
            "rssStartKb": rss_start,
            "maxRssKb": max_rss.max(status_kb("VmRSS:")),
            "vmHwmKb": status_kb("VmHWM:"),
            "error": end.error,
            "liveSyncs": live_ms.len(),
            "liveFailed": live_failed,
            "liveP50Ms": percentile(&live_ms, 0.50),
            "liveP95Ms": percentile(&live_ms, 0.95),
            "liveMaxMs": live_ms.last().copied().unwrap_or(0),
        })
    );
    Ok(())
}

/// Latencies of the live Sync Nows made while the batch runs, and failures.
static LIVE_LATENCIES_MS: parking_lot::Mutex<Vec<u64>> = parking_lot::Mutex::new(Vec::new());
static LIVE_FAILURES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A live Sync Now every `BENCH_LIVE_SYNC_MS` (1000; 0 = none) while the batch
/// runs, each on one of the workspace's first customers in turn: the engine's
/// own sync at the live (Interactive) priority, as the worker runs a Sync Now
/// job. Each latency is recorded; the goal is every one within a window.
async fn live_sync_now(state: AppState, ws: Uuid, connector_id: Uuid) {
    let every = env_num("BENCH_LIVE_SYNC_MS", 1000);
    if every == 0 {
        return;
    }
    let Ok(Some(connector)) = state.store.get_connector(ws, connector_id).await else {
        LIVE_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return;
    };
    let customers = state
        .store
        .list_customers(ws, None, 500)
        .await
        .unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_millis(every));
    for customer in customers.iter().cycle() {
        tick.tick().await;
        let state = state.clone();
        let connector = connector.clone();
        let id = customer.id;
        // Each on its own task: one waiting for a slot does not delay the next.
        tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = keva_server::sync::sync_customer(
                &state,
                &connector,
                id,
                keva_core::Trigger::Manual,
            )
            .await;
            let ms = sent.elapsed().as_millis() as u64;
            match outcome {
                Ok(_) => LIVE_LATENCIES_MS.lock().push(ms),
                Err(_) => {
                    LIVE_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// --------------------------------------------------------------- orchestrator

struct Sandbox {
    child: Child,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Sandbox {
    fn spawn() -> Result<Sandbox> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--sandbox-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let url = parts.next().context("url")?.to_string();
        let token = parts.next().context("token")?.to_string();
        Ok(Sandbox {
            child,
            url,
            token,
            http: reqwest::Client::new(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("sandbox {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn limits(&self, on: bool) -> Result<()> {
        self.call(
            reqwest::Method::PUT,
            "/_sandbox/ratelimits",
            Some(json!({"enabled": on, "tenSecond": 100, "intervalMs": 10000, "daily": 100_000_000u64})),
        )
        .await
        .map(|_| ())
    }

    async fn reset_stats(&self) -> Result<()> {
        self.call(reqwest::Method::POST, "/_sandbox/stats/reset", None)
            .await
            .map(|_| ())
    }

    async fn stats(&self) -> Result<Value> {
        self.call(reqwest::Method::GET, "/_sandbox/stats", None)
            .await
    }

    async fn create_contacts(&self, contacts: Vec<Value>) -> Result<()> {
        for chunk in contacts.chunks(100) {
            let inputs: Vec<Value> = chunk.iter().map(|p| json!({"properties": p})).collect();
            self.call(
                reqwest::Method::POST,
                "/crm/v3/objects/contacts/batch/create",
                Some(json!({"inputs": inputs})),
            )
            .await?;
        }
        Ok(())
    }

    /// Every live contact, by lower-cased email.
    async fn all_contacts(&self) -> Result<HashMap<String, Value>> {
        let mut out = HashMap::new();
        let mut after: Option<String> = None;
        let mut dups = 0;
        loop {
            let mut path = "/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname,company,phone,jobtitle".to_string();
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page = self.call(reqwest::Method::GET, &path, None).await?;
            for c in page["results"].as_array().context("results")? {
                let email = c["properties"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                if out.insert(email, c.clone()).is_some() {
                    dups += 1;
                }
            }
            match page["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => break,
            }
        }
        if dups > 0 {
            bail!("{dups} duplicate contacts in HubSpot");
        }
        Ok(out)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

struct Db {
    _dir: tempfile::TempDir,
    url: String,
    key: MasterKey,
    store: Store,
    ws: Uuid,
    connector: Uuid,
}

async fn new_db(sb: &Sandbox, name: &str) -> Result<Db> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}",
        dir.path().join(format!("{name}.db")).display()
    );
    let key = MasterKey::generate();
    let store = Store::connect(&url, key.clone()).await?;
    store.migrate().await?;
    let (ws, _) = store.ensure_workspace("bench").await?;
    let state = AppState::new(
        store.clone(),
        Settings::new(ServerConfig::new("127.0.0.1:0".parse()?, sb.url.clone())),
    );
    let connected = keva_server::sync::connect::connect_private_app(
        &state,
        ws.id,
        SecretString::from(sb.token.clone()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
    Ok(Db {
        _dir: dir,
        url,
        key,
        store,
        ws: ws.id,
        connector: connected.connector.id,
    })
}

fn email(prefix: &str, i: u64) -> String {
    if i % 100 == 99 {
        format!("{prefix}{i}.invalid-no-at.example.com")
    } else {
        format!("{prefix}{i}@example.com")
    }
}

fn customer(prefix: &str, i: u64) -> NewCustomer {
    NewCustomer {
        email: email(prefix, i),
        name: Some(format!("Given{i} Family{i}")),
        company: Some(format!("Company{}", i % 97)),
        ..NewCustomer::default()
    }
}

/// The HubSpot side of a customer that "already exists": every 2nd; of those,
/// every 10th has a changed company in HubSpot and every 10th (offset 5) lacks
/// one that Keva has (a Keva-side change) — 20 % of the existing ones.
fn existing_contact(prefix: &str, i: u64) -> Option<Value> {
    if !i.is_multiple_of(2) || i % 100 == 99 {
        return None;
    }
    let mut p = json!({"email": email(prefix, i), "firstname": format!("Given{i}"),
                       "lastname": format!("Family{i}"), "company": format!("Company{}", i % 97)});
    match (i / 2) % 10 {
        0 => p["company"] = json!(format!("HubSpotCo{i}")),
        5 => {
            p.as_object_mut().map(|o| o.remove("company"));
        }
        _ => {}
    }
    Some(p)
}

async fn seed(db: &Db, sb: &Sandbox, prefix: &str, n: u64) -> Result<f64> {
    let started = Instant::now();
    sb.limits(false).await?;
    let contacts: Vec<Value> = (0..n).filter_map(|i| existing_contact(prefix, i)).collect();
    sb.create_contacts(contacts).await?;
    // Four writers: SQLite serialises them, but the round trips overlap.
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..env_num("BENCH_SEED_WRITERS", 4) {
        let (store, ws, next, prefix) = (db.store.clone(), db.ws, next.clone(), prefix.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                store.insert_customer(ws, customer(&prefix, i)).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn run_child(db: &Db, sb: &Sandbox, max_processed: u64, client_max: u64) -> Result<Value> {
    let out = Command::new(std::env::current_exe()?)
        .env("BENCH_CLIENT_MAX", client_max.to_string())
        .args([
            "--runner-child",
            &db.url,
            &db.key.to_base64(),
            &db.ws.to_string(),
            &db.connector.to_string(),
            &sb.url,
            &max_processed.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!(
            "runner child failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().context("no output")?;
    Ok(serde_json::from_str(line)?)
}

/// Every customer against its contact: linked to the contact with its email and
/// equal name and company; an invalid email linked to nothing and absent.
async fn verify(db: &Db, sb: &Sandbox) -> Result<(u64, u64)> {
    sb.limits(false).await?;
    let contacts = sb.all_contacts().await?;
    let (mut ok, mut bad) = (0u64, 0u64);
    let mut after = None;
    loop {
        let rows = db
            .store
            .customers_for_batch(db.ws, db.connector, after, 1000)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0.id);
        for (c, link, _) in &rows {
            let valid = keva_core::Email::parse(&c.email).is_ok();
            let contact = contacts.get(&c.email.to_lowercase());
            let equal = match (valid, contact) {
                (false, None) => link.as_ref().is_none_or(|l| l.hubspot_id.is_none()),
                (true, Some(h)) => {
                    let p = &h["properties"];
                    let name = keva_core::name::join(
                        p["firstname"].as_str().unwrap_or_default(),
                        p["lastname"].as_str().unwrap_or_default(),
                    );
                    link.as_ref().and_then(|l| l.hubspot_id.as_deref()) == h["id"].as_str()
                        && c.name.as_deref().unwrap_or_default() == name
                        && c.company.as_deref() == p["company"].as_str()
                }
                _ => false,
            };
            if equal {
                ok += 1;
            } else {
                bad += 1;
                if bad <= 5 {
                    eprintln!("  MISMATCH {} {:?} vs {:?}", c.email, c, contact);
                }
            }
        }
    }
    Ok((ok, bad))
}

/// The seed's way: per customer, search by email, then create or update.
async fn naive(sb: &Sandbox, prefix: &str, n: u64) -> Result<(f64, u64, u64)> {
    let client = HubspotClient::builder(Credentials::PrivateApp(SecretString::from(
        sb.token.clone(),
    )))
    .base_url(sb.url.clone())
    .rate_limit(RateLimitConfig::default())
    .build()?;
    let started = Instant::now();
    let mut synced = 0;
    for i in 0..n {
        let c = customer(prefix, i);
        if keva_core::Email::parse(&c.email).is_err() {
            continue;
        }
        let mut props = std::collections::BTreeMap::new();
        props.insert("email".to_string(), c.email.clone());
        props.insert("firstname".to_string(), format!("Given{i}"));
        props.insert("lastname".to_string(), format!("Family{i}"));
        props.insert("company".to_string(), c.company.clone().unwrap_or_default());
        let found = client
            .contacts()
            .search(&SearchRequest {
                filter_groups: vec![FilterGroup {
                    filters: vec![Filter::eq("email", c.email.clone())],
                }],
                properties: vec!["email".into()],
                limit: Some(1),
                ..SearchRequest::default()
            })
            .await?;
        match found.results.first() {
            Some(contact) => {
                client.contacts().update(&contact.id, &props).await?;
            }
            None => match client
                .contacts()
                .create(&ObjectCreate::new(props.clone()))
                .await
            {
                Ok(_) => {}
                Err(e) if e.existing_id().is_some() => {
                    client
                        .contacts()
                        .update(&e.existing_id().unwrap_or_default(), &props)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            },
        }
        synced += 1;
    }
    Ok((started.elapsed().as_secs_f64(), synced, n))
}

async fn orchestrate() -> Result<()> {
    let n = env_num("BENCH_CUSTOMERS", 100_000);
    let sample = env_num("BENCH_NAIVE_SAMPLE", 500);
    let n_rss = env_num("BENCH_RSS_CUSTOMERS", 1_000_000);
    let rss_max = env_num("BENCH_RSS_MAX_PROCESSED", 0);
    println!(
        "== batch sync benchmark (sandbox at 100 requests / 10 s, bulk reserve {}) ==",
        std::env::var("BENCH_RESERVE").unwrap_or_else(|_| "0.2".into())
    );

    if n > 0 {
        batch_and_naive(n, sample).await?;
    }

    // --- C: peak RSS at n_rss customers (rate limit off) ---------------------
    if n_rss > 0 {
        let sb = Sandbox::spawn()?;
        let db = new_db(&sb, "rss").await?;
        sb.limits(false).await?;
        let started = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..env_num("BENCH_SEED_WRITERS", 4) {
            let (store, ws, next) = (db.store.clone(), db.ws, next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n_rss {
                        return Ok::<_, anyhow::Error>(());
                    }
                    store.insert_customer(ws, customer("m", i)).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        println!(
            "\nseeded {n_rss} customers in {:.0} s (HubSpot empty, rate limit off)",
            started.elapsed().as_secs_f64()
        );
        let r = run_child(&db, &sb, rss_max, 100_000)?;
        println!("-- batch, {n_rss} customers in the database, rate limit off --");
        println!(
            "state                      {} {}",
            r["state"], r["counters"]
        );
        println!(
            "wall time                  {:.1} s",
            r["wallSecs"].as_f64().unwrap_or(0.0)
        );
        println!(
            "runner peak RSS            {} MB (VmHWM; RSS at start {} MB, max sampled {} MB)",
            r["vmHwmKb"].as_u64().unwrap_or(0) / 1024,
            r["rssStartKb"].as_u64().unwrap_or(0) / 1024,
            r["maxRssKb"].as_u64().unwrap_or(0) / 1024
        );
    }
    Ok(())
}

/// Phase A (the batch over `n` customers) and B (the naive baseline on `sample`).
async fn batch_and_naive(n: u64, sample: u64) -> Result<()> {
    // --- A: the batch over n customers -------------------------------------
    let sb = Sandbox::spawn()?;
    let db = new_db(&sb, "bench").await?;
    let seeded = seed(&db, &sb, "b", n).await?;
    println!(
        "seeded {n} customers (50 % in HubSpot, 10 % of those changed in HubSpot, 10 % changed in Keva, 1 % invalid emails) in {seeded:.1} s"
    );
    sb.limits(true).await?;
    sb.reset_stats().await?;
    let r = run_child(&db, &sb, 0, 100)?;
    let stats = sb.stats().await?;
    let wall = r["wallSecs"].as_f64().unwrap_or(0.0);
    let calls = stats["total"].as_u64().unwrap_or(0);
    let per_customer = calls as f64 / n as f64;
    // At 100 per rolling 10 s, N calls need at least (N - 100) / 10 seconds; the
    // batch itself may use 80 % of the window (the rest is reserved for live syncs).
    let min_full = (calls.saturating_sub(100)) as f64 / 10.0;
    let share = 1.0
        - std::env::var("BENCH_RESERVE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(batch::DEFAULT_BATCH_RESERVE);
    let min_bulk = (calls as f64 - 100.0 * share).max(0.0) / (10.0 * share);
    let (ok, bad) = verify(&db, &sb).await?;
    println!("\n-- batch, {n} customers --");
    println!("state                      {}", r["state"]);
    println!("tally                      {}", r["counters"]);
    println!("wall time                  {wall:.1} s");
    println!(
        "HubSpot calls              {calls} ({per_customer:.4} per customer) {}",
        stats["requests"]
    );
    println!("theoretical minimum        {min_full:.1} s at the full budget, {min_bulk:.1} s at the batch's {:.0} % share", share * 100.0);
    println!(
        "wall / minimum             {:.3} (full budget), {:.3} (batch share)",
        wall / min_full.max(0.001),
        wall / min_bulk.max(0.001)
    );
    println!("429s received              {}", stats["rateLimited"]);
    println!(
        "live Sync Now during batch {} answered, {} failed; p50 {} ms, p95 {} ms, max {} ms (window 10 s)",
        r["liveSyncs"], r["liveFailed"], r["liveP50Ms"], r["liveP95Ms"], r["liveMaxMs"]
    );
    println!(
        "runner peak RSS            {} MB (VmHWM; RSS at start {} MB, max sampled {} MB)",
        r["vmHwmKb"].as_u64().unwrap_or(0) / 1024,
        r["rssStartKb"].as_u64().unwrap_or(0) / 1024,
        r["maxRssKb"].as_u64().unwrap_or(0) / 1024
    );
    println!("end state verified         {ok} customers equal on both sides, {bad} mismatches");

    // --- B: the naive baseline on a sample ---------------------------------
    if sample == 0 {
        return Ok(());
    }
    let seeded_contacts: Vec<Value> = (0..sample)
        .filter_map(|i| existing_contact("n", i))
        .collect();
    sb.limits(false).await?;
    sb.create_contacts(seeded_contacts).await?;
    sb.limits(true).await?;
    sb.reset_stats().await?;
    let (naive_wall, synced, tried) = naive(&sb, "n", sample).await?;
    let nstats = sb.stats().await?;
    let ncalls = nstats["total"].as_u64().unwrap_or(0);
    let per = naive_wall / tried as f64;
    let extrapolated = per * n as f64;
    println!("\n-- naive baseline (search by email, then create or update, one at a time), sample of {tried} --");
    println!("synced                     {synced} (invalid emails skipped)");
    println!(
        "wall time                  {naive_wall:.1} s ({:.3} s per customer)",
        per
    );
    println!(
        "HubSpot calls              {ncalls} ({:.3} per customer) {}",
        ncalls as f64 / tried as f64,
        nstats["requests"]
    );
    println!("429s received              {}", nstats["rateLimited"]);
    println!(
        "EXTRAPOLATED to {n}      {:.0} s = {:.1} h (not measured: {tried} customers × {n}/{tried})",
        extrapolated,
        extrapolated / 3600.0
    );
    println!(
        "naive / batch              {:.1}× the wall time, {:.1}× the calls per customer",
        extrapolated / wall.max(0.001),
        (ncalls as f64 / tried as f64) / per_customer.max(1e-9)
    );
    drop(db);
    drop(sb);
    Ok(())
}
