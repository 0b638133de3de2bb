//! Cluster benchmark (issue 15): several real `keva-sync serve` processes on one
//! PostgreSQL database against one real `keva-sync sandbox` process holding many
//! portals, each with its own HubSpot window (100 requests / 10 s by default; the
//! sandbox limits per app and portal, and each portal's private-app token names
//! its portal, so every instance uses the one `HUBSPOT_API_BASE`).
//!
//! Each portal is connected to a workspace of its own. A batch run per portal
//! (customers seeded in the store, all new to HubSpot) and a steady live load
//! through the HTTP API (customer creates and job-title edits, spread over the
//! portals and the instances) run together. Printed, one line per figure:
//! - aggregate HubSpot calls/s against the ceiling (portals × limit / window),
//!   over the load window, while every batch run was still running, and the best
//!   10-second window; the machine's CPU use over the load window;
//! - real 429s, counted by the sandbox (`/_sandbox/stats`, `rateLimited`);
//! - the SIGKILL hand-over: from the kill of one instance until every portal it
//!   owned is owned by another live instance (`Store::live_portal_leases`), then
//!   how long a replacement instance takes to hold its fair share;
//! - the SIGTERM hand-over, measured the same way, and when the process exited;
//! - once the load stops: that every batch run finished, that every live edit
//!   reached HubSpot and no contact was created twice, and the live syncs'
//!   latency (API call → the sandbox's property-history timestamp of the write),
//!   split into those sent while a batch run was active (and, for those, the API
//!   call vs the rest), after the batch runs, and from the SIGKILL on;
//! - the sync jobs that needed more than one attempt, and the instances' log
//!   warnings, grouped.
//!
//! Live traffic is routed away from an instance (and its requests in flight
//! drained) just before it is signalled, as a load balancer would.
//!
//! `KEVA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!  cargo bench --profile dev -p keva-sync --bench cluster_bench` (or without
//! `--profile dev` for release). Environment (defaults: a few minutes on a 2-core
//! machine, most of it the production 30 s portal lease running out after the
//! SIGKILL):
//! - `BENCH_PORTALS` (30), `BENCH_INSTANCES` (3), `BENCH_RATE_LIMIT` (`100/10s`)
//! - `BENCH_BATCH_CUSTOMERS` (2000): customers per portal for its batch run
//! - `BENCH_LIVE_OPS` (10): live API operations per second, all portals together
//!   (half creates, half edits)
//! - `BENCH_LOAD_SECS` (60): load before the SIGKILL
//! - `BENCH_PORTAL_LEASE_MS` (30000), `BENCH_JOB_LEASE_MS` (30000),
//!   `BENCH_BATCH_LEASE_MS` (60000), `BENCH_SHUTDOWN_GRACE_MS` (10000): the
//!   instances' leases (the production defaults)
//! - `BENCH_DRAIN_SECS` (600): how long the end may take to converge
//! - `BENCH_SEED_WRITERS` (8): parallel store writers while seeding
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // the tests' helpers this bench does not use
#[path = "../tests/cluster.rs"]
mod cluster;
#[path = "support/figures.rs"]
mod figures;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use figures::{env_num, now_ms, pct};

use cluster::Proc;
use keva_core::SyncStatus;
use keva_store::{BatchState, Store};
use serde_json::{json, Value};
use uuid::Uuid;

/// A contact of `portal` as the sandbox holds it (its admin view: not counted
/// as a HubSpot call, not rate-limited).
async fn sandbox_contact(
    http: &reqwest::Client,
    sandbox: &str,
    portal: i64,
    contact: &str,
) -> Value {
    http.get(format!(
        "{sandbox}/_sandbox/objects/contacts/{contact}?portalId={portal}"
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

fn latency_line(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name}: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms (n = {})",
        pct(&v, 50.0),
        pct(&v, 95.0),
        pct(&v, 99.0),
        v.last().copied().unwrap_or(f64::NAN),
        v.len()
    );
}

/// `line` without its terminal colour codes and its spans' fields (`{…}`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// (busy, total) jiffies of the whole machine, from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn fail(why: String) -> ! {
    panic!("cluster_bench: setup failed: {why}");
}

struct Portal {
    id: i64,
    ws: Uuid,
    key: String,
    connector: Uuid,
}

/// One live API operation and how it went.
#[derive(Clone)]
struct LiveOp {
    create: bool,
    portal: usize,
    customer: Option<Uuid>,
    title: String,
    sent_ms: f64,
    /// When the API answered.
    answered_ms: f64,
    ok: bool,
}

/// The live load's shared state: where requests go, what is in flight, what
/// was sent.
struct Live {
    urls: Mutex<Vec<String>>,
    inflight: Mutex<HashMap<String, usize>>,
    ops: Mutex<Vec<LiveOp>>,
    /// Per portal, the customers created live so far.
    customers: Mutex<Vec<Vec<Uuid>>>,
    stop: AtomicBool,
    errors: AtomicU64,
}

impl Live {
    fn route_away(&self, url: &str) {
        self.urls.lock().unwrap().retain(|u| u != url);
    }

    fn inflight_to(&self, url: &str) -> usize {
        self.inflight.lock().unwrap().get(url).copied().unwrap_or(0)
    }

    fn total_inflight(&self) -> usize {
        self.inflight.lock().unwrap().values().sum()
    }
}

