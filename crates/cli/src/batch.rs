//! `keva-sync batch-sync --connector ID`: runs a batch sync of the connector in
//! this process — or follows the one another process is running — with a live
//! progress bar on stderr (hidden when stderr is not a terminal) and the final
//! tally on stdout. Also the quickstart's demo batch.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use keva_server::batch::{self, BatchProgress, BatchSettings};
use keva_server::config::Settings;
use keva_server::AppState;
use keva_store::{BatchRun, NewCustomer, Store, StoreError};
use uuid::Uuid;

use crate::args::DbArgs;

#[derive(Args, Debug)]
pub struct BatchSyncArgs {
    /// The connector to sync.
    #[arg(long)]
    pub connector: Uuid,
    /// HubSpot API base URL (point it at a sandbox to test safely).
    #[arg(
        long,
        env = "HUBSPOT_API_BASE",
        default_value = "https://api.hubapi.com"
    )]
    pub hubspot_api_base: String,
    /// Share of each 10-second rate window left to live syncs (0.0–0.9).
    #[arg(long, default_value_t = batch::DEFAULT_BATCH_RESERVE)]
    pub reserve: f64,
    #[command(flatten)]
    pub db: DbArgs,
}

pub async fn run(args: BatchSyncArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db).await?;
    store.migrate().await?;
    let connector = store
        .list_all_connectors()
        .await?
        .into_iter()
        .find(|c| c.id == args.connector)
        .with_context(|| format!("no connector {}", args.connector))?;
    let config = keva_server::ServerConfig::new(
        "127.0.0.1:0".parse().context("address")?,
        args.hubspot_api_base.clone(),
    );
    let state = AppState::new(
        store.clone(),
        Settings::new(config).with_batch_reserve(args.reserve),
    );
    let settings = Arc::new(BatchSettings::default());
    let run = match store.active_batch(connector.id).await? {
        Some(active) => {
            let now = store.database_now().await?;
            let stale = active.owner.is_none() || active.lease_until.is_none_or(|t| t <= now);
            if stale {
                eprintln!(
                    "Resuming batch sync {} (left by a stopped process)",
                    active.id
                );
                batch::spawn(state.clone(), active.clone(), settings);
            } else {
                eprintln!(
                    "Following batch sync {} (running in another process)",
                    active.id
                );
            }
            active
        }
        None => {
            let (run, _) =
                batch::start(&state, connector.workspace_id, connector.id, settings).await?;
            eprintln!("Started batch sync {}", run.id);
            run
        }
    };
    let end = follow(&store, &run).await?;
    print_tally(&end);
    anyhow::ensure!(end.state != "failed", "the batch sync failed");
    Ok(())
}

fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} customers · ETA {eta} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Shows the run's progress until it ends; returns its last state.
pub async fn follow(store: &Store, run: &BatchRun) -> anyhow::Result<BatchProgress> {
    let bar = bar(run.counters.total);
    loop {
        let now = chrono::Utc::now();
        let p = store
            .get_batch(run.workspace_id, run.id)
            .await?
            .map(|r| BatchProgress::of(&r, now))
            .context("the batch sync vanished")?;
        bar.set_length(p.total.max(p.processed));
        bar.set_position(p.processed);
        let msg = match (&p.state[..], &p.pause_reason) {
            ("paused", Some(why)) => format!("paused: {why}"),
            _ => format!(
                "{} created, {} linked, {} failed",
                p.created, p.linked, p.failed
            ),
        };
        bar.set_message(msg);
        if !matches!(&p.state[..], "running" | "paused") {
            bar.finish();
            return Ok(p);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn print_tally(p: &BatchProgress) {
    println!("Batch sync {}: {}", p.id, p.state);
    println!(
        "  processed {} of {} · created {} · linked {} · updated to HubSpot {} · updated from HubSpot {} · unchanged {} · failed {} · conflicts {}",
        p.processed,
        p.total,
        p.created,
        p.linked,
        p.updated_to_crm,
        p.updated_from_crm,
        p.unchanged,
        p.failed,
        p.conflicts
    );
    if let Some(e) = &p.error {
        println!("  reason: {e}");
    }
}

/// The quickstart's demo: `count` sample customers (every 5th already a contact in
/// the sandbox, with another job title) and a batch sync of them, shown live.
pub async fn quickstart_demo(
    state: &AppState,
    workspace_id: Uuid,
    connector_id: Uuid,
    sandbox_url: &str,
    sandbox_token: &str,
    count: usize,
) -> anyhow::Result<()> {
    let mut existing = Vec::new();
    for i in 0..count {
        let email = format!("demo.customer{i}@example.com");
        let new = NewCustomer {
            email: email.clone(),
            name: Some(format!("Demo Customer{i}")),
            company: Some(format!("Demo Co {}", i % 40)),
            job_title: Some("Buyer".into()),
            ..NewCustomer::default()
        };
        match state.store.insert_customer(workspace_id, new).await {
            Ok(_) => {}
            // From an earlier run: already synced, the batch finds them unchanged.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        if i % 5 == 0 {
            existing.push(serde_json::json!({"properties": {
                "email": email, "firstname": "Demo", "lastname": format!("Customer{i}"),
                "jobtitle": "Head of Purchasing"}}));
        }
    }
    let http = reqwest::Client::new();
    for chunk in existing.chunks(100) {
        http.post(format!(
            "{sandbox_url}/crm/v3/objects/contacts/batch/create"
        ))
        .bearer_auth(sandbox_token)
        .json(&serde_json::json!({"inputs": chunk}))
        .send()
        .await?
        .error_for_status()?;
    }
    let settings = Arc::new(BatchSettings::default());
    let run = match batch::start(state, workspace_id, connector_id, settings).await {
        Ok((run, _)) => run,
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    eprintln!("Batch sync of the sample customers (every 5th already in the sandbox):");
    let end = follow(&state.store, &run).await?;
    print_tally(&end);
    Ok(())
}
