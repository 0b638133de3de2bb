//! Several real `keva-sync serve` processes on one PostgreSQL database against a
//! real `keva-sync sandbox` process: one portal's HubSpot traffic is driven by
//! one instance at a time (no 429 while both carry load), SIGTERM hands the
//! portal over within seconds, and a SIGKILLed owner's portal is taken over
//! within the lease, with no edit lost and no contact duplicated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keva_core::SyncStatus;
use keva_store::Store;
use serde_json::{json, Value};
use uuid::Uuid;

#[allow(dead_code)] // not every test binary uses every helper
mod common;
use common::bin;

/// A child process killed when the test ends, with its stderr kept for messages.
struct Proc {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keeps reading `stream` into `log`, sending each line to `tx` too.
fn pump(
    stream: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    tx: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            log.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
}

/// The first line `rx` gets that `pick` accepts, within 30 s.
fn wait_line<T>(rx: &mpsc::Receiver<String>, what: &str, pick: impl Fn(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what} line within 30 s"));
        if let Some(v) = pick(&line) {
            return v;
        }
    }
}

/// The sandbox process and the JSON line it prints (url, accessToken, …).
fn sandbox(rate_limit: &str) -> (Proc, Value) {
    let mut child = bin()
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            rate_limit,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    pump(child.stdout.take().unwrap(), log.clone(), tx);
    let info = wait_line(&rx, "sandbox", |l| serde_json::from_str::<Value>(l).ok());
    (Proc { child, log }, info)
}

struct Cluster {
    db_url: String,
    master_key: String,
    hubspot: String,
    portal_lease_ms: u64,
}

/// One `serve` instance and its base URL.
fn serve(c: &Cluster) -> (Proc, String) {
    let mut child = bin()
        .env("KEVA_DATABASE_URL", &c.db_url)
        .env("KEVA_MASTER_KEY", &c.master_key)
        .env("HUBSPOT_API_BASE", &c.hubspot)
        .env("KEVA_LISTEN", "127.0.0.1:0")
        .env("KEVA_JOB_LEASE_MS", "2000")
        .env("KEVA_PORTAL_LEASE_MS", c.portal_lease_ms.to_string())
        .env("KEVA_BATCH_LEASE_MS", "2000")
        .env("KEVA_SHUTDOWN_GRACE_MS", "2000")
        .env("RUST_LOG", "info,sqlx=warn")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    pump(child.stderr.take().unwrap(), log.clone(), tx);
    let url = wait_line(&rx, "listening", |l| {
        l.split_once("Keva Sync listening on ")
            .map(|(_, u)| u.trim().to_string())
    });
    (Proc { child, log }, url)
}

