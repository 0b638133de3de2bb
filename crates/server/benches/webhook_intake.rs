//! Webhook intake benchmark: a real server (the production router, on SQLite and on
//! PostgreSQL) receiving signed HubSpot batches of 1, 10 and 100 events from
//! concurrent clients for a bounded time, then a paced 1,000 events/s run. Prints
//! sustained events/s and p50/p99 acknowledgement latency per case and backend.
//! Then a flood: 20,000 unsigned requests from one address while signed
//! deliveries are paced alongside; prints the log rows the flood left and the
//! deliveries' latency before and during it.
//!
//! `cargo bench -p keva-server --bench webhook_intake` (PostgreSQL from
//! `KEVA_TEST_POSTGRES_URL`; `BENCH_SECS` sets each case's duration, default 5;
//! `BENCH_BACKENDS=sqlite` or `postgres` runs one backend).
//! Workers are not started: this measures the intake (verify, store events and jobs
//! in one transaction, answer), not the sync engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keva_hubspot::signature::sign_v3;
use keva_server::config::Settings;
use keva_server::{AppState, ServerConfig};
use keva_store::{AuthKind, Backend, NewConnector, Store};
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const PORTAL: u64 = 62515;
const APP_ID: u64 = 777;
const SECRET: &str = "bench-client-secret";
const CLIENTS: usize = 8;
const CONTACTS: u64 = 20_000;

struct Target {
    url: String,
    http: reqwest::Client,
    next_event: AtomicU64,
}

impl Target {
    fn batch(&self, n: usize) -> Vec<u8> {
        let now = chrono::Utc::now().timestamp_millis();
        let events: Vec<_> = (0..n)
            .map(|_| {
                let id = self.next_event.fetch_add(1, Ordering::Relaxed);
                json!({
                    "eventId": id, "subscriptionId": 1, "portalId": PORTAL, "appId": APP_ID,
                    "occurredAt": now, "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0, "objectId": 1 + id.wrapping_mul(7919) % CONTACTS,
                    "changeSource": "CRM_UI", "sourceId": "userId:1",
                    "propertyName": "firstname", "propertyValue": format!("Name {id}")
                })
            })
            .collect();
        serde_json::to_vec(&events).unwrap()
    }