/// Sends `rate` operations a second until `live.stop`: creates and edits, round
/// robin over the portals and the routed instances.
async fn live_load(live: Arc<Live>, portals: Arc<Vec<Portal>>, rate: u64, http: reqwest::Client) {
    let every = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k: usize = 0;
    let mut edit_cursor = vec![0usize; portals.len()];
    while !live.stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let p = k % portals.len();
        let round = k / portals.len();
        let url = {
            let urls = live.urls.lock().unwrap();
            urls[k % urls.len()].clone()
        };
        let target = {
            let customers = live.customers.lock().unwrap();
            let list = &customers[p];
            if round % 2 == 1 && !list.is_empty() {
                let c = list[edit_cursor[p] % list.len()];
                edit_cursor[p] += 1;
                Some(c)
            } else {
                None
            }
        };
        *live
            .inflight
            .lock()
            .unwrap()
            .entry(url.clone())
            .or_insert(0) += 1;
        let (live, portals, http) = (live.clone(), portals.clone(), http.clone());
        tokio::spawn(async move {
            let portal = &portals[p];
            let sent_ms = now_ms();
            let (title, req) = match target {
                None => {
                    let title = format!("live create {k}");
                    let req = http
                        .post(format!("{url}/api/customers"))
                        .json(&json!({"email": format!("live{k}-p{p}@example.com"),
                                      "name": "Live Load", "jobTitle": title}));
                    (title, req)
                }
                Some(c) => {
                    let title = format!("live edit {k}");
                    let req = http
                        .patch(format!("{url}/api/customers/{c}"))
                        .json(&json!({"jobTitle": title}));
                    (title, req)
                }
            };
            let resp = req.bearer_auth(&portal.key).send().await;
            let answered_ms = now_ms();
            let mut op = LiveOp {
                create: target.is_none(),
                portal: p,
                customer: target,
                title,
                sent_ms,
                answered_ms,
                ok: false,
            };
            match resp {
                Ok(r) if r.status().is_success() => {
                    op.ok = true;
                    if target.is_none() {
                        let id = r
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|b| b["id"].as_str().and_then(|s| s.parse().ok()));
                        op.customer = id;
                        match id {
                            Some(id) => live.customers.lock().unwrap()[p].push(id),
                            None => op.ok = false,
                        }
                    }
                }
                Ok(r) => {
                    eprintln!("live {} -> {}", url, r.status());
                }
                Err(e) => eprintln!("live {url}: {e}"),
            }
            if !op.ok {
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
            live.ops.lock().unwrap().push(op);
            *live.inflight.lock().unwrap().entry(url).or_insert(1) -= 1;
        });
        k += 1;
    }
}

/// One sample of the sandbox's counters.
#[derive(Clone, Copy)]
struct Sample {
    at_ms: f64,
    total: u64,
    limited: u64,
    /// The machine's (busy, total) CPU jiffies.
    cpu: (u64, u64),
}

