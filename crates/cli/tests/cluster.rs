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
pub struct Proc {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
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
pub fn sandbox(rate_limit: &str) -> (Proc, Value) {
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

pub struct Cluster {
    pub db_url: String,
    pub master_key: String,
    pub hubspot: String,
    pub portal_lease_ms: u64,
}

/// One `serve` instance and its base URL.
pub fn serve(c: &Cluster) -> (Proc, String) {
    serve_with(c, &[])
}

/// One `serve` instance with `env` set on top of (or instead of) the tests'
/// settings (short job, batch and shutdown leases), and its base URL.
pub fn serve_with(c: &Cluster, env: &[(&str, String)]) -> (Proc, String) {
    let mut cmd = bin();
    cmd.env("KEVA_DATABASE_URL", &c.db_url)
        .env("KEVA_MASTER_KEY", &c.master_key)
        .env("HUBSPOT_API_BASE", &c.hubspot)
        .env("KEVA_LISTEN", "127.0.0.1:0")
        .env("KEVA_JOB_LEASE_MS", "2000")
        .env("KEVA_PORTAL_LEASE_MS", c.portal_lease_ms.to_string())
        .env("KEVA_BATCH_LEASE_MS", "2000")
        .env("KEVA_SHUTDOWN_GRACE_MS", "2000")
        .env("RUST_LOG", "info,sqlx=warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
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

pub fn signal(p: &Proc, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &p.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Polls `check` every 50 ms until it holds; panics after `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
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
pub async fn owner(store: &Store, portal: i64) -> Option<String> {
    store
        .live_portal_leases()
        .await
        .unwrap()
        .into_iter()
        .find(|(p, _)| *p == portal)
        .map(|(_, o)| o)
}

/// Which of `procs` (by pid inside the owner id `host:pid:tag`) owns the portal.
pub async fn owner_index(store: &Store, portal: i64, procs: &[&Proc]) -> Option<usize> {
    let o = owner(store, portal).await?;
    procs
        .iter()
        .position(|p| o.split(':').nth(1) == Some(p.pid().to_string().as_str()))
}

pub async fn all_synced(store: &Store, connector: Uuid, customers: &[Uuid]) -> bool {
    for c in customers {
        match store.get_link(connector, *c).await.unwrap() {
            Some(l) if l.status == SyncStatus::Synced => {}
            _ => return false,
        }
    }
    true
}

pub async fn sandbox_stats(http: &reqwest::Client, sandbox: &str) -> Value {
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

pub async fn create_customer(http: &reqwest::Client, url: &str, key: &str, email: &str) -> Uuid {
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

/// Connects the sandbox's portal through instance `url`; the connector id.
pub async fn connect(http: &reqwest::Client, url: &str, key: &str, sandbox: &Value) -> Uuid {
    let r = http
        .post(format!("{url}/api/crm/hubspot/connectors"))
        .bearer_auth(key)
        .json(&json!({"accessToken": sandbox["accessToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "connect");
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `PUT /_sandbox/{what}` (faults, ratelimits) with `body`.
pub async fn sandbox_put(http: &reqwest::Client, sandbox: &Value, what: &str, body: Value) {
    let r = http
        .put(format!(
            "{}/_sandbox/{what}",
            sandbox["url"].as_str().unwrap()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "PUT /_sandbox/{what}: {}",
        r.status()
    );
}

pub async fn edit(http: &reqwest::Client, url: &str, key: &str, customer: Uuid, title: &str) {
    let r = http
        .patch(format!("{url}/api/customers/{customer}"))
        .bearer_auth(key)
        .json(&json!({"jobTitle": title}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "edit {customer}");
}

/// The first customer whose last edit (`titles[i]`) is not yet committed as
/// synced to HubSpot, with its link and jobs; `None` once all are. An edit
/// missing in Keva itself fails at once.
async fn first_missing_edit(
    store: &Store,
    ws: Uuid,
    connector: Uuid,
    customers: &[Uuid],
    titles: &[String],
) -> Option<String> {
    for (c, title) in customers.iter().zip(titles) {
        let cu = store.get_customer(ws, *c).await.unwrap().unwrap();
        if cu.job_title.as_deref() != Some(title.as_str()) {
            let history = store.customer_history(ws, *c, 100).await.unwrap();
            panic!("edit lost in Keva: {cu:?}\nhistory {history:#?}");
        }
        let link = store.get_link(connector, *c).await.unwrap();
        let there = link.as_ref().is_some_and(|l| {
            l.status == SyncStatus::Synced
                && l.bases.as_ref().is_some_and(|b| {
                    b.hubspot.get("jobtitle").cloned().flatten().as_deref() == Some(title.as_str())
                })
        });
        if !there {
            let jobs: Vec<_> = store
                .list_jobs(ws, None, 10_000)
                .await
                .unwrap()
                .into_iter()
                .filter(|j| j.payload["customerId"].as_str() == Some(c.to_string().as_str()))
                .collect();
            return Some(format!("{title}: link {link:#?}\njobs {jobs:#?}"));
        }
    }
    None
}

/// Waits up to `secs` for every last edit to reach HubSpot; on a timeout says
/// which did not, with its jobs and the instances' logs.
async fn wait_for_edits(
    store: &Store,
    ws: Uuid,
    connector: Uuid,
    customers: &[Uuid],
    titles: &[String],
    secs: u64,
    procs: &[&Proc],
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while let Some(missing) = first_missing_edit(store, ws, connector, customers, titles).await {
        assert!(
            Instant::now() < deadline,
            "an edit never reached HubSpot: {missing}\n{}",
            procs
                .iter()
                .map(|p| p.log())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What every scenario starts from: a sandbox at `rate_limit`, a fresh
/// PostgreSQL database, the instances' shared settings and an API key.
pub struct Setup {
    pub sb: Proc,
    pub info: Value,
    pub portal: i64,
    pub store: Store,
    pub cluster: Cluster,
    pub ws: Uuid,
    pub key: String,
    pub http: reqwest::Client,
}

/// Two `serve` instances, the portal connected through the first, once one of
/// them owns it: the instances (with their URLs) and the connector.
async fn two_instances(
    cluster: &Cluster,
    http: &reqwest::Client,
    key: &str,
    info: &Value,
    store: &Store,
    portal: i64,
) -> ((Proc, String), (Proc, String), Uuid) {
    let (a, b) = (serve(cluster), serve(cluster));
    let connector = connect(http, &a.1, key, info).await;
    eventually(10, "an instance owns the portal", || async {
        owner_index(store, portal, &[&a.0, &b.0]).await.is_some()
    })
    .await;
    (a, b, connector)
}

pub async fn setup(rate_limit: &str, portal_lease_ms: u64) -> Setup {
    let (sb, info) = sandbox(rate_limit);
    let portal = info["portalId"].as_i64().unwrap();
    let store = keva_store::testing::postgres_store().await;
    let cluster = Cluster {
        db_url: keva_store::testing::database_url(&store),
        master_key: keva_store::MasterKey::generate().to_base64(),
        hubspot: info["url"].as_str().unwrap().to_string(),
        portal_lease_ms,
    };
    let (ws, key) = keva_server::auth::create_api_key(&store, "acme")
        .await
        .unwrap();
    Setup {
        sb,
        info,
        portal,
        store,
        cluster,
        ws,
        key: key.plaintext,
        http: reqwest::Client::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_portals_fence_and_hand_over() {
    // A window small enough that two instances each assuming the whole budget
    // would overrun it under this load.
    let Setup {
        sb,
        info,
        portal,
        store,
        cluster,
        ws,
        key,
        http,
    } = setup("30/10s", 9000).await;

    let ((a, a_url), (b, b_url), connector) =
        two_instances(&cluster, &http, &key, &info, &store, portal).await;

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
    let titles: Vec<String> = (0..customers.len()).map(|i| format!("title {i}")).collect();
    wait_for_edits(
        &store,
        ws,
        connector,
        &customers,
        &titles,
        60,
        &[&victim, &survivor],
    )
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

/// Everything a stale worker could write: sync history, the batch run, the
/// jobs, links and customers, and the HubSpot calls the sandbox counted.
#[derive(Debug, PartialEq)]
struct Written {
    history: Vec<keva_store::HistoryEntry>,
    batch: Option<keva_store::BatchRun>,
    jobs: Vec<keva_store::Job>,
    links: Vec<Option<keva_store::CrmLink>>,
    customers: Vec<Option<keva_core::Customer>>,
    hubspot_calls: Value,
}

impl Written {
    async fn read(
        store: &Store,
        http: &reqwest::Client,
        sandbox: &Value,
        (ws, connector, batch): (Uuid, Uuid, Uuid),
        customers: &[Uuid],
    ) -> Written {
        let mut links = Vec::new();
        let mut records = Vec::new();
        for c in customers {
            links.push(store.get_link(connector, *c).await.unwrap());
            records.push(store.get_customer(ws, *c).await.unwrap());
        }
        Written {
            history: store
                .history(ws, connector, None, None, 100_000)
                .await
                .unwrap(),
            batch: store.get_batch(ws, batch).await.unwrap(),
            jobs: store.list_jobs(ws, None, 10_000).await.unwrap(),
            links,
            customers: records,
            hubspot_calls: sandbox_stats(http, sandbox["url"].as_str().unwrap()).await["requests"]
                .clone(),
        }
    }
}

/// The running `sync_customer` job of `customer`, if any.
async fn running_job(store: &Store, ws: Uuid, customer: Uuid) -> Option<keva_store::Job> {
    store
        .list_jobs(ws, Some(keva_core::JobState::Running), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.payload["customerId"].as_str() == Some(customer.to_string().as_str()))
}

/// The values `property` of HubSpot contact `id` has had, oldest first.
pub async fn property_history(
    http: &reqwest::Client,
    sandbox: &Value,
    id: &str,
    property: &str,
) -> Vec<String> {
    let contact: Value = http
        .get(format!(
            "{}/crm/v3/objects/contacts/{id}?propertiesWithHistory={property}",
            sandbox["url"].as_str().unwrap()
        ))
        .bearer_auth(sandbox["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut values: Vec<(String, String)> = contact["propertiesWithHistory"][property]
        .as_array()
        .unwrap_or_else(|| panic!("no history of {property}: {contact}"))
        .iter()
        .map(|h| {
            (
                h["timestamp"].as_str().unwrap_or_default().to_string(),
                h["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    values.sort();
    values.into_iter().map(|(_, v)| v).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_past_its_leases_writes_nothing_after_it_resumes() {
    let Setup {
        sb,
        info,
        portal,
        store,
        cluster,
        ws,
        key,
        http,
    } = setup("1000/10s", 3000).await;
    let ((a, a_url), (b, b_url), connector) =
        two_instances(&cluster, &http, &key, &info, &store, portal).await;
    // The customers of the batch exist only in Keva (the batch creates their
    // contacts); one more, created last (so in the batch's last chunk), is synced
    // live and edited below.
    let mut customers = Vec::new();
    for i in 0..200 {
        let email = format!("batch{i}@example.com");
        customers.push(keva_store::testing::customer(&store, ws, &email).await);
    }
    let edited = create_customer(&http, &a_url, &key, "edited@example.com").await;
    let live = [edited];
    eventually(30, "the live customer synced", || {
        all_synced(&store, connector, &live)
    })
    .await;
    customers.push(edited);

    let first = owner_index(&store, portal, &[&a, &b]).await.unwrap();
    let (paused, other, paused_url) = if first == 0 {
        (a, b, a_url)
    } else {
        (b, a, b_url)
    };
    let paused_id = owner(&store, portal).await.unwrap();
    // Every HubSpot call now takes 2 s: the owner is stopped while its last
    // HubSpot call before a commit is in flight, for both the batch (a chunk's
    // create) and the live edit (its update).
    sandbox_put(&http, &info, "faults", json!({"latencyMs": 2000})).await;
    let sandbox_url = info["url"].as_str().unwrap();
    http.post(format!("{sandbox_url}/_sandbox/stats/reset"))
        .send()
        .await
        .unwrap();
    let r = http
        .post(format!("{paused_url}/api/crm/hubspot/batch-sync"))
        .bearer_auth(&key)
        .json(&json!({"connectorId": connector}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "batch sync");
    let calls = |stats: &Value, prefix: &str| -> u64 {
        stats["requests"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum()
    };
    const READ: &str = "POST /crm/v3/objects/contacts/batch/read";
    const CREATE: &str = "POST /crm/v3/objects/contacts/batch/create";
    const UPDATE: &str = "PATCH /crm/v3/objects/contacts/";
    // The edit starts as the chunk's read arrives: its read and update then run
    // alongside the chunk's read and create.
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls(&sandbox_stats(&http, sandbox_url).await, READ) == 0 {
        assert!(Instant::now() < deadline, "the batch never read a chunk");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    edit(&http, &paused_url, &key, edited, "Paused Title").await;
    loop {
        let stats = sandbox_stats(&http, sandbox_url).await;
        if calls(&stats, UPDATE) >= 1 && calls(&stats, CREATE) >= calls(&stats, READ) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never both an update and a create in flight: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signal(&paused, "-STOP");
    // Both are held by the stopped process: the pause is past both leases from here.
    let batch = store.active_batch(connector).await.unwrap().unwrap();
    assert_eq!(
        batch.owner.as_deref(),
        Some(paused_id.as_str()),
        "{batch:?}"
    );
    let job = running_job(&store, ws, edited).await.unwrap();
    assert_eq!(
        job.lease_owner.as_deref(),
        Some(paused_id.as_str()),
        "{job:?}"
    );

    // The other instance takes the portal, reruns the edit and finishes the
    // batch under new fencing tokens.
    eventually(
        120,
        "the other instance finished the edit and the batch",
        || async {
            let j = store.get_job(ws, job.id).await.unwrap().unwrap();
            let r = store.get_batch(ws, batch.id).await.unwrap().unwrap();
            j.state == keva_core::JobState::Succeeded
                && j.lease_epoch > job.lease_epoch
                && r.state == keva_store::BatchState::Done
                && r.lease_epoch > batch.lease_epoch
        },
    )
    .await;
    assert_eq!(
        owner_index(&store, portal, &[&other]).await,
        Some(0),
        "the other instance owns the portal"
    );
    let ids = (ws, connector, batch.id);
    let before = Written::read(&store, &http, &info, ids, &customers).await;

    // Resumed, the stale process notices both losses before writing anything.
    signal(&paused, "-CONT");
    eventually(30, "the resumed job stopped", || async {
        let log = paused.log();
        log.contains("stopping the job before it writes") || log.contains("lost the job's lease")
    })
    .await;
    eventually(30, "the resumed batch stopped", || async {
        paused.log().contains("lost the run's lease")
    })
    .await;
    let after = Written::read(&store, &http, &info, ids, &customers).await;
    assert!(
        before == after,
        "the resumed process wrote after losing its leases:\nbefore {before:#?}\nafter {after:#?}\n{}",
        paused.log()
    );

    // Every customer has exactly one contact, and the edit reached it once.
    assert_eq!(contact_count(&http, &info).await, customers.len());
    let mut contacts = std::collections::HashSet::new();
    for c in &customers {
        let link = store.get_link(connector, *c).await.unwrap().unwrap();
        assert_eq!(link.status, SyncStatus::Synced, "{link:?}");
        assert!(
            contacts.insert(link.hubspot_id.unwrap()),
            "one contact each"
        );
    }
    let contact = store
        .get_link(connector, edited)
        .await
        .unwrap()
        .unwrap()
        .hubspot_id
        .unwrap();
    let titles = property_history(&http, &info, &contact, "jobtitle").await;
    assert_eq!(
        titles.iter().filter(|t| *t == "Paused Title").count(),
        1,
        "{titles:?}"
    );
    assert_eq!(titles.last().map(String::as_str), Some("Paused Title"));
    drop(paused);
    drop(other);
    drop(sb);
    keva_store::testing::drop_test_database(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kills_in_a_row_lose_no_edit_and_duplicate_no_contact() {
    ten_kills_in_a_row().await;
}

/// The ten-kills scenario; the `cluster_soak` bench runs it many times over.
pub async fn ten_kills_in_a_row() {
    let Setup {
        sb,
        info,
        portal,
        store,
        cluster,
        ws,
        key,
        http,
    } = setup("200/10s", 3000).await;
    let mut live = vec![serve(&cluster), serve(&cluster)];
    let connector = connect(&http, &live[0].1, &key, &info).await;
    // Every HubSpot call takes a little while, so each kill lands on syncs in
    // flight: creates, updates, commits.
    sandbox_put(&http, &info, "faults", json!({"latencyMs": 150})).await;
    let mut customers = Vec::new();
    let mut titles: Vec<String> = Vec::new();
    for round in 0..10 {
        let procs: Vec<&Proc> = live.iter().map(|(p, _)| p).collect();
        eventually(30, "an instance owns the portal", || async {
            owner_index(&store, portal, &procs).await.is_some()
        })
        .await;
        let victim = owner_index(&store, portal, &procs).await.unwrap();
        let survivor = &live[1 - victim].1;
        // New customers (contacts to create) and an edit of every customer so
        // far, half through each instance, then the owner dies at once.
        for i in 0..3 {
            let email = format!("r{round}c{i}@example.com");
            let url = &live[(round + i) % 2].1;
            customers.push(create_customer(&http, url, &key, &email).await);
            titles.push(String::new());
        }
        for (i, c) in customers.iter().enumerate() {
            let url = if i % 2 == 0 {
                &live[victim].1
            } else {
                survivor
            };
            titles[i] = format!("round {round} customer {i}");
            edit(&http, url, &key, *c, &titles[i]).await;
        }
        let (dead, _) = live.remove(victim);
        signal(&dead, "-KILL");
        drop(dead);
        live.push(serve(&cluster));
    }

    // Every edit reaches HubSpot; on a timeout, say what was still missing.
    let procs: Vec<&Proc> = live.iter().map(|(p, _)| p).collect();
    wait_for_edits(&store, ws, connector, &customers, &titles, 120, &procs).await;
    // HubSpot itself holds every last edit, on one contact per customer.
    let dump: Value = http
        .get(format!(
            "{}/_sandbox/objects/contacts?limit=1000",
            info["url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["count"], customers.len(), "no duplicate contact");
    let mut seen = std::collections::HashSet::new();
    for (c, title) in customers.iter().zip(&titles) {
        let link = store.get_link(connector, *c).await.unwrap().unwrap();
        let id = link.hubspot_id.unwrap();
        assert!(seen.insert(id.clone()), "one contact per customer");
        let contact = dump["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"].as_str() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("contact {id} in HubSpot"));
        assert_eq!(
            contact["properties"]["jobtitle"],
            title.as_str(),
            "{contact}"
        );
    }
    let stats = sandbox_stats(&http, info["url"].as_str().unwrap()).await;
    eprintln!("10 kills: {} customers, sandbox {stats}", customers.len());
    drop(live);
    drop(sb);
    keva_store::testing::drop_test_database(store).await;
}