    /// Posts one signed batch; returns the acknowledgement latency.
    async fn post(&self, n: usize) -> Duration {
        let body = self.batch(n);
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let sig = sign_v3(SECRET, "POST", &self.url, &body, &ts);
        let start = Instant::now();
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-v3", sig)
            .header("X-HubSpot-Request-Timestamp", ts)
            .body(body)
            .send()
            .await
            .expect("send");
        let took = start.elapsed();
        assert_eq!(r.status(), 204, "delivery refused");
        took
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(backend: &str, case: &str, events: u64, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{backend:<10} {case:<28} {:>9.0} events/s  {:>7} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        events as f64 / elapsed.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// `CLIENTS` closed-loop clients posting batches of `n` for `secs`.
async fn saturate(target: &Arc<Target>, backend: &str, n: usize, secs: Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let t = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < secs {
                lat.push(t.post(n).await);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let events = lat.len() as u64 * n as u64;
    report(
        backend,
        &format!("batch {n:>3}, {CLIENTS} clients"),
        events,
        elapsed,
        lat,
    );
}

/// Open loop: one batch of `n` every `1000 * n / rate` ms, whatever the answers
/// take (no coordinated omission), so the latency is the one at that load.
async fn paced(target: &Arc<Target>, backend: &str, n: usize, events_per_sec: u64, secs: Duration) {
    let per_sec = events_per_sec / n as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    while start.elapsed() < secs {
        tick.tick().await;
        let t = target.clone();
        tasks.push(tokio::spawn(async move { t.post(n).await }));
    }
    let sent = tasks.len();
    let mut lat = Vec::with_capacity(sent);
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    report(
        backend,
        &format!("paced {events_per_sec}/s, batch {n:>3}"),
        sent as u64 * n as u64,
        elapsed,
        lat,
    );
}

/// Unsigned requests in the flood.
const FLOOD: usize = 20_000;

/// The flood: `FLOOD` unsigned requests from `CLIENTS` connections on one address,
/// while signed deliveries are paced at 100 events/s; then the rows it left.
async fn flood(target: &Arc<Target>, store: &Store, ws: uuid::Uuid, backend: &str) {
    let rows_before = refused_rows(store, ws).await;
    paced(target, backend, 1, 100, Duration::from_secs(2)).await;
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (t, sent) = (target.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            while sent.fetch_add(1, Ordering::Relaxed) < FLOOD as u64 {
                let body = t.batch(1);
                let r = t
                    .http
                    .post(&t.url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                *statuses.entry(r.status().as_u16()).or_default() += 1;
            }
            statuses
        }));
    }
    let legit = {
        let t = target.clone();
        let name = format!("{backend} (flood)");
        tokio::spawn(async move {
            let t2 = t.clone();
            paced(&t2, &name, 1, 100, Duration::from_secs(3)).await;
        })
    };
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for t in tasks {
        for (k, v) in t.await.unwrap() {
            *statuses.entry(k).or_default() += v;
        }
    }
    let took = start.elapsed();
    legit.await.unwrap();
    let refused_rows = refused_rows(store, ws).await - rows_before;
    println!(
        "{backend:<10} flood of {FLOOD} unsigned requests in {:.1} s: answers {statuses:?}; \
         refusal rows in the webhook log: {refused_rows}",
        took.as_secs_f64()
    );
}

/// Refusal rows in the workspace's webhook log.
async fn refused_rows(store: &Store, ws: uuid::Uuid) -> usize {
    let mut n = 0;
    let mut before = None;
    loop {
        let page = store.webhook_log(ws, 500, before).await.unwrap();
        n += page.iter().filter(|r| !r.valid).count();
        match page.last() {
            Some(last) if page.len() == 500 => before = Some(last.id),
            _ => return n,
        }
    }
}

async fn serve(store: Store) -> (Arc<Target>, CancellationToken, uuid::Uuid) {
    let ws = store.ensure_workspace("bench").await.unwrap().0;
    store
        .insert_connector(NewConnector {
            workspace_id: ws.id,
            portal_id: PORTAL as i64,
            auth_kind: AuthKind::PrivateApp,
            access_token: SecretString::from("unused"),
            refresh_token: None,
            token_expires_at: None,
            scopes: vec![],
        })
        .await
        .unwrap();
    store
        .set_webhook_settings(ws.id, &APP_ID.to_string(), &SecretString::from(SECRET))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(
        store,
        Settings::new(ServerConfig::new(addr, "http://127.0.0.1:9")),
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    // The router alone, without the sync workers (see the module comment).
    tokio::spawn(async move {
        axum::serve(
            listener,
            keva_server::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    });
    let target = Arc::new(Target {
        url: format!("http://{addr}/api/webhooks/hubspot"),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        next_event: AtomicU64::new(1),
    });
    (target, shutdown, ws.id)
}

async fn run(backend: Backend, secs: Duration) {
    let (store, guard) = match backend {
        Backend::Sqlite => {
            let (s, g) = keva_store::testing::sqlite_store().await;
            (s, Some(g))
        }
        Backend::Postgres => (keva_store::testing::postgres_store().await, None),
    };
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let (target, shutdown, ws) = serve(store.clone()).await;
    // Warm up connections and caches.
    for _ in 0..20 {
        target.post(1).await;
    }
    for n in [1, 10, 100] {
        saturate(&target, name, n, secs).await;
    }
    paced(&target, name, 1, 1_000, secs).await;
    paced(&target, name, 10, 1_000, secs).await;
    flood(&target, &store, ws, name).await;
    shutdown.cancel();
    keva_store::testing::drop_test_database(store).await;
    drop(guard);
}

fn main() {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    rt.block_on(async {
        if only.contains("sqlite") {
            run(Backend::Sqlite, secs).await;
        }
        if only.contains("postgres") {
            run(Backend::Postgres, secs).await;
        }
    });
}
