//! `keva-sync rotate-key`: re-seals every stored secret under a new master key.
//!
//! The current key is found as `serve` finds it (plus any previous key); the new
//! key comes from a file that must already exist, so a mistyped path cannot seal
//! everything under a key no instance knows. The work is the store's
//! `reseal_secrets` (one-row updates, rows already under the new key skipped), so
//! it runs beside live instances and can simply be run again if interrupted.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use keva_store::Store;

use crate::args::DbArgs;
use crate::master_key;

#[derive(Args, Debug)]
pub struct RotateKeyArgs {
    /// File holding the new base64 32-byte master key (e.g. from
    /// `openssl rand -base64 32`); it must exist.
    #[arg(long)]
    pub new_key_file: PathBuf,
    /// Rows read per page.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,
    #[command(flatten)]
    pub db: DbArgs,
}

pub async fn run(args: RotateKeyArgs) -> anyhow::Result<()> {
    let current = master_key::resolve(&args.db)?;
    let new = master_key::load_existing(&args.new_key_file)?;
    let new_id = new.id();
    let mut opening: Vec<String> = std::iter::once(current.id())
        .chain(current.previous_ids())
        .filter(|id| *id != new_id)
        .map(|id| id.to_string())
        .collect();
    opening.dedup();
    let key = new.with_previous(&current);
    let store = Store::connect(&args.db.database_url, key)
        .await
        .with_context(|| format!("connecting to {}", crate::redact_url(&args.db.database_url)))?;
    eprintln!(
        "Re-sealing every secret under master key {new_id} (opening with key {})",
        if opening.is_empty() {
            "none other".to_string()
        } else {
            opening.join(", ")
        }
    );
    let done = store
        .reseal_secrets(args.page_size)
        .await
        .context("re-sealing secrets (rows re-sealed so far are kept; run again to resume)")?;
    store.close().await;
    println!(
        "connector tokens: {} re-sealed, {} already under key {new_id}",
        done.connectors, done.connectors_current
    );
    println!(
        "webhook client secrets: {} re-sealed, {} already under key {new_id}",
        done.webhook_secrets, done.webhook_secrets_current
    );
    eprintln!(
        "Every secret is now sealed under master key {new_id}. Make it KEVA_MASTER_KEY \
         everywhere, then stop setting the previous key."
    );
    Ok(())
}
