//! Several `serve` processes on one PostgreSQL: which process drives which HubSpot
//! portal's traffic. Each process's rate limiter is exact only for the calls it
//! makes, so a portal's budget must be spent by one process at a time.
//!
//! Every process (an *instance*) heartbeats a row in `instances` and holds a
//! lease in `portal_leases` for each portal it owns. An instance takes at most
//! its fair share of the portals with a connected connector (`ceil(portals /
//! live instances)`), renews what it holds, gives up what is above its share (so
//! an instance started later gets portals too) and takes free or expired leases
//! while below it, so a dead owner's portals are taken within the lease. Jobs are
//! claimed, and batch runs worked, only by the owner of their portal. On shutdown
//! the instance releases its leases and its row, and the others take over at
//! their next tick.
//!
//! What this process holds is only believed while its last renewal surely
//! runs (`LeaseClock`): after a pause past the portal lease it drives nothing
//! until its next round says what it still owns.
//!
//! With ownership off (SQLite, one process) the instance owns every portal and
//! nothing is written.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use keva_store::{ConnectorStatus, StoreError};
use parking_lot::RwLock;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::lease_clock::LeaseClock;
use crate::state::AppState;

/// How the process shares portals with other processes on its database.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Claim jobs and work batch runs only for portals this process holds a
    /// portal lease for (several processes on one PostgreSQL). Off: every portal.
    pub portal_ownership: bool,
    /// How long a portal lease (and an instance's heartbeat) lasts unrenewed: a
    /// dead owner's portals are taken over after at most this (plus one tick).
    pub portal_lease: Duration,
    /// On shutdown, how long running jobs may take to finish before they are
    /// handed back to the queue.
    pub shutdown_grace: Duration,
    /// A batch run's lease (`BatchSettings::stale_after` of the runs `serve`
    /// starts); they renew it every twelfth of it.
    pub batch_lease: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            portal_ownership: false,
            portal_lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            batch_lease: Duration::from_secs(60),
        }
    }
}

/// This process as a member of the cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The instance id: owner of its portal leases, job and batch leases.
    pub id: String,
    pub settings: ClusterSettings,
    owned: RwLock<HashSet<i64>>,
    /// How long the portal leases last renewed surely run: past it (a pause, a
    /// database out of reach) this process drives no portal until it renews.
    owned_clock: LeaseClock,
    /// Wakes the membership loop (a local enqueue may concern an unowned portal).
    wake: Notify,
    /// Cancelled when the process starts to shut down: stop claiming, stop batch
    /// runs at the next chunk boundary.
    pub stopping: CancellationToken,
}

impl Cluster {
    pub fn new(settings: ClusterSettings) -> Self {
        Self {
            id: super::worker::worker_id(),
            owned_clock: LeaseClock::new(settings.portal_lease),
            settings,
            owned: RwLock::new(HashSet::new()),
            wake: Notify::new(),
            stopping: CancellationToken::new(),
        }
    }

    /// Whether this process may drive `portal_id`'s HubSpot traffic.
    pub fn owns(&self, portal_id: i64) -> bool {
        !self.settings.portal_ownership
            || (self.owned.read().contains(&portal_id) && !self.owned_clock.is_expired())
    }

    /// The portals held right now (empty with ownership off).
    pub fn owned(&self) -> BTreeSet<i64> {
        self.owned.read().iter().copied().collect()
    }

    /// The owner to claim jobs as (`None`: any portal's jobs).
    pub fn portal_owner(&self) -> Option<&str> {
        self.settings.portal_ownership.then_some(self.id.as_str())
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The fair share of `portals` among `instances` live instances.
pub fn fair_share(portals: usize, instances: usize) -> usize {
    portals.div_ceil(instances.max(1))
}

/// One round: heartbeat, renew, give up extras, take free portals up to the share.
async fn tick(state: &AppState) -> Result<(), StoreError> {
    let cluster = &state.cluster;
    let lease = cluster.settings.portal_lease;
    let store = &state.store;
    let sent = tokio::time::Instant::now();
    let live = store.instance_heartbeat(&cluster.id, lease).await?;
    let portals: BTreeSet<i64> = store
        .list_all_connectors()
        .await?
        .into_iter()
        .filter(|c| c.status == ConnectorStatus::Connected)
        .map(|c| c.portal_id)
        .collect();
    let holders: BTreeMap<i64, String> = store.live_portal_leases().await?.into_iter().collect();
    let share = fair_share(portals.len(), live.len());
    let mut mine = Vec::new();
    for (&portal, owner) in &holders {
        if owner == &cluster.id && store.acquire_portal_lease(portal, owner, lease).await? {
            mine.push(portal);
        }
    }
    // Above the share (an instance joined): give up the extras, newest last kept.
    while mine.len() > share {
        if let Some(portal) = mine.pop() {
            store.release_portal_lease(portal, &cluster.id).await?;
            tracing::info!(portal, "gave up a portal to another instance");
        }
    }
    for &portal in portals.iter().filter(|p| !holders.contains_key(p)) {
        if mine.len() >= share {
            break;
        }
        if store
            .acquire_portal_lease(portal, &cluster.id, lease)
            .await?
        {
            tracing::info!(portal, "took over a portal");
            mine.push(portal);
        }
    }
    let newly = {
        let mut owned = cluster.owned.write();
        let before = owned.len();
        *owned = mine.into_iter().collect();
        cluster.owned_clock.renewed(sent);
        owned.len() > before
    };
    if newly {
        state.wake_workers();
    }
    Ok(())
}

/// Gives up every portal and the instance row (graceful shutdown).
pub async fn leave(state: &AppState) {
    let cluster = &state.cluster;
    if !cluster.settings.portal_ownership {
        return;
    }
    cluster.owned.write().clear();
    if let Err(e) = state.store.release_portal_leases(&cluster.id).await {
        tracing::warn!(error = %e, "could not release the portal leases");
    }
    if let Err(e) = state.store.remove_instance(&cluster.id).await {
        tracing::warn!(error = %e, "could not remove the instance row");
    }
}

/// Joins the cluster (one tick before returning, so the workers start with
/// their portals) and keeps the membership until `stopping`; no-op with
/// ownership off.
pub async fn start(state: AppState) -> Option<JoinHandle<()>> {
    if !state.cluster.settings.portal_ownership {
        return None;
    }
    if let Err(e) = tick(&state).await {
        tracing::warn!(error = %e, "could not join the cluster");
    }
    let every = (state.cluster.settings.portal_lease / 3).max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let stopping = state.cluster.stopping.clone();
        loop {
            tokio::select! {
                _ = stopping.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
                _ = state.cluster.wake.notified() => {
                    // Enqueue storms: at most a few rounds a second.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if let Err(e) = tick(&state).await {
                tracing::warn!(error = %e, "portal lease round failed");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_rounds_up_so_every_portal_has_a_taker() {
        assert_eq!(fair_share(30, 3), 10);
        assert_eq!(fair_share(3, 2), 2);
        assert_eq!(fair_share(1, 2), 1);
        assert_eq!(fair_share(0, 2), 0);
        assert_eq!(fair_share(5, 0), 5);
    }
}