/// Samples the sandbox's counters every `every` until `stop`.
async fn sampler(
    http: reqwest::Client,
    sandbox: String,
    out: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    every: Duration,
) {
    while !stop.load(Ordering::SeqCst) {
        let at_ms = now_ms();
        if let Ok(r) = http.get(format!("{sandbox}/_sandbox/stats")).send().await {
            if let Ok(s) = r.json::<Value>().await {
                out.lock().unwrap().push(Sample {
                    at_ms,
                    total: s["total"].as_u64().unwrap_or(0),
                    limited: s["rateLimited"].as_u64().unwrap_or(0),
                    cpu: cpu_jiffies(),
                });
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// The sample closest to `at_ms`.
fn sample_at(samples: &[Sample], at_ms: f64) -> Sample {
    *samples
        .iter()
        .min_by(|a, b| (a.at_ms - at_ms).abs().total_cmp(&(b.at_ms - at_ms).abs()))
        .unwrap()
}

/// The calls/s between two samples.
fn rate(a: Sample, b: Sample) -> f64 {
    (b.total - a.total) as f64 / ((b.at_ms - a.at_ms) / 1000.0).max(1e-9)
}

/// The machine's CPU use between two samples, in % of all cores.
fn cpu_busy(a: Sample, b: Sample) -> f64 {
    (b.cpu.0 - a.cpu.0) as f64 / (b.cpu.1 - a.cpu.1).max(1) as f64 * 100.0
}

/// Portal → pid of its live owner.
async fn owners(store: &Store) -> BTreeMap<i64, u32> {
    store
        .live_portal_leases()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(p, o)| Some((p, o.split(':').nth(1)?.parse().ok()?)))
        .collect()
}

/// The active batch runs (workspace, run) whose owner is process `pid`.
async fn runs_owned_by(store: &Store, runs: &[(Uuid, Uuid)], pid: u32) -> Vec<(Uuid, Uuid)> {
    let mut out = Vec::new();
    for (ws, id) in runs {
        let r = store.get_batch(*ws, *id).await.unwrap().unwrap();
        let active = matches!(r.state, BatchState::Running | BatchState::Paused);
        let by = r
            .owner
            .as_deref()
            .and_then(|o| o.split(':').nth(1)?.parse::<u32>().ok());
        if active && by == Some(pid) {
            out.push((*ws, *id));
        }
    }
    out
}

/// Polls `runs` (owned by process `gone`) until each is worked by another
/// process or has ended: the seconds since `since` for each, `None` for a run
/// still held by `gone` at `limit`.
async fn watch_runs(
    store: Store,
    runs: Vec<(Uuid, Uuid)>,
    gone: u32,
    since: Instant,
    limit: Duration,
) -> Vec<Option<f64>> {
    let mut out: Vec<Option<f64>> = vec![None; runs.len()];
    while out.iter().any(Option::is_none) && since.elapsed() < limit {
        for (i, (ws, id)) in runs.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let r = store.get_batch(*ws, *id).await.unwrap().unwrap();
            let by = r
                .owner
                .as_deref()
                .and_then(|o| o.split(':').nth(1)?.parse::<u32>().ok());
            let ended = !matches!(r.state, BatchState::Running | BatchState::Paused);
            if ended || by.is_some_and(|p| p != gone) {
                out[i] = Some(since.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}

fn runs_line(what: &str, lease_ms: u64, v: &[Option<f64>]) {
    let mut done: Vec<f64> = v.iter().flatten().copied().collect();
    done.sort_by(f64::total_cmp);
    if v.is_empty() {
        println!("{what}: no batch run was active on the instance");
        return;
    }
    println!(
        "{what}: {} of {} active batch runs worked by another instance (or ended), all after {:.2} s (first {:.2} s); batch lease {:.1} s",
        done.len(),
        v.len(),
        done.last().copied().unwrap_or(f64::NAN),
        done.first().copied().unwrap_or(f64::NAN),
        lease_ms as f64 / 1000.0
    );
}

/// Waits until every portal of `portals` is owned by a process other than
/// `gone`; the seconds since `since` at which each was first seen so.
async fn wait_taken(
    store: &Store,
    portals: &BTreeSet<i64>,
    gone: u32,
    since: Instant,
    limit: Duration,
) -> Option<Vec<f64>> {
    let mut taken: BTreeMap<i64, f64> = BTreeMap::new();
    while taken.len() < portals.len() {
        if since.elapsed() > limit {
            return None;
        }
        let now = owners(store).await;
        for p in portals {
            if !taken.contains_key(p) && now.get(p).is_some_and(|o| *o != gone) {
                taken.insert(*p, since.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(taken.into_values().collect())
}

/// Portals per instance, for the instances of `procs` not in `skip`.
fn owner_counts(owners: &BTreeMap<i64, u32>, procs: &[(u32, &str)], skip: &[u32]) -> String {
    procs
        .iter()
        .filter(|(pid, _)| !skip.contains(pid))
        .map(|(pid, name)| format!("{name} {}", owners.values().filter(|o| **o == *pid).count()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything known about a live customer whose last edit did not converge:
/// the live operations, the customer, its sync jobs and history, and the
/// contact's `jobtitle` history in HubSpot.
async fn explain_stuck(
    store: &Store,
    http: &reqwest::Client,
    sandbox: &str,
    portal: &Portal,
    customer: Uuid,
    ops: &[LiveOp],
) {
    println!("  STUCK customer {customer} (portal {}):", portal.id);
    for op in ops.iter().filter(|o| o.customer == Some(customer)) {
        println!(
            "    live op {:?}: sent {}, answered {} (ok {})",
            op.title,
            iso(op.sent_ms),
            iso(op.answered_ms),
            op.ok
        );
    }
    if let Ok(Some(c)) = store.get_customer(portal.ws, customer).await {
        println!(
            "    Keva: jobTitle {:?}, updated {}",
            c.job_title, c.updated_at
        );
    }
    let jobs = store.list_jobs(portal.ws, None, 100_000).await.unwrap();
    for j in jobs
        .iter()
        .filter(|j| j.payload["customerId"].as_str() == Some(customer.to_string().as_str()))
    {
        println!(
            "    job {} {} {:?} trigger {:?} attempts {} created {} run_at {} finished {:?} owner {:?} epoch {} error {:?} coalesced_into {:?}",
            j.id,
            j.kind,
            j.state,
            j.trigger,
            j.attempts,
            j.created_at,
            j.run_at,
            j.finished_at,
            j.lease_owner,
            j.lease_epoch,
            j.last_error,
            j.coalesced_into
        );
    }
    for h in store
        .customer_history(portal.ws, customer, 100)
        .await
        .unwrap()
        .iter()
        .rev()
    {
        println!("    history {h:?}");
    }
    if let Some(contact) = store
        .get_link(portal.connector, customer)
        .await
        .unwrap()
        .and_then(|l| l.hubspot_id)
    {
        let rec = sandbox_contact(http, sandbox, portal.id, &contact).await;
        println!(
            "    HubSpot contact {contact} jobtitle history: {}",
            rec["propertiesWithHistory"]["jobtitle"]
        );
    }
}

/// `ms` since the epoch as an RFC 3339 time.
fn iso(ms: f64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Routes live traffic away from `url` and waits until nothing is in flight to it.
async fn drain(live: &Live, url: &str) {
    live.route_away(url);
    cluster::eventually(60, "requests in flight to the instance", || async {
        live.inflight_to(url) == 0
    })
    .await;
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
    let n_portals = env_num("BENCH_PORTALS", 30) as usize;
    let n_instances = env_num("BENCH_INSTANCES", 3).max(2) as usize;
    let rate_limit = std::env::var("BENCH_RATE_LIMIT").unwrap_or_else(|_| "100/10s".into());
    let (limit_n, window_ms) = keva_sandbox::cli::parse_rate_limit(&rate_limit)
        .unwrap_or_else(|e| fail(e))
        .0
        .unwrap_or_else(|| fail("BENCH_RATE_LIMIT must be a limit, not off".into()));
    let batch_customers = env_num("BENCH_BATCH_CUSTOMERS", 2000) as usize;
    let live_ops = env_num("BENCH_LIVE_OPS", 10);
    let load_secs = env_num("BENCH_LOAD_SECS", 60);
    let portal_lease_ms = env_num("BENCH_PORTAL_LEASE_MS", 30_000);
    let job_lease_ms = env_num("BENCH_JOB_LEASE_MS", 30_000);
    let batch_lease_ms = env_num("BENCH_BATCH_LEASE_MS", 60_000);
    let grace_ms = env_num("BENCH_SHUTDOWN_GRACE_MS", 10_000);
    let drain_secs = env_num("BENCH_DRAIN_SECS", 600);
    let writers = env_num("BENCH_SEED_WRITERS", 8).max(1);
    let ceiling = n_portals as f64 * f64::from(limit_n) * 1000.0 / window_ms as f64;
    let started = Instant::now();
    let http = reqwest::Client::new();

    // The sandbox and its portals.
    let (sb, info) = cluster::sandbox(&rate_limit);
    let sandbox = info["url"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    for _ in 0..n_portals {
        let r: Value = http
            .post(format!("{sandbox}/_sandbox/portals"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["portalId"]
            .as_i64()
            .unwrap_or_else(|| fail(format!("create portal: {r}")));
        tokens.push((id, r["accessToken"].as_str().unwrap().to_string()));
    }

    // The database, the instances, a workspace per portal.
    let store = keva_store::testing::postgres_store().await;
    let settings = cluster::Cluster {
        db_url: keva_store::testing::database_url(&store),
        master_key: keva_store::MasterKey::generate().to_base64(),
        hubspot: sandbox.clone(),
        portal_lease_ms,
    };
    let env = [
        ("KEVA_JOB_LEASE_MS", job_lease_ms.to_string()),
        ("KEVA_BATCH_LEASE_MS", batch_lease_ms.to_string()),
        ("KEVA_SHUTDOWN_GRACE_MS", grace_ms.to_string()),
    ];
    // (process, url, name); a process is None once it was stopped.
    let mut instances: Vec<(Option<Proc>, String, String)> = (0..n_instances)
        .map(|i| {
            let (p, url) = cluster::serve_with(&settings, &env);
            (Some(p), url, format!("i{i}"))
        })
        .collect();
    let mut portals = Vec::new();
    for (i, (id, token)) in tokens.iter().enumerate() {
        let (ws, key) = keva_server::auth::create_api_key(&store, &format!("bench{i}"))
            .await
            .unwrap();
        let url = &instances[i % n_instances].1;
        let connector =
            cluster::connect(&http, url, &key.plaintext, &json!({"accessToken": token})).await;
        portals.push(Portal {
            id: *id,
            ws,
            key: key.plaintext,
            connector,
        });
    }
    let portals = Arc::new(portals);

    // The batch runs' customers, straight into the store.
    let seeding = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let total_seed = (n_portals * batch_customers) as u64;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, next, portals) = (store.clone(), next.clone(), portals.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total_seed {
                    return;
                }
                let (p, j) = (i as usize % n_portals, i as usize / n_portals);
                let mut c = keva_store::NewCustomer::with_email(format!("b{j}-p{p}@example.com"));
                c.name = Some(format!("Batch {j}"));
                c.company = Some(format!("Company {}", j % 97));
                store.insert_customer(portals[p].ws, c).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    cluster::eventually(60, "every portal owned", || async {
        owners(&store).await.len() == n_portals
    })
    .await;
    let pid_names: Vec<(u32, String)> = instances
        .iter()
        .map(|(p, _, n)| (p.as_ref().unwrap().pid(), n.clone()))
        .collect();
    let mut procs_seen = pid_names;
    let start_owners = owners(&store).await;
    eprintln!(
        "cluster_bench: setup done in {:.1} s ({total_seed} customers seeded in {seed_secs:.1} s); load starts",
        started.elapsed().as_secs_f64()
    );

    // The load: batch runs, live operations, the sandbox's counters sampled.
    http.post(format!("{sandbox}/_sandbox/stats/reset"))
        .send()
        .await
        .unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampling = Arc::new(AtomicBool::new(false));
    let sampler_task = tokio::spawn(sampler(
        http.clone(),
        sandbox.clone(),
        samples.clone(),
        sampling.clone(),
        Duration::from_millis(500),
    ));
    let live = Arc::new(Live {
        urls: Mutex::new(instances.iter().map(|(_, u, _)| u.clone()).collect()),
        inflight: Mutex::new(HashMap::new()),
        ops: Mutex::new(Vec::new()),
        customers: Mutex::new(vec![Vec::new(); n_portals]),
        stop: AtomicBool::new(false),
        errors: AtomicU64::new(0),
    });
    let load_start_ms = now_ms();
    let cpu0 = cpu_jiffies();
    let mut batches = Vec::new();
    for (i, p) in portals.iter().enumerate() {
        let url = &instances[i % n_instances].1;
        let r = http
            .post(format!("{url}/api/crm/hubspot/batch-sync"))
            .bearer_auth(&p.key)
            .json(&json!({"connectorId": p.connector}))
            .send()
            .await
            .unwrap();
        if r.status() != 202 {
            fail(format!("batch sync of portal {}: {}", p.id, r.status()));
        }
        let id: Uuid = r.json::<Value>().await.unwrap()["batch"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        batches.push(id);
    }
    let live_task = tokio::spawn(live_load(
        live.clone(),
        portals.clone(),
        live_ops,
        http.clone(),
    ));
    let load_started = Instant::now();
    let batch_states = |store: Store, portals: Arc<Vec<Portal>>, batches: Vec<Uuid>| async move {
        let mut out = Vec::new();
        for (p, b) in portals.iter().zip(&batches) {
            out.push(store.get_batch(p.ws, *b).await.unwrap().unwrap());
        }
        out
    };
    let mut next_report = 10;
    while load_started.elapsed() < Duration::from_secs(load_secs) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if load_started.elapsed().as_secs() >= next_report {
            next_report += 10;
            let runs = batch_states(store.clone(), portals.clone(), batches.clone()).await;
            let done = runs.iter().filter(|r| r.state == BatchState::Done).count();
            let processed: u64 = runs.iter().map(|r| r.counters.processed).sum();
            let s = samples.lock().unwrap().clone();
            let last = s.last().copied();
            let ten_ago = last.map(|l| sample_at(&s, l.at_ms - 10_000.0));
            eprintln!(
                "  t+{:>3} s: {:.0} calls/s (last 10 s), {} 429s, batches done {done}/{n_portals}, customers processed {processed}/{total_seed}, live ops {}",
                load_started.elapsed().as_secs(),
                match (ten_ago, last) {
                    (Some(a), Some(b)) => rate(a, b),
                    _ => 0.0,
                },
                last.map_or(0, |l| l.limited),
                live.ops.lock().unwrap().len()
            );
        }
    }
    let load_end_ms = now_ms();
    let cpu1 = cpu_jiffies();

    // SIGKILL the first instance, as live load and batch runs go on.
    let victim = 0;
    let victim_pid = instances[victim].0.as_ref().unwrap().pid();
    let before_kill = owners(&store).await;
    let killed_portals: BTreeSet<i64> = before_kill
        .iter()
        .filter(|(_, o)| **o == victim_pid)
        .map(|(p, _)| *p)
        .collect();
    let run_ids: Vec<(Uuid, Uuid)> = portals
        .iter()
        .map(|p| p.ws)
        .zip(batches.iter().copied())
        .collect();
    drain(&live, &instances[victim].1).await;
    let killed_runs = runs_owned_by(&store, &run_ids, victim_pid).await;
    let kill_at = Instant::now();
    let kill_ms = now_ms();
    cluster::signal(instances[victim].0.as_ref().unwrap(), "-KILL");
    let limit = Duration::from_millis(3 * portal_lease_ms + 30_000);
    let runs_limit = Duration::from_millis(2 * batch_lease_ms + portal_lease_ms + 60_000);
    let killed_runs_task = tokio::spawn(watch_runs(
        store.clone(),
        killed_runs,
        victim_pid,
        kill_at,
        runs_limit,
    ));
    let kill_takeover = wait_taken(&store, &killed_portals, victim_pid, kill_at, limit).await;
    drop(instances[victim].0.take());
    let Some(kill_takeover) = kill_takeover else {
        fail(format!(
            "after the SIGKILL, the portals {killed_portals:?} were not all taken over within {limit:?}: owners {:?}",
            owners(&store).await
        ));
    };
    let after_kill = owners(&store).await;

    // A replacement joins and takes its fair share.
    let (p, url) = cluster::serve_with(&settings, &env);
    let joined = Instant::now();
    let new_pid = p.pid();
    let name = format!("i{}", instances.len());
    procs_seen.push((new_pid, name.clone()));
    live.urls.lock().unwrap().push(url.clone());
    instances.push((Some(p), url, name));
    let share = n_portals.div_ceil(n_instances);
    let mut share_secs = None;
    while joined.elapsed() < limit {
        if owners(&store)
            .await
            .values()
            .filter(|o| **o == new_pid)
            .count()
            >= share
        {
            share_secs = Some(joined.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after_join = owners(&store).await;

    // SIGTERM the original instance that owns the most portals now.
    let term = (1..n_instances)
        .max_by_key(|i| {
            let pid = instances[*i].0.as_ref().unwrap().pid();
            after_join.values().filter(|o| **o == pid).count()
        })
        .unwrap();
    let term_pid = instances[term].0.as_ref().unwrap().pid();
    let termed_portals: BTreeSet<i64> = after_join
        .iter()
        .filter(|(_, o)| **o == term_pid)
        .map(|(p, _)| *p)
        .collect();
    drain(&live, &instances[term].1).await;
    let termed_runs = runs_owned_by(&store, &run_ids, term_pid).await;
    let term_at = Instant::now();
    let term_ms = now_ms();
    cluster::signal(instances[term].0.as_ref().unwrap(), "-TERM");
    let termed_runs_task = tokio::spawn(watch_runs(
        store.clone(),
        termed_runs,
        term_pid,
        term_at,
        runs_limit,
    ));
    let term_takeover = wait_taken(&store, &termed_portals, term_pid, term_at, limit).await;
    let exit = {
        let mut p = instances[term].0.take().unwrap();
        let mut status = None;
        while term_at.elapsed() < limit {
            if let Some(s) = p.child.try_wait().unwrap() {
                status = Some((term_at.elapsed().as_secs_f64(), s));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if status.is_none() {
            eprintln!("SIGTERM: process still running; its log:\n{}", p.log());
        }
        status
    };
    let Some(term_takeover) = term_takeover else {
        fail(format!(
            "after the SIGTERM, the portals {termed_portals:?} were not all taken over within {limit:?}: owners {:?}",
            owners(&store).await
        ));
    };
    let after_term = owners(&store).await;

    // The load stops; everything must converge.
    live.stop.store(true, Ordering::SeqCst);
    live_task.await.unwrap();
    cluster::eventually(60, "no live request in flight", || async {
        live.total_inflight() == 0
    })
    .await;
    let live_end_ms = now_ms();
    let drain_at = Instant::now();
    let drain_limit = Duration::from_secs(drain_secs);
    let ops = live.ops.lock().unwrap().clone();
    // The last title sent to each live customer (ops are recorded as they end:
    // order them by when they were sent).
    let mut expected: HashMap<Uuid, (usize, String, f64)> = HashMap::new();
    for op in ops.iter().filter(|o| o.ok) {
        let c = op.customer.unwrap();
        let e = expected
            .entry(c)
            .or_insert((op.portal, op.title.clone(), op.sent_ms));
        if op.sent_ms >= e.2 {
            *e = (op.portal, op.title.clone(), op.sent_ms);
        }
    }
    let (runs, not_converged, stuck) = loop {
        let mut stuck: Vec<(usize, Uuid)> = Vec::new();
        let runs = batch_states(store.clone(), portals.clone(), batches.clone()).await;
        let mut not_converged: Vec<String> = runs
            .iter()
            .filter(|r| r.state != BatchState::Done)
            .map(|r| format!("batch {} {:?} {:?}", r.id, r.state, r.counters))
            .collect();
        if not_converged.is_empty() {
            for (c, (p, title, _)) in &expected {
                let link = store.get_link(portals[*p].connector, *c).await.unwrap();
                let there = link.as_ref().is_some_and(|l| {
                    l.status == SyncStatus::Synced
                        && l.bases.as_ref().is_some_and(|b| {
                            b.hubspot.get("jobtitle").cloned().flatten().as_deref()
                                == Some(title.as_str())
                        })
                });
                if !there {
                    stuck.push((*p, *c));
                    not_converged.push(format!(
                        "portal {} customer {c} expects {title:?}: link {link:?}",
                        portals[*p].id
                    ));
                }
            }
        }
        if not_converged.is_empty() || drain_at.elapsed() > drain_limit {
            break (runs, not_converged, stuck);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let converge_secs = drain_at.elapsed().as_secs_f64();
    sampling.store(true, Ordering::SeqCst);
    sampler_task.await.unwrap();
    let final_stats = cluster::sandbox_stats(&http, &sandbox).await;
    let killed_runs = killed_runs_task.await.unwrap();
    let termed_runs = termed_runs_task.await.unwrap();

    // The sync jobs: how many needed more than one attempt, and why.
    let mut jobs_total = 0usize;
    let mut jobs_retried = 0usize;
    let mut job_errors: BTreeMap<String, usize> = BTreeMap::new();
    for p in portals.iter() {
        for j in store.list_jobs(p.ws, None, 100_000).await.unwrap() {
            jobs_total += 1;
            if j.attempts > 1 {
                jobs_retried += 1;
            }
            if let Some(e) = j.last_error {
                let e: String = e.chars().take(120).collect();
                *job_errors.entry(e).or_insert(0) += 1;
            }
        }
    }

    // HubSpot's side: one contact per customer, every live edit there, and when
    // each live write landed.
    let mut contacts_total = 0u64;
    let mut duplicates = Vec::new();
    let mut wrong_in_hubspot = Vec::new();
    let mut by_portal_created: Vec<usize> = vec![0; n_portals];
    for op in ops.iter().filter(|o| o.ok && o.create) {
        by_portal_created[op.portal] += 1;
    }
    for (i, p) in portals.iter().enumerate() {
        let dump: Value = http
            .get(format!(
                "{sandbox}/_sandbox/objects/contacts?portalId={}",
                p.id
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count = dump["count"].as_u64().unwrap_or(0);
        contacts_total += count;
        let want = (batch_customers + by_portal_created[i]) as u64;
        if count != want {
            duplicates.push(format!(
                "portal {}: {count} contacts, {want} customers",
                p.id
            ));
        }
    }
    // Live latencies by phase: while a batch run was active (before the kill),
    // the rest of the load window, and from the SIGKILL on (hand-overs).
    let mut live_during_batch = Vec::new();
    let mut live_after_batch = Vec::new();
    let mut live_handovers = Vec::new();
    let mut api_during_batch = Vec::new();
    let mut after_api_during_batch = Vec::new();
    let mut superseded = 0;
    let last_batch_end_ms = runs
        .iter()
        .filter_map(|r| r.finished_at)
        .map(|t| t.timestamp_millis() as f64)
        .fold(0.0, f64::max);
    let first_batch_end_ms = runs
        .iter()
        .filter_map(|r| r.finished_at)
        .map(|t| t.timestamp_millis() as f64)
        .fold(f64::MAX, f64::min);
    for op in ops.iter().filter(|o| o.ok) {
        let c = op.customer.unwrap();
        let portal = &portals[op.portal];
        let Some(contact) = store
            .get_link(portal.connector, c)
            .await
            .unwrap()
            .and_then(|l| l.hubspot_id)
        else {
            continue;
        };
        let rec = sandbox_contact(&http, &sandbox, portal.id, &contact).await;
        if expected.get(&c).is_some_and(|e| e.1 == op.title)
            && rec["properties"]["jobtitle"].as_str() != Some(op.title.as_str())
        {
            wrong_in_hubspot.push(format!(
                "portal {} contact {contact}: jobtitle {} instead of {:?}",
                portal.id, rec["properties"]["jobtitle"], op.title
            ));
        }
        let at = rec["propertiesWithHistory"]["jobtitle"]
            .as_array()
            .and_then(|h| h.iter().find(|e| e["value"] == op.title.as_str()))
            .and_then(|e| e["timestamp"].as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis() as f64);
        match at {
            Some(at) if op.sent_ms >= kill_ms => live_handovers.push(at - op.sent_ms),
            Some(at) if op.sent_ms < last_batch_end_ms => {
                live_during_batch.push(at - op.sent_ms);
                api_during_batch.push(op.answered_ms - op.sent_ms);
                after_api_during_batch.push(at - op.answered_ms);
            }
            Some(at) => live_after_batch.push(at - op.sent_ms),
            None => superseded += 1,
        }
    }

    // The figures.
    let samples = samples.lock().unwrap().clone();
    let s0 = sample_at(&samples, load_start_ms);
    let s1 = sample_at(&samples, load_end_ms);
    let load_rate = rate(s0, s1);
    let mut best10 = 0.0f64;
    for a in &samples {
        if a.at_ms > load_end_ms {
            break;
        }
        let b = sample_at(&samples, a.at_ms + 10_000.0);
        if b.at_ms - a.at_ms >= 9_500.0 {
            best10 = best10.max(rate(*a, b));
        }
    }
    let all_running_end = first_batch_end_ms.min(load_end_ms);
    let sr = sample_at(&samples, all_running_end);
    let series: Vec<String> = samples
        .iter()
        .step_by(20)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| format!("{:.0}", rate(*w[0], *w[1])))
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = (cpu1.0 - cpu0.0) as f64 / (cpu1.1 - cpu0.1).max(1) as f64 * 100.0;
    let names: Vec<(u32, &str)> = procs_seen.iter().map(|(p, n)| (*p, n.as_str())).collect();
    println!(
        "cluster_bench: {n_portals} portals at {rate_limit} each, {n_instances} serve instances, PostgreSQL, one sandbox process"
    );
    println!(
        "load: a batch run per portal of {batch_customers} new customers ({total_seed} in all) + {live_ops} live API ops/s (creates and edits), {load_secs} s before the kill"
    );
    println!(
        "leases: portal {portal_lease_ms} ms, job {job_lease_ms} ms, batch {batch_lease_ms} ms, shutdown grace {grace_ms} ms"
    );
    println!(
        "ownership at start: {}",
        owner_counts(&start_owners, &names, &[new_pid])
    );
    println!("HubSpot ceiling: {n_portals} x {limit_n}/{window_ms} ms = {ceiling:.0} calls/s");
    println!(
        "aggregate HubSpot calls/s over the {:.0} s load window: {load_rate:.1} ({:.1} % of the ceiling)",
        (s1.at_ms - s0.at_ms) / 1000.0,
        load_rate / ceiling * 100.0
    );
    if all_running_end > s0.at_ms + 1000.0 {
        let r = rate(s0, sr);
        println!(
            "aggregate HubSpot calls/s while every batch run was running ({:.0} s): {r:.1} ({:.1} % of the ceiling); machine CPU busy meanwhile {:.0} %",
            (sr.at_ms - s0.at_ms) / 1000.0,
            r / ceiling * 100.0,
            cpu_busy(s0, sr)
        );
    }
    println!(
        "best 10 s window in the load: {best10:.1} calls/s ({:.1} % of the ceiling)",
        best10 / ceiling * 100.0
    );
    println!("calls/s per 10 s, whole run: {}", series.join(" "));
    let cpu_series: Vec<String> = samples
        .iter()
        .step_by(20)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| format!("{:.0}", cpu_busy(*w[0], *w[1])))
        .collect();
    println!(
        "machine CPU busy % per 10 s, whole run: {}",
        cpu_series.join(" ")
    );
    println!(
        "machine CPU busy over the load window: {cpu:.0} % of {cores} cores (other work also running)"
    );
    println!(
        "real 429s (sandbox rateLimited): {} of {} HubSpot calls, whole run",
        final_stats["rateLimited"], final_stats["total"]
    );
    println!(
        "batch runs: first finished {:.1} s after the start, last {:.1} s after",
        (first_batch_end_ms - load_start_ms) / 1000.0,
        (last_batch_end_ms - load_start_ms) / 1000.0
    );
    let mut k = kill_takeover.clone();
    k.sort_by(f64::total_cmp);
    println!(
        "SIGKILL hand-over ({} portals of i0): all owned by another instance after {:.2} s (first {:.2} s, median {:.2} s); portal lease {:.1} s",
        k.len(),
        k.last().copied().unwrap_or(0.0),
        k.first().copied().unwrap_or(0.0),
        pct(&k, 50.0),
        portal_lease_ms as f64 / 1000.0
    );
    runs_line("SIGKILL, batch runs", batch_lease_ms, &killed_runs);
    println!(
        "ownership after the SIGKILL: {}",
        owner_counts(&after_kill, &names, &[victim_pid, new_pid])
    );
    match share_secs {
        Some(s) => println!("replacement instance held its fair share ({share} portals) {s:.2} s after it started listening"),
        None => println!("replacement instance did NOT reach its fair share ({share} portals) within {limit:?}"),
    }
    println!(
        "ownership after it joined: {}",
        owner_counts(&after_join, &names, &[victim_pid])
    );
    let mut t = term_takeover.clone();
    t.sort_by(f64::total_cmp);
    let term_name = &procs_seen.iter().find(|(p, _)| *p == term_pid).unwrap().1;
    println!(
        "SIGTERM hand-over ({} portals of {term_name}): all owned by another instance after {:.2} s (first {:.2} s, median {:.2} s)",
        t.len(),
        t.last().copied().unwrap_or(0.0),
        t.first().copied().unwrap_or(0.0),
        pct(&t, 50.0)
    );
    match &exit {
        Some((s, status)) => println!("SIGTERM: the process exited after {s:.2} s, {status}"),
        None => println!("SIGTERM: the process had NOT exited after {limit:?}"),
    }
    runs_line("SIGTERM, batch runs", batch_lease_ms, &termed_runs);
    println!(
        "ownership after the SIGTERM: {}",
        owner_counts(&after_term, &names, &[victim_pid, term_pid])
    );
    let _ = (term_ms, live_end_ms);
    println!(
        "live API ops: {} sent, {} failed",
        ops.len(),
        live.errors.load(Ordering::Relaxed)
    );
    latency_line(
        "live sync latency while batch runs were active, before the kill (API call -> HubSpot write timestamp)",
        live_during_batch,
    );
    latency_line(
        "  of which the API call (sent -> answered)",
        api_during_batch,
    );
    latency_line(
        "  of which API answered -> HubSpot write (queue, claim, sync)",
        after_api_during_batch,
    );
    latency_line(
        "live sync latency after the batch runs, before the kill (API call -> HubSpot write timestamp)",
        live_after_batch,
    );
    latency_line(
        "live sync latency from the SIGKILL on, hand-overs included (API call -> HubSpot write timestamp)",
        live_handovers,
    );
    println!("live writes superseded by a later edit before they synced: {superseded}");
    println!(
        "converged {converge_secs:.1} s after the load stopped: {}",
        if not_converged.is_empty() {
            "every batch run done, every live edit in Keva's link".to_string()
        } else {
            format!("NO, {} items outstanding", not_converged.len())
        }
    );
    for n in not_converged.iter().take(20) {
        println!("  NOT CONVERGED {n}");
    }
    for (p, c) in stuck.iter().take(5) {
        explain_stuck(&store, &http, &sandbox, &portals[*p], *c, &ops).await;
    }
    println!(
        "HubSpot contacts: {contacts_total} (duplicates or missing on {} portals)",
        duplicates.len()
    );
    for d in &duplicates {
        println!("  COUNT MISMATCH {d}");
    }
    println!(
        "live edits missing in HubSpot itself: {}",
        wrong_in_hubspot.len()
    );
    for w in wrong_in_hubspot.iter().take(20) {
        println!("  WRONG {w}");
    }
    println!("sync jobs: {jobs_total}, {jobs_retried} took more than one attempt");
    for (e, n) in job_errors.iter().take(10) {
        println!("  job error x{n}: {e}");
    }
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    for (p, _, n) in &instances {
        if let Some(p) = p {
            for l in p
                .log()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("retried"))
            {
                // The level, target, message and field names, without the timestamp and
                // field values.
                let plain = strip_ansi(l);
                let msg: Vec<String> = plain
                    .split_whitespace()
                    .skip(1)
                    .map(|w| match w.split_once('=') {
                        Some((k, _)) => format!("{k}=…"),
                        None => w.to_string(),
                    })
                    .collect();
                let key = format!("{n}: {}", msg.join(" "));
                *warnings.entry(key).or_insert(0) += 1;
            }
        }
    }
    println!(
        "instance log warnings and retries (running instances): {}",
        warnings.values().sum::<usize>()
    );
    for (w, n) in warnings.iter().take(15) {
        println!("  x{n} {w}");
    }
    println!(
        "cluster_bench: total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ok = not_converged.is_empty() && duplicates.is_empty() && wrong_in_hubspot.is_empty();
    if !ok {
        for (p, _, n) in &instances {
            if let Some(p) = p {
                let log = p.log();
                let tail: Vec<&str> = log.lines().rev().take(200).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!(
                    "--- last log lines of {n} (pid {}):\n{}",
                    p.pid(),
                    tail.join("\n")
                );
            }
        }
    }
    drop(instances);
    drop(sb);
    if ok {
        keva_store::testing::drop_test_database(store).await;
    } else {
        println!(
            "database kept for inspection: {}",
            keva_store::testing::database_url(&store)
        );
    }
    i32::from(!ok)
}
