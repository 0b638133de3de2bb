//! The optional import direction (connector setting `import_contacts`): after the
//! customers, page through every HubSpot contact (100 per call) and create a Keva
//! customer, linked, for each contact with a valid email that no customer has.
//! Idempotent — linked contacts and known emails are skipped — so a resumed run
//! simply pages again.

use futures::TryStreamExt;
use keva_core::Email;
use keva_hubspot::{HubspotClient, ListOptions, ReadOptions};
use keva_store::{BatchChunk, BatchCounters, BatchLease, BatchRun, Connector, StoreError};

use super::chunk::ChunkError;
use crate::state::AppState;
use crate::sync::merge::{new_customer, sync_commit, MergeRules};
use crate::sync::SyncWarning;

/// Imports the contacts no customer is linked to; counted as `linked`.
pub async fn import_contacts(
    state: &AppState,
    connector: &Connector,
    client: &HubspotClient,
    rules: &MergeRules,
    run: &BatchRun,
    lease: &BatchLease,
) -> Result<(), ChunkError> {
    let opts = ListOptions {
        limit: Some(100),
        after: None,
        read: ReadOptions {
            properties: rules.read_properties(),
            ..ReadOptions::default()
        },
    };
    let pages = client
        .contacts()
        .list_all(opts)
        .try_chunks(100)
        .map_err(|e| ChunkError::from(e.1));
    futures::pin_mut!(pages);
    while let Some(page) = pages.try_next().await? {
        let ids: Vec<String> = page.iter().map(|c| c.id.clone()).collect();
        let linked: std::collections::HashSet<String> = state
            .store
            .links_by_hubspot_ids(connector.id, &ids)
            .await?
            .into_iter()
            .filter_map(|l| l.hubspot_id)
            .collect();
        let mut commits = Vec::new();
        let mut counters = BatchCounters::default();
        for contact in page.iter().filter(|c| !linked.contains(&c.id)) {
            let Some(email) = contact.property("email").and_then(|e| Email::parse(e).ok()) else {
                continue;
            };
            if state
                .store
                .customer_by_email(connector.workspace_id, email.as_str())
                .await?
                .is_some()
            {
                continue;
            }
            let customer = match state
                .store
                .insert_customer(connector.workspace_id, new_customer(rules, contact, &email))
                .await
            {
                Ok(c) => c,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let times = state
                .store
                .customer_field_times(connector.workspace_id, customer.id)
                .await?;
            let plan = rules.plan(&customer, &times, Some(contact), None);
            let warning = SyncWarning::new(
                "imported",
                format!("created from HubSpot contact {}", contact.id),
            );
            if let Some(c) = sync_commit(
                rules,
                customer.id,
                &contact.id,
                &plan,
                None,
                vec![warning],
                false,
            )
            .commit
            {
                commits.push(c);
            }
            counters.linked += 1;
            counters.processed += 1;
            counters.total += 1;
        }
        let Some(checkpoint) = run.checkpoint else {
            // No customer existed before: commits go in without moving a checkpoint.
            for c in &commits {
                state.store.commit_sync(c).await?;
            }
            continue;
        };
        state
            .store
            .commit_batch_chunk(&BatchChunk {
                run_id: run.id,
                checkpoint,
                counters_delta: counters,
                commits,
                lease: Some(lease.clone()),
            })
            .await?;
    }
    Ok(())
}