fn signal(p: &Proc, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &p.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Polls `check` every 50 ms until it holds; panics after `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The portal's lease owner, if a live lease exists.
async fn owner(store: &Store, portal: i64) -> Option<String> {
    store
        .live_portal_leases()
        .await
        .unwrap()
        .into_iter()
        .find(|(p, _)| *p == portal)
        .map(|(_, o)| o)
}

/// Which of `procs` (by pid inside the owner id `host:pid:tag`) owns the portal.
async fn owner_index(store: &Store, portal: i64, procs: &[&Proc]) -> Option<usize> {
    let o = owner(store, portal).await?;
    procs
        .iter()
        .position(|p| o.split(':').nth(1) == Some(p.pid().to_string().as_str()))
}

async fn all_synced(store: &Store, connector: Uuid, customers: &[Uuid]) -> bool {
    for c in customers {
        match store.get_link(connector, *c).await.unwrap() {
            Some(l) if l.status == SyncStatus::Synced => {}
            _ => return false,
        }
    }
    true
}

async fn sandbox_stats(http: &reqwest::Client, sandbox: &str) -> Value {
    http.get(format!("{sandbox}/_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn contact_count(http: &reqwest::Client, sandbox: &Value) -> usize {
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/crm/v3/objects/contacts?limit=100",
            sandbox["url"].as_str().unwrap()
        );
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(sandbox["accessToken"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n += page["results"].as_array().map_or(0, Vec::len);
        match page["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => return n,
        }
    }
}

async fn create_customer(http: &reqwest::Client, url: &str, key: &str, email: &str) -> Uuid {
    let r = http
        .post(format!("{url}/api/customers"))
        .bearer_auth(key)
        .json(&json!({"email": email, "name": "Cluster Test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "create {email}");
    let body: Value = r.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn edit(http: &reqwest::Client, url: &str, key: &str, customer: Uuid, title: &str) {
    let r = http
        .patch(format!("{url}/api/customers/{customer}"))
        .bearer_auth(key)
        .json(&json!({"jobTitle": title}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "edit {customer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_portals_fence_and_hand_over() {
    // A window small enough that two instances each assuming the whole budget
    // would overrun it under this load.
    let (sb, info) = sandbox("30/10s");
    let portal = info["portalId"].as_i64().unwrap();
    let store = keva_store::testing::postgres_store().await;
    let cluster = Cluster {
        db_url: keva_store::testing::database_url(&store),
        master_key: keva_store::MasterKey::generate().to_base64(),
        hubspot: info["url"].as_str().unwrap().to_string(),
        portal_lease_ms: 9000,
    };
    let (ws, key) = keva_server::auth::create_api_key(&store, "acme")
        .await
        .unwrap();
    let key = key.plaintext;
    let http = reqwest::Client::new();

    let (a, a_url) = serve(&cluster);
    let (b, b_url) = serve(&cluster);
    let r = http
        .post(format!("{a_url}/api/crm/hubspot/connectors"))
        .bearer_auth(&key)
        .json(&json!({"accessToken": info["accessToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "connect");
    let connector: Uuid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    eventually(10, "an instance owns the portal", || async {
        owner_index(&store, portal, &[&a, &b]).await.is_some()
    })
    .await;

    // Both instances take edits; one drives the portal.
    let mut customers = Vec::new();
    for i in 0..24 {
        let url = if i % 2 == 0 { &a_url } else { &b_url };
        customers.push(create_customer(&http, url, &key, &format!("c{i}@example.com")).await);
    }
    eventually(60, "every customer synced", || {
        all_synced(&store, connector, &customers)
    })
    .await;
    let stats = sandbox_stats(&http, info["url"].as_str().unwrap()).await;
    assert_eq!(stats["rateLimited"], 0, "no real 429: {stats}");
    assert!(stats["total"].as_u64().unwrap() >= 48, "{stats}");

    // SIGTERM to the owner: the other instance owns the portal at its next round
    // (every 3 s), well inside the lease (9 s, renewed at most 3 s before the
    // signal: at least 6 s left), and the stopped one exits cleanly.
    let procs = [&a, &b];
    let first = owner_index(&store, portal, &procs).await.unwrap();
    let (mut stopping, other, other_url) = if first == 0 {
        (a, b, b_url)
    } else {
        (b, a, a_url)
    };
    let started = Instant::now();
    signal(&stopping, "-TERM");
    eventually(15, "the other instance owns the portal", || async {
        owner_index(&store, portal, &[&other]).await == Some(0)
    })
    .await;
    let handover = started.elapsed();
    let status = stopping.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", stopping.log());
    assert!(
        handover < Duration::from_millis(6000),
        "SIGTERM hand-over took {handover:?}: the lease expired instead of being released"
    );
    eprintln!("SIGTERM hand-over: {handover:?}");
    drop(stopping);

    // A third instance joins; then the owner dies with SIGKILL mid-load: the
    // survivor takes the portal over within the lease and finishes every edit.
    let (c, c_url) = serve(&cluster);
    for (i, customer) in customers.iter().enumerate() {
        let url = if i % 2 == 0 { &other_url } else { &c_url };
        edit(&http, url, &key, *customer, &format!("title {i}")).await;
    }
    let procs = [&other, &c];
    let owner_now = owner_index(&store, portal, &procs).await.unwrap();
    let (victim, survivor) = if owner_now == 0 {
        (other, c)
    } else {
        (c, other)
    };
    let started = Instant::now();
    signal(&victim, "-KILL");
    eventually(30, "the survivor owns the portal", || async {
        owner_index(&store, portal, &[&survivor]).await == Some(0)
    })
    .await;
    let takeover = started.elapsed();
    eprintln!("SIGKILL takeover: {takeover:?}");
    // The lease runs out at most 9 s after the owner's last renewal; the
    // survivor's next round (every lease/3) then takes the portal.
    assert!(
        takeover < Duration::from_millis(9000 + 3000 + 4000),
        "SIGKILL takeover took {takeover:?} (lease 9 s)\n{}",
        survivor.log()
    );
    eventually(60, "every edit reached HubSpot", || async {
        for (i, c) in customers.iter().enumerate() {
            let cu = store.get_customer(ws, *c).await.unwrap().unwrap();
            assert_eq!(cu.job_title.as_deref(), Some(format!("title {i}").as_str()));
            let link = store.get_link(connector, *c).await.unwrap().unwrap();
            let synced = link.status == SyncStatus::Synced
                && link.bases.as_ref().is_some_and(|b| {
                    b.hubspot.get("jobtitle").cloned().flatten() == Some(format!("title {i}"))
                });
            if !synced {
                return false;
            }
        }
        true
    })
    .await;
    assert_eq!(
        contact_count(&http, &info).await,
        customers.len(),
        "no duplicate contact"
    );
    let stats = sandbox_stats(&http, info["url"].as_str().unwrap()).await;
    eprintln!("sandbox: {stats}");
    drop(victim);
    drop(survivor);
    drop(sb);
    keva_store::testing::drop_test_database(store).await;
}
